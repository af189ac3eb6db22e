"""The one training loop: every training stage (semantic, style, style_text, vae, unet) is a `TrainStage` run by
`train()`, which owns learning-rate scheduling, progress lines (step count, rate, ETA), periodic checkpoints and
resuming from the latest checkpoint.

Devices: a stage names its device (`use_device`, from runtime.device; the generator stages) and the loop saves every
checkpoint as CPU tensors with the device recorded (`device`, and `devices`: every session's, in order), so a run
started on a GPU resumes or exports on a CPU and vice versa. Time budgets: a stage whose config section sets
`minutes` trains for as many steps as fit in that many minutes, measured on its first steps (before the cosine decay
starts, so the schedule is set once), recorded as the checkpoint's `total`; past the deadline it stops cleanly with a
final checkpoint."""
from __future__ import annotations

import copy
import math
import os
import random
import time
from typing import Any

import torch

from .runtime import amp_enabled, atomic_save, autocast, device_label, load_checkpoint, log, resolve_device, to_cpu


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
    device: torch.device = torch.device("cpu")
    amp: bool = False  # bf16 autocast (CUDA only)
    minutes: float = 0.0  # > 0: a time budget instead of `total` steps (see the module docstring)

    def take_schedule(self, c: Any) -> None:
        """The loop's settings from a stage's config section (steps, lr, warmup, log and checkpoint intervals, and
        the optional time budget `minutes`)."""
        self.total, self.lr, self.warmup, self.log_every, self.ckpt_every = c.steps, c.lr, c.warmup, c.log_every, c.ckpt_every
        self.minutes = float(getattr(c, "minutes", 0.0) or 0.0)

    def use_device(self, runtime: Any) -> torch.device:
        """The device and autocast setting of a `runtime` config section (runtime.device, runtime.amp)."""
        self.device = resolve_device(runtime.device)
        self.amp = amp_enabled(self.device, runtime.amp)
        return self.device

    def autocast(self):
        """The context of a step's forward pass: bf16 autocast on CUDA when `amp`, else fp32."""
        return autocast(self.device, self.amp)

    def steps_that_fit(self, step: int, rate: float, seconds: float) -> int:
        """The total step count when `rate` steps/s go on for `seconds` after `step` (stages whose later steps cost
        more, e.g. the autoencoder's whole-image steps, say so here)."""
        return step + int(rate * seconds)

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


def measure_amp(stage: TrainStage, steps: int = 6, warm: int = 2) -> dict[str, float]:
    """Steps per second of `stage` in fp32 and under bf16 autocast, each measured over `steps` steps after `warm`
    untimed ones, then undone (models, optimizer, extra state and RNGs restored), so training starts as if
    unmeasured. For CUDA stages: on the CPU autocast is off and both numbers time the same fp32 steps."""
    saved = copy.deepcopy({k: m.state_dict() for k, m in stage.modules().items()})
    extra, rng_state = copy.deepcopy(stage.extra_state()), torch.get_rng_state()
    py_state = stage.rng.getstate() if stage.rng is not None else None
    amp_before, rates = stage.amp, {}

    def sync():
        if stage.device.type == "cuda":
            torch.cuda.synchronize(stage.device)

    for label, amp in (("fp32", False), ("bf16", True)):
        stage.amp = amp_enabled(stage.device, amp)
        for i in range(warm):
            stage.train_step(i)
        sync()
        t0 = time.time()
        for i in range(warm, warm + steps):
            stage.train_step(i)
        sync()
        rates[label] = steps / max(time.time() - t0, 1e-9)
        for key, module in stage.modules().items():
            module.load_state_dict(copy.deepcopy(saved[key]))
        stage.load_extra_state(copy.deepcopy(extra))
        torch.set_rng_state(rng_state)
        if py_state is not None:
            stage.rng.setstate(py_state)
    stage.amp = amp_before
    return rates


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
    starts at step 0 and replaces it. `epoch_size` (samples per epoch / samples per step) only feeds the log.
    Checkpoints hold CPU tensors whatever the stage's device; a checkpoint without optimizer state (a finished one
    brought back slim from a GPU run) resumes with fresh optimizer moments."""
    step, t_spent = 0, 0.0
    devices: list[str] = []
    budgeted, planned = stage.minutes > 0, False
    if resume and os.path.exists(ckpt_path):
        ck = load_checkpoint(ckpt_path)
        if ck.get("done"):
            log(f"[{stage.name}] finished already ({ckpt_path}, step {ck['step']})")
            return
        for key, module in stage.modules().items():
            if key not in ck and isinstance(module, torch.optim.Optimizer):
                log(f"[{stage.name}] {ckpt_path} holds no `{key}` state; the optimizer starts afresh")
                continue
            module.load_state_dict(ck[key])
        if stage.rng is not None and "rng" in ck:
            stage.rng.setstate(ck["rng"])
        if "torch_rng" in ck:
            torch.set_rng_state(ck["torch_rng"])
        stage.load_extra_state(ck.get("extra", {}))
        step, t_spent = ck["step"], ck.get("t_spent", 0.0)
        devices = list(ck.get("devices", []))
        if budgeted and "total" in ck:  # the schedule that session measured goes on
            stage.total, planned = int(ck["total"]), True
        log(f"[{stage.name}] resuming at step {step}/{stage.total}")
    label = device_label(stage.device)
    if not devices or devices[-1] != label:
        devices.append(label)
    log(f"[{stage.name}] device {label}" + (", bf16 autocast" if stage.amp else "")
        + (f", time budget {stage.minutes:.2f} min" if budgeted else ""))
    progress = Progress(stage.name, stage.total, step)
    t0 = time.time() - t_spent
    session_t0, session_step = time.time(), step
    deadline = session_t0 + stage.minutes * 60 if budgeted else None
    calib_t0 = calib_step = None
    stopped = False

    def state(done: bool) -> dict[str, Any]:
        s = {key: to_cpu(module.state_dict()) for key, module in stage.modules().items()}
        s.update(step=step, t_spent=time.time() - t0, done=done, torch_rng=torch.get_rng_state(),
                 extra=stage.extra_state(), total=stage.total, device=label, devices=devices, amp=stage.amp)
        if stage.rng is not None:
            s["rng"] = stage.rng.getstate()
        if epoch_size:
            s["epochs"] = step / epoch_size
        if budgeted:
            s["budget_minutes"] = stage.minutes
        return s

    while step < stage.total:
        if budgeted and not planned:
            if step == session_step + min(2, max(stage.warmup - 1, 0)):  # after the first (warm-up) steps
                calib_t0, calib_step = time.time(), step
            elif calib_t0 is not None:
                dt = time.time() - calib_t0
                if step - calib_step >= 20 or dt >= 0.05 * stage.minutes * 60 or step >= stage.warmup:
                    rate = (step - calib_step) / max(dt, 1e-9)
                    stage.total = max(step + 1, stage.steps_that_fit(step, rate, deadline - time.time()))
                    progress.total, planned = stage.total, True
                    log(f"[{stage.name}] {rate:.2f} steps/s over steps {calib_step}-{step}: {stage.total} steps fit "
                        f"in {stage.minutes:.2f} min")
        factor = stage.lr_factor(step)
        for group in stage.optimizer.param_groups:
            group["lr"] = stage.lr * factor
        values = stage.train_step(step)
        step += 1
        if deadline is not None and time.time() > deadline and step < stage.total:
            log(f"[{stage.name}] time budget spent at step {step} of {stage.total}: stopping here")
            stage.total, progress.total, stopped = step, step, True
        if step % stage.log_every == 0 or step == stage.total:
            extra = {"epoch": f"{step / epoch_size:.1f}"} if epoch_size else {}
            log(progress.line(step, {**extra, **values, "lr": stage.lr * stage.lr_factor(step)}))
        stage.periodic(step, (time.time() - t0) / 60)
        if step % stage.ckpt_every == 0 and step < stage.total:
            atomic_save(state(False), ckpt_path)
    wall = time.time() - t0
    final = state(True)
    if stopped:
        final["stopped_at_budget"] = True
    final.update(to_cpu(stage.finish(wall)))
    final["t_spent"] = time.time() - t0
    atomic_save(final, ckpt_path)
    log(f"[{stage.name}] done: {step} steps in {final['t_spent'] / 60:.1f} min")
