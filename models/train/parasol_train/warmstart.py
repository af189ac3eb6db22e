"""Warm start from an earlier pack's encoders (runtime.init_rev: a git revision whose models/mini holds them, read
with `git show`, so the start point is fixed and reproducible from a clone with history).

The ONNX files are all that is kept of a pack, and their export folded every BatchNorm into the conv before it
(conv weight W' and bias b'). A conv+BN pair is rebuilt from them by calibration, one layer at a time on a batch of
training images: conv weight = W', then the BN's statistics are set to the batch mean/variance of W'x and its affine
to undo them (gamma = sqrt(var + eps), beta = mean + b'), so the module computes exactly the exported function
(in eval mode, and in train mode on the calibration batch) and trains on from there. Transformer weights, position
embeddings and projections copy by name (MatMul weights, which the exporter renamed, by their order in the graph);
token embeddings copy row by row for the tokens both vocabularies have."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import torch
import torch.nn as nn

from .config import REPO_ROOT, Config
from .runtime import log

FILES = ("semantic_image.onnx", "semantic_text.onnx", "style_image.onnx", "tokenizer.json", "reference.json")


def fetch_pack(cfg: Config) -> str:
    """models/mini of git revision runtime.init_rev, copied into paths.work/init-<rev>."""
    rev = cfg.runtime.init_rev
    out = os.path.join(cfg.path("work"), f"init-{rev}")
    os.makedirs(out, exist_ok=True)
    for f in FILES:
        dst = os.path.join(out, f)
        if os.path.exists(dst):
            continue
        r = subprocess.run(["git", "-C", REPO_ROOT, "show", f"{rev}:models/mini/{f}"], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"warm start: git show {rev}:models/mini/{f} failed ({r.stderr.decode().strip()[-300:]}); "
                               "a clone with history is needed, or set runtime.init_rev = \"\" to train from scratch")
        open(dst + ".tmp", "wb").write(r.stdout)
        os.replace(dst + ".tmp", dst)
    return out


def _onnx(path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return m, init


def _conv_params(model, init):
    """(weight, bias) of every Conv node whose weight the exporter renamed (the folded conv+BN), in graph order."""
    out = []
    for n in model.graph.node:
        if n.op_type == "Conv" and n.input[1].startswith("onnx::"):
            out.append((init[n.input[1]], init[n.input[2]] if len(n.input) > 2 else None))
    return out


def _conv_bn_pairs(module):
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    if len(convs) != len(bns):
        raise ValueError("warm start: every conv must be followed by a BatchNorm")
    return list(zip(convs, bns))


@torch.no_grad()
def _calibrate(net, pairs, params, x):
    if len(pairs) != len(params):
        raise ValueError(f"warm start: {len(pairs)} conv+BN pairs but {len(params)} folded convs in the ONNX file")
    net.eval()
    for (conv, bn), (w, b) in zip(pairs, params):
        conv.weight.copy_(torch.from_numpy(np.array(w)))
        captured = {}
        hook = conv.register_forward_hook(lambda m, i, o: captured.__setitem__("h", o))
        net(x)
        hook.remove()
        h = captured["h"]
        mean = h.mean(dim=(0, 2, 3))
        var = h.var(dim=(0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(mean + (torch.from_numpy(b) if b is not None else 0))
    net.train()


def semantic_image(net, path, x):
    model, init = _onnx(path)
    _calibrate(net, _conv_bn_pairs(net.features), _conv_params(model, init), x)
    with torch.no_grad():
        net.proj.weight.copy_(torch.from_numpy(init["proj.weight"]))
        net.proj.bias.copy_(torch.from_numpy(init["proj.bias"]))


def style_image(net, path, x):
    """The conv stack and the MLP; with a colour branch the MLP sees one more histogram (its columns start at 0)
    and has colour_dim fewer outputs (the first rows are kept); the colour projection starts fresh."""
    model, init = _onnx(path)
    with torch.no_grad():
        w0 = torch.from_numpy(init["mlp.0.weight"])
        nw, nb = torch.from_numpy(init["norm.weight"]), torch.from_numpy(init["norm.bias"])
        old_n = w0.shape[1]
        new_n = net.mlp[0].weight.shape[1]
        extra = new_n - old_n  # the foreground histogram, right after the first histogram (6 + 216 features)
        cut = 6 + 216
        net.mlp[0].weight.zero_()
        net.mlp[0].weight[:, :cut] = w0[:, :cut]
        net.mlp[0].weight[:, cut + extra:] = w0[:, cut:]
        net.mlp[0].bias.copy_(torch.from_numpy(init["mlp.0.bias"]))
        net.norm.weight.fill_(1.0)
        net.norm.bias.zero_()
        net.norm.weight[:cut], net.norm.weight[cut + extra:] = nw[:cut], nw[cut:]
        net.norm.bias[:cut], net.norm.bias[cut + extra:] = nb[:cut], nb[cut:]
        rows = net.mlp[2].weight.shape[0]
        net.mlp[2].weight.copy_(torch.from_numpy(init["mlp.2.weight"])[:rows])
        net.mlp[2].bias.copy_(torch.from_numpy(init["mlp.2.bias"])[:rows])
    _calibrate(net, _conv_bn_pairs(net.convs), _conv_params(model, init), x)


def text_tower(txt, path, old_vocab, new_vocab):
    """Blocks, norms, projection and position embeddings by name; token rows for shared tokens. Returns the count
    of token rows copied."""
    model, init = _onnx(path)
    if txt.tok_up is not None:
        raise ValueError("warm start: the text tower's token table must not be factorised (semantic.text_embed = 0)")
    sd = txt.state_dict()
    with torch.no_grad():
        for name, value in init.items():
            if name in sd and name != "tok.weight":
                sd[name].copy_(torch.from_numpy(value))
        matmuls = [init[n.input[1]] for n in model.graph.node if n.op_type == "MatMul" and n.input[1].startswith("onnx::")]
        names = [f"blocks.{b}.{k}.weight" for b in range(len(txt.blocks)) for k in ("qkv", "o", "ff.0", "ff.2")]
        if len(matmuls) != len(names):
            raise ValueError(f"warm start: {len(matmuls)} MatMul weights for {len(names)} linear layers")
        for n, w in zip(names, matmuls):
            sd[n].copy_(torch.from_numpy(w).t())
        old = {w: i for i, w in enumerate(old_vocab)}
        tok = torch.from_numpy(init["tok.weight"])
        copied = 0
        for i, w in enumerate(new_vocab):
            if w in old:
                sd["tok.weight"][i] = tok[old[w]]
                copied += 1
    txt.load_state_dict(sd)
    return copied


def _image_parity(cfg: Config, d, file, net, x):
    """Max |torch - onnxruntime-node| of the rebuilt image tower (eval mode) against the old pack's ONNX file."""
    from .export import onnxruntime_outputs
    net.eval()
    with torch.no_grad():
        want = net(x).numpy()
    net.train()
    case = {"file": file, "inputs": {"pixels": {"dims": list(x.shape), "data": x.numpy().ravel().tolist(),
                                                "type": "float32"}}, "output": "embedding"}
    try:
        r = onnxruntime_outputs(d, os.path.join(d, "parity_inputs.json"), [case])[0]
    except (RuntimeError, FileNotFoundError) as e:
        log(f"WARNING: warm start parity check not run: {e}")
        return
    diff = float(np.abs(np.array(r["data"], np.float32).reshape(r["dims"]) - want).max())
    log(f"warm start: {file} rebuilt, max |torch - onnxruntime| {diff:.2e}")
    if diff > 1e-3:
        raise RuntimeError(f"warm start: the rebuilt {file} differs from the exported one by {diff:.2e}")


def warm_start_semantic(cfg: Config, img, txt, X, tok_vocab):
    d = fetch_pack(cfg)
    from .text import WordPiece
    old = WordPiece.load(os.path.join(d, "tokenizer.json"))
    rng = np.random.RandomState(cfg.runtime.seed)
    from .data import to_tensor
    x = to_tensor(X[rng.choice(len(X), min(256, len(X)), replace=False)])
    semantic_image(img, os.path.join(d, "semantic_image.onnx"), x)
    _image_parity(cfg, d, "semantic_image.onnx", img, x[:8])
    copied = text_tower(txt, os.path.join(d, "semantic_text.onnx"), old.vocab, tok_vocab)
    # parity with the old pack on its reference texts (every word of them is in both vocabularies)
    ref = json.load(open(os.path.join(d, "reference.json")))
    from .text import WordPiece as WP
    new_tok = WP(tok_vocab)
    texts = [t["text"] for t in ref["texts"][:3]]
    ids, mask = new_tok.batch(texts)
    txt.eval()
    with torch.no_grad():
        got = txt(ids, mask).numpy()
    txt.train()
    want = np.array([t["semantic"] for t in ref["texts"][:3]], np.float32)
    log(f"warm start from {cfg.runtime.init_rev}: semantic towers loaded, {copied}/{len(tok_vocab)} token rows copied; "
        f"text parity on {texts}: max |diff| {np.abs(got - want).max():.2e}")


def warm_start_style(cfg: Config, net, X):
    d = fetch_pack(cfg)
    rng = np.random.RandomState(cfg.runtime.seed + 1)
    from .data import to_tensor
    x = to_tensor(X[rng.choice(len(X), min(256, len(X)), replace=False)])
    style_image(net, os.path.join(d, "style_image.onnx"), x)
    log(f"warm start from {cfg.runtime.init_rev}: style conv stack and MLP loaded"
        f"{' (colour branch fresh)' if net.colour_dim else ''}")
