"""Trained models loaded back from their checkpoints: the encoder towers (export, metrics, card, style_text),
the frozen image encoders and autoencoder the generator stages train on, and cached embeddings."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn as nn

from .config import Config, style_dim
from .data import MEAN, STD, to_pm1, to_tensor
from .models.colour import ColourPart, StyleDescriptor
from .models.encoders import SemanticImage, StyleNet, TextTower
from .models.generator import make_vae
from .runtime import load_checkpoint, log

ENCODER_STAGES = ("semantic", "style", "style_text")


def ckpt_path(cfg: Config, stage: str) -> str:
    """Where each training stage checkpoints."""
    if stage in ENCODER_STAGES:
        return os.path.join(cfg.path("work"), f"{stage}.pt")
    return os.path.join(cfg.path("gen"), f"{stage}.pt")


def style_tag(cfg: Config, step: int) -> str:
    """The cache key of a style checkpoint's embeddings: its step, and the colour part when it is not the tower's own."""
    st = cfg.style
    if st.colour_head != "foreground":
        return f"style-{step}"
    return f"style-{step}-fg{st.colour_axes}-w{st.colour_w:g}" + (f"-l{st.learned_axes}" if st.learned_axes else "")


def style_colour_path(cfg: Config) -> str:
    return os.path.join(cfg.path("work"), "style_colour.npz")


def style_descriptor(cfg: Config, net: nn.Module, step: int) -> nn.Module:
    """The style tower as the pack exports it: as trained, or beside the foreground colour part (style_colour stage)."""
    if cfg.style.colour_head != "foreground":
        return net
    path = style_colour_path(cfg)
    if not os.path.exists(path):
        raise RuntimeError(f"style.colour_head is \"foreground\" but {path} is missing: run the style_colour stage")
    z = np.load(path)
    learned_axes = int(z["learned_axes"].shape[1]) if "learned_axes" in z else 0
    if int(z["style_step"]) != step or z["axes"].shape[1] != cfg.style.colour_axes or learned_axes != cfg.style.learned_axes:
        raise RuntimeError(f"{path} was fitted for another style checkpoint or width: run the style_colour stage again")
    learned = (z["learned_mean"], z["learned_axes"]) if learned_axes else None
    return StyleDescriptor(net, ColourPart(z["mean"], z["axes"]), float(z["w"]), learned).eval()


def load_encoder_towers(cfg: Config, vocab_size: int, which=ENCODER_STAGES) -> dict[str, nn.Module]:
    out = {}
    if "semantic" in which:
        ck = load_checkpoint(ckpt_path(cfg, "semantic"))
        img, txt = SemanticImage(256), TextTower(vocab_size, 256, embed=cfg.semantic.text_embed)
        img.load_state_dict(ck["img"])
        txt.load_state_dict(ck["txt"])
        out["semantic_image"], out["semantic_text"] = img.eval(), txt.eval()
    if "style" in which:
        ck = load_checkpoint(ckpt_path(cfg, "style"))
        net = StyleNet(128, colour_dim=cfg.style.colour_dim)
        net.load_state_dict(ck["net"])
        out["style_image"] = style_descriptor(cfg, net.eval(), int(ck.get("step", -1)))
    if "style_text" in which:
        ck = load_checkpoint(ckpt_path(cfg, "style_text"))
        txt = TextTower(vocab_size, style_dim(cfg), width=128, embed=cfg.style_text.text_embed)
        txt.load_state_dict(ck["txt"])
        out["style_text"] = txt.eval()
    return out


@torch.no_grad()
def embed_images(model, X, bs=512):
    return np.concatenate([model(to_tensor(X[i:i + bs])).numpy() for i in range(0, len(X), bs)]).astype(np.float32)


@torch.no_grad()
def embed_texts(model, tok, texts, bs=512):
    out = []
    for i in range(0, len(texts), bs):
        ids, mask = tok.batch(texts[i:i + bs])
        out.append(model(ids, mask).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1), np.float32)


def cached_image_embeddings(cfg: Config, name: str, model, X, tag: str):
    """Embeddings of all snapshot images, cached in paths.work keyed by the checkpoint tag."""
    path = os.path.join(cfg.path("work"), f"emb_{name}.npz")
    if os.path.exists(path):
        z = np.load(path)
        if str(z["tag"]) == tag and len(z["e"]) == len(X):
            return z["e"]
    e = embed_images(model, X)
    np.savez(path, e=e, tag=np.array(tag))
    return e


# ----------------------------------------------------------------------------- the generator's frozen models

def encoder_preprocess(cfg: Config):
    """mean/std the pack declares for its image encoders (pack.json when present, else the training ones)."""
    p = os.path.join(cfg.path("pack"), "pack.json")
    if os.path.exists(p):
        pk = json.load(open(p))
        if "semantic" in pk and "style" in pk:
            a = pk["semantic"]["image"]["preprocess"]
            b = pk["style"]["image"]["preprocess"]
            return (a["mean"], a["std"]), (b["mean"], b["std"])
    return (MEAN, STD), (MEAN, STD)


class Preprocessed(nn.Module):
    """pixels in [-1, 1] -> the encoder's normalisation ((v - mean) / std with v in [0, 1]) -> frozen encoder."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x_pm1):
        return self.net(((x_pm1 + 1) * 0.5 - self.mean) / self.std)


def _frozen(*modules):
    for m in modules:
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)


def load_frozen_encoders(cfg: Config):
    """(C, A, tag): the frozen semantic and style image encoders taking [-1, 1] pixels, and a tag naming their
    checkpoints. A is the style descriptor the pack exports (with style.colour_head = "foreground", the tower beside
    the fitted colour part of style_colour.npz, which the tag then names too). runtime.random_encoders (smoke runs
    only) allows seeded random ones for missing checkpoints."""
    random_ok = cfg.runtime.random_encoders
    (sm, ss), (tm, ts) = encoder_preprocess(cfg)
    nets, tags = {}, []
    for name, make, key in (("semantic", lambda: SemanticImage(256), "img"), ("style", lambda: StyleNet(128, colour_dim=cfg.style.colour_dim), "net")):
        seed = 7 if name == "semantic" else 8
        torch.manual_seed(seed)
        net = nets[name] = make()
        path = ckpt_path(cfg, name)
        if os.path.exists(path):
            ck = load_checkpoint(path)
            if not ck.get("done"):
                raise RuntimeError(f"{path}: the {name} encoder has not finished training")
            net.load_state_dict(ck[key])
            h = hashlib.sha1()
            for k, v in sorted(ck[key].items()):
                h.update(k.encode())
                h.update(v.detach().cpu().numpy().tobytes())
            if name == "style" and cfg.style.colour_head == "foreground":
                nets[name] = style_descriptor(cfg, net, int(ck.get("step", -1)))
                colour = np.load(style_colour_path(cfg))
                for k in sorted(colour.files):
                    h.update(k.encode())
                    h.update(np.ascontiguousarray(colour[k]).tobytes())
            tags.append(f"{name}@{ck.get('step')}:{h.hexdigest()[:12]}")
            continue
        if not random_ok:
            raise FileNotFoundError(f"{path}: the encoder checkpoint is missing (train the encoders first)")
        if name == "style" and cfg.style.colour_head == "foreground":
            raise RuntimeError(f"{path} is missing: a random style tower has no fitted colour part (style.colour_head)")
        log(f"WARNING {name} encoder checkpoint missing; seeded random encoder (runtime.random_encoders)")
        tags.append(f"{name}@random")
    C = Preprocessed(nets["semantic"], sm, ss)
    A = Preprocessed(nets["style"], tm, ts)
    _frozen(C, A)
    return C, A, ";".join(tags)


@torch.no_grad()
def embed_pm1(model, X_uint8, bs=256, device=None):
    """model(pixels in [-1, 1]) of uint8 images, batched; on `device` (the model's), results on that device."""
    return torch.cat([model(to_pm1(X_uint8[i:i + bs]).to(device or "cpu")) for i in range(0, len(X_uint8), bs)])


def load_vae(cfg: Config, fine_tuned: bool = True):
    """(encoder, decoder, scale, checkpoint) of the finished autoencoder, frozen. With generator.decoder.steps > 0
    the decoder is the `decoder` stage's fine-tuned one (unless fine_tuned=False), which must have finished; the
    checkpoint then carries its step as `decoder_step`."""
    path = ckpt_path(cfg, "vae")
    ck = load_checkpoint(path)
    if not ck.get("done"):
        raise RuntimeError(f"{path}: the autoencoder has not finished training")
    enc, dec = make_vae(cfg.generator.vae)
    enc.load_state_dict(ck["enc"])
    dec.load_state_dict(ck["dec"])
    if fine_tuned and cfg.generator.decoder.steps > 0:
        dpath = ckpt_path(cfg, "decoder")
        dck = load_checkpoint(dpath) if os.path.exists(dpath) else {}
        if not dck.get("done"):
            raise RuntimeError(f"{dpath}: generator.decoder.steps is set but the decoder fine-tuning has not finished "
                               f"(run the `decoder` stage)")
        if dck.get("vae") != vae_tag(ck):
            raise RuntimeError(f"{dpath} fine-tuned the decoder of {dck.get('vae')}, not of {vae_tag(ck)}")
        dec.load_state_dict(dck["dec"])
        ck = {**ck, "decoder_step": int(dck["step"])}
    _frozen(enc, dec)
    return enc, dec, float(ck["scale"]), ck


def vae_tag(ck) -> str:
    """The encoder's identity (what the latents depend on): the `vae` stage's step and latent scale."""
    return f"vae@{ck['step']}:{ck['scale']:.6f}"


def decoder_tag(ck) -> str:
    """The identity of the whole autoencoder (what reconstructions depend on): vae_tag plus the fine-tuning's step."""
    return vae_tag(ck) + (f"+decoder@{ck['decoder_step']}" if ck.get("decoder_step") else "")
