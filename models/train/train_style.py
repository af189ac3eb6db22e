"""ALADIN-style style encoder trained with supervised contrastive loss on the set label (train split only).
Batches: P style classes x K items of different contents. Style classes are the training sets plus
pseudo-styles made by one random global palette transform of a colour set, drawn afresh for every class in
every batch (hue rotation about the grey axis by a random angle, with a random saturation scale; white stays
white): the encoder cannot memorise palettes and has to learn to compare them, as it must for unseen sets.
Augmentations are style-preserving only: small scale/crop, translation, horizontal flip; no colour jitter."""
import os, sys, time, random, math
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
import data

STEPS = int(os.environ.get("STYLE_STEPS", "1200"))
P = int(os.environ.get("STYLE_P", "12"))
K = int(os.environ.get("STYLE_K", "12"))
LR = 2e-3
CKPT = os.path.join(WORK, "style.pt")
def palette_transform(x, rng):
    """Random fixed hue rotation (about the grey axis) + saturation scale, same for the whole class batch."""
    m = torch.tensor(MEAN).view(1, 3, 1, 1); s = torch.tensor(STD).view(1, 3, 1, 1)
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


def style_classes(items, attrs):
    by_set = {}
    for i, it in enumerate(items):
        if it["split"] == "train":
            by_set.setdefault(it["set"], []).append(i)
    colour_sets = [s for s in sorted(by_set) if np.mean([attrs[i]["colour"] == "monochrome" for i in by_set[s]]) <= 0.5]
    return by_set, colour_sets


def main():
    setup_torch()
    items, X, attrs, tok = data.load()
    by_set, colour_sets = style_classes(items, attrs)
    sets = sorted(by_set)
    log(f"style: {len(by_set)} train sets, {sum(map(len, by_set.values()))} images, {len(colour_sets)} colour sets get palette pseudo-styles")
    net = StyleNet(128)
    decay = [p for p in net.parameters() if p.ndim >= 2]
    no_decay = [p for p in net.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=LR)
    log(f"params: style image {n_params(net)}")
    step, rng, t_spent = 0, random.Random(SEED + 1), 0.0
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        net.load_state_dict(ck["net"]); opt.load_state_dict(ck["opt"]); step = ck["step"]; rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"]); t_spent = ck.get("t_spent", 0.0)
        log(f"resumed at step {step}")
        if ck.get("done"):
            log("already finished"); return
    warm = 100
    sched = lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, STEPS) / STEPS))
    n_train = sum(map(len, by_set.values()))
    steps_per_epoch = max(1, n_train // (P * K))
    prog = Progress("style", STEPS, step)
    net.train()
    t0 = time.time()
    while step < STEPS:
        n_id = min(len(sets), P // 2)
        chosen = [(s, False) for s in rng.sample(sets, n_id)] + [(rng.choice(colour_sets), True) for _ in range(P - n_id)]
        xs, labels = [], []
        for ci, (s, tr) in enumerate(chosen):
            idx = rng.sample(by_set[s], min(K, len(by_set[s])))
            x = to_tensor(X[idx])
            xs.append(palette_transform(x, rng) if tr else x)
            labels += [sets.index(s) if not tr else len(sets) + ci] * len(idx)
        x = torch.cat(xs)
        x = affine_aug(x, scale=(0.9, 1.12), trans=0.06, rot=0.0, flip=True)
        labels = torch.tensor(labels)
        for g in opt.param_groups:
            g["lr"] = LR * sched(step)
        z = net(x)
        loss = supcon(z, labels, 0.1)
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 20 == 0 or step == STEPS:
            prog(step, step // steps_per_epoch, loss.item(), f"lr={LR * sched(step):.2e} ")
        if step % 100 == 0 or step == STEPS:
            save_ckpt(CKPT, net=net.state_dict(), opt=opt.state_dict(), step=step, rng=rng.getstate(),
                      torch_rng=torch.get_rng_state(), done=step >= STEPS, t_spent=t_spent + time.time() - t0,
                      epochs=step / steps_per_epoch)
    log(f"style done: {step} steps, {step / steps_per_epoch:.1f} epochs, {t_spent + time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
