"""Embedding helpers (eval mode, torch) and model loading from the checkpoints."""
import os
import numpy as np
import torch
from common import *


def load_models(vocab_size, which=("semantic", "style", "style_text")):
    out = {}
    if "semantic" in which:
        ck = torch.load(os.path.join(WORK, "semantic.pt"))
        img, txt = SemanticImage(256), TextTower(vocab_size, 256)
        img.load_state_dict(ck["img"]); txt.load_state_dict(ck["txt"])
        out["semantic_image"], out["semantic_text"] = img.eval(), txt.eval()
    if "style" in which:
        ck = torch.load(os.path.join(WORK, "style.pt"))
        net = StyleNet(128); net.load_state_dict(ck["net"])
        out["style_image"] = net.eval()
    if "style_text" in which:
        ck = torch.load(os.path.join(WORK, "style_text.pt"))
        txt = TextTower(vocab_size, 128, width=128); txt.load_state_dict(ck["txt"])
        out["style_text"] = txt.eval()
    return out


@torch.no_grad()
def embed_images(model, X, bs=512):
    out = []
    for i in range(0, len(X), bs):
        out.append(model(to_tensor(X[i:i + bs])).numpy())
    return np.concatenate(out).astype(np.float32)


@torch.no_grad()
def embed_texts(model, tok, texts, bs=512):
    out = []
    for i in range(0, len(texts), bs):
        ids, mask = tok.batch(texts[i:i + bs])
        out.append(model(ids, mask).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1), np.float32)


def cached_image_embeddings(name, model, X, tag):
    """Embeddings of all corpus images, cached in WORK keyed by the checkpoint tag."""
    path = os.path.join(WORK, f"emb_{name}.npz")
    if os.path.exists(path):
        z = np.load(path)
        if str(z["tag"]) == tag and len(z["e"]) == len(X):
            return z["e"]
    e = embed_images(model, X)
    np.savez(path, e=e, tag=np.array(tag))
    return e
