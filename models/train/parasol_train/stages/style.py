"""Stage style: ALADIN-style encoder trained with supervised contrastive loss on the set label (train split).
Batches: P style classes x K items of different contents. Style classes are the training sets plus
pseudo-styles made by one random global palette transform of a colour set, drawn afresh for every class in
every batch (hue rotation about the grey axis by a random angle, with a random saturation scale; white stays
white): the encoder cannot memorise palettes and has to learn to compare them, as it must for unseen sets.
Augmentations are style-preserving only: small scale/crop, translation, horizontal flip; no colour jitter."""
import random

import numpy as np
import torch

from ..checkpoints import ckpt_path
from ..config import Config
from ..data import affine_aug, load_snapshot, palette_transform, to_tensor
from ..losses import supcon
from ..models.encoders import StyleNet
from ..runtime import log, n_params, setup
from ..trainer import TrainStage, run_stage
from .semantic import decay_groups


def style_classes(items, attrs):
    by_set = {}
    for i, it in enumerate(items):
        if it["split"] == "train":
            by_set.setdefault(it["set"], []).append(i)
    colour_sets = [s for s in sorted(by_set)
                   if np.mean([attrs[i]["colour"] == "monochrome" for i in by_set[s]]) <= 0.5]
    return by_set, colour_sets


class StyleStage(TrainStage):
    name = "style"

    def __init__(self, cfg: Config):
        c = cfg.style
        self.take_schedule(c)
        self.P, self.K = c.classes, c.per_class
        snap = load_snapshot(cfg.path("work"), cfg.path("pack"))
        self.X = snap.x
        self.by_set, self.colour_sets = style_classes(snap.items, snap.attrs)
        if not self.colour_sets:
            raise ValueError("style: no colour training set to make palette pseudo-styles from")
        self.sets = sorted(self.by_set)
        n_train = sum(map(len, self.by_set.values()))
        log(f"style: {len(self.by_set)} train sets, {n_train} images, "
            f"{len(self.colour_sets)} colour sets get palette pseudo-styles")
        self.net = StyleNet(128)
        self.optimizer = torch.optim.AdamW(decay_groups(list(self.net.parameters())), lr=self.lr)
        log(f"params: style image {n_params(self.net)}")
        self.rng = random.Random(cfg.runtime.seed + 1)
        self.epoch_size = max(1, n_train // (self.P * self.K))
        self.net.train()

    def modules(self):
        return {"net": self.net, "opt": self.optimizer}

    def train_step(self, step):
        rng, P, K = self.rng, self.P, self.K
        n_id = min(len(self.sets), P // 2)
        chosen = [(s, False) for s in rng.sample(self.sets, n_id)] + \
                 [(rng.choice(self.colour_sets), True) for _ in range(P - n_id)]
        xs, labels = [], []
        for ci, (s, transformed) in enumerate(chosen):
            idx = rng.sample(self.by_set[s], min(K, len(self.by_set[s])))
            x = to_tensor(self.X[idx])
            xs.append(palette_transform(x, rng) if transformed else x)
            labels += [self.sets.index(s) if not transformed else len(self.sets) + ci] * len(idx)
        x = affine_aug(torch.cat(xs), scale=(0.9, 1.12), trans=0.06, rot=0.0, flip=True)
        loss = supcon(self.net(x), torch.tensor(labels), 0.1)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.runtime.seed)
    run_stage(lambda: StyleStage(cfg), ckpt_path(cfg, "style"), resume)
