"""Build the tiny random generator pack used by the sampler tests (test/fixtures/tiny-generator/).

A randomly initialised, seeded PARASOL generator small enough to run hundreds of UNet calls in a
test: a UNet over 4x16x16 latents with a sinusoidal timestep embedding and cross-attention over
two condition tokens (content c_y and projected style m_s, each replaced by a learned null token
where its mask is 0), a VAE encoder/decoder (64x64x3 <-> 4x16x16) and a style projector
(style dim 16 -> semantic dim 32). Nothing is trained: the sampler's properties (exact inversion,
guidance identities, determinism) must hold for ANY weights, so random ones prove them.

The pack's semantic/style blocks reuse the tiny encoder pack's files (test/fixtures/tiny-pack/),
so loadEncoders and loadGenerator can both open this folder. reference.json holds what torch
computed for fixed inputs (given by formulas the TypeScript tests repeat) and numpy's schedule
values, so the TypeScript side can prove it feeds the models exactly what the manifest says.

Run:
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/bin/python3 models/train/make_tiny_generator.py
"""

import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_PACK = os.path.join(ROOT, "test", "fixtures", "tiny-pack")
OUT = os.path.join(ROOT, "test", "fixtures", "tiny-generator")
SEED = 20240611

PARASOL = {
    "unet": {
        "file": "unet.onnx",
        "inputs": {
            "latent": "latent",
            "timestep": "timestep",
            "content": "content",
            "style": "style",
            "contentMask": "content_mask",
            "styleMask": "style_mask",
        },
        "output": "noise",
    },
    "vae": {
        "encoder": {"file": "vae_encoder.onnx", "input": "pixels", "output": "latent"},
        "decoder": {"file": "vae_decoder.onnx", "input": "latent", "output": "pixels"},
        "imageSize": 64,
        "scale": 1.0,
    },
    "projector": {"file": "projector.onnx", "input": "style", "output": "embedding"},
    "latent": [4, 16, 16],
    "timesteps": 1000,
    "prediction": "epsilon",
    "schedule": {"kind": "linear", "betaStart": 0.00085, "betaEnd": 0.012},
}

LATENT = PARASOL["latent"]
IMAGE = PARASOL["vae"]["imageSize"]


class TimestepEmbedding(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 2 * dim), torch.nn.SiLU(), torch.nn.Linear(2 * dim, dim))

    def forward(self, t):
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        args = t.unsqueeze(1) * freqs.unsqueeze(0)
        return self.mlp(torch.cat([torch.sin(args), torch.cos(args)], dim=1))


class ResBlock(torch.nn.Module):
    def __init__(self, ch, emb):
        super().__init__()
        self.norm1 = torch.nn.GroupNorm(4, ch)
        self.conv1 = torch.nn.Conv2d(ch, ch, 3, padding=1)
        self.time = torch.nn.Linear(emb, ch)
        self.norm2 = torch.nn.GroupNorm(4, ch)
        self.conv2 = torch.nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb)).unsqueeze(-1).unsqueeze(-1)
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class CrossAttention(torch.nn.Module):
    """Every position attends over the two condition tokens (content, style)."""

    def __init__(self, ch, token_dim):
        super().__init__()
        self.norm = torch.nn.GroupNorm(4, ch)
        self.q = torch.nn.Linear(ch, ch)
        self.k = torch.nn.Linear(token_dim, ch)
        self.v = torch.nn.Linear(token_dim, ch)
        self.out = torch.nn.Linear(ch, ch)

    def forward(self, x, tokens):
        b, c, h, w = x.shape
        q = self.q(self.norm(x).flatten(2).transpose(1, 2))  # [B, HW, C]
        k = self.k(tokens)  # [B, 2, C]
        v = self.v(tokens)
        attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
        out = self.out(attn @ v).transpose(1, 2).reshape(b, c, h, w)
        return x + out


class TinyUNet(torch.nn.Module):
    def __init__(self, sem_dim, ch=32):
        super().__init__()
        c = LATENT[0]
        self.temb = TimestepEmbedding(ch)
        self.content = torch.nn.Linear(sem_dim, ch)
        self.style = torch.nn.Linear(sem_dim, ch)
        # Learned null tokens: what the model sees where a modality is dropped (mask 0).
        self.null_content = torch.nn.Parameter(torch.randn(ch) * 0.5)
        self.null_style = torch.nn.Parameter(torch.randn(ch) * 0.5)
        self.inp = torch.nn.Conv2d(c, ch, 3, padding=1)
        self.res_in = ResBlock(ch, ch)
        self.attn_in = CrossAttention(ch, ch)
        self.down = torch.nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.res_mid = ResBlock(ch, ch)
        self.attn_mid = CrossAttention(ch, ch)
        self.merge = torch.nn.Conv2d(2 * ch, ch, 3, padding=1)
        self.res_out = ResBlock(ch, ch)
        self.norm_out = torch.nn.GroupNorm(4, ch)
        self.out = torch.nn.Conv2d(ch, c, 3, padding=1)

    def forward(self, latent, timestep, content, style, content_mask, style_mask):
        temb = self.temb(timestep)
        cm = content_mask.unsqueeze(1)
        sm = style_mask.unsqueeze(1)
        content_token = cm * self.content(content) + (1.0 - cm) * self.null_content.unsqueeze(0)
        style_token = sm * self.style(style) + (1.0 - sm) * self.null_style.unsqueeze(0)
        tokens = torch.stack([content_token, style_token], dim=1)
        h0 = self.attn_in(self.res_in(self.inp(latent), temb), tokens)
        h = self.attn_mid(self.res_mid(self.down(h0), temb), tokens)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.res_out(self.merge(torch.cat([h, h0], dim=1)), temb)
        return self.out(F.silu(self.norm_out(h)))


class VaeEncoder(torch.nn.Module):
    def __init__(self, ch=16):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, ch, 3, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv2d(ch, LATENT[0], 3, padding=1)

        with torch.no_grad():
            # Random weights give latents of std ~0.06; real VAEs' latents are scaled to std ~1.
            self.conv3.weight.mul_(15.0)
            self.conv3.bias.mul_(15.0)

    def forward(self, pixels):
        x = F.silu(self.conv1(pixels))
        x = F.silu(self.conv2(x))
        return self.conv3(x)  # the posterior's mean: deterministic


class VaeDecoder(torch.nn.Module):
    def __init__(self, ch=16):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(LATENT[0], ch, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(ch, ch, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, latent):
        x = F.silu(self.conv1(latent))
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.silu(self.conv2(x))
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return torch.tanh(self.conv3(x))


class Projector(torch.nn.Module):
    def __init__(self, style_dim, sem_dim):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(style_dim, sem_dim), torch.nn.SiLU(), torch.nn.Linear(sem_dim, sem_dim))

    def forward(self, style):
        return self.net(style)


def export(model, args, input_names, output_name, path):
    dynamic = {name: {0: "batch"} for name in input_names}
    dynamic[output_name] = {0: "batch"}
    torch.onnx.export(model, args, path, input_names=input_names, output_names=[output_name],
                      dynamic_axes=dynamic, opset_version=17, do_constant_folding=True)


# --- the probe inputs; test/parasol/helpers.ts computes the same formulas ---

def wave(n, rows, fn):
    """rows x n float32: fn(0.1 * i, row) for the flat index i."""
    out = np.zeros((rows, n), dtype=np.float64)
    for b in range(rows):
        out[b] = fn(np.arange(n, dtype=np.float64), b)
    return out.astype(np.float32)


def probe_inputs(sem_dim, style_dim):
    latent_size = int(np.prod(LATENT))
    return {
        "latent": wave(latent_size, 4, lambda i, b: np.sin(0.1 * i + 0.7 * b)).reshape(4, *LATENT),
        "timestep": np.array([999, 500, 10, 0], dtype=np.float32),
        "content": wave(sem_dim, 4, lambda i, b: np.cos(0.2 * i + b)),
        "style": wave(sem_dim, 4, lambda i, b: np.sin(0.5 * i - b)),
        # (1,1), (0,0), (1,0), (0,1): a swapped or ignored mask changes some row
        "content_mask": np.array([1, 0, 1, 0], dtype=np.float32),
        "style_mask": np.array([1, 0, 0, 1], dtype=np.float32),
        "projector": wave(style_dim, 2, lambda i, b: np.cos(0.3 * i + 2 * b)),
        "pixels": wave(3 * IMAGE * IMAGE, 1, lambda i, b: np.sin(0.05 * i)).reshape(1, 3, IMAGE, IMAGE),
        "decode": wave(latent_size, 1, lambda i, b: np.cos(0.07 * i)).reshape(1, *LATENT),
    }


def schedule_reference():
    """numpy's values for the schedule tests (float64)."""
    T = 1000
    out = {}
    for kind, start, end in (("linear", 0.00085, 0.012), ("scaled-linear", 0.00085, 0.012)):
        if kind == "linear":
            betas = np.linspace(start, end, T, dtype=np.float64)
        else:
            betas = np.linspace(start ** 0.5, end ** 0.5, T, dtype=np.float64) ** 2
        alphas_cumprod = np.cumprod(1.0 - betas)
        at = [0, 1, 250, 500, 999]
        out[kind] = {
            "betaStart": start, "betaEnd": end, "timesteps": T, "at": at,
            "betas": [float(betas[t]) for t in at],
            "alphasCumprod": [float(alphas_cumprod[t]) for t in at],
        }
    return out


def rounded(values):
    return [float(f"{v:.7g}") for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def main():
    torch.manual_seed(SEED)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(TINY_PACK, "pack.json")) as f:
        encoder_pack = json.load(f)
    sem_dim = encoder_pack["semantic"]["dim"]
    style_dim = encoder_pack["style"]["dim"]
    for name in sorted(set(
        [encoder_pack[k][m]["file"] for k in ("semantic", "style") for m in ("image", "text")]
        + [encoder_pack[k]["text"]["tokenizer"] for k in ("semantic", "style")]
    )):
        shutil.copyfile(os.path.join(TINY_PACK, name), os.path.join(OUT, name))

    unet = TinyUNet(sem_dim).eval()
    encoder = VaeEncoder().eval()
    decoder = VaeDecoder().eval()
    projector = Projector(style_dim, sem_dim).eval()

    names = PARASOL["unet"]["inputs"]
    unet_inputs = [names[k] for k in ("latent", "timestep", "content", "style", "contentMask", "styleMask")]
    x = probe_inputs(sem_dim, style_dim)
    t = {k: torch.from_numpy(v) for k, v in x.items()}
    unet_args = (t["latent"], t["timestep"], t["content"], t["style"], t["content_mask"], t["style_mask"])
    with torch.no_grad():
        export(unet, tuple(a[:1] for a in unet_args), unet_inputs, PARASOL["unet"]["output"],
               os.path.join(OUT, PARASOL["unet"]["file"]))
        vae = PARASOL["vae"]
        export(encoder, (t["pixels"],), [vae["encoder"]["input"]], vae["encoder"]["output"],
               os.path.join(OUT, vae["encoder"]["file"]))
        export(decoder, (t["decode"],), [vae["decoder"]["input"]], vae["decoder"]["output"],
               os.path.join(OUT, vae["decoder"]["file"]))
        p = PARASOL["projector"]
        export(projector, (t["projector"],), [p["input"]], p["output"], os.path.join(OUT, p["file"]))

        noise = unet(*unet_args).numpy()
        embedding = projector(t["projector"]).numpy()
        latent = (encoder(t["pixels"]) * vae["scale"]).numpy()
        pixels = decoder(t["decode"] / vae["scale"]).numpy()

    pack = {
        "name": "tiny-generator",
        "version": 1,
        "semantic": encoder_pack["semantic"],
        "style": encoder_pack["style"],
        "parasol": PARASOL,
    }
    with open(os.path.join(OUT, "pack.json"), "w") as f:
        json.dump(pack, f, indent=2)
        f.write("\n")

    reference = {
        "note": "inputs: see probe_inputs() in models/train/make_tiny_generator.py",
        "unet": {"timestep": x["timestep"].tolist(), "contentMask": x["content_mask"].tolist(),
                 "styleMask": x["style_mask"].tolist(), "noise": [rounded(row) for row in noise]},
        "projector": [rounded(row) for row in embedding],
        "encoder": rounded(latent),
        # every 16th value of the decoded pixels, and the sum of all of them
        "decoder": {"stride": 16, "values": rounded(pixels.reshape(-1)[::16]), "sum": float(pixels.astype(np.float64).sum())},
        "schedule": schedule_reference(),
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")
    stats = {
        "unet noise std": float(noise.std()),
        "unet params": sum(p.numel() for p in unet.parameters()),
        "latent std": float(latent.std()),
    }
    print(f"wrote {OUT}: {stats}", file=sys.stderr)


if __name__ == "__main__":
    main()
