"""Contrastive losses of the encoder stages and the reconstruction metric of the autoencoder."""
import torch
import torch.nn.functional as F


def clip_loss(a, b, logit_scale):
    """Symmetric InfoNCE between matching rows of a and b."""
    logits = logit_scale * a @ b.t()
    t = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, t) + F.cross_entropy(logits.t(), t))


def supcon(z, labels, temp=0.1):
    """Supervised contrastive loss (Khosla et al.), one view per row, positives = same label."""
    sim = z @ z.t() / temp
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    npos = pos.sum(1).clamp(min=1)
    return -((logp * pos).sum(1) / npos).mean()


def multi_positive_infonce(logits, pos):
    """-log of the softmax mass on each row's positives (text -> image, several positives per text)."""
    logp = logits - torch.logsumexp(logits, 1, keepdim=True)
    return -(torch.logsumexp(logp.masked_fill(~pos, -1e9), 1)).mean()


def psnr(a, b):
    """PSNR in dB of images in [-1, 1] compared in [0, 1], per image, then averaged."""
    mse = (((a.clamp(-1, 1) - b) * 0.5) ** 2).flatten(1).mean(1)
    return float((10 * torch.log10(1.0 / mse.clamp(min=1e-10))).mean())
