"""Stage semantic: CLIP-style towers (image CNN + text transformer), symmetric InfoNCE with learnable
temperature, plus a cross-style image-image InfoNCE between two renderings of the same codepoint (train split).
With an artwork corpus, every batch also holds `artwork_batch` drawings (one view each) captioned by their title,
keywords or category words, in the same image-text loss. With runtime.wordnet, a caption gets WordNet synonyms or
hypernyms for some of its words with probability `wordnet_p`."""
import json
import math
import os
import random

import torch

from ..checkpoints import ckpt_path
from ..config import Config
from ..data import ARTWORK, affine_aug, colour_aug, corpus_of, load_snapshot, to_tensor
from ..losses import clip_loss
from ..models.encoders import SemanticImage, TextTower
from ..runtime import log, n_params, setup
from ..text import augment_text, item_texts
from ..trainer import TrainStage, run_stage
from ..warmstart import warm_start_semantic


def build_pools(items):
    by_cp = {}
    for i, it in enumerate(items):
        if it["split"] != "train" or not it["codepoint"] or corpus_of(it) == ARTWORK:
            continue
        e = by_cp.setdefault(it["codepoint"], {"items": [], "name": it["name"], "phrases": []})
        e["items"].append(i)
        for t in item_texts(it):
            if t not in e["phrases"]:
                e["phrases"].append(t)
    cps = sorted(by_cp)
    for cp in cps:
        e = by_cp[cp]
        words = []
        for t in e["phrases"]:
            for w in t.split():
                if w.lower() not in words:
                    words.append(w.lower())
        e["words"] = words
    return cps, by_cp


def build_artwork_pool(items):
    """Train-split drawings as caption pools (same shape as an emoji codepoint's entry), keyed by item index."""
    pool = {}
    for i, it in enumerate(items):
        if it["split"] != "train" or corpus_of(it) != ARTWORK:
            continue
        phrases = list(dict.fromkeys(item_texts(it)))
        words = list(dict.fromkeys(w.lower() for t in phrases for w in t.split()))
        pool[i] = {"items": [i], "name": it["name"], "phrases": phrases, "words": words}
    return pool


def sample_text(e, rng):
    r = rng.random()
    if r < 0.4:
        return e["name"]
    if r < 0.6:
        return rng.choice(e["phrases"])
    words = e["words"]
    k = rng.randint(1, min(6, len(words)))
    sub = rng.sample(words, k)
    if rng.random() < 0.5:
        sub = e["name"].split()[: rng.randint(1, 3)] + sub
    rng.shuffle(sub)
    return " ".join(sub)


def decay_groups(params, weight_decay=0.05):
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


class SemanticStage(TrainStage):
    name = "semantic"

    def __init__(self, cfg: Config, resume: bool = False):
        c = cfg.semantic
        self.take_schedule(c)
        self.batch = c.batch
        snap = load_snapshot(cfg.path("work"), cfg.path("pack"))
        self.items, self.X, self.tok = snap.items, snap.x, snap.tok
        self.cps, self.by_cp = build_pools(self.items)
        self.art = build_artwork_pool(self.items)
        self.art_ids = sorted(self.art)
        self.art_batch = c.artwork_batch if self.art_ids else 0
        aug_path = os.path.join(cfg.path("work"), "augment.json")
        self.augment = json.load(open(aug_path)) if cfg.runtime.wordnet and os.path.exists(aug_path) else {}
        self.wordnet_p = c.wordnet_p if self.augment else 0.0
        log(f"semantic: {len(self.cps)} train codepoints, "
            f"{sum(len(self.by_cp[c]['items']) for c in self.cps)} train images, {len(self.art_ids)} train drawings "
            f"({self.art_batch} per step), vocab {len(self.tok.vocab)}, WordNet table {len(self.augment)} words "
            f"(p {self.wordnet_p})")
        self.img = SemanticImage(256)
        self.txt = TextTower(len(self.tok.vocab), 256, embed=c.text_embed)
        # a resumed run loads its checkpoint over these weights: the warm start would be wasted work
        if cfg.runtime.init_rev and not (resume and os.path.exists(ckpt_path(cfg, self.name))):
            warm_start_semantic(cfg, self.img, self.txt, self.X, self.tok.vocab)
        # channels-last convolutions: the image tower's steps take ~1.3x less time on this CPU's oneDNN kernels
        # (same weights and checkpoints; only the memory layout of activations changes)
        self.img = self.img.to(memory_format=torch.channels_last)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        params = list(self.img.parameters()) + list(self.txt.parameters()) + [self.logit_scale]
        self.optimizer = torch.optim.AdamW(decay_groups(params), lr=self.lr)
        log(f"params: image {n_params(self.img)}, text {n_params(self.txt)}")
        self.rng = random.Random(cfg.runtime.seed)
        self.order = []
        self.art_order = []
        self.epoch_size = max(1, len(self.cps) // self.batch)
        self.img.train()
        self.txt.train()

    def modules(self):
        return {"img": self.img, "txt": self.txt, "opt": self.optimizer}

    def extra_state(self):
        return {"logit_scale": self.logit_scale.data.clone()}

    def load_extra_state(self, state):
        self.logit_scale.data.copy_(state["logit_scale"])

    def caption(self, e):
        t = sample_text(e, self.rng)
        if self.wordnet_p and self.rng.random() < self.wordnet_p:
            t = augment_text(t, self.augment, self.rng)
        return t

    def train_step(self, step):
        B, rng, items = self.batch, self.rng, self.items
        if len(self.order) < B:
            o = self.cps[:]
            rng.shuffle(o)
            self.order += o
        batch, self.order = self.order[:B], self.order[B:]
        ia, ib, texts = [], [], []
        for cp in batch:
            e = self.by_cp[cp]
            a = rng.choice(e["items"])
            others = [j for j in e["items"] if items[j]["set"] != items[a]["set"]]
            b = rng.choice(others) if others else a
            ia.append(a)
            ib.append(b)
            texts.append(self.caption(e))
        A = self.art_batch
        if A:
            if len(self.art_order) < A:
                o = self.art_ids[:]
                rng.shuffle(o)
                self.art_order += o
            art, self.art_order = self.art_order[:A], self.art_order[A:]
            texts += [self.caption(self.art[i]) for i in art]
        else:
            art = []
        x = to_tensor(self.X[ia + ib + art])
        x = colour_aug(affine_aug(x, scale=(0.8, 1.1), trans=0.08, rot=8.0)).contiguous(memory_format=torch.channels_last)
        ids, mask = self.tok.batch(texts)
        L = int(mask.sum(1).max().clamp(min=1))
        ids, mask = ids[:, :L], mask[:, :L]
        zi = self.img(x)
        n = len(batch)
        za, zb, zart = zi[:n], zi[n:2 * n], zi[2 * n:]
        zt = self.txt(ids, mask)
        s = self.logit_scale.exp().clamp(max=100)
        loss = clip_loss(torch.cat([za, zart]), zt, s) + clip_loss(zb, zt[:n], s) + clip_loss(za, zb, s)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "T": 1 / s.item()}


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.runtime.seed)
    run_stage(lambda: SemanticStage(cfg, resume), ckpt_path(cfg, "semantic"), resume)
