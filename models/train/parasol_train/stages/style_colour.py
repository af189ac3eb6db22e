"""Stage style_colour: with style.colour_head = "foreground", fits the principal axes of the hard foreground colour
histogram (parasol_train/models/colour.py) over a seeded sample of the train split (and, with style.learned_axes,
those of the tower's learned part) and writes them, with the mix
weight style.colour_w, to paths.work/style_colour.npz, which the style descriptor (load_encoder_towers) reads. The
weight is the one the held-out run chose on validation (style_colour_study.py --hard); no labels are used here.
With the tower's own colour part ("trained") there is nothing to fit."""
import os

import numpy as np

from ..checkpoints import ckpt_path, embed_images, style_colour_path
from ..config import Config
from ..data import load_snapshot
from ..models.colour import fit_axes
from ..models.encoders import StyleNet
from ..runtime import load_checkpoint, log, setup
from .metrics import hist_feat


def train_sample(items: list[dict], size: int, seed: int) -> list[int]:
    """A seeded sample of the train split (item indices, ascending): the images the axes are fitted on."""
    train = [i for i, it in enumerate(items) if it["split"] == "train"]
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(train, size=min(size, len(train)), replace=False).tolist())


def run(cfg: Config, resume: bool) -> None:
    st = cfg.style
    if st.colour_head != "foreground":
        log("style_colour: style.colour_head is \"trained\": the tower's own colour part, nothing to fit")
        return
    setup(cfg.runtime.threads, cfg.runtime.seed)
    ck = load_checkpoint(ckpt_path(cfg, "style"))
    step = int(ck.get("step", -1))
    out = style_colour_path(cfg)
    if resume and os.path.exists(out) and int(np.load(out)["style_step"]) == step:
        log(f"style_colour: {out} is current (style step {step})")
        return
    snap = load_snapshot(cfg.path("work"), cfg.path("pack"))
    fit = train_sample(snap.items, st.colour_fit, cfg.runtime.seed)
    mean, axes = fit_axes(hist_feat(snap.x[fit], True), st.colour_axes)
    learned = {}
    if st.learned_axes:
        net = StyleNet(128, colour_dim=st.colour_dim)
        net.load_state_dict(ck["net"])
        E = embed_images(net.eval(), snap.x[fit])[:, : 128 - st.colour_dim]
        E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
        learned["learned_mean"], learned["learned_axes"] = fit_axes(E, st.learned_axes)
    tmp = out + ".tmp.npz"
    np.savez(tmp, mean=mean, axes=axes, w=np.float32(st.colour_w), style_step=step, fit_images=len(fit), **learned)
    os.replace(tmp, out)
    log(f"style_colour: {st.colour_axes} axes of the foreground histogram"
        + (f" and {st.learned_axes} of the learned part" if st.learned_axes else "")
        + f" over {len(fit)} train images, w {st.colour_w} -> {out}")
