"""Stage vae (generator 1/4): the autoencoder E/D (64x64x3 in [-1, 1] <-> Cx16x16), train split only.

Training on random crops (`crop`) then whole images for the last `full_steps` steps: the autoencoder is fully
convolutional, so crops show it many more images per second.
Loss: L1 + MSE reconstruction of the decoded posterior sample + kl * KL(q(z|x) || N(0, I)) (mean per latent
element; small: it only keeps the latent space smooth). Random horizontal flips. AdamW, warmup + cosine.
After training: `scale` = 1 / std of the posterior means over train images, so scaled latents have unit std;
reconstruction PSNR of the posterior mean on held-out images (every non-train split) goes into the checkpoint.
Batches are drawn from per-step seeded generators, so a resumed run continues exactly.

Device (runtime.device, runtime.amp): the models, the train images (as uint8) and each batch live on the device; every
random draw (indices, flips, crop windows, posterior noise) is still made by the step's CPU generator and then moved,
so the batches are the same on every device and a resume continues the same data order. On the CPU a resumed run
is bitwise the run it continues; on CUDA (TF32 / bf16 kernels, cuDNN autotuning) the arithmetic differs slightly from
run to run and from the CPU's, so weights match a CPU run's closely but not bitwise."""
import dataclasses

import numpy as np
import torch

from ..checkpoints import ckpt_path
from ..config import Config
from ..data import load_training_items, select_items, split_images, to_pm1
from ..losses import psnr
from ..models.generator import make_vae
from ..runtime import autocast, log, n_params, setup
from ..trainer import TrainStage, run_stage, warmup_then_cosine


@torch.no_grad()
def evaluate(enc, dec, X, n=512, bs=128, device=torch.device("cpu")):
    idx = np.random.RandomState(0).permutation(len(X))[:n]
    vals, l1 = [], []
    for i in range(0, len(idx), bs):
        x = to_pm1(X[np.sort(idx[i:i + bs])]).to(device)
        r = dec(enc(x))
        vals.append(psnr(r, x) * len(x))
        l1.append(float((r - x).abs().mean()) * len(x))
    return sum(vals) / len(idx), sum(l1) / len(idx)


def random_crops(x, size, g):
    """One random size x size window per image, at positions on the latent's 4-px grid (the autoencoder is fully
    convolutional, so a crop costs (size/64)^2 of a whole image: many more images per second of training)."""
    n, _, h, w = x.shape
    oy = torch.randint(0, (h - size) // 4 + 1, (n,), generator=g) * 4
    ox = torch.randint(0, (w - size) // 4 + 1, (n,), generator=g) * 4
    return torch.stack([x[i, :, oy[i]:oy[i] + size, ox[i]:ox[i] + size] for i in range(n)])


def generator_items(cfg: Config):
    """Every item of the demo corpora the generator learns from: the emoji sets, then (when `paths.artwork` is set)
    the Open Clip Art drawings; each stage takes the train split of these."""
    artwork = cfg.path("artwork") if cfg.paths.artwork else ""
    return select_items(load_training_items(cfg.path("corpus"), artwork), cfg.runtime.subset)


class VaeStage(TrainStage):
    name = "vae"

    def __init__(self, cfg: Config):
        c = self.c = cfg.generator.vae
        self.cfg = cfg
        self.take_schedule(c)
        self.seed = cfg.generator.seed
        self.all_items = generator_items(cfg)
        items, self.X = split_images(cfg.path("gen"), cfg.path("corpus"), self.all_items, train=True)
        log(f"vae: {len(items)} train images; {dataclasses.asdict(c)}")
        dev = self.use_device(cfg.runtime)
        self.enc, self.dec = (m.to(dev) for m in make_vae(c))
        # on a GPU the train images stay there as uint8 (64x64x3 bytes each) and batches are gathered in place
        self.X_dev = torch.from_numpy(self.X).to(dev) if dev.type != "cpu" else None
        log(f"params: encoder {n_params(self.enc)}, decoder {n_params(self.dec)}")
        self.params = list(self.enc.parameters()) + list(self.dec.parameters())
        self.optimizer = torch.optim.AdamW(self.params, lr=self.lr, weight_decay=1e-4)
        self.run_l1 = self.run_kl = None
        self.enc.train()
        self.dec.train()

    def modules(self):
        return {"enc": self.enc, "dec": self.dec, "opt": self.optimizer}

    def lr_factor(self, step):
        return warmup_then_cosine(step, self.total, self.warmup, 0.05)

    def steps_that_fit(self, step, rate, seconds):
        # `rate` was measured on crops; a whole-image step costs (64 / crop)^2 of one (an upper bound)
        if not self.c.crop or step >= self.total - self.c.full_steps:
            return step + int(rate * seconds)
        k = (64 / self.c.crop) ** 2
        crops = int(rate * seconds - self.c.full_steps * k)
        return step + max(crops, 1) + self.c.full_steps

    def pixels(self, idx):
        """[-1, 1] NCHW pixels of train images `idx` (sorted numpy indices), on the stage's device."""
        if self.X_dev is None:
            return to_pm1(self.X[idx])
        return self.X_dev[torch.from_numpy(idx).to(self.device)].permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def extra_state(self):
        return {"run_l1": self.run_l1, "run_kl": self.run_kl}

    def load_extra_state(self, state):
        self.run_l1, self.run_kl = state.get("run_l1"), state.get("run_kl")

    def train_step(self, step):
        B = self.c.batch
        g = torch.Generator().manual_seed(self.seed * 7919 + step)
        idx = torch.randint(0, len(self.X), (B,), generator=g).numpy()
        x = self.pixels(np.sort(idx))
        flip = (torch.rand(B, generator=g) < 0.5).to(self.device)
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        if self.c.crop and step < self.total - self.c.full_steps:
            x = random_crops(x, self.c.crop, g)
        with self.autocast():
            mean, logvar = self.enc.moments(x)
            mean, logvar = mean.float(), logvar.float()
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g).to(self.device)
            r = self.dec(z).float()
        l1 = (r - x).abs().mean()
        l2 = ((r - x) ** 2).mean()
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = l1 + l2 + self.c.kl * kl
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        l1, l2, kl = l1.item(), l2.item(), kl.item()
        self.run_l1 = l1 if self.run_l1 is None else 0.95 * self.run_l1 + 0.05 * l1
        self.run_kl = kl if self.run_kl is None else 0.95 * self.run_kl + 0.05 * kl
        return {"l1": self.run_l1, "mse": l2, "kl": self.run_kl}

    def finish(self, wall):
        enc, dec, X = self.enc, self.dec, self.X
        enc.eval()
        dec.eval()
        with torch.no_grad():  # latent scale: 1 / std of the posterior means over (up to) 4096 train images
            sel = np.sort(np.random.RandomState(1).permutation(len(X))[:4096])
            mu = torch.cat([enc(to_pm1(X[sel[i:i + 256]]).to(self.device)) for i in range(0, len(sel), 256)])
            std = float(mu.std())
        scale = 1.0 / std
        log(f"latent mean {float(mu.mean()):.4f} std {std:.4f} -> scale {scale:.5f}; per-channel std "
            f"{[round(float(v), 3) for v in mu.std(dim=(0, 2, 3))]}")
        p_train, l1_train = evaluate(enc, dec, X, device=self.device)
        _, HX = split_images(self.cfg.path("gen"), self.cfg.path("corpus"), self.all_items, train=False)
        p_held, l1_held = evaluate(enc, dec, HX, device=self.device)
        log(f"vae: PSNR train {p_train:.2f} dB (L1 {l1_train:.4f}), held-out {p_held:.2f} dB (L1 {l1_held:.4f}, "
            f"{min(512, len(HX))} of {len(HX)} held-out images)")
        return {"scale": scale, "latent_std": std, "psnr_train": p_train, "psnr_heldout": p_held,
                "l1_heldout": l1_held, "final_l1": self.run_l1, "final_kl": self.run_kl,
                "config": dataclasses.asdict(self.c)}


def run(cfg: Config, resume: bool) -> None:
    setup(cfg.runtime.threads, cfg.generator.seed)
    run_stage(lambda: VaeStage(cfg), ckpt_path(cfg, "vae"), resume)
