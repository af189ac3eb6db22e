"""The encoder towers: semantic image CNN, text transformer (semantic and text-to-style), style network."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import MEAN, STD
from ..text import MAX_TOKENS


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SemanticImage(nn.Module):
    """Small CNN: 4x4/2 patchify stem (64->32), then 3x3 conv stages at 32, 16, 8, 4; global mean pool; linear."""

    def __init__(self, dim=256, widths=(32, 64, 128, 256)):
        super().__init__()
        w = widths
        layers = [nn.Conv2d(3, w[0], 4, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True), conv_bn(w[0], w[0])]
        cin = w[0]
        for c in w[1:]:
            layers += [conv_bn(cin, c, 2), conv_bn(c, c)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, dim)

    def forward(self, pixels):
        h = self.features(pixels)
        h = h.mean(dim=(2, 3))
        return F.normalize(self.proj(h), dim=-1)


class Block(nn.Module):
    def __init__(self, d, heads=4, ff=2):
        super().__init__()
        self.h = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff * d), nn.GELU(), nn.Linear(ff * d, d))

    def forward(self, x, bias):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q = q.reshape(B, T, self.h, D // self.h).transpose(1, 2)
        k = k.reshape(B, T, self.h, D // self.h).transpose(1, 2)
        v = v.reshape(B, T, self.h, D // self.h).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(D // self.h)) + bias
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(y)
        return x + self.ff(self.ln2(x))


class TextTower(nn.Module):
    """Token + position embeddings, pre-LN transformer blocks, masked mean pool, linear. embed > 0 factorises the
    token table (vocab x embed, then a linear map embed -> width) so that a large vocabulary stays small on disk."""

    def __init__(self, vocab_size, dim, width=256, layers=2, max_tokens=MAX_TOKENS, embed=0):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, embed if 0 < embed < width else width)
        self.tok_up = nn.Linear(embed, width, bias=False) if 0 < embed < width else None
        self.pos = nn.Parameter(torch.zeros(1, max_tokens, width))
        self.blocks = nn.ModuleList([Block(width) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.01)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.to(torch.float32)
        t = self.tok(input_ids)
        if self.tok_up is not None:
            t = self.tok_up(t)
        x = t + self.pos[:, : input_ids.shape[1]]
        bias = ((1.0 - m) * -10000.0)[:, None, None, :]
        for b in self.blocks:
            x = b(x, bias)
        x = self.ln(x)
        pooled = (x * m[:, :, None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        return F.normalize(self.proj(pooled), dim=-1)


class StyleNet(nn.Module):
    """ALADIN-style: per-channel mean/std (AdaIN stats over HxW) of the input and of every conv layer,
    concatenated and projected by an MLP. One extra fixed (untrained) layer: Gaussian RBF responses of each
    pixel (2x2-average-pooled, in [0,1] RGB) to a 6x6x6 grid of colour centres, whose per-channel spatial mean
    is a soft colour histogram; its square root (Hellinger) joins the statistics.

    colour_dim > 0 (mini v2): a second soft histogram over the foreground only (pixels not near-white, as a plain
    histogram of the drawing would count them) joins the statistics too, and the output is the concatenation of
    the MLP's (dim - colour_dim)-d unit vector and a colour_dim-d unit vector projected linearly from the two
    square-rooted histograms, weighted sqrt(1 - w) and sqrt(w) with w = sigmoid(learned scalar): cosine
    similarity is then (1 - w) * learned + w * colour, so the colour statistics survive the projection by design
    and training decides how much they count."""

    def __init__(self, dim=128, widths=(32, 48, 96, 128, 192), hidden=512, bins=6, colour_dim=0):
        super().__init__()
        self.convs = nn.ModuleList()
        cin = 3
        for i, c in enumerate(widths):
            self.convs.append(conv_bn(cin, c, 1 if i == 0 else 2))
            cin = c
        g = torch.linspace(0, 1, bins)
        centres = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
        self.register_buffer("centres", centres.reshape(-1, 3, 1, 1).clone())
        self.register_buffer("cc", (centres ** 2).sum(1).reshape(1, -1, 1, 1).clone())
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.inv2s2 = 1.0 / (2 * (0.5 / (bins - 1)) ** 2)
        self.colour_dim = colour_dim
        n = 2 * (3 + sum(widths)) + bins ** 3 * (2 if colour_dim else 1)
        self.mlp = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim - colour_dim))
        self.norm = nn.LayerNorm(n)
        if colour_dim:
            self.colour = nn.Linear(2 * bins ** 3, colour_dim, bias=False)
            nn.init.orthogonal_(self.colour.weight)
            self.colour_mix = nn.Parameter(torch.zeros(()))

    @staticmethod
    def stats(h):
        mu = h.mean(dim=(2, 3))
        sd = (h.var(dim=(2, 3), unbiased=False) + 1e-5).sqrt()
        return [mu, sd]

    def soft_hists(self, pixels):
        """[soft histogram of all pixels] (+ [of the foreground only] with the colour branch): the RBF responses
        are computed once for both."""
        u = F.avg_pool2d(pixels * self.std + self.mean, 2)
        d = (u * u).sum(1, keepdim=True) - 2 * F.conv2d(u, self.centres) + self.cc
        r = torch.exp(-d * self.inv2s2)
        hists = [(r.mean(dim=(2, 3)) + 1e-6).sqrt()]
        if self.colour_dim:
            w = (u.amin(1, keepdim=True) < 0.97).to(r.dtype)  # not near-white
            hists.append(((r * w).sum(dim=(2, 3)) / (w.sum(dim=(2, 3)) + 1e-3) + 1e-6).sqrt())
        return hists

    def forward(self, pixels):
        hists = self.soft_hists(pixels)
        feats = self.stats(pixels) + hists
        h = pixels
        for c in self.convs:
            h = c(h)
            feats += self.stats(h)
        z = self.norm(torch.cat(feats, 1))
        learned = F.normalize(self.mlp(z), dim=-1)
        if not self.colour_dim:
            return learned
        colour = F.normalize(self.colour(torch.cat(hists, 1)), dim=-1)
        w = torch.sigmoid(self.colour_mix)
        return torch.cat([learned * (1 - w).sqrt(), colour * w.sqrt()], 1)
