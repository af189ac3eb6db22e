"""Text-to-style tower: maps style descriptions into the frozen style encoder's 128-d space.
Texts: training paraphrases of each training set (style_descriptions.json, held-out ones never used) and
phrases of pixel-measured attributes of each image. Loss: multi-positive InfoNCE text->image, where a set
paraphrase's positives are all batch images of that set and an attribute phrase's positive is its image."""
import os, sys, time, random, math, json
import numpy as np
import torch
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import data, embed, attributes

STEPS = int(os.environ.get("STEXT_STEPS", "800"))
BATCH = 256
LR = 2e-3
CKPT = os.path.join(WORK, "style_text.pt")


def main():
    setup_torch()
    items, X, attrs, tok = data.load()
    desc = json.load(open(os.path.join(HERE, "style_descriptions.json")))["sets"]
    style_ck = torch.load(os.path.join(WORK, "style.pt"))
    assert style_ck.get("done"), "style encoder not finished"
    net = embed.load_models(len(tok.vocab), ("style",))["style_image"]
    E = embed.cached_image_embeddings("style", net, X, f"style-{style_ck['step']}")
    by_set = {}
    for i, it in enumerate(items):
        if it["split"] == "train" and it["set"] in desc:
            by_set.setdefault(it["set"], []).append(i)
    sets = sorted(by_set)
    log(f"style text: {len(sets)} sets, {sum(map(len, by_set.values()))} images")
    E = torch.from_numpy(E)
    txt = TextTower(len(tok.vocab), 128, width=128)
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    params = list(txt.parameters()) + [logit_scale]
    opt = torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.05},
                             {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=LR)
    step, rng, t_spent = 0, random.Random(SEED + 2), 0.0
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        txt.load_state_dict(ck["txt"]); opt.load_state_dict(ck["opt"]); logit_scale.data.copy_(ck["logit_scale"])
        step = ck["step"]; rng.setstate(ck["rng"]); torch.set_rng_state(ck["torch_rng"]); t_spent = ck.get("t_spent", 0.0)
        log(f"resumed at step {step}")
        if ck.get("done"):
            log("already finished"); return
    warm = 50
    sched = lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, STEPS) / STEPS))
    prog = Progress("style_text", STEPS, step)
    txt.train()
    t0 = time.time()
    while step < STEPS:
        idx, texts, kind = [], [], []
        for b in range(BATCH):
            s = sets[b % len(sets)] if rng.random() < 0.7 else rng.choice(sets)
            i = rng.choice(by_set[s])
            idx.append(i)
            a = attrs[i]
            if rng.random() < 0.55:
                t = rng.choice(desc[s]["train"])
                if rng.random() < 0.15:
                    t = t + ", " + attributes.phrase(a, rng)
                texts.append(t); kind.append(1)
            else:
                texts.append(attributes.phrase(a, rng)); kind.append(0)
        setid = torch.tensor([sets.index(items[i]["set"]) for i in idx])
        kind = torch.tensor(kind, dtype=torch.bool)
        pos = torch.where(kind[:, None], setid[:, None] == setid[None, :], torch.eye(BATCH, dtype=torch.bool))
        same_text = torch.tensor([[a == b for b in texts] for a in texts])
        pos = pos | (same_text & ~kind[:, None] & (setid[:, None] == setid[None, :]))
        ids, mask = tok.batch(texts)
        L = int(mask.sum(1).max().clamp(min=1))
        ids, mask = ids[:, :L], mask[:, :L]
        for g in opt.param_groups:
            g["lr"] = LR * sched(step)
        zt = txt(ids, mask)
        s = logit_scale.exp().clamp(max=100)
        logits = s * zt @ E[idx].t()
        logp = logits - torch.logsumexp(logits, 1, keepdim=True)
        loss = -(torch.logsumexp(logp.masked_fill(~pos, -1e9), 1)).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 50 == 0 or step == STEPS:
            prog(step, step * BATCH // max(1, sum(map(len, by_set.values()))), loss.item(), f"T={1 / s.item():.3f} ")
        if step % 200 == 0 or step == STEPS:
            save_ckpt(CKPT, txt=txt.state_dict(), opt=opt.state_dict(), logit_scale=logit_scale.data, step=step,
                      rng=rng.getstate(), torch_rng=torch.get_rng_state(), done=step >= STEPS,
                      t_spent=t_spent + time.time() - t0, epochs=step * BATCH / sum(map(len, by_set.values())))
    log(f"style text done: {step} steps, {t_spent + time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
