"""The one training loop: every training stage (semantic, style, style_text, vae, unet) is a `TrainStage` run by
`train()`, which owns learning-rate scheduling, progress lines (step count, rate, ETA), periodic checkpoints and
resuming from the latest checkpoint."""
from __future__ import annotations

import math
import os
import random
import time
from typing import Any

import torch

from .runtime import atomic_save, load_checkpoint, log


def warmup_times_cosine(step: int, total: int, warmup: int) -> float:
    """Linear warmup multiplied by a cosine decay to 0 (the encoder stages)."""
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def warmup_then_cosine(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warmup, then a cosine decay to `floor` (the generator stages)."""
    if step < warmup:
        return (step + 1) / warmup
    f = (step - warmup) / max(1, total - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(f, 1.0)))


class Progress:
    """`[name] step s/total k v ... r it/s ETA m min` lines; the rate counts this session's steps only."""

    def __init__(self, name: str, total: int, start: int = 0):
        self.name, self.total, self.start, self.t0 = name, total, start, time.time()

    def line(self, step: int, values: dict[str, Any]) -> str:
        dt = max(time.time() - self.t0, 1e-6)
        rate = (step - self.start) / dt
        eta = (self.total - step) / rate / 60 if rate > 0 else float("nan")
        shown = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        return f"[{self.name}] step {step}/{self.total} {shown} {rate:.2f} it/s ETA {eta:.1f} min"


class TrainStage:
    """What a stage gives the loop. `modules()` names everything whose state_dict is checkpointed (models,
    optimizer, EMA); `rng` (a random.Random) is checkpointed too, as is torch's global RNG."""

    name: str
    total: int
    lr: float
    warmup: int
    log_every: int
    ckpt_every: int
    optimizer: torch.optim.Optimizer
    rng: random.Random | None = None

    def take_schedule(self, c: Any) -> None:
        """The loop's settings from a stage's config section (steps, lr, warmup, log and checkpoint intervals)."""
        self.total, self.lr, self.warmup, self.log_every, self.ckpt_every = c.steps, c.lr, c.warmup, c.log_every, c.ckpt_every

    def modules(self) -> dict[str, Any]:
        raise NotImplementedError

    def lr_factor(self, step: int) -> float:
        return warmup_times_cosine(step, self.total, self.warmup)

    def train_step(self, step: int) -> dict[str, float]:
        """One optimisation step at `step` (0-based); returns the values to log."""
        raise NotImplementedError

    def periodic(self, step: int, minutes: float) -> None:
        """After every step (`step` = steps done); e.g. a fixed-set evaluation every so many steps."""

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def finish(self, wall: float) -> dict[str, Any]:
        """After the last step: extra entries for the final checkpoint (evaluation numbers, scale, config)."""
        return {}


def checkpoint_done(path: str) -> bool:
    return os.path.exists(path) and bool(load_checkpoint(path).get("done"))


def run_stage(make_stage, ckpt_path: str, resume: bool) -> None:
    """Builds the stage (data, models) and trains it, unless resuming a finished checkpoint."""
    if resume and checkpoint_done(ckpt_path):
        log(f"finished already: {ckpt_path}")
        return
    stage = make_stage()
    train(stage, ckpt_path, resume, getattr(stage, "epoch_size", 0))


def train(stage: TrainStage, ckpt_path: str, resume: bool, epoch_size: int = 0) -> None:
    """Runs `stage` to `stage.total` steps, checkpointing to `ckpt_path` every `ckpt_every` steps and at the end
    (with done=True). resume=True continues from `ckpt_path` (or does nothing when it is done); resume=False
    starts at step 0 and replaces it. `epoch_size` (samples per epoch / samples per step) only feeds the log."""
    step, t_spent = 0, 0.0
    if resume and os.path.exists(ckpt_path):
        ck = load_checkpoint(ckpt_path)
        if ck.get("done"):
            log(f"[{stage.name}] finished already ({ckpt_path}, step {ck['step']})")
            return
        for key, module in stage.modules().items():
            module.load_state_dict(ck[key])
        if stage.rng is not None and "rng" in ck:
            stage.rng.setstate(ck["rng"])
        if "torch_rng" in ck:
            torch.set_rng_state(ck["torch_rng"])
        stage.load_extra_state(ck.get("extra", {}))
        step, t_spent = ck["step"], ck.get("t_spent", 0.0)
        log(f"[{stage.name}] resuming at step {step}/{stage.total}")
    progress = Progress(stage.name, stage.total, step)
    t0 = time.time() - t_spent

    def state(done: bool) -> dict[str, Any]:
        s = {key: module.state_dict() for key, module in stage.modules().items()}
        s.update(step=step, t_spent=time.time() - t0, done=done, torch_rng=torch.get_rng_state(),
                 extra=stage.extra_state())
        if stage.rng is not None:
            s["rng"] = stage.rng.getstate()
        if epoch_size:
            s["epochs"] = step / epoch_size
        return s

    while step < stage.total:
        factor = stage.lr_factor(step)
        for group in stage.optimizer.param_groups:
            group["lr"] = stage.lr * factor
        values = stage.train_step(step)
        step += 1
        if step % stage.log_every == 0 or step == stage.total:
            extra = {"epoch": f"{step / epoch_size:.1f}"} if epoch_size else {}
            log(progress.line(step, {**extra, **values, "lr": stage.lr * stage.lr_factor(step)}))
        stage.periodic(step, (time.time() - t0) / 60)
        if step % stage.ckpt_every == 0 and step < stage.total:
            atomic_save(state(False), ckpt_path)
    wall = time.time() - t0
    final = state(True)
    final.update(stage.finish(wall))
    final["t_spent"] = time.time() - t0
    atomic_save(final, ckpt_path)
    log(f"[{stage.name}] done: {step} steps in {final['t_spent'] / 60:.1f} min")
