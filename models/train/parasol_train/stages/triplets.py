"""Stage triplets (generator 2/4): training triplets (x, y, s) by cross-modal search (PARASOL §3.1), train split only.

Every train image x is embedded by the FROZEN semantic (C) and style (A) image encoders (unit vectors; exact
search by matmul). Then, as the paper does:
  s = the nearest STYLE neighbour of x (by a_x . a_j) among the top-K style neighbours whose SEMANTIC similarity
      to x is below TAU_SEM  -> a different content in the same look;
  y = the nearest CONTENT neighbour of x (by c_x . c_j) among the top-K content neighbours whose STYLE similarity
      to x is below TAU_STY  -> the same content in a different look.
x has a valid triplet when both exist; only valid x are trained on. Thresholds default to quantiles of the
similarities of random train pairs (tau_sem: generator.triplets.sem_quantile = 0.99 of semantic sims, i.e. "no more alike in content
than 1 random pair in 100"; TAU_STY: TRIP_STY_Q = 0.80 of style sims, below the ~13% of random pairs that share
a set), or absolute values via tau_sem / tau_sty. Set names and codepoints are never used to choose;
they are only counted afterwards (how often y shares x's codepoint, s shares x's set) as a sanity check.

Writes paths.gen/triplets.npz: x, y, s (indices into the train items), c (N x 256), a (N x 128), thresholds,
the encoder tag; and paths.gen/triplets.json (counts and examples).
Device (runtime.device): the embeddings and the neighbour searches run there; the random pairs of the thresholds are
drawn on the CPU. On CUDA the embeddings differ from the CPU's in the last bits, so a near-tie can pick another
neighbour: the triplets are the same search, not bitwise the same file.
"""
import json
import os

import numpy as np
import torch

from ..checkpoints import embed_pm1, load_frozen_encoders
from ..config import Config
from ..data import split_images
from ..runtime import log, resolve_device, setup
from .vae import generator_items


def triplets_path(cfg: Config) -> str:
    return os.path.join(cfg.path("gen"), "triplets.npz")


def first_valid(sim_rank, sim_check, tau, k, chunk=1024):
    """For each row i: among the top-k j != i by sim_rank[i], the first (most similar) with sim_check[i, j] < tau.
    sim_* are (N x d) unit-vector matrices; returns (index or -1, its rank similarity)."""
    R, Q = sim_rank, sim_check
    n = R.shape[0]
    out = np.full(n, -1, np.int64)
    val = np.full(n, np.nan, np.float32)
    for i0 in range(0, n, chunk):
        rows = torch.arange(i0, min(n, i0 + chunk), device=R.device)
        s = R[rows] @ R.T
        s[torch.arange(len(rows), device=R.device), rows] = -2.0  # never x itself
        top_v, top_j = s.topk(k, dim=1)
        chk = (Q[rows].unsqueeze(1) * Q[top_j]).sum(-1)  # [rows, k]
        ok = chk < tau
        has = ok.any(1)
        first = torch.where(has, ok.float().argmax(1), torch.zeros_like(rows))
        j = top_j.gather(1, first.unsqueeze(1)).squeeze(1)
        v = top_v.gather(1, first.unsqueeze(1)).squeeze(1)
        rows, has, j, v = rows.cpu(), has.cpu(), j.cpu(), v.cpu()
        out[rows.numpy()] = np.where(has.numpy(), j.numpy(), -1)
        val[rows.numpy()] = np.where(has.numpy(), v.numpy(), np.nan)
    return out, val


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.generator.seed)
    tc = cfg.generator.triplets
    K, SEED, GEN = tc.k, cfg.generator.seed, cfg.path("gen")
    TRIPLETS = triplets_path(cfg)
    items, X = split_images(GEN, cfg.path("corpus"), generator_items(cfg), train=True)
    C, A, tag = load_frozen_encoders(cfg)
    dev = resolve_device(cfg.runtime.device)
    C, A = C.to(dev), A.to(dev)
    if os.path.exists(TRIPLETS):
        z = np.load(TRIPLETS, allow_pickle=False)
        if str(z["tag"]) == tag and len(z["c"]) == len(items):
            log(f"triplets: up to date ({TRIPLETS}, encoders {tag})")
            return
    log(f"triplets: embedding {len(items)} train images with the frozen encoders ({tag}) ...")
    c = torch.nn.functional.normalize(embed_pm1(C, X, device=dev), dim=1)
    a = torch.nn.functional.normalize(embed_pm1(A, X, device=dev), dim=1)
    c_dev, a_dev = c, a
    c, a = c.cpu(), a.cpu()
    g = torch.Generator().manual_seed(SEED)
    i = torch.randint(0, len(items), (200000,), generator=g)
    j = torch.randint(0, len(items), (200000,), generator=g)
    keep = i != j
    rs = (c[i[keep]] * c[j[keep]]).sum(1)
    ra = (a[i[keep]] * a[j[keep]]).sum(1)
    q = torch.tensor([0.5, 0.8, 0.9, 0.95, 0.99])
    log(f"random-pair semantic sim quantiles {dict(zip(q.tolist(), rs.quantile(q).round(decimals=3).tolist()))}")
    log(f"random-pair style sim quantiles {dict(zip(q.tolist(), ra.quantile(q).round(decimals=3).tolist()))}")
    tau_sem = tc.tau_sem if tc.tau_sem is not None else float(rs.quantile(tc.sem_quantile))
    tau_sty = tc.tau_sty if tc.tau_sty is not None else float(ra.quantile(tc.sty_quantile))
    log(f"thresholds: semantic < {tau_sem:.4f} for s, style < {tau_sty:.4f} for y (top-{K} candidates)")
    s_idx, s_sim = first_valid(a_dev, c_dev, tau_sem, K)
    y_idx, y_sim = first_valid(c_dev, a_dev, tau_sty, K)
    valid = (s_idx >= 0) & (y_idx >= 0)
    xs = np.nonzero(valid)[0]
    # sanity check with labels (never used to choose)
    sets = np.array([it["set"] for it in items])
    cps = np.array([it["codepoint"] or f"~{k}" for k, it in enumerate(items)])
    st = {
        "train_items": len(items), "valid": int(valid.sum()), "has_s": int((s_idx >= 0).sum()),
        "has_y": int((y_idx >= 0).sum()), "tau_sem": tau_sem, "tau_sty": tau_sty, "k": K,
        "sem_quantile": tc.sem_quantile, "sty_quantile": tc.sty_quantile, "encoders": tag,
        "s_same_set": float((sets[s_idx[xs]] == sets[xs]).mean()) if len(xs) else 0.0,
        "s_same_codepoint": float((cps[s_idx[xs]] == cps[xs]).mean()) if len(xs) else 0.0,
        "y_same_codepoint": float((cps[y_idx[xs]] == cps[xs]).mean()) if len(xs) else 0.0,
        "y_same_set": float((sets[y_idx[xs]] == sets[xs]).mean()) if len(xs) else 0.0,
        "mean_style_sim_s": float(np.nanmean(s_sim[xs])) if len(xs) else 0.0,
        "mean_content_sim_y": float(np.nanmean(y_sim[xs])) if len(xs) else 0.0,
        "distinct_y": int(len(np.unique(y_idx[xs]))), "distinct_s": int(len(np.unique(s_idx[xs]))),
    }
    st["examples"] = [{"x": items[k]["id"], "y": items[y_idx[k]]["id"], "s": items[s_idx[k]]["id"]}
                      for k in xs[np.random.RandomState(0).permutation(len(xs))[:12]]]
    log(f"triplets: {st['valid']} of {len(items)} x have a valid (y, s) (s: {st['has_s']}, y: {st['has_y']}); "
        f"s shares x's set {st['s_same_set']:.1%} (codepoint {st['s_same_codepoint']:.1%}); y shares x's codepoint "
        f"{st['y_same_codepoint']:.1%} (set {st['y_same_set']:.1%}); distinct y {st['distinct_y']}, s {st['distinct_s']}")
    for e in st["examples"][:6]:
        log(f"  x {e['x']:<40} y {e['y']:<40} s {e['s']}")
    np.savez(TRIPLETS + ".tmp.npz", x=xs, y=y_idx[xs], s=s_idx[xs], c=c.numpy(), a=a.numpy(), tag=np.array(tag),
             tau_sem=tau_sem, tau_sty=tau_sty, ids=np.array([it["id"] for it in items]))
    os.replace(TRIPLETS + ".tmp.npz", TRIPLETS)
    json.dump(st, open(os.path.join(GEN, "triplets.json"), "w"), indent=1)
