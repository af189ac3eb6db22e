"""Stage 1 of the generator: the autoencoder E/D (64x64x3 in [-1, 1] <-> 4x16x16), train split only.

Loss: L1 + MSE reconstruction of the decoded posterior sample + VAE_KL * KL(q(z|x) || N(0, I)) (mean per
latent element; small: it only keeps the latent space smooth). Random horizontal flips. AdamW, warmup + cosine.
After training: `scale` = 1 / std of the posterior means over train images, so scaled latents have unit std;
reconstruction PSNR of the posterior mean on held-out images (every non-train split) goes into the checkpoint.

Resumable: checkpoints WORK/gen/vae.pt every VAE_CKPT_EVERY steps; re-running resumes, or does nothing once done.
Env: VAE_STEPS (700), VAE_BATCH (32), VAE_LR (1e-3), VAE_KL (1e-4).
"""
import math, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generator_common import *  # noqa: F401,F403

STEPS = int(os.environ.get("VAE_STEPS", "700"))
BATCH = int(os.environ.get("VAE_BATCH", "32"))
LR = float(os.environ.get("VAE_LR", "1e-3"))
KL = float(os.environ.get("VAE_KL", "1e-4"))
EVERY = int(os.environ.get("VAE_CKPT_EVERY", "100"))
WARMUP = 50


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    f = (step - WARMUP) / max(1, STEPS - WARMUP)
    return LR * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(f, 1.0))))


def psnr(a, b):
    """PSNR in dB of images in [-1, 1] compared in [0, 1], per image, then averaged."""
    mse = (((a.clamp(-1, 1) - b) * 0.5) ** 2).flatten(1).mean(1)
    return float((10 * torch.log10(1.0 / mse.clamp(min=1e-10))).mean())


@torch.no_grad()
def evaluate(enc, dec, X, n=512, bs=128):
    idx = np.random.RandomState(0).permutation(len(X))[:n]
    vals, l1 = [], []
    for i in range(0, len(idx), bs):
        x = to_pm1(X[np.sort(idx[i:i + bs])])
        r = dec(enc(x))
        vals.append(psnr(r, x) * len(x))
        l1.append(float((r - x).abs().mean()) * len(x))
    return sum(vals) / len(idx), sum(l1) / len(idx)


def main():
    setup()
    items, X = train_images()
    log(f"vae: {len(items)} train images; steps {STEPS} batch {BATCH} lr {LR} kl {KL}")
    enc, dec = VaeEncoder(), VaeDecoder()
    log(f"params: encoder {n_params(enc)}, decoder {n_params(dec)}")
    opt = torch.optim.AdamW(list(enc.parameters()) + list(dec.parameters()), lr=LR, weight_decay=1e-4)
    step, t_spent = 0, 0.0
    if os.path.exists(VAE_CKPT):
        ck = torch.load(VAE_CKPT, map_location="cpu")
        if ck.get("done"):
            log(f"vae: done already ({VAE_CKPT}, scale {ck['scale']:.4f}, held-out PSNR {ck.get('psnr_heldout', float('nan')):.2f} dB)")
            return
        enc.load_state_dict(ck["enc"]); dec.load_state_dict(ck["dec"]); opt.load_state_dict(ck["opt"])
        step, t_spent = ck["step"], ck.get("t_spent", 0.0)
        log(f"vae: resuming at step {step}")
    enc.train(); dec.train()
    prog = Progress("vae", STEPS, step)
    t0 = time.time() - t_spent
    run_l1 = run_kl = None
    while step < STEPS:
        g = torch.Generator().manual_seed(SEED * 7919 + step)  # per-step seeding: exact resume
        idx = torch.randint(0, len(X), (BATCH,), generator=g).numpy()
        x = to_pm1(X[np.sort(idx)])
        flip = torch.rand(BATCH, generator=g) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step)
        mean, logvar = enc.moments(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        r = dec(z)
        l1 = (r - x).abs().mean()
        l2 = ((r - x) ** 2).mean()
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = l1 + l2 + KL * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(enc.parameters()) + list(dec.parameters()), 1.0)
        opt.step()
        step += 1
        run_l1 = float(l1) if run_l1 is None else 0.95 * run_l1 + 0.05 * float(l1)
        run_kl = float(kl) if run_kl is None else 0.95 * run_kl + 0.05 * float(kl)
        if step % 20 == 0 or step == STEPS:
            prog.line(step, l1=run_l1, mse=float(l2), kl=run_kl, lr=lr_at(step))
        if step % EVERY == 0 or step == STEPS:
            atomic_save({"enc": enc.state_dict(), "dec": dec.state_dict(), "opt": opt.state_dict(), "step": step,
                         "t_spent": time.time() - t0, "done": False}, VAE_CKPT)
    enc.eval(); dec.eval()
    # latent scale: 1 / std of the posterior means over (up to) 4096 train images
    with torch.no_grad():
        sel = np.sort(np.random.RandomState(1).permutation(len(X))[:4096])
        mu = torch.cat([enc(to_pm1(X[sel[i:i + 256]])) for i in range(0, len(sel), 256)])
        std = float(mu.std())
        scale = 1.0 / std
        log(f"latent mean {float(mu.mean()):.4f} std {std:.4f} -> scale {scale:.5f}; per-channel std "
            f"{[round(float(v), 3) for v in mu.std(dim=(0, 2, 3))]}")
    p_train, l1_train = evaluate(enc, dec, X)
    h_items, HX = heldout_images()
    p_held, l1_held = evaluate(enc, dec, HX)
    wall = time.time() - t0
    log(f"vae done: {step} steps, {wall / 60:.1f} min; PSNR train {p_train:.2f} dB (L1 {l1_train:.4f}), "
        f"held-out {p_held:.2f} dB (L1 {l1_held:.4f}, {min(512, len(HX))} of {len(HX)} held-out images)")
    atomic_save({"enc": enc.state_dict(), "dec": dec.state_dict(), "step": step, "t_spent": wall, "done": True,
                 "scale": scale, "latent_std": std, "psnr_train": p_train, "psnr_heldout": p_held,
                 "l1_heldout": l1_held, "final_l1": run_l1, "final_kl": run_kl,
                 "config": {"steps": STEPS, "batch": BATCH, "lr": LR, "kl": KL}}, VAE_CKPT)


if __name__ == "__main__":
    main()
