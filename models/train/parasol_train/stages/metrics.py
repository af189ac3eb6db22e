"""Stage metrics: held-out evaluation of the mini pack (exact brute-force cosine kNN in float32; ties broken by corpus order).
Definitions (also stated in models/mini/CARD.md):
  style P@10 / mAP@10: database = every item of the held-out sets (emojione-monotone, twemoji, fxemoji), i.e.
    splits unseen-style and unseen-both. Each item is a query; the ranking excludes the query itself and every
    item with the query's codepoint (when it has one). relevant = same set. P@10 = |relevant in top 10| / 10.
    AP@10 = (1 / min(10, R)) * sum_{k<=10} P@k * rel(k), R = number of relevant items left after exclusion.
    Both averaged over all queries.
  content R@10: database = items with a codepoint and split unseen-content or unseen-both (all 12 sets);
    each item a query, excluding itself; relevant = items with the same codepoint;
    R@10 = |relevant in top 10| / min(10, |relevant|), averaged over queries with >= 1 relevant item.
  text->image R@k: same database; one query per codepoint in it, the query text = the emoji's name (the name of
    its first item in items.jsonl order); hit@k = 1 if any item with that codepoint is in the top k; averaged.
  text->style P@10: database = items of split unseen-content in the training sets; queries = the held-out
    paraphrases of style_descriptions.json; P@10 = share of the top 10 items that belong to the described set.
  artwork style P@10 (Open Clip Art): database = the drawings of the held-out artists (splits unseen-style and
    unseen-both); each a query, excluding itself; relevant = same artist; P@10 as above, averaged over queries
    (and per artist). chance = mean over queries of (drawings by the query's artist - 1) / (database - 1).
  artwork text->image R@k: database = the drawings of the held-out categories (unseen-content + unseen-both), or of
    the held-out artists (unseen-style + unseen-both); one query per distinct title (lowercased, spaces collapsed),
    the title itself as text, embedded by the semantic text tower only (no lexical match); hit@k = 1 if a drawing
    with that title is in the top k. chance R@10 = mean over queries of 1 - C(N - n, 10) / C(N, 10).
Splits: the protocol's split of each item (`eval_split` in an all-data run, whose numbers are then on training data).
Baselines: 'hist' = 8x8x8 RGB histogram (bin = value // 32 per channel) over all 64x64 pixels including the white
background, L1-normalised, cosine similarity; 'hist_fg' the same over non-white pixels only (pixels with
min(R,G,B) < 250; all-white images get a zero vector); 'pix16' = 16x16 RGB thumbnail (mean of each 4x4 block of
the 64x64 image, values / 255), 768-d, cosine similarity."""
import json
import os
import time

import numpy as np

from ..checkpoints import ENCODER_STAGES, cached_image_embeddings, ckpt_path, embed_texts, load_encoder_towers, style_tag
from ..config import Config
from ..data import ARTWORK, HELD_OUT_SETS, corpus_of, load_snapshot
from ..runtime import load_checkpoint, log, setup


# mini v2 (issue 15): emoji protocol and artwork protocol targets
TARGETS = {"style_P@10": ">= 0.93 and > baseline_hist", "content_R@10": ">= 0.65", "text_to_image_R@10": ">= 0.8",
           "text_to_style_P@10": ">= 0.8", "artwork_text_to_image_R@10": ">= 3x chance (held-out categories and artists)",
           "artwork_style_P@10": ">= 3x chance (held-out artists)"}


def l2n(e):
    e = e.astype(np.float32)
    n = np.linalg.norm(e, axis=1, keepdims=True)
    return e / np.maximum(n, 1e-12)


def hist_feat(X, fg_only=False):
    q = (X // 32).astype(np.int32)
    code = q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]
    out = np.zeros((len(X), 512), np.float32)
    for i in range(len(X)):
        c = code[i].ravel()
        if fg_only:
            c = c[X[i].reshape(-1, 3).min(1) < 250]
        h = np.bincount(c, minlength=512).astype(np.float32)
        out[i] = h / max(h.sum(), 1.0)
    return out


def pix16_feat(X):
    return X.reshape(len(X), 16, 4, 16, 4, 3).astype(np.float32).mean(axis=(2, 4)).reshape(len(X), -1) / 255.0


def topk_excluding(E, q_idx, excl_fn, k=10):
    """For each query, indices into E (database) of the top k after exclusions."""
    S = E[q_idx] @ E.T
    res = []
    for r, qi in enumerate(q_idx):
        s = S[r].copy()
        s[excl_fn(qi)] = -np.inf
        top = np.argsort(-s, kind="stable")[:k]
        res.append(top)
    return res


def split_of(it):
    return it.get("eval_split", it["split"])


def chance_hit(n_db, n_rel, k=10):
    """P(at least one of n_rel relevant items in a random top k of n_db)."""
    if n_rel <= 0:
        return 0.0
    if n_db - n_rel < k:
        return 1.0
    return 1 - float(np.prod([(n_db - n_rel - j) / (n_db - j) for j in range(k)]))


def style_metrics(E, items, db, label="set"):
    """db: indices of items forming the database; E: embeddings of all items; relevant = same items[i][label]."""
    Ed = l2n(E[db])
    sets = np.array([items[i][label] for i in db])
    cps = np.array([items[i]["codepoint"] or f"__none{i}" for i in db])
    p10, ap10 = [], []
    S = Ed @ Ed.T
    for r in range(len(db)):
        s = S[r].copy()
        excl = cps == cps[r]
        excl[r] = True
        s[excl] = -np.inf
        top = np.argsort(-s, kind="stable")[:10]
        rel = np.zeros(10, bool)  # an excluded item is never relevant, even in a database of fewer than 10 others
        rel[:len(top)] = (sets[top] == sets[r]) & ~excl[top]
        R = int(((sets == sets[r]) & ~excl).sum())
        p10.append(rel.mean())
        if R == 0:
            ap10.append(0.0); continue
        prec = np.cumsum(rel) / np.arange(1, 11)
        ap10.append(float((prec * rel).sum() / min(10, R)))
    per_set = {s: float(np.mean([p for p, ss in zip(p10, sets) if ss == s])) for s in sorted(set(sets))}
    n = len(db)
    chance = float(np.mean([((sets == s).sum() - 1) / max(1, n - 1) for s in sets])) if n else 0.0
    return {"P@10": float(np.mean(p10)), "mAP@10": float(np.mean(ap10)), "P@10_per_set": per_set, "queries": n,
            "P@10_macro": float(np.mean(list(per_set.values()))), "chance_P@10": chance}


def title_key(t):
    return " ".join((t or "").lower().split())


def artwork_text_metrics(Et, Ei, items, db, titles):
    """R@k of each distinct title over `db` (hit: a drawing with that title in the top k)."""
    Ed = l2n(Ei[db])
    keys = np.array([title_key(items[i]["name"]) for i in db])
    S = l2n(Et) @ Ed.T
    hits = {1: [], 5: [], 10: []}
    for r, t in enumerate(titles):
        top = np.argsort(-S[r], kind="stable")[:10]
        for k in hits:
            hits[k].append(float((keys[top[:k]] == t).any()))
    chance = float(np.mean([chance_hit(len(db), int((keys == t).sum())) for t in titles])) if titles else 0.0
    return {f"R@{k}": float(np.mean(v)) for k, v in hits.items()} | {"queries": len(titles), "database": len(db),
                                                                      "chance_R@10": chance}


def artwork_metrics(E_sem, E_sty, X, items, m, tok):
    art = [i for i, it in enumerate(items) if corpus_of(it) == ARTWORK]
    if not art:
        return None
    out = {}
    sdb = [i for i in art if split_of(items[i]) in ("unseen-style", "unseen-both") and items[i].get("artist")]
    if sdb:
        sub = [{"artist": items[i]["artist"], "codepoint": None} for i in sdb]
        ids = list(range(len(sdb)))
        out["style_retrieval"] = {
            "model": style_metrics(E_sty, items, sdb, "artist"),
            "baseline_hist": style_metrics(hist_feat(X[sdb]), sub, ids, "artist"),
            "baseline_hist_fg": style_metrics(hist_feat(X[sdb], True), sub, ids, "artist"),
            "baseline_pix16": style_metrics(pix16_feat(X[sdb]), sub, ids, "artist"),
            "semantic_model_as_style": style_metrics(E_sem, items, sdb, "artist"),
        }
    for name, splits in (("held_out_categories", ("unseen-content", "unseen-both")),
                         ("held_out_artists", ("unseen-style", "unseen-both"))):
        db = [i for i in art if split_of(items[i]) in splits]
        if not db:
            continue
        titles = sorted({title_key(items[i]["name"]) for i in db} - {""})
        Et = embed_texts(m["semantic_text"], tok, titles)
        out[f"text_to_image_{name}"] = artwork_text_metrics(Et, E_sem, items, db, titles)
    return out


def content_metrics(E, items, db):
    Ed = l2n(E[db])
    cps = np.array([items[i]["codepoint"] for i in db])
    S = Ed @ Ed.T
    rs = []
    for r in range(len(db)):
        rel_mask = cps == cps[r]
        rel_mask[r] = False
        nrel = int(rel_mask.sum())
        if nrel == 0:
            continue
        s = S[r].copy(); s[r] = -np.inf
        top = np.argsort(-s, kind="stable")[:10]
        rs.append(rel_mask[top].sum() / min(10, nrel))
    return {"R@10": float(np.mean(rs)), "queries": len(rs)}


def text_image_metrics(Et, Ei, items, db, q_cps):
    Ed = l2n(Ei[db])
    cps = np.array([items[i]["codepoint"] for i in db])
    S = l2n(Et) @ Ed.T
    hits = {1: [], 5: [], 10: []}
    for r, cp in enumerate(q_cps):
        top = np.argsort(-S[r], kind="stable")[:10]
        for k in hits:
            hits[k].append(float((cps[top[:k]] == cp).any()))
    return {f"R@{k}": float(np.mean(v)) for k, v in hits.items()} | {"queries": len(q_cps)}


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.runtime.seed)
    t0 = time.time()
    OUT = cfg.path("pack")
    snap = load_snapshot(cfg.path("work"), OUT)
    items, X, tok = snap.items, snap.x, snap.tok
    desc = json.load(open(cfg.path("style_descriptions")))["sets"]
    ck = {n: load_checkpoint(ckpt_path(cfg, n)) for n in ENCODER_STAGES}
    m = load_encoder_towers(cfg, len(tok.vocab))
    E_sem = cached_image_embeddings(cfg, "semantic", m["semantic_image"], X, f"semantic-{ck['semantic']['step']}")
    E_sty = cached_image_embeddings(cfg, "style", m["style_image"], X, style_tag(cfg, ck['style']['step']))
    held = set(HELD_OUT_SETS)
    style_db = [i for i, it in enumerate(items) if it["set"] in held]
    assert all(split_of(items[i]) in ("unseen-style", "unseen-both") for i in style_db)
    content_db = [i for i, it in enumerate(items) if it["codepoint"] and split_of(it) in ("unseen-content", "unseen-both")]
    out = {"corpus": {"items": len(items), "all_data": cfg.runtime.all_data,
                      "splits": {s: sum(split_of(it) == s for it in items) for s in
                                 ("train", "unseen-style", "unseen-content", "unseen-both")}}}
    log("style retrieval ...")
    Xs = X[style_db]
    out["style_retrieval"] = {
        "model": style_metrics(E_sty, items, style_db),
        "baseline_hist": style_metrics(np.pad(hist_feat(X[style_db]), 0), [items[i] for i in style_db], list(range(len(style_db)))),
        "baseline_hist_fg": style_metrics(hist_feat(Xs, True), [items[i] for i in style_db], list(range(len(style_db)))),
        "baseline_pix16": style_metrics(pix16_feat(Xs), [items[i] for i in style_db], list(range(len(style_db)))),
        "semantic_model_as_style": style_metrics(E_sem, items, style_db),
    }
    log("content retrieval ...")
    Xc = X[content_db]
    sub = [items[i] for i in content_db]
    out["content_retrieval"] = {
        "model": content_metrics(E_sem, items, content_db),
        "baseline_pix16": content_metrics(pix16_feat(Xc), sub, list(range(len(content_db)))),
        "baseline_hist": content_metrics(hist_feat(Xc), sub, list(range(len(content_db)))),
        "style_model_as_content": content_metrics(E_sty, items, content_db),
    }
    log("text -> image ...")
    names = {}
    for i in content_db:
        names.setdefault(items[i]["codepoint"], items[i]["name"])
    q_cps = sorted(names)
    Et = embed_texts(m["semantic_text"], tok, [names[c] for c in q_cps])
    out["text_to_image"] = text_image_metrics(Et, E_sem, items, content_db, q_cps)
    rng = np.random.RandomState(0)
    rand = rng.randn(len(q_cps), 8).astype(np.float32)
    out["text_to_image"]["chance_R@10"] = float(np.mean([
        chance_hit(len(content_db), sum(items[i]["codepoint"] == c for i in content_db)) for c in q_cps]))
    log("text -> style ...")
    tdb = [i for i, it in enumerate(items) if split_of(it) == "unseen-content" and it["set"] in desc]
    Ed = l2n(E_sty[tdb])
    dsets = np.array([items[i]["set"] for i in tdb])
    res = {}
    for part in ("heldout", "train"):
        qs = [(s, t) for s in sorted(desc) for t in desc[s][part]]
        Eq = embed_texts(m["style_text"], tok, [t for _, t in qs])
        S = Eq @ Ed.T
        p = []
        per = {}
        for r, (s, t) in enumerate(qs):
            top = np.argsort(-S[r], kind="stable")[:10]
            v = float((dsets[top] == s).mean())
            p.append(v); per.setdefault(s, []).append(v)
        res[part] = {"P@10": float(np.mean(p)), "queries": len(qs), "per_set": {k: float(np.mean(v)) for k, v in per.items()}}
    res["chance"] = float(np.mean([(dsets == s).mean() for s in sorted(desc)]))
    res["database"] = len(tdb)
    out["text_to_style"] = res
    log("artwork ...")
    art = artwork_metrics(E_sem, E_sty, X, items, m, tok)
    if art:
        out["artwork"] = art
    out["targets"] = TARGETS
    out["eval_seconds"] = time.time() - t0
    os.makedirs(OUT, exist_ok=True)
    json.dump(out, open(os.path.join(OUT, "metrics.json"), "w"), indent=2)
    log(json.dumps(out, indent=2))
