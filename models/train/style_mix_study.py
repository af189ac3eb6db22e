"""How much should the style tower's colour branch count? A measurement for issue 15.

The style embedding is [learned * sqrt(1 - w), colour * sqrt(w)] (StyleNet, colour_dim > 0), so its cosine is
(1 - w) * learned + w * colour, and training sets w through a learned scalar. Any other w is the same network with
a different constant. This script embeds the snapshot once with a trained style checkpoint, splits each embedding
into its two unit parts, and measures style P@10 for a grid of w on two databases:

  validation: the training emoji sets' `unseen-content` items (styles trained on, images never trained on);
  held-out:   the three held-out sets (the protocol's database, as `metrics` builds it).

w is chosen on validation only; the held-out column is reported beside it so the choice can be judged, never made
on it. Baselines (the colour histograms of `metrics`) are measured on both databases.

  python3 style_mix_study.py --config configs/mini_heldout.toml --out work/heldout/style_mix.json
(run `python3 -m parasol_train prepare style --config configs/mini_heldout.toml` first)."""
import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from parasol_train.checkpoints import ckpt_path, embed_images  # noqa: E402
from parasol_train.config import Config, load_config  # noqa: E402
from parasol_train.data import HELD_OUT_SETS, corpus_of, snapshot_paths  # noqa: E402
from parasol_train.models.encoders import StyleNet  # noqa: E402
from parasol_train.runtime import load_checkpoint, setup  # noqa: E402
from parasol_train.stages.metrics import hist_feat, split_of, style_metrics  # noqa: E402

GRID = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def parts(E: np.ndarray, colour_dim: int, w: float) -> tuple[np.ndarray, np.ndarray]:
    """The learned and colour unit vectors of embeddings made with mix weight w."""
    learned, colour = E[:, : E.shape[1] - colour_dim], E[:, E.shape[1] - colour_dim:]
    return learned / np.sqrt(max(1.0 - w, 1e-12)), colour / np.sqrt(max(w, 1e-12))


def mixed(learned: np.ndarray, colour: np.ndarray, w: float) -> np.ndarray:
    return np.concatenate([learned * np.sqrt(1.0 - w), colour * np.sqrt(w)], 1).astype(np.float32)


@dataclass
class StyleStudy:
    """What a style study measures: the config's snapshot and its trained style tower (in eval mode)."""

    cfg: Config
    items: list[dict]
    X: np.ndarray
    ck: dict
    net: StyleNet
    w0: float  # the tower's trained mix weight


def load_style_study(config: str) -> StyleStudy:
    """Loads the snapshot and style checkpoint of a config (run from models/train; seeds and threads set)."""
    os.chdir(HERE)
    cfg = load_config(config)
    setup(cfg.runtime.threads, cfg.runtime.seed)
    p = snapshot_paths(cfg.path("work"))
    ck = load_checkpoint(ckpt_path(cfg, "style"))
    net = StyleNet(128, colour_dim=cfg.style.colour_dim)
    net.load_state_dict(ck["net"])
    net.eval()
    return StyleStudy(cfg, json.load(open(p["items"])), np.load(p["x"])["x"], ck, net, float(torch.sigmoid(net.colour_mix).item()))


def study_databases(items: list[dict]) -> dict[str, list[int]]:
    """validation (the training emoji sets' unseen-content items), heldout (the three held-out sets) and, with the
    artwork corpus, the held-out artists' drawings (the protocol's artwork style database)."""
    held = set(HELD_OUT_SETS)
    emoji = [i for i, it in enumerate(items) if corpus_of(it) == "emoji"]
    databases = {
        "validation": [i for i in emoji if items[i]["set"] not in held and split_of(items[i]) == "unseen-content"],
        "heldout": [i for i in emoji if items[i]["set"] in held],
    }
    artists = [i for i, it in enumerate(items) if corpus_of(it) == "artwork" and it.get("artist") and split_of(it) in ("unseen-style", "unseen-both")]
    if artists:
        databases["artwork_heldout_artists"] = artists
    return databases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/mini_heldout.toml")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    started = time.time()
    study = load_style_study(args.config)
    cfg, items, X, ck, net, w0 = study.cfg, study.items, study.X, study.ck, study.net, study.w0
    databases = study_databases(items)
    heldout_db, validation_db = databases["heldout"], databases["validation"]
    E = np.zeros((len(items), 128), np.float32)
    wanted = sorted(set(heldout_db) | set(validation_db))
    E[wanted] = embed_images(net, X[wanted])
    learned, colour = parts(E, cfg.style.colour_dim, w0)

    def column(db: list[int]) -> dict:
        sub = [items[i] for i in db]
        local = list(range(len(db)))
        out = {"items": len(db), "sets": len({items[i]["set"] for i in db})}
        out["baseline_hist"] = style_metrics(hist_feat(X[db]), sub, local)["P@10"]
        out["baseline_hist_fg"] = style_metrics(hist_feat(X[db], True), sub, local)["P@10"]
        out["trained_w"] = style_metrics(E, items, db)["P@10"]
        out["by_w"] = {f"{w:.1f}": style_metrics(mixed(learned, colour, w), items, db)["P@10"] for w in GRID}
        return out

    validation, heldout = column(validation_db), column(heldout_db)
    chosen = max(GRID, key=lambda w: (validation["by_w"][f"{w:.1f}"], -abs(w - w0)))
    report = {
        "config": args.config,
        "style_checkpoint_step": int(ck.get("step", -1)),
        "trained_w": w0,
        "validation": validation,
        "heldout": heldout,
        "chosen_w_on_validation": chosen,
        "heldout_P@10_at_chosen_w": heldout["by_w"][f"{chosen:.1f}"],
        "seconds": round(time.time() - started, 1),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps({k: v for k, v in report.items() if k not in ("validation", "heldout")}))
    for name in ("validation", "heldout"):
        col = report[name]
        print(name, col["items"], "items; hist", round(col["baseline_hist"], 3), "hist_fg", round(col["baseline_hist_fg"], 3),
              "trained", round(col["trained_w"], 3), {w: round(v, 3) for w, v in col["by_w"].items()})


if __name__ == "__main__":
    main()
