"""A reduced joint space on real vectors (issue 12): fits the principal axes of a store's [content, style]/sqrt(2)
points and writes the points, 400 mixed queries (one item's content with another's style, weights 1:1) and their
exact fused top 10 for run.mjs. Needs numpy.  python3 prepare.py <data dir>/catalog.sqlite <out dir>
The widths are the store's own (256 + 128 = 384 with mini v2, 256 + 224 = 480 with mini v2.2); prepared.json records
them. With --spectrum FILE it only prints the variance shares of raw float32 384-d rows (synthetic-vectors.mjs)."""
import json
import sqlite3
import sys

import numpy as np

def variance_shares(X: np.ndarray) -> dict[str, float]:
    """Share of the (centred) variance held by the leading 32, 64, 128, 192 and 256 principal axes."""
    s = np.linalg.svd(X - X.mean(0), compute_uv=False) ** 2
    share = np.cumsum(s) / s.sum()
    return {str(d): round(float(share[d - 1]), 4) for d in (32, 64, 128, 192, 256)}


if sys.argv[1] == "--spectrum":
    # python3 prepare.py --spectrum <raw float32 rows of 384> (synthetic-vectors.mjs writes the bench's)
    print(variance_shares(np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 384)))
    sys.exit(0)

catalog, out = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
rows = db.execute("SELECT semantic, style FROM items WHERE deleted = 0 ORDER BY seq").fetchall()
S = np.stack([np.frombuffer(a, dtype=np.float32) for a, _ in rows])
T = np.stack([np.frombuffer(b, dtype=np.float32) for _, b in rows])
X = (np.concatenate([S, T], 1) / np.sqrt(2)).astype(np.float32)
rng = np.random.default_rng(0)
qi, qj = rng.choice(len(X), 400, replace=False), rng.choice(len(X), 400, replace=False)
Q = np.concatenate([S[qi], T[qj]], 1)
Q /= np.linalg.norm(Q, axis=1, keepdims=True)
# Uncentred axes for the graph: the inner product in the reduced space approximates the full cosine.
_, _, vt = np.linalg.svd(X, full_matrices=False)
for d in (64, 128):
    B = vt[:d].T.astype(np.float32)
    (X @ B).astype(np.float32).tofile(f"{out}/x{d}.f32")
    (Q @ B).astype(np.float32).tofile(f"{out}/q{d}.f32")
X.tofile(f"{out}/x.f32")
Q.astype(np.float32).tofile(f"{out}/q.f32")
np.argsort(-(Q @ X.T), axis=1, kind="stable")[:, :10].astype(np.int32).tofile(f"{out}/exact.i32")
json.dump({"items": len(X), "dims": {"semantic": S.shape[1], "style": T.shape[1], "joint": X.shape[1]},
           "varianceShareByAxes": variance_shares(X)},
          open(f"{out}/prepared.json", "w"))
print(len(X), "items")
