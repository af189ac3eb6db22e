"""Stage decoder (generator 1b/4): fine-tunes the autoencoder's decoder alone, after `vae` (generator.decoder).

Why: reconstruction quality (PSNR on held-out images) is set by the decoder, while everything downstream of the
encoder (the latents, the latent scale, the triplets, the UNet) depends only on the encoder. Freezing the encoder
lets the decoder train longer, on whole images, without retraining the UNet.
Input: each train image's posterior mean (the sampler's latents approximate scaled posterior means, not posterior
samples), so the decoder learns to decode exactly what it is given at sampling time. Loss: L1 + MSE. Random
horizontal flips. AdamW, warmup + cosine to 5%. Batches come from per-step seeded generators, so a resumed run
continues exactly. Writes paths.gen/decoder.pt; load_vae() uses it when generator.decoder.steps > 0."""
import dataclasses

import numpy as np
import torch

from ..checkpoints import ckpt_path, load_vae, vae_tag
from ..config import Config
from ..data import split_images, to_pm1
from ..runtime import log, n_params, setup
from ..trainer import TrainStage, run_stage, warmup_then_cosine
from .vae import evaluate, generator_items


class DecoderStage(TrainStage):
    name = "decoder"

    def __init__(self, cfg: Config):
        c = self.c = cfg.generator.decoder
        self.cfg = cfg
        self.take_schedule(c)
        self.seed = cfg.generator.seed
        self.all_items = generator_items(cfg)
        _, self.X = split_images(cfg.path("gen"), cfg.path("corpus"), self.all_items, train=True)
        dev = self.use_device(cfg.runtime)
        enc, dec, _, ck = load_vae(cfg, fine_tuned=False)
        self.vae = vae_tag(ck)
        self.enc, self.dec = enc.to(dev), dec.to(dev)
        for p in self.dec.parameters():
            p.requires_grad_(True)
        self.dec.train()
        log(f"decoder: fine-tuning the decoder of {self.vae} ({n_params(self.dec)} params) on {len(self.X)} train "
            f"images; {dataclasses.asdict(c)}")
        self.optimizer = torch.optim.AdamW(self.dec.parameters(), lr=self.lr, weight_decay=1e-4)
        self.run_l1 = None

    def modules(self):
        return {"dec": self.dec, "opt": self.optimizer}

    def lr_factor(self, step):
        return warmup_then_cosine(step, self.total, self.warmup, 0.05)

    def extra_state(self):
        return {"run_l1": self.run_l1, "vae": self.vae}

    def load_extra_state(self, state):
        if state.get("vae", self.vae) != self.vae:
            raise ValueError(f"decoder: the checkpoint fine-tunes the decoder of {state['vae']}, not of {self.vae}: "
                             f"start a new run (without --resume)")
        self.run_l1 = state.get("run_l1")

    def train_step(self, step):
        B = self.c.batch
        g = torch.Generator().manual_seed(self.seed * 6131 + step)
        idx = np.sort(torch.randint(0, len(self.X), (B,), generator=g).numpy())
        x = to_pm1(self.X[idx]).to(self.device)
        flip = (torch.rand(B, generator=g) < 0.5).to(self.device)
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        with torch.no_grad():
            mean = self.enc(x)
        with self.autocast():
            r = self.dec(mean).float()
        l1, l2 = (r - x).abs().mean(), ((r - x) ** 2).mean()
        loss = l1 + l2
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.dec.parameters(), 1.0)
        self.optimizer.step()
        self.run_l1 = l1.item() if self.run_l1 is None else 0.95 * self.run_l1 + 0.05 * l1.item()
        return {"l1": self.run_l1, "mse": l2.item()}

    def finish(self, wall):
        self.dec.eval()
        _, HX = split_images(self.cfg.path("gen"), self.cfg.path("corpus"), self.all_items, train=False)
        p_held, l1_held = evaluate(self.enc, self.dec, HX, device=self.device)
        log(f"decoder: held-out PSNR {p_held:.2f} dB (L1 {l1_held:.4f}, {min(512, len(HX))} of {len(HX)} images)")
        return {"vae": self.vae, "psnr_heldout": p_held, "l1_heldout": l1_held, "final_l1": self.run_l1,
                "config": dataclasses.asdict(self.c)}


def run(cfg: Config, resume: bool) -> None:
    if cfg.generator.decoder.steps <= 0 and cfg.generator.decoder.minutes <= 0:
        log("decoder: generator.decoder.steps is 0: no fine-tuning")
        return
    setup(cfg.runtime.threads, cfg.generator.seed)
    run_stage(lambda: DecoderStage(cfg), ckpt_path(cfg, "decoder"), resume)
