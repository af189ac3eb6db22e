"""Logging, seeding, thread count, atomic checkpoint writes and the training device (runtime.device, runtime.amp)."""
import contextlib
import os
import random
import time

import numpy as np
import torch


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def setup(threads: int, seed: int):
    """Thread count and every RNG the stages use (Python, numpy, torch)."""
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def atomic_save(obj, path: str):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str):
    # Checkpoints hold Python RNG states and numbers besides tensors; they are our own files.
    return torch.load(path, map_location="cpu", weights_only=False)


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------- devices

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> torch.device:
    """runtime.device: `cpu`, `cuda` (an error when torch sees no GPU) or `auto` (cuda when available, else cpu)."""
    if name not in DEVICES:
        raise ValueError(f"runtime.device: {name!r} is not one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("runtime.device = \"cuda\" but torch sees no CUDA device (torch.cuda.is_available() is false)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    # TF32 matmuls and convolutions: the precision of bf16-era GPUs' fp32 path, several times faster on them.
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    return torch.device("cuda")


def device_label(device: torch.device) -> str:
    """`cpu`, or `cuda (NVIDIA H200)`: what checkpoints and the card record."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def amp_enabled(device: torch.device, amp: bool) -> bool:
    """runtime.amp (bf16 autocast) applies on CUDA only; on the CPU it is ignored."""
    return bool(amp) and device.type == "cuda"


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when `amp`, else a no-op context (fp32)."""
    if amp_enabled(device, amp):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_cpu(obj):
    """Every tensor in a (nested) checkpoint object moved to the CPU, so a checkpoint written on a GPU loads
    anywhere (and `load_checkpoint` maps to the CPU besides)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
