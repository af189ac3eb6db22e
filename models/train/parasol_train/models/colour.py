"""The style descriptor's colour part from the foreground histogram the style baseline uses (issue 15).

style_colour_study.py (--hard) measured why the style tower lost to a plain colour histogram on unseen emoji sets:
its colour layer is a soft 6x6x6 histogram (Gaussian responses, sigma half a bin) that smears neighbouring colours
together, while the baseline counts pixels in hard 8x8x8 bins over the foreground (any channel below 250). That
histogram, on its principal axes over the training images, beside the tower's learned part wins on validation and on
the held-out sets (models/mini/CARD.md). These modules compute it inside the exported graph (a few ONNX ops: bin
one-hots, a masked outer product, a matrix product), so a pack's style_image.onnx gives it from the same pixels.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import MEAN, STD

BINS = 8  # per channel: 8x8x8 = 512 colour cells, bin width 32 of 256 levels
WHITE = 250  # a pixel whose every channel is at least this is background (paper white)


class ForegroundHistogram(nn.Module):
    """Normalised pixels [B, 3, H, W] (the encoders' input) -> L1-normalised hard colour histogram of the foreground
    pixels [B, 512], cell r * 64 + g * 8 + b for levels // 32: the same numbers as stages.metrics.hist_feat(X, True)
    on the uint8 image. An image without foreground (all white) gives zeros."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.register_buffer("levels", torch.arange(BINS, dtype=torch.float32).view(1, BINS, 1))

    def forward(self, pixels):
        # The 0-255 levels back (rounded: the input is (x / 255 - mean) / std of an 8-bit image).
        x = torch.round((pixels * self.std + self.mean) * 255.0).clamp(0, 255)
        b, _, h, w = x.shape
        q = torch.floor(x / (256 // BINS)).reshape(b, 3, h * w)
        fg = (x.amin(1).reshape(b, 1, h * w) < WHITE).to(x.dtype)
        r, g, bl = [(q[:, c:c + 1, :] == self.levels).to(x.dtype) for c in range(3)]  # [B, 8, HW] one-hot each
        rg = (r.unsqueeze(2) * g.unsqueeze(1)).reshape(b, BINS * BINS, h * w)  # [B, 64, HW]
        hist = torch.matmul(rg, (bl * fg).transpose(1, 2)).reshape(b, BINS ** 3)  # [B, 512]
        return hist / hist.sum(1, keepdim=True).clamp(min=1.0)


class ColourPart(nn.Module):
    """The foreground histogram on fixed principal axes (fitted on training images, no labels), as a unit vector."""

    def __init__(self, mean: np.ndarray, axes: np.ndarray):
        super().__init__()
        self.hist = ForegroundHistogram()
        self.register_buffer("centre", torch.as_tensor(mean, dtype=torch.float32).view(1, -1))
        self.register_buffer("axes", torch.as_tensor(axes, dtype=torch.float32))

    @property
    def dim(self) -> int:
        return int(self.axes.shape[1])

    def forward(self, pixels):
        return F.normalize(torch.matmul(self.hist(pixels) - self.centre, self.axes), dim=-1)


def fit_axes(hists: np.ndarray, dim: int, centred: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Principal axes of a sample of vectors: (mean, axes [n, dim]); uncentred, the mean is 0 (cosine on the axes
    then approximates the vectors' own cosine)."""
    mean = hists.mean(0) if centred else np.zeros(hists.shape[1], hists.dtype)
    _, _, vt = np.linalg.svd(hists - mean, full_matrices=False)
    return mean.astype(np.float32), vt[:dim].T.astype(np.float32)


class StyleDescriptor(nn.Module):
    """The style tower's learned part (its MLP's unit vector) beside the colour part, weighted sqrt(1 - w) and
    sqrt(w): cosine = (1 - w) * learned + w * colour. The tower's own colour branch, if it has one, is dropped.
    `learned_axes` (mean, axes): the learned part on its principal axes over training images, as a unit vector,
    so that both parts fit a given width (64 + 64 in the tower's own 128)."""

    def __init__(self, net: nn.Module, colour: ColourPart, w: float, learned_axes: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__()
        self.net = net
        self.colour = colour
        self.tower_dim = int(net.mlp[-1].out_features)
        self.register_buffer("w", torch.tensor(float(w)))
        if learned_axes is not None:
            self.register_buffer("learned_centre", torch.as_tensor(learned_axes[0], dtype=torch.float32).view(1, -1))
            self.register_buffer("learned_axes", torch.as_tensor(learned_axes[1], dtype=torch.float32))
        else:
            self.learned_axes = None

    @property
    def learned_dim(self) -> int:
        return self.tower_dim if self.learned_axes is None else int(self.learned_axes.shape[1])

    @property
    def dim(self) -> int:
        return self.learned_dim + self.colour.dim

    def learned(self, pixels):
        """The tower's learned part as a unit vector (on its axes, if any)."""
        learned = F.normalize(self.net(pixels)[:, : self.tower_dim], dim=-1)
        if self.learned_axes is not None:
            learned = F.normalize(torch.matmul(learned - self.learned_centre, self.learned_axes), dim=-1)
        return learned

    def forward(self, pixels):
        return torch.cat([self.learned(pixels) * (1 - self.w).sqrt(), self.colour(pixels) * self.w.sqrt()], 1)
