"""Stage prepare: snapshot the corpus (items + decoded pixels), measure pixel attributes, build the WordPiece
vocabulary and write the pack's tokenizer.json. Writes paths.work/{data.npz,items.json,attrs.json}."""
import collections
import json
import os

import numpy as np

from .. import attributes
from ..config import Config
from ..data import decode_images, load_corpus_items, select_items, snapshot_paths
from ..runtime import log
from ..text import WordPiece, build_vocab, item_texts


def run(cfg: Config, resume: bool) -> None:
    work, pack = cfg.path("work"), cfg.path("pack")
    os.makedirs(work, exist_ok=True)
    os.makedirs(pack, exist_ok=True)
    items = select_items(load_corpus_items(cfg.path("corpus")), cfg.runtime.subset)
    p = snapshot_paths(work)
    if os.path.exists(p["x"]) and os.path.exists(p["items"]) and json.load(open(p["items"])) == items:
        log("corpus snapshot up to date")
        x = np.load(p["x"])["x"]
    else:
        x = decode_images(cfg.path("corpus"), items)
        np.savez(p["x"] + ".tmp.npz", x=x)
        os.replace(p["x"] + ".tmp.npz", p["x"])
        json.dump(items, open(p["items"], "w"))
    log("measuring attributes ...")
    attrs = [attributes.measure(x[i]) for i in range(len(items))]
    json.dump(attrs, open(p["attrs"], "w"))
    # vocabulary: train-split words + all style description words + attribute words
    texts = []
    for it in items:
        if it["split"] == "train":
            texts += item_texts(it)
    desc = json.load(open(cfg.path("style_descriptions")))
    for s in desc["sets"].values():
        texts += s["train"] + s["heldout"]
    for v in desc["attributes"].values():
        texts += v
    texts += ["with no outlines mostly in black outlines gradient shaded"]
    vocab = build_vocab(texts)
    json.dump(WordPiece(vocab).to_json(), open(os.path.join(pack, "tokenizer.json"), "w"), ensure_ascii=False)
    log(f"{len(items)} items, vocab {len(vocab)}")
    for s in sorted(set(it["set"] for it in items)):
        c = collections.Counter(json.dumps({k: a[k] for k in ("colour", "line", "shading")})
                                for a, it in zip(attrs, items) if it["set"] == s)
        log(s, c.most_common(2))
