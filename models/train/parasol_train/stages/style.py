"""Stage style: ALADIN-style encoder trained with supervised contrastive loss on the set label (train split).
Batches: P style classes x K items of different contents. Style classes are the training sets plus
pseudo-styles made by one random global palette transform of a colour set, drawn afresh for every class in
every batch (hue rotation about the grey axis by a random angle, with a random saturation scale; white stays
white): the encoder cannot memorise palettes and has to learn to compare them, as it must for unseen sets.
Augmentations are style-preserving only: small scale/crop, translation, horizontal flip; no colour jitter.
With an artwork corpus, artists with at least runtime.style_min_works drawings are style classes too: of the real
classes in a batch, `artist_classes` are artists and the rest emoji sets."""
import os
import random

import numpy as np
import torch

from ..checkpoints import ckpt_path
from ..config import Config
from ..data import affine_aug, load_snapshot, palette_transform, style_artists_of, style_label_of, to_tensor
from ..losses import supcon
from ..models.encoders import StyleNet
from ..runtime import log, n_params, setup
from ..trainer import TrainStage, run_stage
from ..warmstart import warm_start_style
from .semantic import decay_groups


def style_classes(items, attrs, min_works=20, per_class=1):
    """label -> train item indices (emoji sets; artists with >= min_works drawings and >= per_class train ones),
    and the labels whose items are mostly in colour (sources of palette pseudo-styles)."""
    artists = style_artists_of(items, min_works)
    by_set = {}
    for i, it in enumerate(items):
        label = style_label_of(it, artists)
        if it["split"] == "train" and label is not None:
            by_set.setdefault(label, []).append(i)
    by_set = {k: v for k, v in by_set.items() if not k.startswith("artist:") or len(v) >= per_class}
    colour_sets = [s for s in sorted(by_set)
                   if np.mean([attrs[i]["colour"] == "monochrome" for i in by_set[s]]) <= 0.5]
    return by_set, colour_sets


class StyleStage(TrainStage):
    name = "style"

    def __init__(self, cfg: Config, resume: bool = False):
        c = cfg.style
        self.take_schedule(c)
        self.P, self.K = c.classes, c.per_class
        snap = load_snapshot(cfg.path("work"), cfg.path("pack"))
        self.X = snap.x
        self.by_set, self.colour_sets = style_classes(snap.items, snap.attrs, cfg.runtime.style_min_works, self.K)
        if not self.colour_sets:
            raise ValueError("style: no colour training set to make palette pseudo-styles from")
        self.sets = sorted(self.by_set)
        self.emoji_sets = [s for s in self.sets if not s.startswith("artist:")]
        self.artists = [s for s in self.sets if s.startswith("artist:")]
        self.n_artists = min(c.artist_classes, len(self.artists))
        n_train = sum(map(len, self.by_set.values()))
        log(f"style: {len(self.emoji_sets)} emoji sets and {len(self.artists)} artists ({self.n_artists} per batch), "
            f"{n_train} images, {len(self.colour_sets)} colour classes give palette pseudo-styles")
        self.net = StyleNet(128, colour_dim=c.colour_dim)
        # a resumed run loads its checkpoint over these weights: the warm start would be wasted work
        if cfg.runtime.init_rev and not (resume and os.path.exists(ckpt_path(cfg, self.name))):
            warm_start_style(cfg, self.net, self.X[[i for v in self.by_set.values() for i in v]])
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
        if self.n_artists:
            n_art = min(self.n_artists, n_id)
            real = rng.sample(self.artists, n_art) + rng.sample(self.emoji_sets, min(len(self.emoji_sets), n_id - n_art))
            n_id = len(real)
        else:
            real = rng.sample(self.sets, n_id)
        chosen = [(s, False) for s in real] + [(rng.choice(self.colour_sets), True) for _ in range(P - n_id)]
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
    run_stage(lambda: StyleStage(cfg, resume), ckpt_path(cfg, "style"), resume)
