"""Stage prepare: snapshot the corpora (items + decoded pixels; the emoji corpus, then the artwork corpus when
paths.artwork is set), measure pixel attributes, build the WordNet augmentation table (runtime.wordnet), build
the WordPiece vocabulary and write the pack's tokenizer.json.
Writes paths.work/{data.npz,items.json,attrs.json,augment.json}."""
import collections
import json
import os

import numpy as np

from .. import attributes
from ..config import Config
from ..data import decode_images, load_training_items, select_items, snapshot_paths
from ..runtime import log
from ..text import WordPiece, build_vocab, item_texts, words_of
from ..wordnet import WordNet, augmentation_table, ensure_wordnet


def artwork_dir(cfg: Config) -> str:
    return cfg.path("artwork") if cfg.paths.artwork else ""


def run(cfg: Config, resume: bool) -> None:
    work, pack = cfg.path("work"), cfg.path("pack")
    os.makedirs(work, exist_ok=True)
    os.makedirs(pack, exist_ok=True)
    items = select_items(load_training_items(cfg.path("corpus"), artwork_dir(cfg)), cfg.runtime.subset)
    if cfg.runtime.all_data:  # the shipped pack trains on everything; `eval_split` keeps the protocol's split
        for it in items:
            it["eval_split"], it["split"] = it["split"], "train"
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
    augment = {}
    if cfg.runtime.wordnet:
        log("WordNet augmentation table ...")
        wn = WordNet(ensure_wordnet(work))
        augment = augmentation_table(wn, [w for t in texts for w in words_of(t)])
        texts += [r for rel in augment.values() for r in rel]
        log(f"WordNet: {len(augment)} caption words have synonyms/hypernyms, "
            f"{len(set(w for rel in augment.values() for r in rel for w in words_of(r)))} distinct words in them")
    json.dump(augment, open(os.path.join(work, "augment.json"), "w"))
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
