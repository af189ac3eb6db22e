"""Stage unet (generator 3/4): the latent UNet eps(z_t, t, c_y, m_s) and the style projector M, trained jointly.

Data: the triplets (train split only). z0 = E(x) * scale (the frozen autoencoder's posterior mean),
c_y = C(y) (frozen semantic image encoder), a_s = A(s) (frozen style image encoder), m_s = M(a_s).
Each condition is dropped independently with probability p_drop (mask 0 -> the learned null token).

Loss  L = L_DM + w_s * L_s + w_y * L_y
  L_DM: the squared error of the network's prediction (mean over latent elements), weighted per row by min-SNR:
        prediction "epsilon": target eps, weight min(SNR, min_snr) / SNR;
        prediction "v": target v = sqrt(abar_t) eps - sqrt(1 - abar_t) z0, weight min(SNR, min_snr) / (SNR + 1)
        (the same weighting of the implied x0 error). The plain eps-MSE is logged as `mse` for both.
  L_s = MSE(A(x'), a_s), L_y = MSE(C(x'), c_y) (mean over the embedding's dims), x' = D(z0_hat / scale) with
        z0_hat = (z_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t) (v: sqrt(abar_t) z_t - sqrt(1 - abar_t) v_hat);
        computed for aux_n rows of the batch whose
        t < aux_t (low noise: z0_hat is meaningful there), every aux_every steps, only where that modality
        was not dropped.
Schedule: generator.schedule (default linear betas 0.00085 .. 0.012), T = 1000, t uniform. AdamW, warmup + cosine; EMA of the weights
(exported). Batches come from per-step seeded generators, so a resumed run continues exactly.

Device (runtime.device, runtime.amp): the UNet, its EMA, the frozen decoder and encoders, the latents, condition
embeddings and the schedule live on the device; batch indices, condition drops, timesteps and noise are drawn by the
step's CPU generator and moved there, so every device sees the same batches. On the CPU a resumed run is bitwise the
run it continues; on CUDA (TF32 / bf16 kernels) it continues the same data order but not bitwise the same weights."""
import dataclasses
import math
import os

import numpy as np
import torch

from ..checkpoints import ckpt_path, load_frozen_encoders, load_vae, vae_tag
from ..config import Config, NoiseSchedule, style_dim
from ..data import recolour, split_images, to_pm1
from ..models.generator import EMA, latent_shape, make_generator
from ..runtime import log, n_params, setup
from ..schedule import T, alphas_cumprod, spec_of
from ..trainer import TrainStage, run_stage, warmup_then_cosine
from .triplets import triplets_path
from .vae import generator_items


def train_latents(path, X, enc, scale, tag, device=torch.device("cpu")):
    """The scaled posterior means of the train images (a CPU tensor), cached in `path` per autoencoder tag."""
    if os.path.exists(path):
        z = np.load(path)
        if str(z["tag"]) == tag and len(z["z"]) == len(X):
            return torch.from_numpy(z["z"])
    log(f"encoding {len(X)} train images to latents ...")
    with torch.no_grad():
        z = torch.cat([(enc(to_pm1(X[i:i + 256]).to(device)) * scale).cpu() for i in range(0, len(X), 256)])
    np.savez(path + ".tmp.npz", z=z.numpy(), tag=np.array(tag))
    os.replace(path + ".tmp.npz", path)
    return z


class UnetStage(TrainStage):
    name = "unet"

    def __init__(self, cfg: Config):
        c = self.c = cfg.generator.unet
        self.take_schedule(c)
        dev = self.use_device(cfg.runtime)
        self.seed = cfg.generator.seed
        items, X = split_images(cfg.path("gen"), cfg.path("corpus"), generator_items(cfg), train=True)
        trip = np.load(triplets_path(cfg), allow_pickle=False)
        self.xs, self.ys, self.ss = (torch.from_numpy(trip[k]).to(dev) for k in ("x", "y", "s"))
        if len(self.xs) == 0:
            raise ValueError("unet: no valid triplets to train on")
        self.c_all = torch.from_numpy(trip["c"]).to(dev)
        self.a_all = torch.from_numpy(trip["a"]).to(dev)
        enc, dec, self.scale, vck = load_vae(cfg)
        enc, self.dec = enc.to(dev), dec.to(dev)
        self.vae = vae_tag(vck)
        self.Z = train_latents(os.path.join(cfg.path("gen"), "latents.npz"), X, enc, self.scale, self.vae, dev).to(dev)
        if c.p_palette > 0:  # recoloured rows are encoded afresh each step: keep the pixels and the encoder
            ids = [str(i) for i in trip["ids"]]
            if ids != [it["id"] for it in items]:
                raise ValueError("unet: the triplets were made from other train images; rerun the triplets stage")
            self.X, self.enc = torch.from_numpy(X).to(dev), enc
        C, A, self.encoders = load_frozen_encoders(cfg)
        self.C, self.A = C.to(dev), A.to(dev)
        if self.encoders != str(trip["tag"]):
            log(f"WARNING: encoders {self.encoders} differ from the triplets' {str(trip['tag'])}")
        self.schedule = spec_of(cfg.generator.schedule)
        ac = torch.from_numpy(alphas_cumprod(spec=self.schedule)).float()
        snr = ac / (1 - ac)
        self.v = c.prediction == "v"
        w_t = torch.clamp(snr, max=c.min_snr) / (snr + 1 if self.v else snr)
        self.ac, self.w_t = ac.to(dev), w_t.to(dev)
        self.model = make_generator(cfg.generator, style_dim(cfg)).to(dev)
        log(f"unet: {len(self.xs)} triplets; params unet {n_params(self.model.unet)}, projector "
            f"{n_params(self.model.proj)}; {dataclasses.asdict(c)}; latent scale {self.scale:.4f}")
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=1e-4, betas=(0.9, 0.99))
        self.ema = EMA(self.model, c.ema)
        self.hist, self.run = [], {}
        g_fix = torch.Generator().manual_seed(self.seed + 1)
        self.fix = torch.randint(0, len(self.xs), (128,), generator=g_fix).to(dev)
        self.fix_t = torch.linspace(0, T - 1, 128).round().long().to(dev)
        self.fix_n = torch.randn((128, *latent_shape(cfg.generator.vae.latent_channels)), generator=g_fix).to(dev)
        self.model.train()

    def modules(self):
        return {"model": self.model, "ema": self.ema.model, "opt": self.optimizer}

    def lr_factor(self, step):
        return warmup_then_cosine(step, self.total, self.warmup, 0.1)

    def extra_state(self):
        return {"hist": self.hist, "run": self.run, "prediction": self.c.prediction, "schedule": self.schedule}

    def load_extra_state(self, state):
        trained = trained_as(state)
        if trained != (self.c.prediction, self.schedule):
            raise ValueError(f"unet: the checkpoint was trained with prediction/schedule {trained}, the config asks "
                             f"for {(self.c.prediction, self.schedule)}: start a new run (without --resume)")
        self.hist, self.run = state.get("hist", []), state.get("run", {})

    def to_eps(self, out, zt, abar):
        """the network's output as eps_hat."""
        return abar.sqrt() * out + (1 - abar).sqrt() * zt if self.v else out

    def to_z0(self, out, zt, abar):
        """the network's output as z0_hat."""
        if self.v:
            return abar.sqrt() * zt - (1 - abar).sqrt() * out
        return (zt - (1 - abar).sqrt() * out) / abar.sqrt()

    @torch.no_grad()
    def recoloured(self, b, z0, a_s, g):
        """z0 and a_s with a p_palette share of the rows replaced by those of a palette pseudo-style: x and s both
        recoloured by one random transform per row (hue rotation in [0.35, 2 pi - 0.35], saturation 0 / U(0.4, 1.3)
        / 1 / 1 as the style tower's), x re-encoded, s's style vector recomputed. Draws come after the step's
        others, so p_palette = 0 leaves every batch as it was."""
        n = len(b)
        pick = torch.rand(n, generator=g) < self.c.p_palette
        theta = 0.35 + torch.rand(n, generator=g) * (2 * math.pi - 0.7)
        kind = torch.randint(0, 4, (n,), generator=g)
        sat = torch.where(kind == 0, torch.zeros(n), torch.where(kind == 1, 0.4 + 0.9 * torch.rand(n, generator=g),
                                                                torch.ones(n)))
        rows = torch.nonzero(pick).flatten()
        if len(rows) == 0:
            return z0, a_s
        dev = self.device
        th, sa = theta[rows].to(dev), sat[rows].to(dev)
        rb = b[rows.to(dev)]
        pix = lambda idx: self.X[idx].permute(0, 3, 1, 2).float() / 255.0
        x = recolour(pix(self.xs[rb]), th, sa) * 2 - 1
        s = recolour(pix(self.ss[rb]), th, sa) * 2 - 1
        z0, a_s = z0.clone(), a_s.clone()
        z0[rows.to(dev)] = self.enc(x) * self.scale
        a_s[rows.to(dev)] = self.A(s)
        return z0, a_s

    def fixed_eval(self, net):
        """plain eps-MSE of a fixed set (128 triplets at evenly spread t), conditions on / both null."""
        fix, fix_t = self.fix, self.fix_t
        with torch.no_grad():
            z0 = self.Z[self.xs[fix]]
            abar = self.ac[fix_t].view(-1, 1, 1, 1)
            zt = abar.sqrt() * z0 + (1 - abar).sqrt() * self.fix_n
            m = net.proj(self.a_all[self.ss[fix]])
            c_y = self.c_all[self.ys[fix]]
            one = torch.ones(len(fix), device=self.device)
            on = self.to_eps(net.unet(zt, fix_t.float(), c_y, m, one, one), zt, abar)
            off = self.to_eps(net.unet(zt, fix_t.float(), c_y, m, 0 * one, 0 * one), zt, abar)
            on, off = float(((on - self.fix_n) ** 2).mean()), float(((off - self.fix_n) ** 2).mean())
        return on, off

    def train_step(self, step):
        c, B = self.c, self.c.batch
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        dev = self.device
        b = torch.randint(0, len(self.xs), (B,), generator=g).to(dev)
        z0 = self.Z[self.xs[b]]
        c_y = self.c_all[self.ys[b]]
        a_s = self.a_all[self.ss[b]]
        cm = (torch.rand(B, generator=g) >= c.p_drop).float().to(dev)
        sm = (torch.rand(B, generator=g) >= c.p_drop).float().to(dev)
        t = torch.randint(0, T, (B,), generator=g).to(dev)
        noise = torch.randn(z0.shape, generator=g).to(dev)
        if c.p_palette > 0:
            z0, a_s = self.recoloured(b, z0, a_s, g)
        abar = self.ac[t].view(-1, 1, 1, 1)
        zt = abar.sqrt() * z0 + (1 - abar).sqrt() * noise
        with self.autocast():
            m_s = self.model.proj(a_s)
            out = self.model.unet(zt, t.float(), c_y, m_s, cm, sm).float()
        target = abar.sqrt() * noise - (1 - abar).sqrt() * z0 if self.v else noise
        l_dm = (((out - target) ** 2).flatten(1).mean(1) * self.w_t[t]).mean()
        per_row = ((self.to_eps(out, zt, abar) - noise) ** 2).flatten(1).mean(1) if self.v else \
            ((out - noise) ** 2).flatten(1).mean(1)
        loss = l_dm
        l_s = l_y = torch.zeros(())
        if c.aux_n > 0 and c.w_s + c.w_y > 0 and step % c.aux_every == 0:
            rows = torch.nonzero(t < c.aux_t).flatten()[:c.aux_n]
            if len(rows) > 0:
                z0_hat = self.to_z0(out[rows], zt[rows], abar[rows])
                wsm, wcm = sm[rows], cm[rows]
                with self.autocast():
                    x_hat = self.dec(z0_hat / self.scale)
                    if float(wsm.sum()) > 0:
                        l_s = ((((self.A(x_hat).float() - a_s[rows]) ** 2).mean(1)) * wsm).sum() / wsm.sum()
                    if float(wcm.sum()) > 0:
                        l_y = ((((self.C(x_hat).float() - c_y[rows]) ** 2).mean(1)) * wcm).sum() / wcm.sum()
                loss = loss + c.w_s * l_s + c.w_y * l_y
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.ema.update(self.model, step + 1)
        for k, v in (("loss", loss), ("ldm", l_dm), ("mse", per_row.mean()), ("ls", l_s), ("ly", l_y)):
            v = v.item()
            self.run[k] = v if k not in self.run else 0.98 * self.run[k] + 0.02 * v
        return {**self.run, "gnorm": gnorm.item()}

    def periodic(self, step, minutes):
        if step % self.c.eval_every == 0 or step == self.total:
            on, off = self.fixed_eval(self.ema.model)
            self.hist.append({"step": step, "fixed_mse_cond": on, "fixed_mse_null": off, **self.run,
                              "minutes": minutes})
            log(f"[unet] EMA fixed-set eps-MSE: conditioned {on:.4f}, null {off:.4f}")

    def finish(self, wall):
        r = self.run
        log(f"unet: final (running) loss {r['loss']:.4f} L_DM {r['ldm']:.4f} eps-MSE {r['mse']:.4f} "
            f"L_s {r['ls']:.5f} L_y {r['ly']:.5f}")
        return {"hist": self.hist, "final": r, "scale": self.scale, "vae": self.vae, "encoders": self.encoders,
                "prediction": self.c.prediction, "schedule": self.schedule,
                "config": {**dataclasses.asdict(self.c), "triplets": int(len(self.xs))}}


def trained_as(extra: dict) -> tuple[str, dict]:
    """(prediction, schedule) a UNet checkpoint's extra state records; checkpoints from before these settings
    existed were epsilon / the default linear schedule."""
    return extra.get("prediction", "epsilon"), extra.get("schedule", spec_of(NoiseSchedule()))


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.generator.seed)
    run_stage(lambda: UnetStage(cfg), ckpt_path(cfg, "unet"), resume)
