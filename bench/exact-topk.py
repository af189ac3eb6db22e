"""Exact top-10 for tune-bench.js --dump: one float32 matrix product per block of rows (numpy/BLAS).

    python3 bench/exact-topk.py DUMP_DIR MODALITY TRUTHS.json

Reads <modality>.{vectors.f32,queries.f32,exclude.i32,meta.json} from DUMP_DIR and merges the exact
answers at every size in meta["sizes"] into TRUTHS.json (the file tune-bench.js --truths reads).
Each query's own row (its held-out seq, row + 1) is never its answer.
"""
import json
import os
import sys

import numpy as np

BLOCK = 65536


def main() -> None:
    folder, modality, out = sys.argv[1:4]
    meta = json.load(open(os.path.join(folder, f"{modality}.meta.json")))
    size, dim, k = meta["size"], meta["dim"], meta["recallAt"]
    vectors = np.memmap(os.path.join(folder, f"{modality}.vectors.f32"), dtype="<f4", mode="r", shape=(size, dim))
    queries = np.fromfile(os.path.join(folder, f"{modality}.queries.f32"), dtype="<f4").reshape(-1, dim)
    held_out_rows = np.fromfile(os.path.join(folder, f"{modality}.exclude.i32"), dtype="<i4") - 1
    n = len(queries)
    best_scores = np.full((n, k), -np.inf, dtype=np.float32)
    best_rows = np.full((n, k), -1, dtype=np.int64)
    kept = {}
    sizes = sorted(meta["sizes"])
    start = 0
    while start < size:
        end = min(size, start + BLOCK)
        # Stop blocks at the checkpoint sizes, so the answers there are exact too.
        for s in sizes:
            if start < s < end:
                end = s
        scores = queries @ np.asarray(vectors[start:end]).T
        rows = np.arange(start, end)
        scores[held_out_rows[:, None] == rows[None, :]] = -np.inf
        take = min(k, end - start)
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        all_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        all_rows = np.concatenate([best_rows, top + start], axis=1)
        order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(all_scores, order, axis=1)
        best_rows = np.take_along_axis(all_rows, order, axis=1)
        start = end
        if end in sizes:
            seqs = [[int(r) + 1 for r in row if r >= 0] for row in best_rows]
            kept[str(end)] = {"image": seqs[: meta["image"]], "text": seqs[meta["image"]:]}
        print(f"exact {modality} {end}/{size}", file=sys.stderr, flush=True)
    existing = json.load(open(out)) if os.path.exists(out) else None
    if not existing or existing.get("queries") != meta["queries"] or existing.get("imageRows") != meta["imageRows"]:
        existing = {"generator": meta["generator"], "queries": meta["queries"], "imageRows": meta["imageRows"], "truths": {}}
    existing["truths"].setdefault(modality, {}).update(kept)
    with open(out, "w") as f:
        json.dump(existing, f)
    print(f"exact answers at {', '.join(kept)} written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
