"""Snapshot the corpus (items + decoded pixels), build the WordPiece vocabulary / tokenizer.json, measure
pixel attributes. Writes WORK/data.npz, WORK/items.json, WORK/attrs.json, OUT/tokenizer.json."""
import json, os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import attributes

if __name__ == "__main__":
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    items = load_items()
    if os.environ.get("PARASOL_SUBSET"):  # smoke tests: a random subset
        rng = random.Random(0)
        items = rng.sample(items, int(os.environ["PARASOL_SUBSET"]))
    data_path = os.path.join(WORK, "data.npz")
    if os.path.exists(data_path) and json.load(open(os.path.join(WORK, "items.json"))) == items:
        log("corpus snapshot up to date")
        x = np.load(data_path)["x"]
    else:
        log(f"decoding {len(items)} PNGs ...")
        x = np.zeros((len(items), 64, 64, 3), np.uint8)
        for i, it in enumerate(items):
            x[i] = load_png(os.path.join(CORPUS, it["path"]))
            if i % 5000 == 0:
                log(f"  {i}/{len(items)}")
        np.savez(data_path + ".tmp.npz", x=x)
        os.replace(data_path + ".tmp.npz", data_path)
        json.dump(items, open(os.path.join(WORK, "items.json"), "w"))
    # attributes
    log("measuring attributes ...")
    attrs = [attributes.measure(x[i]) for i in range(len(items))]
    json.dump(attrs, open(os.path.join(WORK, "attrs.json"), "w"))
    # vocabulary: train-split words + all style description words + attribute words
    texts = []
    for it in items:
        if it["split"] == "train":
            texts += item_texts(it)
    desc = json.load(open(os.path.join(HERE, "style_descriptions.json")))
    for s in desc["sets"].values():
        texts += s["train"] + s["heldout"]
    for v in desc["attributes"].values():
        texts += v
    texts += ["with no outlines mostly in black outlines gradient shaded"]
    vocab = build_vocab(texts)
    tok = WordPiece(vocab)
    json.dump(tok.to_json(), open(os.path.join(OUT, "tokenizer.json"), "w"), ensure_ascii=False)
    log(f"{len(items)} items, vocab {len(vocab)}")
    import collections
    for s in sorted(set(it["set"] for it in items)):
        c = collections.Counter(json.dumps({k: a[k] for k in ("colour", "line", "shading")}) for a, it in zip(attrs, items) if it["set"] == s)
        log(s, c.most_common(2))
