"""Stage export: the four encoder ONNX models (opset 17, dynamic batch), pack.json (the semantic/style blocks;
other blocks such as `parasol` are kept), reference.json + reference PNGs; onnx.checker, and torch against
onnxruntime-node on the reference inputs and a random batch (tolerance 1e-4). The tokenizer is written by prepare."""
import json
import os
import shutil

import numpy as np
import torch

from ..checkpoints import load_encoder_towers
from ..config import Config, style_dim
from ..data import MEAN, STD, load_png, load_snapshot, to_tensor
from ..export import export_onnx, onnxruntime_outputs
from ..runtime import log, setup
from ..text import MAX_TOKENS

REF_IMAGES = [("noto", "1f600"), ("openmoji", "1f436"), ("fluent-emoji", "2764"), ("fluent-emoji-high-contrast", "1f697"),
              ("emojione-v1", "1f34e"), ("streamline-emojis", "1f3e0"), ("twemoji", "1f600"), ("emojione-monotone", "1f436")]
REF_TEXTS = ["grinning face", "red heart", "dog face", "glossy 3D renders with soft gradients and lighting",
             "black and white high contrast icons", "Flat line-art icons, thin BLACK outlines!"]


def export(model, args, names_in, path):
    export_onnx(model, args, names_in, "embedding", path)


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.runtime.seed)
    OUT, CORPUS, WORK = cfg.path("pack"), cfg.path("corpus"), cfg.path("work")
    snap = load_snapshot(WORK, OUT)
    items, tok = snap.items, snap.tok
    m = load_encoder_towers(cfg, len(tok.vocab))
    os.makedirs(OUT, exist_ok=True)
    dummy_px = torch.zeros(2, 3, 64, 64)
    ids, mask = tok.batch(["grinning face", "red heart"])
    export(m["semantic_image"], (dummy_px,), ["pixels"], os.path.join(OUT, "semantic_image.onnx"))
    export(m["style_image"], (dummy_px,), ["pixels"], os.path.join(OUT, "style_image.onnx"))
    export(m["semantic_text"], (ids, mask), ["input_ids", "attention_mask"], os.path.join(OUT, "semantic_text.onnx"))
    export(m["style_text"], (ids, mask), ["input_ids", "attention_mask"], os.path.join(OUT, "style_text.onnx"))
    pre = {"size": 64, "resize": "contain", "background": "#ffffff", "mean": MEAN, "std": STD}
    txt = lambda f: {"file": f, "inputs": {"ids": "input_ids", "mask": "attention_mask"}, "output": "embedding",
                     "tokenizer": "tokenizer.json", "maxTokens": MAX_TOKENS}
    pack = {"name": "mini", "version": 1,
            "semantic": {"dim": 256, "image": {"file": "semantic_image.onnx", "input": "pixels", "output": "embedding",
                                               "preprocess": pre}, "text": txt("semantic_text.onnx")},
            "style": {"dim": style_dim(cfg), "image": {"file": "style_image.onnx", "input": "pixels", "output": "embedding",
                                            "preprocess": pre}, "text": txt("style_text.onnx")}}
    pp = os.path.join(OUT, "pack.json")
    if os.path.exists(pp):  # keep sections other tools own (e.g. "parasol", written by the generator export)
        old = json.load(open(pp))
        pack = {**pack, **{k: v for k, v in old.items() if k not in pack}}
    json.dump(pack, open(pp, "w"), indent=2)
    # reference images/texts
    refdir = os.path.join(OUT, "reference")
    shutil.rmtree(refdir, ignore_errors=True)
    os.makedirs(refdir)
    by = {(it["set"], it["codepoint"]): it for it in items}
    chosen = [by[k] for k in REF_IMAGES if k in by]
    if len(chosen) < 6:  # fall back (e.g. synthetic corpus): first items of distinct sets
        seen = {it["set"] for it in chosen}
        for it in items:
            if it["set"] not in seen:
                chosen.append(it); seen.add(it["set"])
    chosen = chosen[:6]
    files, pix = [], []
    for it in chosen:
        name = f"{it['set']}_{it['codepoint'] or 'x'}.png"
        shutil.copyfile(os.path.join(CORPUS, it["path"]), os.path.join(refdir, name))
        files.append("reference/" + name)
        pix.append(load_png(os.path.join(refdir, name)))
    P = to_tensor(np.stack(pix))
    with torch.no_grad():
        e_sem = m["semantic_image"](P).numpy(); e_sty = m["style_image"](P).numpy()
        tids, tmask = tok.batch(REF_TEXTS)
        t_sem = m["semantic_text"](tids, tmask).numpy(); t_sty = m["style_text"](tids, tmask).numpy()
    r6 = lambda v: [round(float(a), 7) for a in v]
    ref = {"images": [{"file": f, "set": it["set"], "codepoint": it["codepoint"], "semantic": r6(a), "style": r6(b)}
                      for f, it, a, b in zip(files, chosen, e_sem, e_sty)],
           "texts": [{"text": t, "ids": [int(v) for v in i], "semantic": r6(a), "style": r6(b)}
                     for t, i, a, b in zip(REF_TEXTS, tids.numpy(), t_sem, t_sty)],
           "tolerance": 1e-4}
    json.dump(ref, open(os.path.join(OUT, "reference.json"), "w"))
    # torch vs onnxruntime-node, on the reference inputs and a random batch
    rnd = torch.rand(5, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        r_sem = m["semantic_image"](rnd).numpy(); r_sty = m["style_image"](rnd).numpy()
    fl = lambda t: {"dims": list(t.shape), "data": t.numpy().ravel().tolist(), "type": "float32"}
    it64 = lambda t: {"dims": list(t.shape), "data": t.numpy().ravel().tolist(), "type": "int64"}
    cases = [("semantic_image.onnx", {"pixels": fl(P)}, e_sem), ("style_image.onnx", {"pixels": fl(P)}, e_sty),
             ("semantic_image.onnx", {"pixels": fl(rnd)}, r_sem), ("style_image.onnx", {"pixels": fl(rnd)}, r_sty),
             ("semantic_text.onnx", {"input_ids": it64(tids), "attention_mask": it64(tmask)}, t_sem),
             ("style_text.onnx", {"input_ids": it64(tids), "attention_mask": it64(tmask)}, t_sty)]
    try:
        res = onnxruntime_outputs(OUT, os.path.join(WORK, "onnx_inputs.json"),
                                  [{"file": f, "inputs": i, "output": "embedding"} for f, i, _ in cases])
        worst = 0.0
        for (f, _, want), r in zip(cases, res):
            got = np.array(r["data"], np.float32).reshape(r["dims"])
            d = float(np.abs(got - want).max())
            worst = max(worst, d)
            log(f"onnxruntime vs torch {f} batch {got.shape[0]}: max |diff| {d:.2e}, "
                f"norms {np.linalg.norm(got, axis=1).round(4).tolist()}")
        log(f"onnxruntime-node vs torch: max diff {worst:.2e}")
    except (RuntimeError, FileNotFoundError) as e:
        log(f"WARNING: could not run the onnxruntime-node check: {e}")
        return
    if worst >= 1e-4:
        raise RuntimeError(f"onnxruntime-node and torch disagree by {worst:.2e} (tolerance 1e-4)")
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    log(f"pack size {total / 1e6:.2f} MB")
