"""Logging, seeding, thread count and atomic checkpoint writes."""
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
