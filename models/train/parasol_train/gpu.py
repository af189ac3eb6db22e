"""Training the generator on a GPU machine that receives only the git working tree (models/train/gpu.sh).

The machine (see models/README.md, "Training on a GPU") gets the tracked files plus one carried ignored folder, at
most 64 MiB together, has no network, and sends back at most 8 files of at most 16 MiB (64 MiB together) from $OUT.
So there are three steps:

  pack    (here)   what the generator stages need, into models/train/gpu-bundle (git-ignored): the train images of
                   both corpora (uint8, lzma) and a seeded sample of held-out ones, the slim item list, the frozen
                   encoders' weights (exact fp32 state dicts; with style.colour_head = "foreground" the fitted
                   colour part, style_colour.npz, too), the encoder preprocessing of pack.json and the config. Its size is measured against what is left of the 64 MiB after the working tree; when the
                   images do not all fit, a seeded random sample of the train images that fits is packed, and the
                   manifest and the run's summary say what share.
  train   (there)  vae, decoder, triplets and unet on runtime.device (cuda there; `--device cpu` for the round-trip test
                   here) within `--minutes`: each stage trains as many steps as fit in its share (trainer.py's time
                   budget), bf16 autocast where it measured faster (`--amp auto`). Each finished checkpoint goes to
                   the output folder at once, as CPU tensors without optimizer state (a finished stage is never
                   resumed), in parts of at most 15 MiB, in fp16 only if fp32 would exceed the return limit.
  import  (here)   those checkpoints into paths.gen of a config, where export_generator reads them.

What holds across devices: batches, noise and timesteps are drawn by CPU generators (the stages' docstrings), so a
GPU run sees the batches a CPU run of the same images and schedule would; the arithmetic differs, so the weights are
not bitwise a CPU run's. The GPU run trains on the bundle's images only, and its step counts are what fit the budget.
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

from .checkpoints import ckpt_path
from .config import REPO_ROOT, TRAIN_DIR, Config, load_config
from .data import split_cache, split_images
from .runtime import atomic_save, device_label, load_checkpoint, log, resolve_device, setup

MIB = 1 << 20
TREE_LIMIT = 64 * MIB  # what travels to the machine: tracked + untracked-not-ignored files + carried folders
PART = 15 * MIB  # one file back is at most 16 MiB
RETURN_LIMIT = 56 * MIB  # the checkpoints' share of the 64 MiB that comes back (logs and summary besides)
HELDOUT_SAMPLE = 512  # held-out images packed for the autoencoder's held-out PSNR (its evaluation takes 512)
DEFAULT_BUNDLE = os.path.join(TRAIN_DIR, "gpu-bundle")
ENCODERS = (("semantic", "img"), ("style", "net"))
ITEM_FIELDS = ("id", "set", "codepoint", "split", "corpus", "artist", "path")


# ----------------------------------------------------------------------------- pack (here)

def tree_bytes(root: str = REPO_ROOT) -> int:
    """Bytes of what the device tool sends besides the carried folder: tracked and untracked-not-ignored files."""
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout
    total = 0
    for rel in out.decode().split("\0"):
        p = os.path.join(root, rel)
        if rel and os.path.lexists(p):
            total += os.lstat(p).st_size
    return total


def compress(x: np.ndarray) -> bytes:
    return lzma.compress(np.ascontiguousarray(x).tobytes(), preset=6)


def decompress(data: bytes, n: int) -> np.ndarray:
    x = np.frombuffer(lzma.decompress(data), np.uint8)
    return x.reshape(n, 64, 64, 3).copy()


def pack(cfg: Config, bundle: str, max_mb: float | None = None, encoders_fp16: bool = False) -> dict:
    """Writes the bundle (see the module docstring); returns its manifest. encoders_fp16 halves the frozen encoders'
    share (about 5 MB more room for images) at the price of encoders rounded to fp16 there (not the pack's exactly)."""
    from .stages.card import to_toml
    from .stages.vae import generator_items
    t0 = time.time()
    items = generator_items(cfg)
    train_items, X = split_images(cfg.path("gen"), cfg.path("corpus"), items, train=True)
    held_items, HX = split_images(cfg.path("gen"), cfg.path("corpus"), items, train=False)
    if os.path.isdir(bundle):
        shutil.rmtree(bundle)
    os.makedirs(os.path.join(bundle, "work"))
    os.makedirs(os.path.join(bundle, "pack"))
    os.makedirs(os.path.join(bundle, "corpus"))
    tags = {}
    for name, key in ENCODERS:
        path = ckpt_path(cfg, name)
        if os.path.exists(path):
            ck = load_checkpoint(path)
            if not ck.get("done"):
                raise SystemExit(f"{path}: the {name} encoder has not finished training; pack after it has")
            # the key, step and tensors load_frozen_encoders reads (and tags by), nothing else
            weights = {k: (v.half() if encoders_fp16 and v.is_floating_point() else v) for k, v in ck[key].items()}
            atomic_save({key: weights, "step": ck.get("step"), "done": True}, os.path.join(bundle, "work", f"{name}.pt"))
            tags[name] = ck.get("step")
        elif not cfg.runtime.random_encoders:
            raise SystemExit(f"{path}: the encoder checkpoint is missing (train the encoders first)")
    if cfg.style.colour_head == "foreground":
        # the style descriptor's fitted colour part (load_frozen_encoders reads it beside style.pt); checked here so
        # that a stale fit fails before the trip, not there
        from .checkpoints import load_frozen_encoders, style_colour_path
        load_frozen_encoders(cfg)
        shutil.copy(style_colour_path(cfg), os.path.join(bundle, "work", "style_colour.npz"))
    pack_json = os.path.join(cfg.path("pack"), "pack.json")
    if os.path.exists(pack_json):
        pk = json.load(open(pack_json))
        if "semantic" in pk and "style" in pk:
            slim = {m: {"image": {"preprocess": pk[m]["image"]["preprocess"]}} for m in ("semantic", "style")}
            json.dump(slim, open(os.path.join(bundle, "pack", "pack.json"), "w"), indent=1)

    tree = tree_bytes()
    budget = TREE_LIMIT - tree - MIB  # a margin for files that change before the run
    if max_mb is not None:
        budget = min(budget, int(max_mb * MIB))
    fixed = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(bundle) for f in fs)
    rs = np.random.RandomState(cfg.generator.seed)
    held_idx = np.sort(rs.permutation(len(HX))[:HELDOUT_SAMPLE])
    held_data = compress(HX[held_idx])
    room = budget - fixed - len(held_data) - MIB  # item list (~100 B an item), config and manifest: under 1 MiB
    if room <= 0:
        raise SystemExit(f"gpu pack: no room for images: budget {budget / MIB:.1f} MiB (working tree {tree / MIB:.1f} "
                         f"MiB of {TREE_LIMIT / MIB:.0f}), encoders {fixed / MIB:.1f} MiB")
    order = rs.permutation(len(X))
    probe = order[:min(len(X), 1000)]
    per_image = len(compress(X[np.sort(probe)])) / max(len(probe), 1)
    n = min(len(X), int(room / (per_image * 1.03)))
    while True:
        train_idx = np.sort(order[:n])
        train_data = compress(X[train_idx])
        if len(train_data) <= room or n == 0:
            break
        n = int(n * room / len(train_data) * 0.98)
    if n == 0:
        raise SystemExit("gpu pack: not one train image fits the budget")
    open(os.path.join(bundle, "images_train.u8.xz"), "wb").write(train_data)
    open(os.path.join(bundle, "images_heldout.u8.xz"), "wb").write(held_data)
    keep = {id(train_items[i]) for i in train_idx} | {id(held_items[i]) for i in held_idx}
    with open(os.path.join(bundle, "corpus", "items.jsonl"), "w") as f:
        for it in items:  # the corpora's order, so the GPU side's splits come out in the order of the packed pixels
            if id(it) in keep:
                f.write(json.dumps({k: it[k] for k in ITEM_FIELDS if k in it}) + "\n")
    open(os.path.join(bundle, "config.toml"), "w").write(to_toml(cfg.to_dict()))
    manifest = {
        "config": cfg.name, "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "train_images": int(n), "train_images_all": int(len(X)), "train_share": n / len(X),
        "heldout_images": int(len(held_idx)), "heldout_images_all": int(len(HX)),
        "bytes_per_train_image": len(train_data) / n, "encoder_steps": tags,
        "encoder_dtype": "float16" if encoders_fp16 else "float32",
        "tree_bytes": tree, "budget_bytes": budget,
    }
    json.dump(manifest, open(os.path.join(bundle, "manifest.json"), "w"), indent=1)
    manifest["bundle_bytes"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(bundle) for f in fs)
    json.dump(manifest, open(os.path.join(bundle, "manifest.json"), "w"), indent=1)
    log(f"gpu pack: {bundle}: {manifest['bundle_bytes'] / MIB:.1f} MiB (budget {budget / MIB:.1f} MiB beside a "
        f"{tree / MIB:.1f} MiB working tree); train images {n} of {len(X)} ({n / len(X):.0%}, "
        f"{len(train_data) / n:.0f} B each), held-out sample {len(held_idx)}; {time.time() - t0:.0f} s")
    if n < len(X):
        log(f"WARNING gpu pack: only {n / len(X):.0%} of the train images fit; the GPU run trains on that sample")
    return manifest


# ----------------------------------------------------------------------------- train (there)

def bundle_config(bundle: str, gen: str, device: str, overrides=()) -> Config:
    """The packed config with its paths pointed into the bundle (and paths.gen at `gen`)."""
    cfg = load_config(os.path.join(bundle, "config.toml"), list(overrides))
    cfg.paths.work = os.path.join(bundle, "work")
    cfg.paths.pack = os.path.join(bundle, "pack")
    cfg.paths.corpus = os.path.join(bundle, "corpus")
    cfg.paths.artwork = ""
    cfg.paths.gen = gen
    cfg.runtime.subset = 0  # the bundle holds the sample already
    cfg.runtime.device = device
    cfg.runtime.threads = min(os.cpu_count() or 1, 16) if device != "cpu" else cfg.runtime.threads
    return cfg


def unpack_images(cfg: Config, bundle: str) -> None:
    """The bundle's pixels as the split caches split_images reads (so no PNG is needed)."""
    from .stages.vae import generator_items
    items = generator_items(cfg)
    os.makedirs(cfg.path("gen"), exist_ok=True)
    for train, name in ((True, "images_train.u8.xz"), (False, "images_heldout.u8.xz")):
        chosen, cache, key = split_cache(cfg.path("gen"), items, train)
        x = decompress(open(os.path.join(bundle, name), "rb").read(), len(chosen))
        np.savez(cache, x=x, key=np.array(key))


def half(obj):
    if isinstance(obj, torch.Tensor) and obj.is_floating_point():
        return obj.half()
    if isinstance(obj, dict):
        return {k: half(v) for k, v in obj.items()}
    return obj


def send_checkpoint(path: str, out: str, name: str) -> list[str]:
    """A finished checkpoint into `out` for the trip back: without optimizer state, in parts of at most 15 MiB
    (`name.pt`, or `name.pt.part0`, `.part1`, ...), fp16 tensors only when fp32 would not fit the return limit."""
    ck = load_checkpoint(path)
    transfer = {"dtype": "float32"}
    if ck.get("done") and "opt" in ck:
        del ck["opt"]
        transfer["opt_dropped"] = True
    ck["transfer"] = transfer
    buf = io.BytesIO()
    torch.save(ck, buf)
    if buf.tell() > RETURN_LIMIT // 2:
        transfer["dtype"] = "float16"
        ck = {k: (half(v) if k in ("model", "ema", "enc", "dec") else v) for k, v in ck.items()}
        buf = io.BytesIO()
        torch.save(ck, buf)
    data = buf.getvalue()
    if len(data) <= PART:
        names = [f"{name}.pt"]
    else:
        names = [f"{name}.pt.part{k}" for k in range((len(data) + PART - 1) // PART)]
    for k, n in enumerate(names):
        open(os.path.join(out, n), "wb").write(data[k * PART:(k + 1) * PART])
    log(f"gpu: {name} checkpoint to {out}: {len(data) / MIB:.1f} MiB ({transfer['dtype']}) in {len(names)} file(s)")
    return names


def choose_amp(stage, amp: str) -> dict:
    """bf16 autocast on or off: `on`/`off` as told; `auto` measures both on this stage's first steps (CUDA only)."""
    from .trainer import measure_amp
    if stage.device.type != "cuda" or amp == "off":
        stage.amp = False
        return {"amp": False}
    if amp == "on":
        stage.amp = True
        return {"amp": True}
    rates = measure_amp(stage)
    stage.amp = rates["bf16"] > 1.1 * rates["fp32"]
    log(f"[{stage.name}] steps/s fp32 {rates['fp32']:.2f}, bf16 autocast {rates['bf16']:.2f}: "
        f"{'bf16' if stage.amp else 'fp32'}")
    return {"amp": stage.amp, "steps_per_s": rates}


def stage_summary(path: str) -> dict:
    ck = load_checkpoint(path)
    keys = ("step", "total", "t_spent", "done", "device", "amp", "budget_minutes", "stopped_at_budget", "psnr_train",
            "psnr_heldout", "scale", "final")
    s = {k: ck[k] for k in keys if k in ck}
    s["steps_per_s"] = ck["step"] / ck["t_spent"] if ck.get("t_spent") else None
    return s


def reuse_finished(src: str, cfg: Config) -> list[str]:
    """Finished autoencoder checkpoints of an earlier run (`send_checkpoint`'s files in `src`) into paths.gen, so that
    a rerun trains only what is left; returns the stages placed."""
    placed = []
    for name in ("vae", "decoder"):
        ck = read_returned(src, name) if os.path.isdir(src) else None
        if ck is not None and ck.get("done"):
            os.makedirs(cfg.path("gen"), exist_ok=True)
            atomic_save(ck, ckpt_path(cfg, name))
            placed.append(name)
    return placed


def train(bundle: str, out: str, minutes: float, device: str, amp: str, vae_share: float, work: str,
          overrides=(), reuse: str | None = None) -> dict:
    """vae, decoder (when generator.decoder.steps > 0), triplets and unet from the bundle within `minutes` (0: the
    config's step counts), checkpoints to `out`. `reuse`: a folder of an earlier run's returned files whose finished
    vae/decoder are taken as they are (and sent back again) instead of trained."""
    from .stages import triplets as triplets_stage
    from .stages.decoder import DecoderStage
    from .stages.unet import UnetStage
    from .stages.vae import VaeStage
    from .trainer import train as train_loop
    t_start = time.time()
    deadline = t_start + minutes * 60 - 20  # the last checkpoint's trip into `out`
    os.makedirs(out, exist_ok=True)
    cfg = bundle_config(bundle, os.path.join(work, "gen"), device, overrides)
    dev = resolve_device(device)
    manifest = json.load(open(os.path.join(bundle, "manifest.json")))
    summary = {"device": device_label(dev), "torch": torch.__version__, "minutes": minutes, "bundle": manifest,
               "config": cfg.name, "stages": {}, "files": []}
    log(f"gpu train: {summary['device']}, torch {torch.__version__}, budget {minutes} min, "
        f"{manifest['train_images']} train images ({manifest['train_share']:.0%} of {manifest['train_images_all']})")

    def save_summary():
        summary["wall_s"] = time.time() - t_start
        json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)

    unpack_images(cfg, bundle)
    reused = reuse_finished(reuse, cfg) if reuse else []
    if reused:
        log(f"gpu train: reusing the finished {', '.join(reused)} of {reuse}")
    # the decoder's fine-tuning gets a tenth of what the autoencoder leaves; the UNet everything after it
    plan = [("vae", VaeStage, vae_share)] + ([("decoder", DecoderStage, 0.1)] if cfg.generator.decoder.steps > 0 else [])
    for name, make, share in plan + [("unet", UnetStage, 1.0)]:
        if name in reused:
            summary["stages"][name] = {**stage_summary(ckpt_path(cfg, name)), "reused": True}
            summary["files"] += send_checkpoint(ckpt_path(cfg, name), out, name)
            continue
        if name == "unet":
            t0 = time.time()
            triplets_stage.run(cfg, resume=False)
            summary["stages"]["triplets"] = {"seconds": time.time() - t0}
            shutil.copy(os.path.join(cfg.path("gen"), "triplets.json"), os.path.join(out, "triplets.json"))
            summary["files"].append("triplets.json")
        setup(cfg.runtime.threads, cfg.generator.seed)
        stage = make(cfg)
        info = choose_amp(stage, amp)
        if minutes > 0:
            # the stage's finish (evaluation, latent scale) and checkpoint writes: a tenth of its share, 5 s at least
            left = (deadline - time.time()) * share
            stage.minutes = max(left * 0.9 - 5, 1) / 60
        path = ckpt_path(cfg, name)
        train_loop(stage, path, resume=False)
        summary["stages"][name] = {**stage_summary(path), **info}
        summary["files"] += send_checkpoint(path, out, name)
        save_summary()
        del stage
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    log(f"gpu train: done in {(time.time() - t_start) / 60:.1f} min; files in {out}: {', '.join(summary['files'])}")
    return summary


# ----------------------------------------------------------------------------- import (here)

def read_returned(src: str, name: str) -> dict | None:
    """A checkpoint `send_checkpoint` wrote (one file or parts), back as fp32 CPU tensors; None when absent."""
    whole = os.path.join(src, f"{name}.pt")
    parts = sorted((f for f in os.listdir(src) if f.startswith(f"{name}.pt.part")), key=lambda f: int(f.rsplit("part", 1)[1]))
    if os.path.exists(whole):
        data = open(whole, "rb").read()
    elif parts:
        data = b"".join(open(os.path.join(src, f), "rb").read() for f in parts)
    else:
        return None
    ck = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    if ck.get("transfer", {}).get("dtype") == "float16":
        ck = {k: ({n: (t.float() if t.is_floating_point() else t) for n, t in v.items()}
                  if k in ("model", "ema", "enc", "dec") else v) for k, v in ck.items()}
    return ck


def import_run(src: str, cfg: Config, force: bool = False) -> list[str]:
    """The returned checkpoints (and triplets.json, summary.json) into paths.gen of `cfg`; an existing file is kept
    as `<file>.before-gpu` with force=True and refused without it."""
    from .pipeline import record_time
    gen = cfg.path("gen")
    os.makedirs(gen, exist_ok=True)
    os.makedirs(cfg.path("work"), exist_ok=True)  # timing.json
    placed = []
    cks = {n: read_returned(src, n) for n in ("vae", "decoder", "unet")}
    if not any(cks.values()):
        raise SystemExit(f"gpu import: {src} holds no vae.pt or unet.pt (parts)")
    targets = [ckpt_path(cfg, n) for n, ck in cks.items() if ck is not None]
    targets += [os.path.join(gen, f) for f in ("triplets.json",) if os.path.exists(os.path.join(src, f))]
    clash = [t for t in targets if os.path.exists(t)]
    if clash and not force:
        raise SystemExit("gpu import: would replace " + ", ".join(clash) + " (--force keeps each as <file>.before-gpu)")
    for t in clash:
        os.replace(t, t + ".before-gpu")
    for n, ck in cks.items():
        if ck is None:
            continue
        atomic_save(ck, ckpt_path(cfg, n))
        record_time(cfg, f"{n} [{ck.get('device', 'gpu')}]", float(ck.get("t_spent", 0.0)))
        placed.append(ckpt_path(cfg, n))
        log(f"gpu import: {n} step {ck.get('step')} ({ck.get('device')}) -> {ckpt_path(cfg, n)}")
    for f, dst in (("triplets.json", "triplets.json"), ("summary.json", "gpu_summary.json")):
        if os.path.exists(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(gen, dst))
            placed.append(os.path.join(gen, dst))
    return placed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m parasol_train.gpu", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack", help="bundle what the generator stages need (here)")
    a.add_argument("--config", default="configs/mini.toml")
    a.add_argument("--set", dest="overrides", action="append", default=[])
    a.add_argument("--bundle", default=DEFAULT_BUNDLE)
    a.add_argument("--max-mb", type=float, default=None, help="at most this many MiB (besides the tree's limit)")
    a.add_argument("--encoders-fp16", action="store_true", help="the frozen encoders in fp16: room for more images")
    b = sub.add_parser("train", help="train vae, decoder, triplets, unet from the bundle (there)")
    b.add_argument("--bundle", default=DEFAULT_BUNDLE)
    b.add_argument("--out", default=os.environ.get("OUT") or os.path.join(TRAIN_DIR, "gpu-out"))
    b.add_argument("--work", default=None, help="scratch folder (default: <bundle>/run)")
    b.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget of the whole run; 0: the config's steps")
    b.add_argument("--device", default="cuda", choices=("cuda", "cpu", "auto"))
    b.add_argument("--amp", default="auto", choices=("auto", "on", "off"))
    b.add_argument("--vae-share", type=float, default=0.3, help="the autoencoder's share of the budget")
    b.add_argument("--set", dest="overrides", action="append", default=[])
    b.add_argument("--reuse", default=None, help="an earlier run's returned files: its finished vae/decoder are kept")
    c = sub.add_parser("import", help="put returned checkpoints where export_generator reads them (here)")
    c.add_argument("dir")
    c.add_argument("--config", default="configs/mini.toml")
    c.add_argument("--set", dest="overrides", action="append", default=[])
    c.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    for key in ("bundle", "out", "work", "dir", "reuse"):  # folders as given; configs relative to models/train (run.sh's rule)
        if getattr(args, key, None):
            setattr(args, key, os.path.abspath(getattr(args, key)))
    os.chdir(TRAIN_DIR)
    if args.cmd == "pack":
        pack(load_config(args.config, args.overrides), args.bundle, args.max_mb, args.encoders_fp16)
    elif args.cmd == "train":
        work = args.work or os.path.join(args.bundle, "run")
        train(args.bundle, args.out, args.minutes, args.device, args.amp, args.vae_share, work, args.overrides, args.reuse)
    else:
        import_run(args.dir, load_config(args.config, args.overrides), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
