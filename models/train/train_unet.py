"""Stage 3 of the generator: the latent UNet eps(z_t, t, c_y, m_s) and the style projector M, trained jointly.

Data: the triplets of triplets.py (train split only). z0 = E(x) * scale (the frozen autoencoder's posterior mean),
c_y = C(y) (frozen semantic image encoder), a_s = A(s) (frozen style image encoder), m_s = M(a_s).
Each condition is dropped independently with probability P_DROP (mask 0 -> the learned null token).

Loss  L = L_DM + W_S * L_s + W_Y * L_y
  L_DM: ||eps - eps_hat||^2 (mean over latent elements), weighted per row by min(SNR, 5) / SNR (min-SNR-5;
        the weights' batch mean is ~0.5, so L_DM here is not the plain eps-MSE, which is logged as `mse`).
  L_s = MSE(A(x'), a_s), L_y = MSE(C(x'), c_y) (mean over the embedding's dims), x' = D(z0_hat / scale) with
        z0_hat = (z_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t); computed for AUX_N rows of the batch whose
        t < AUX_T (low noise: z0_hat is meaningful there), and only where that modality was not dropped.
Schedule: linear betas 0.00085 .. 0.012, T = 1000, t uniform. AdamW, warmup + cosine; EMA of the weights
(exported). Per-step seeding, checkpoints every UNET_CKPT_EVERY steps: re-running resumes exactly.

Env: UNET_STEPS (4000), UNET_BATCH (64), UNET_LR (5e-4), P_DROP (0.12), W_S (10), W_Y (10), AUX_N (8),
AUX_T (400), AUX_EVERY (2), EMA (0.999), UNET_CKPT_EVERY (200).
"""
import json, math, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generator_common import *  # noqa: F401,F403

STEPS = int(os.environ.get("UNET_STEPS", "4000"))
BATCH = int(os.environ.get("UNET_BATCH", "64"))
LR = float(os.environ.get("UNET_LR", "5e-4"))
P_DROP = float(os.environ.get("P_DROP", "0.12"))
W_S = float(os.environ.get("W_S", "10"))
W_Y = float(os.environ.get("W_Y", "10"))
AUX_N = int(os.environ.get("AUX_N", "8"))
AUX_T = int(os.environ.get("AUX_T", "400"))
AUX_EVERY = int(os.environ.get("AUX_EVERY", "2"))
EMA_DECAY = float(os.environ.get("EMA", "0.999"))
EVERY = int(os.environ.get("UNET_CKPT_EVERY", "200"))
MIN_SNR = 5.0
WARMUP = 100
LATENTS = os.path.join(GEN, "latents.npz")


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    f = (step - WARMUP) / max(1, STEPS - WARMUP)
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(f, 1.0))))


def train_latents(X, enc, scale, vae_tag):
    if os.path.exists(LATENTS):
        z = np.load(LATENTS)
        if str(z["tag"]) == vae_tag and len(z["z"]) == len(X):
            return torch.from_numpy(z["z"])
    log(f"encoding {len(X)} train images to latents ...")
    with torch.no_grad():
        z = torch.cat([enc(to_pm1(X[i:i + 256])) * scale for i in range(0, len(X), 256)])
    np.savez(LATENTS + ".tmp.npz", z=z.numpy(), tag=np.array(vae_tag))
    os.replace(LATENTS + ".tmp.npz", LATENTS)
    return z


class Generator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.unet = UNet()
        self.proj = Projector()


def main():
    setup()
    items, X = train_images()
    trip = np.load(TRIPLETS, allow_pickle=False)
    xs, ys, ss = (torch.from_numpy(trip[k]) for k in ("x", "y", "s"))
    c_all = torch.from_numpy(trip["c"])
    a_all = torch.from_numpy(trip["a"])
    enc, dec, scale = load_vae()
    vck = torch.load(VAE_CKPT, map_location="cpu")
    vae_tag = f"vae@{vck['step']}:{vck['scale']:.6f}"
    Z = train_latents(X, enc, scale, vae_tag)
    del enc
    C, A, enc_tag = load_encoders()
    if enc_tag != str(trip["tag"]):
        log(f"WARNING: encoders {enc_tag} differ from the triplets' {str(trip['tag'])}")
    ac = torch.from_numpy(alphas_cumprod()).float()
    snr = ac / (1 - ac)
    w_t = torch.clamp(snr, max=MIN_SNR) / snr

    model = Generator()
    log(f"unet: {len(xs)} triplets; params unet {n_params(model.unet)}, projector {n_params(model.proj)}; "
        f"steps {STEPS} batch {BATCH} lr {LR} p_drop {P_DROP} w_s {W_S} w_y {W_Y} aux {AUX_N} rows t<{AUX_T} "
        f"every {AUX_EVERY}; latent scale {scale:.4f}")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4, betas=(0.9, 0.99))
    ema = EMA(model, EMA_DECAY)
    step, t_spent, hist = 0, 0.0, []
    if os.path.exists(UNET_CKPT):
        ck = torch.load(UNET_CKPT, map_location="cpu")
        if ck.get("done"):
            log(f"unet: done already ({UNET_CKPT})")
            return
        model.load_state_dict(ck["model"]); ema.model.load_state_dict(ck["ema"]); opt.load_state_dict(ck["opt"])
        step, t_spent, hist = ck["step"], ck.get("t_spent", 0.0), ck.get("hist", [])
        log(f"unet: resuming at step {step}")
    model.train()
    prog = Progress("unet", STEPS, step)
    t0 = time.time() - t_spent
    run = {}
    g_fix = torch.Generator().manual_seed(SEED + 1)
    fix = torch.randint(0, len(xs), (128,), generator=g_fix)
    fix_t = torch.linspace(0, T - 1, 128).round().long()
    fix_n = torch.randn((128, *LATENT), generator=g_fix)

    def fixed_eval(net):
        """plain eps-MSE of a fixed set (128 triplets at evenly spread t), conditions on / both null."""
        with torch.no_grad():
            z0 = Z[xs[fix]]
            abar = ac[fix_t].view(-1, 1, 1, 1)
            zt = abar.sqrt() * z0 + (1 - abar).sqrt() * fix_n
            m = net.proj(a_all[ss[fix]])
            one = torch.ones(len(fix))
            on = float(((net.unet(zt, fix_t.float(), c_all[ys[fix]], m, one, one) - fix_n) ** 2).mean())
            off = float(((net.unet(zt, fix_t.float(), c_all[ys[fix]], m, 0 * one, 0 * one) - fix_n) ** 2).mean())
        return on, off

    while step < STEPS:
        g = torch.Generator().manual_seed(SEED * 1_000_003 + step)
        b = torch.randint(0, len(xs), (BATCH,), generator=g)
        z0 = Z[xs[b]]
        c_y = c_all[ys[b]]
        a_s = a_all[ss[b]]
        cm = (torch.rand(BATCH, generator=g) >= P_DROP).float()
        sm = (torch.rand(BATCH, generator=g) >= P_DROP).float()
        t = torch.randint(0, T, (BATCH,), generator=g)
        noise = torch.randn(z0.shape, generator=g)
        abar = ac[t].view(-1, 1, 1, 1)
        zt = abar.sqrt() * z0 + (1 - abar).sqrt() * noise
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step)
        m_s = model.proj(a_s)
        eps = model.unet(zt, t.float(), c_y, m_s, cm, sm)
        per_row = ((eps - noise) ** 2).flatten(1).mean(1)
        l_dm = (per_row * w_t[t]).mean()
        loss = l_dm
        l_s = l_y = torch.zeros(())
        if AUX_N > 0 and W_S + W_Y > 0 and step % AUX_EVERY == 0:
            rows = torch.nonzero(t < AUX_T).flatten()[:AUX_N]
            if len(rows) > 0:
                ab = abar[rows]
                z0_hat = (zt[rows] - (1 - ab).sqrt() * eps[rows]) / ab.sqrt()
                x_hat = dec(z0_hat / scale)
                wsm, wcm = sm[rows], cm[rows]
                if float(wsm.sum()) > 0:
                    l_s = ((((A(x_hat) - a_s[rows]) ** 2).mean(1)) * wsm).sum() / wsm.sum()
                if float(wcm.sum()) > 0:
                    l_y = ((((C(x_hat) - c_y[rows]) ** 2).mean(1)) * wcm).sum() / wcm.sum()
                loss = loss + W_S * l_s + W_Y * l_y
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn_ = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema.update(model, step)
        for k, v in (("loss", loss), ("ldm", l_dm), ("mse", per_row.mean()), ("ls", l_s), ("ly", l_y)):
            run[k] = float(v) if k not in run else 0.98 * run[k] + 0.02 * float(v)
        if step % 25 == 0 or step == STEPS:
            prog.line(step, loss=run["loss"], ldm=run["ldm"], mse=run["mse"], ls=run["ls"], ly=run["ly"],
                      gnorm=float(gn_), lr=lr_at(step))
        if step % 500 == 0 or step == STEPS:
            on, off = fixed_eval(ema.model)
            hist.append({"step": step, "fixed_mse_cond": on, "fixed_mse_null": off, **{k: run[k] for k in run},
                         "minutes": (time.time() - t0) / 60})
            log(f"[unet] EMA fixed-set eps-MSE: conditioned {on:.4f}, null {off:.4f}")
        if step % EVERY == 0 or step == STEPS:
            atomic_save({"model": model.state_dict(), "ema": ema.model.state_dict(), "opt": opt.state_dict(),
                         "step": step, "t_spent": time.time() - t0, "hist": hist, "done": False}, UNET_CKPT)
    wall = time.time() - t0
    log(f"unet done: {step} steps in {wall / 60:.1f} min; final (running) loss {run['loss']:.4f} L_DM {run['ldm']:.4f} "
        f"eps-MSE {run['mse']:.4f} L_s {run['ls']:.5f} L_y {run['ly']:.5f}")
    atomic_save({"model": model.state_dict(), "ema": ema.model.state_dict(), "step": step, "t_spent": wall,
                 "hist": hist, "done": True, "final": run, "scale": scale, "vae": vae_tag, "encoders": enc_tag,
                 "config": {"steps": STEPS, "batch": BATCH, "lr": LR, "p_drop": P_DROP, "w_s": W_S, "w_y": W_Y,
                            "aux_n": AUX_N, "aux_t": AUX_T, "aux_every": AUX_EVERY, "ema": EMA_DECAY,
                            "min_snr": MIN_SNR, "warmup": WARMUP, "triplets": int(len(xs))}}, UNET_CKPT)


if __name__ == "__main__":
    main()
