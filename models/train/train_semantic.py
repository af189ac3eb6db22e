"""CLIP-style semantic towers: image CNN + text transformer, symmetric InfoNCE with learnable temperature,
plus a cross-style image-image InfoNCE between two renderings of the same codepoint (train split only)."""
import os, sys, time, random, math
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import data

STEPS = int(os.environ.get("SEM_STEPS", "1500"))
BATCH = int(os.environ.get("SEM_BATCH", "128"))
LR = 2e-3
CKPT = os.path.join(WORK, "semantic.pt")


def build_pools(items):
    by_cp = {}
    for i, it in enumerate(items):
        if it["split"] != "train" or not it["codepoint"]:
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


def main():
    setup_torch()
    items, X, attrs, tok = data.load()
    cps, by_cp = build_pools(items)
    log(f"semantic: {len(cps)} train codepoints, {sum(len(by_cp[c]['items']) for c in cps)} train images, vocab {len(tok.vocab)}")
    img = SemanticImage(256)
    txt = TextTower(len(tok.vocab), 256)
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    params = list(img.parameters()) + list(txt.parameters()) + [logit_scale]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=LR)
    log(f"params: image {n_params(img)}, text {n_params(txt)}")
    step, rng = 0, random.Random(SEED)
    t_spent = 0.0
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        img.load_state_dict(ck["img"]); txt.load_state_dict(ck["txt"]); opt.load_state_dict(ck["opt"])
        logit_scale.data.copy_(ck["logit_scale"]); step = ck["step"]; rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"]); t_spent = ck.get("t_spent", 0.0)
        log(f"resumed at step {step}")
        if ck.get("done"):
            log("already finished"); return
    warm = 100
    sched = lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, STEPS) / STEPS))
    prog = Progress("semantic", STEPS, step)
    steps_per_epoch = max(1, len(cps) // BATCH)
    order = []
    img.train(); txt.train()
    t0 = time.time()
    while step < STEPS:
        if len(order) < BATCH:
            o = cps[:]; rng.shuffle(o); order += o
        batch, order = order[:BATCH], order[BATCH:]
        ia, ib, texts = [], [], []
        for cp in batch:
            e = by_cp[cp]
            a = rng.choice(e["items"])
            others = [j for j in e["items"] if items[j]["set"] != items[a]["set"]]
            b = rng.choice(others) if others else a
            ia.append(a); ib.append(b); texts.append(sample_text(e, rng))
        x = to_tensor(X[ia + ib])
        x = affine_aug(x, scale=(0.8, 1.1), trans=0.08, rot=8.0)
        x = colour_aug(x)
        ids, mask = tok.batch(texts)
        L = int(mask.sum(1).max().clamp(min=1))
        ids, mask = ids[:, :L], mask[:, :L]
        for g in opt.param_groups:
            g["lr"] = LR * sched(step)
        zi = img(x)
        za, zb = zi[:BATCH], zi[BATCH:]
        zt = txt(ids, mask)
        s = logit_scale.exp().clamp(max=100)
        loss = clip_loss(za, zt, s) + clip_loss(zb, zt, s) + clip_loss(za, zb, s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 20 == 0 or step == STEPS:
            prog(step, step // steps_per_epoch, loss.item(), f"T={1 / s.item():.3f} lr={LR * sched(step):.2e} ")
        if step % 100 == 0 or step == STEPS:
            save_ckpt(CKPT, img=img.state_dict(), txt=txt.state_dict(), opt=opt.state_dict(), logit_scale=logit_scale.data,
                      step=step, rng=rng.getstate(), torch_rng=torch.get_rng_state(), done=step >= STEPS,
                      t_spent=t_spent + time.time() - t0, epochs=step / steps_per_epoch)
    log(f"semantic done: {step} steps, {step / steps_per_epoch:.1f} epochs, {t_spent + time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
