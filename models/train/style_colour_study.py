"""Why does the style tower lose to a colour histogram on unseen emoji sets? A measurement for issue 15.

The tower's colour branch (StyleNet, colour_dim > 0) projects its two square-rooted soft histograms (all pixels and
the foreground) to colour_dim dimensions with a *trained* linear map; training fits that map to separate the
training styles. This script asks whether a map fixed by the data instead — principal axes of the same square-rooted
histograms over the train split, no labels — keeps what makes a plain histogram a strong style baseline on unseen
sets, and at which mix weight w the learned part and such a colour part do best:

  trained:  the checkpoint's own colour part (as style_mix_study.py measures it);
  pca:      the principal axes of [sqrt(hist), sqrt(fg hist)] over the train split, centred (the mean removed);
  svd:      the same without removing the mean (uncentred: cosine then approximates the histograms' own cosine).

For each variant and w in a grid, style P@10 on three databases: validation (the training emoji sets'
`unseen-content` items: styles trained on, images never), held-out (the three held-out sets, the protocol's
database) and, for the artwork corpus, the held-out artists (the protocol's artwork style database). w and the
variant are chosen on validation only; held-out columns are reported beside them, never used to choose.

  python3 -m parasol_train prepare style --config configs/mini_heldout.toml
  python3 style_colour_study.py --config configs/mini_heldout.toml --out work/heldout/style_colour.json
  python3 style_colour_study.py --config configs/mini_heldout.toml --dims 32,64,128 --hists --out work/heldout/style_colour_wide.json

The second asks whether a wider colour part (or the histograms themselves, 432 dimensions) closes the gap; with
--hard, whether the baseline's own histogram (hard 8x8x8 bins of the foreground, 512 dimensions), as it is or on its
principal axes, does better as the colour part than the tower's soft 6x6x6 ones."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from parasol_train.checkpoints import embed_images  # noqa: E402
from parasol_train.data import to_tensor  # noqa: E402
from parasol_train.models.colour import fit_axes  # noqa: E402
from parasol_train.models.encoders import StyleNet  # noqa: E402
from parasol_train.stages.metrics import hist_feat, style_metrics  # noqa: E402
from parasol_train.stages.style_colour import train_sample  # noqa: E402
from style_mix_study import load_style_study, study_databases  # noqa: E402

GRID = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


@torch.no_grad()
def soft_hists(net: StyleNet, X: np.ndarray, bs: int = 512) -> np.ndarray:
    """[sqrt(hist), sqrt(fg hist)] as the tower computes them (its colour branch's input)."""
    return np.concatenate([torch.cat(net.soft_hists(to_tensor(X[i:i + bs])), 1).numpy() for i in range(0, len(X), bs)])


def unit(A: np.ndarray) -> np.ndarray:
    return (A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/mini_heldout.toml")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fit-sample", type=int, default=8000, help="train-split images the axes are fitted on")
    ap.add_argument("--dims", default="32", help="comma-separated colour widths for the fixed axes (e.g. 32,64,128)")
    ap.add_argument("--hists", action="store_true", help="also the square-rooted histograms themselves (432 dimensions) as the colour part")
    ap.add_argument("--hard", action="store_true",
                    help="also the baseline's own foreground histogram (hard 8x8x8 bins, 512 dimensions) as the colour part, "
                         "as it is and on its principal axes (--dims)")
    ap.add_argument("--cache", help="an .npz keeping the embeddings and histograms for a rerun on the same checkpoint")
    ap.add_argument("--no-soft", action="store_true", help="skip the soft histograms' axes (--dims then applies to --hard only)")
    ap.add_argument("--learned-axes", type=int, default=0,
                    help="also put the learned part on its N principal axes over the train sample (so that the learned "
                         "part and a colour part fit in the tower's 128 dimensions), with every colour part")
    args = ap.parse_args()
    started = time.time()
    study = load_style_study(args.config)
    cfg, items, X, ck, net, w0 = study.cfg, study.items, study.X, study.ck, study.net, study.w0
    cd = cfg.style.colour_dim
    databases = study_databases(items)
    fit = train_sample(items, args.fit_sample, cfg.runtime.seed)

    wanted = sorted(set().union(*databases.values()))
    step = int(ck.get("step", -1))
    if args.cache and os.path.exists(args.cache) and int(np.load(args.cache)["step"]) == step:
        cached = np.load(args.cache)
        E, H, H_fit = cached["E"], cached["H"], cached["H_fit"]
    else:
        E = np.zeros((len(items), 128), np.float32)
        E[wanted] = embed_images(net, X[wanted])
        H = np.zeros((len(items), 2 * 216), np.float32)
        H[wanted] = soft_hists(net, X[wanted])
        H_fit = soft_hists(net, X[fit])
        if args.cache:
            np.savez(args.cache, step=step, E=E, H=H, H_fit=H_fit)
    learned = unit(E[:, : 128 - cd])
    learned_variants = {"": learned}
    if args.learned_axes:
        fit_cache = (args.cache or "") and args.cache.replace(".npz", "_fit.npz")
        if fit_cache and os.path.exists(fit_cache) and int(np.load(fit_cache)["step"]) == step:
            E_fit = np.load(fit_cache)["E_fit"]
        else:
            E_fit = embed_images(net, X[fit])
            if fit_cache:
                np.savez(fit_cache, step=step, E_fit=E_fit)
        mean, axes = fit_axes(unit(E_fit[:, : 128 - cd]), args.learned_axes, True)
        learned_variants[f"learned{args.learned_axes}+"] = unit((learned - mean) @ axes)
    colours = {"trained": unit(E[:, 128 - cd:])}
    if args.hard:
        F = np.zeros((len(items), 512), np.float32)
        F[wanted] = hist_feat(X[wanted], True)
        F_fit = hist_feat(X[fit], True)
        colours["fg512"] = unit(F)
        for dim in [int(d) for d in args.dims.split(",")]:
            mean, axes = fit_axes(F_fit, dim, True)
            colours[f"fgpca{dim}"] = unit((F - mean) @ axes)
    if args.hists:
        colours["hists"] = unit(H)
    for dim in [] if args.no_soft else [int(d) for d in args.dims.split(",")]:
        for name, centred in (("pca", True), ("svd", False)):
            mean, axes = fit_axes(H_fit, dim, centred)
            colours[f"{name}{dim}"] = unit((H - mean) @ axes)

    def mixed(colour: np.ndarray, w: float, learned: np.ndarray = learned) -> np.ndarray:
        return np.concatenate([learned * np.sqrt(1 - w), colour * np.sqrt(w)], 1)

    # Every colour part beside each learned part (the tower's own, and on fewer axes with --learned-axes).
    colours = {prefix + name: (part, colour) for prefix, part in learned_variants.items() for name, colour in colours.items()}

    label = lambda db: "artist" if db == "artwork_heldout_artists" else "set"  # noqa: E731
    report: dict = {"config": args.config, "style_checkpoint_step": int(ck.get("step", -1)), "trained_w": w0,
                    "fit_images": len(fit), "databases": {}}
    for db_name, db in databases.items():
        sub = [{**items[i], "codepoint": items[i].get("codepoint")} for i in db]
        local = list(range(len(db)))
        lab = label(db_name)
        col = {"items": len(db),
               "baseline_hist": style_metrics(hist_feat(X[db]), sub, local, lab)["P@10"],
               "baseline_hist_fg": style_metrics(hist_feat(X[db], True), sub, local, lab)["P@10"],
               "tower_as_trained": style_metrics(E, items, db, lab)["P@10"],
               "by_variant": {}}
        for v, (part, colour) in colours.items():
            col["by_variant"][v] = {f"{w:.1f}": round(style_metrics(mixed(colour, w, part), items, db, lab)["P@10"], 4) for w in GRID}
        report["databases"][db_name] = col
        print(db_name, len(db), "items; hist", round(col["baseline_hist"], 3), "fg", round(col["baseline_hist_fg"], 3),
              "tower", round(col["tower_as_trained"], 3), flush=True)
        for v, row in col["by_variant"].items():
            print("  ", v, row, flush=True)
    val = report["databases"]["validation"]["by_variant"]
    variant, w = max(((v, w) for v in val for w in val[v]), key=lambda vw: val[vw[0]][vw[1]])
    report["chosen_on_validation"] = {"variant": variant, "w": float(w),
                                      **{db: report["databases"][db]["by_variant"][variant][w] for db in databases}}
    report["seconds"] = round(time.time() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report["chosen_on_validation"]))


if __name__ == "__main__":
    main()
