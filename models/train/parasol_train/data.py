"""The corpus (the TypeScript `parasol corpus export --size 64` output), the snapshot the prepare stage writes,
decoded-image caches, pixel conversions and the batched augmentations."""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .runtime import log
from .text import WordPiece

MEAN = [0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5]
IMAGE = 64
HELD_OUT_SETS = ["emojione-monotone", "twemoji", "fxemoji"]


def load_corpus_items(corpus: str) -> list[dict]:
    path = os.path.join(corpus, "items.jsonl")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: export the corpus first "
                                "(node dist/src/cli.js corpus export --out <paths.corpus> --size 64; run.sh does)")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


ARTWORK = "artwork"


def corpus_of(it: dict) -> str:
    """`emoji` or `artwork` (the artwork export marks its items; the emoji export predates the field)."""
    return it.get("corpus") or "emoji"


def load_training_items(corpus: str, artwork: str) -> list[dict]:
    """The emoji corpus followed by the artwork corpus (when `artwork` is set). Artwork paths are rewritten relative
    to the emoji corpus folder, so `os.path.join(corpus, it["path"])` finds every image."""
    items = load_corpus_items(corpus)
    for it in items:
        it.setdefault("corpus", "emoji")
    if artwork:
        path = os.path.join(artwork, "items.jsonl")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: fetch and export the artwork corpus first (node dist/src/cli.js "
                                    "corpus fetch openclipart --data DIR, then corpus export --corpus artwork --data DIR "
                                    "--out <paths.artwork> --size 64; run.sh does)")
        art = load_corpus_items(artwork)
        rel = os.path.relpath(artwork, corpus)
        for it in art:
            if corpus_of(it) != ARTWORK:
                raise ValueError(f"{path}: item {it.get('id')} is not an artwork item")
            it["path"] = os.path.join(rel, it["path"])
        items += art
    return items


def style_label_of(it: dict, style_artists: set[str]) -> str | None:
    """The style class of an item: its emoji set, or `artist:<name>` for a drawing by an artist with enough works
    (others have no style label and are not used for style training or style metrics)."""
    if corpus_of(it) != ARTWORK:
        return it["set"]
    a = it.get("artist")
    return f"artist:{a}" if a and a in style_artists else None


def style_artists_of(items: list[dict], min_works: int) -> set[str]:
    counts: dict[str, int] = {}
    for it in items:
        if corpus_of(it) == ARTWORK and it.get("artist"):
            counts[it["artist"]] = counts.get(it["artist"], 0) + 1
    return {a for a, n in counts.items() if n >= min_works}


def select_items(items: list[dict], subset: int) -> list[dict]:
    """The items a run trains on: all, or a seeded random sample of `subset` of them (smoke runs)."""
    if subset and subset < len(items):
        return random.Random(0).sample(items, subset)
    return items


def load_png(path: str) -> np.ndarray:
    """uint8 [64, 64, 3]: RGB flattened onto white, `contain`-resized when not already 64x64."""
    from PIL import Image
    im = Image.open(path)
    if im.mode != "RGB":
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im).convert("RGB")
    if im.size != (IMAGE, IMAGE):
        im.thumbnail((IMAGE, IMAGE), Image.BILINEAR)
        bg = Image.new("RGB", (IMAGE, IMAGE), (255, 255, 255))
        bg.paste(im, ((IMAGE - im.size[0]) // 2, (IMAGE - im.size[1]) // 2))
        im = bg
    return np.asarray(im, dtype=np.uint8)


def decode_images(corpus: str, items: list[dict]) -> np.ndarray:
    log(f"decoding {len(items)} PNGs ...")
    x = np.zeros((len(items), IMAGE, IMAGE, 3), np.uint8)
    for i, it in enumerate(items):
        x[i] = load_png(os.path.join(corpus, it["path"]))
    return x


@dataclass
class Snapshot:
    """What the prepare stage wrote to paths.work: the items trained on, their pixels, attributes, tokenizer."""
    items: list[dict]
    x: np.ndarray  # uint8 [N, 64, 64, 3]
    attrs: list[dict]
    tok: WordPiece


def snapshot_paths(work: str) -> dict[str, str]:
    return {"items": os.path.join(work, "items.json"), "x": os.path.join(work, "data.npz"),
            "attrs": os.path.join(work, "attrs.json")}


def load_snapshot(work: str, pack: str) -> Snapshot:
    p = snapshot_paths(work)
    if not os.path.exists(p["items"]):
        raise FileNotFoundError(f"{p['items']} is missing: run the prepare stage first")
    items = json.load(open(p["items"]))
    return Snapshot(items, np.load(p["x"])["x"], json.load(open(p["attrs"])),
                    WordPiece.load(os.path.join(pack, "tokenizer.json")))


def split_cache(cache_dir: str, items: list[dict], train: bool) -> tuple[list[dict], str, str]:
    """(the split's items, its cache file, the cache key: a hash of their ids) of split_images."""
    chosen = [it for it in items if (it["split"] == "train") == train]
    tag = "train" if train else "heldout"
    key = hashlib.sha1("\n".join(it["id"] for it in chosen).encode()).hexdigest()
    return chosen, os.path.join(cache_dir, f"images_{tag}.npz"), key


def split_images(cache_dir: str, corpus: str, items: list[dict], train: bool) -> tuple[list[dict], np.ndarray]:
    """(items, uint8 pixels) of the train split (train=True) or of every other split; cached by item ids."""
    chosen, cache, key = split_cache(cache_dir, items, train)
    os.makedirs(cache_dir, exist_ok=True)
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        if str(z["key"]) == key:
            return chosen, z["x"]
    x = decode_images(corpus, chosen)
    np.savez(cache + ".tmp.npz", x=x, key=np.array(key))
    os.replace(cache + ".tmp.npz", cache)
    return chosen, x


def to_tensor(x_uint8: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> the encoders' normalised float NCHW."""
    t = torch.from_numpy(np.ascontiguousarray(x_uint8)).permute(0, 3, 1, 2).float() / 255.0
    return (t - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def to_pm1(x_uint8: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1] (the VAE's pixels)."""
    return torch.from_numpy(np.ascontiguousarray(x_uint8)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_uint8(x_pm1: torch.Tensor) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC."""
    return ((x_pm1.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


# ----------------------------------------------------------------------------- augmentation (batched, normalised)

def affine_aug(x, scale=(0.85, 1.1), trans=0.1, rot=10.0, flip=False):
    """Random scale/translate/rotate(/flip) with white fill. x normalised [B,3,H,W]."""
    B = x.shape[0]
    white = torch.tensor([(1 - m) / s for m, s in zip(MEAN, STD)]).view(1, 3, 1, 1)
    s = torch.empty(B).uniform_(*scale)
    a = torch.empty(B).uniform_(-rot, rot) * math.pi / 180
    tx = torch.empty(B).uniform_(-trans, trans) * 2
    ty = torch.empty(B).uniform_(-trans, trans) * 2
    fx = torch.ones(B)
    if flip:
        fx = torch.where(torch.rand(B) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    theta = torch.stack([torch.stack([cos * fx, -sin, tx], 1), torch.stack([sin * fx, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x - white, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return y + white


def colour_aug(x, p_gray=0.1, strength=0.15):
    """Mild content-preserving photometric jitter (semantic tower only)."""
    B = x.shape[0]
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    u = x * s + m
    g = (u * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    gray = (torch.rand(B, 1, 1, 1) < p_gray).float()
    u = gray * g.expand_as(u) + (1 - gray) * u
    c = 1 + torch.empty(B, 1, 1, 1).uniform_(-strength, strength)
    b = torch.empty(B, 1, 1, 1).uniform_(-strength, strength) * 0.5
    u = ((u - 0.5) * c + 0.5 + b * (u < 0.98).float()).clamp(0, 1)
    return (u - m) / s


def recolour(u, theta, sat):
    """Per image: rotate the colours of u (NCHW in [0, 1]) by theta[i] radians about the grey axis, then scale their
    saturation by sat[i] (0: grey); white and black stay as they are. Returns [0, 1]."""
    k = torch.ones(3, dtype=u.dtype, device=u.device) / math.sqrt(3)
    K = torch.stack([torch.stack([0 * k[0], -k[2], k[1]]), torch.stack([k[2], 0 * k[0], -k[0]]),
                     torch.stack([-k[1], k[0], 0 * k[0]])])
    c, s = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    R = c * torch.eye(3, dtype=u.dtype, device=u.device) + s * K + (1 - c) * torch.outer(k, k)
    u = torch.einsum("bij,bjhw->bihw", R, u)
    g = u.mean(1, keepdim=True)
    return (g + sat.view(-1, 1, 1, 1) * (u - g)).clamp(0, 1)


def palette_transform(x, rng):
    """Random fixed hue rotation (about the grey axis) + saturation scale, same for the whole class batch."""
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    u = x * s + m
    th = rng.uniform(0.35, 2 * math.pi - 0.35)
    k = torch.ones(3) / math.sqrt(3)
    K = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    R = math.cos(th) * torch.eye(3) + math.sin(th) * K + (1 - math.cos(th)) * torch.outer(k, k)
    u = torch.einsum("ij,bjhw->bihw", R, u)
    sat = rng.choice([0.0, rng.uniform(0.4, 1.3), 1.0, 1.0])
    g = u.mean(1, keepdim=True)
    u = (g + sat * (u - g)).clamp(0, 1)
    return (u - m) / s
