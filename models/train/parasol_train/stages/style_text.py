"""Stage style_text: the text-to-style tower, mapping style descriptions into the frozen style encoder's space.
Texts: training paraphrases of each training set (style_descriptions.json; the held-out ones are never used)
and phrases of pixel-measured attributes of each image. Loss: multi-positive InfoNCE text->image, where a set
paraphrase's positives are all batch images of that set and an attribute phrase's positive is its image."""
import json
import math
import random

import torch

from .. import attributes
from ..checkpoints import cached_image_embeddings, ckpt_path, load_encoder_towers, style_tag
from ..config import Config, style_dim
from ..data import load_snapshot
from ..losses import multi_positive_infonce
from ..models.encoders import TextTower
from ..runtime import load_checkpoint, log, setup
from ..trainer import TrainStage, run_stage
from .semantic import decay_groups


class StyleTextStage(TrainStage):
    name = "style_text"

    def __init__(self, cfg: Config):
        c = cfg.style_text
        self.take_schedule(c)
        self.batch = c.batch
        snap = load_snapshot(cfg.path("work"), cfg.path("pack"))
        self.items, self.attrs, self.tok = snap.items, snap.attrs, snap.tok
        self.desc = json.load(open(cfg.path("style_descriptions")))["sets"]
        style_ck = load_checkpoint(ckpt_path(cfg, "style"))
        if not style_ck.get("done"):
            raise RuntimeError("style_text: the style encoder has not finished training")
        net = load_encoder_towers(cfg, len(self.tok.vocab), ("style",))["style_image"]
        self.E = torch.from_numpy(cached_image_embeddings(cfg, "style", net, snap.x, style_tag(cfg, style_ck['step'])))
        self.by_set = {}
        for i, it in enumerate(self.items):
            if it["split"] == "train" and it["set"] in self.desc:
                self.by_set.setdefault(it["set"], []).append(i)
        self.sets = sorted(self.by_set)
        n_train = sum(map(len, self.by_set.values()))
        log(f"style text: {len(self.sets)} sets, {n_train} images")
        self.txt = TextTower(len(self.tok.vocab), style_dim(cfg), width=128, embed=c.text_embed)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.optimizer = torch.optim.AdamW(decay_groups(list(self.txt.parameters()) + [self.logit_scale]), lr=self.lr)
        self.rng = random.Random(cfg.runtime.seed + 2)
        self.epoch_size = max(1, n_train // self.batch)
        self.txt.train()

    def modules(self):
        return {"txt": self.txt, "opt": self.optimizer}

    def extra_state(self):
        return {"logit_scale": self.logit_scale.data.clone()}

    def load_extra_state(self, state):
        self.logit_scale.data.copy_(state["logit_scale"])

    def train_step(self, step):
        rng, sets, B = self.rng, self.sets, self.batch
        idx, texts, kind = [], [], []
        for b in range(B):
            s = sets[b % len(sets)] if rng.random() < 0.7 else rng.choice(sets)
            i = rng.choice(self.by_set[s])
            idx.append(i)
            a = self.attrs[i]
            if rng.random() < 0.55:
                t = rng.choice(self.desc[s]["train"])
                if rng.random() < 0.15:
                    t = t + ", " + attributes.phrase(a, rng)
                texts.append(t)
                kind.append(1)
            else:
                texts.append(attributes.phrase(a, rng))
                kind.append(0)
        setid = torch.tensor([sets.index(self.items[i]["set"]) for i in idx])
        kind = torch.tensor(kind, dtype=torch.bool)
        pos = torch.where(kind[:, None], setid[:, None] == setid[None, :], torch.eye(B, dtype=torch.bool))
        same_text = torch.tensor([[a == b for b in texts] for a in texts])
        pos = pos | (same_text & ~kind[:, None] & (setid[:, None] == setid[None, :]))
        ids, mask = self.tok.batch(texts)
        L = int(mask.sum(1).max().clamp(min=1))
        zt = self.txt(ids[:, :L], mask[:, :L])
        s = self.logit_scale.exp().clamp(max=100)
        loss = multi_positive_infonce(s * zt @ self.E[idx].t(), pos)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "T": 1 / s.item()}


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.runtime.seed)
    run_stage(lambda: StyleTextStage(cfg), ckpt_path(cfg, "style_text"), resume)
