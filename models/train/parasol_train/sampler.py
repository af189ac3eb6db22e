"""The PARASOL sampler in torch, for the generator's contact sheet and held-out evaluation (stage
export_generator). It mirrors src/parasol (guidance.ts, sampler.ts, invert.ts, colour.ts) step for step; its
plan comes from schedule.py, which test/parasol/python-schedule.test.ts checks against schedule.ts. Its noise
comes from torch generators, so its images are not bit-identical to the engine's for the same seed."""
import math

import torch

from .models.generator import LATENT_SIZE
from .schedule import SCHEDULE, sampling_plan


@torch.no_grad()
def guided_eps(unet, x, t, content, style, g_s, g_y):
    """eps = eps(0,0) + g_s [eps(m,0) - eps(0,0)] + g_y [eps(0,c) - eps(0,0)], one batched call of 3N rows."""
    n = x.shape[0]
    one, zero = torch.ones(n), torch.zeros(n)
    out = unet(torch.cat([x, x, x]), torch.full((3 * n,), float(t)), torch.cat([content] * 3), torch.cat([style] * 3),
               torch.cat([zero, zero, one]), torch.cat([zero, one, zero]))
    e0, es, ec = out.chunk(3)
    return e0 + g_s * (es - e0) + g_y * (ec - e0)


def step_mean(st, x, eps):
    x0 = st["x0_x"] * x - st["x0_e"] * eps
    return st["mu_x0"] * x0 + st["mu_x"] * x


@torch.no_grad()
def sample_from_noise(unet, content, style, steps=25, g_s=3.0, g_y=3.0, seed=0, spec=SCHEDULE):
    """DDPM (trailing spacing, as the TypeScript sampler) from seeded noise; returns clean latents."""
    gen = torch.Generator().manual_seed(seed)
    n = content.shape[0]
    x = torch.randn((n, unet.out.out_channels, LATENT_SIZE, LATENT_SIZE), generator=gen)
    for st in sampling_plan(steps, spec=spec):
        eps = guided_eps(unet, x, st["t"], content, style, g_s, g_y)
        x = step_mean(st, x, eps)
        if st["sigma"] > 0:
            x = x + st["sigma"] * torch.randn(x.shape, generator=gen)
    return x


@torch.no_grad()
def invert_and_sample(unet, z0, content, own_style, target_style, lam, steps=25, g_s=3.0, g_y=3.0, seed=0,
                      spec=SCHEDULE):
    """PARASOL: edit-friendly DDPM inversion of z0 under y's own conditions, then the reverse process with the
    own style for the first `lam` steps and the target style after (mirrors src/parasol/invert.ts + sampler.ts)."""
    gen = torch.Generator().manual_seed(seed)
    plan = sampling_plan(steps, spec=spec)
    noisy = []
    for st in plan:
        noisy.append(math.sqrt(st["ab"]) * z0 + math.sqrt(1 - st["ab"]) * torch.randn(z0.shape, generator=gen))
    maps = []
    for i, st in enumerate(plan):
        eps = guided_eps(unet, noisy[i], st["t"], content, own_style, g_s, g_y)
        target = noisy[i + 1] if i + 1 < len(plan) else z0
        scale = st["sigma"] if st["sigma"] > 0 else 1.0
        maps.append((target - step_mean(st, noisy[i], eps)) / scale)
    x = noisy[0].clone()
    for i, st in enumerate(plan):
        style = own_style if i < lam else target_style
        eps = guided_eps(unet, x, st["t"], content, style, g_s, g_y)
        scale = st["sigma"] if st["sigma"] > 0 else 1.0
        x = step_mean(st, x, eps) + scale * maps[i]
    return x


def colour_transfer(x01, target01, eps=1e-5):
    """x' = C_t^1/2 C_s^-1/2 (x - mu_s) + mu_t over all pixels (mirrors src/parasol/colour.ts), NCHW in [0, 1]."""
    out = []
    for x, t in zip(x01.double(), target01.double()):
        xs, ts = x.reshape(3, -1), t.reshape(3, -1)
        ms, mt = xs.mean(1, keepdim=True), ts.mean(1, keepdim=True)
        cs = (xs - ms) @ (xs - ms).T / xs.shape[1]
        ct = (ts - mt) @ (ts - mt).T / ts.shape[1]

        def power(m, p, e):
            w, v = torch.linalg.eigh(m + e * torch.eye(3, dtype=m.dtype))
            return v @ torch.diag(w.clamp(min=1e-12) ** p) @ v.T
        y = power(ct, 0.5, 0.0) @ power(cs, -0.5, eps) @ (xs - ms) + mt
        out.append(y.reshape(x.shape).clamp(0, 1).float())
    return torch.stack(out)
