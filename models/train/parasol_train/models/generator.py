"""The PARASOL generator: autoencoder (VAE encoder/decoder), latent UNet with two condition tokens, style
projector, and the EMA of weights the export uses."""
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LATENT_SIZE = 16  # the latent's spatial size: the autoencoder downsamples 64 px by 4


def latent_shape(channels: int) -> tuple[int, int, int]:
    """[C, 16, 16]: the autoencoder's latent for `generator.vae.latent_channels` = C."""
    return (channels, LATENT_SIZE, LATENT_SIZE)


def gn(ch):
    return nn.GroupNorm(8 if ch % 8 == 0 else 4, ch)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv x2 with an optional timestep/condition embedding (scale-shift) and a 1x1 skip."""

    def __init__(self, cin, cout, emb=0, drop=0.0):
        super().__init__()
        self.n1 = gn(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout) if emb else None
        self.n2 = gn(cout)
        self.drop = nn.Dropout(drop) if drop else nn.Identity()
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x, e=None):
        h = self.c1(F.silu(self.n1(x)))
        h = self.n2(h)
        if self.emb is not None:
            scale, shift = self.emb(F.silu(e)).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = self.c2(self.drop(F.silu(h)))
        return self.skip(x) + h


class VaeEncoder(nn.Module):
    """64x64x3 -> (mean, logvar) of a Cx16x16 Gaussian posterior. forward() returns the mean (the ONNX model)."""

    def __init__(self, ch=(32, 64, 96), latent=4):
        super().__init__()
        c0, c1, c2 = ch
        self.inp = nn.Conv2d(3, c0, 3, padding=1)
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)  # 32x32
        self.res1 = ResBlock(c1, c1)
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)  # 16x16
        self.res2 = ResBlock(c2, c2)
        self.res3 = ResBlock(c2, c2)
        self.norm = gn(c2)
        self.out = nn.Conv2d(c2, 2 * latent, 3, padding=1)

    def moments(self, x):
        h = F.silu(self.inp(x))
        h = self.res1(self.down1(h))
        h = self.res3(self.res2(self.down2(h)))
        mean, logvar = self.out(F.silu(self.norm(h))).chunk(2, dim=1)
        return mean, logvar.clamp(-20.0, 4.0)

    def forward(self, pixels):
        return self.moments(pixels)[0]


class VaeDecoder(nn.Module):
    """Cx16x16 -> 64x64x3 in [-1, 1] (tanh); the last 2x upsampling is a sub-pixel (pixel-shuffle) convolution."""

    def __init__(self, ch=(96, 64, 16), latent=4):
        super().__init__()
        c0, c1, c2 = ch
        self.inp = nn.Conv2d(latent, c0, 3, padding=1)
        self.res1 = ResBlock(c0, c0)
        self.res2 = ResBlock(c0, c0)
        self.up1 = nn.Conv2d(c0, c1, 3, padding=1)  # after 2x nearest: 32x32
        self.res3 = ResBlock(c1, c1)
        self.res4 = ResBlock(c1, c1)
        self.norm1 = gn(c1)
        self.up2 = nn.Conv2d(c1, 4 * c2, 3, padding=1)  # pixel shuffle -> c2 x 64x64
        self.norm2 = nn.GroupNorm(4, c2)
        self.out = nn.Conv2d(c2, 3, 3, padding=1)

    def forward(self, latent):
        h = self.res2(self.res1(self.inp(latent)))
        h = self.res4(self.res3(self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest"))))
        h = F.pixel_shuffle(self.up2(F.silu(self.norm1(h))), 2)
        return torch.tanh(self.out(F.silu(self.norm2(h))))


# ----------------------------------------------------------------------------- denoiser

class TimestepEmbedding(nn.Module):
    def __init__(self, dim, out):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, out), nn.SiLU(), nn.Linear(out, out))
        half = dim // 2
        # a buffer, so it moves with the module (.to(device)) and is computed once, not at every denoising step;
        # not persistent, so checkpoints are as before
        self.register_buffer("freqs", torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half),
                             persistent=False)

    def forward(self, t):
        args = t.float().unsqueeze(1) * self.freqs.unsqueeze(0)
        return self.mlp(torch.cat([torch.sin(args), torch.cos(args)], dim=1))


class CrossAttention(nn.Module):
    """Every position attends over the condition tokens (content, style). Multi-head, pre-norm, residual."""

    def __init__(self, ch, token_dim, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = gn(ch)
        self.q = nn.Linear(ch, ch, bias=False)
        self.k = nn.Linear(token_dim, ch, bias=False)
        self.v = nn.Linear(token_dim, ch, bias=False)
        self.out = nn.Linear(ch, ch)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, tokens):
        b, c, h, w = x.shape
        d = c // self.heads
        q = self.q(self.norm(x).flatten(2).transpose(1, 2))  # [B, HW, C]
        q = q.reshape(b, h * w, self.heads, d).transpose(1, 2)  # [B, H, HW, d]
        k = self.k(tokens).reshape(b, -1, self.heads, d).transpose(1, 2)  # [B, H, n, d]
        v = self.v(tokens).reshape(b, -1, self.heads, d).transpose(1, 2)
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)), dim=-1)
        o = torch.matmul(attn, v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.out(o).transpose(1, 2).reshape(b, c, h, w)


class SelfAttention(nn.Module):
    def __init__(self, ch, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = gn(ch)
        self.qkv = nn.Linear(ch, 3 * ch, bias=False)
        self.out = nn.Linear(ch, ch)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        d = c // self.heads
        qkv = self.qkv(self.norm(x).flatten(2).transpose(1, 2)).reshape(b, h * w, 3, self.heads, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, HW, d]
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)), dim=-1)
        o = torch.matmul(attn, v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.out(o).transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """eps(z_t, t, c_y, m_s) over Cx16x16 latents: 16 -> 8 -> 4 -> 8 -> 16, ResBlocks with a (timestep +
    condition) scale-shift embedding, cross-attention on the two condition tokens at every level, self-attention
    at 4x4. Where a mask is 0 the modality's token is the learned null token (exactly: m*proj(c) + (1-m)*null)."""

    def __init__(self, sem_dim=256, ch=(64, 128, 128), token=128, emb=256, latent=4):
        super().__init__()
        c0, c1, c2 = ch
        self.temb = TimestepEmbedding(128, emb)
        self.content_proj = nn.Sequential(nn.Linear(sem_dim, token), nn.SiLU(), nn.Linear(token, token))
        self.style_proj = nn.Sequential(nn.Linear(sem_dim, token), nn.SiLU(), nn.Linear(token, token))
        self.null_content = nn.Parameter(torch.randn(token) * 0.1)
        self.null_style = nn.Parameter(torch.randn(token) * 0.1)
        self.tok_norm = nn.LayerNorm(token)
        self.cond_emb = nn.Linear(2 * token, emb)
        self.inp = nn.Conv2d(latent, c0, 3, padding=1)
        self.d1 = ResBlock(c0, c0, emb)
        self.a1 = CrossAttention(c0, token)
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)  # 8x8
        self.d2 = ResBlock(c1, c1, emb)
        self.a2 = CrossAttention(c1, token)
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)  # 4x4
        self.m1 = ResBlock(c2, c2, emb)
        self.ms = SelfAttention(c2)
        self.ma = CrossAttention(c2, token)
        self.m2 = ResBlock(c2, c2, emb)
        self.u2 = ResBlock(c2 + c1, c1, emb)  # 8x8, skip from d2
        self.ua2 = CrossAttention(c1, token)
        self.u1 = ResBlock(c1 + c0, c0, emb)  # 16x16, skip from d1
        self.ua1 = CrossAttention(c0, token)
        self.norm_out = gn(c0)
        self.out = nn.Conv2d(c0, latent, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def tokens(self, content, style, content_mask, style_mask):
        cm = content_mask.unsqueeze(1)
        sm = style_mask.unsqueeze(1)
        ct = cm * self.content_proj(content) + (1.0 - cm) * self.null_content.unsqueeze(0)
        st = sm * self.style_proj(style) + (1.0 - sm) * self.null_style.unsqueeze(0)
        return ct, st

    def forward(self, latent, timestep, content, style, content_mask, style_mask):
        ct, st = self.tokens(content, style, content_mask, style_mask)
        e = self.temb(timestep) + self.cond_emb(torch.cat([ct, st], dim=1))
        tok = self.tok_norm(torch.stack([ct, st], dim=1))
        h0 = self.inp(latent)
        h1 = self.a1(self.d1(h0, e), tok)
        h2 = self.a2(self.d2(self.down1(h1), e), tok)
        h = self.m1(self.down2(h2), e)
        h = self.ma(self.ms(h), tok)
        h = self.m2(h, e)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.ua2(self.u2(torch.cat([h, h2], dim=1), e), tok)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.ua1(self.u1(torch.cat([h, h1], dim=1), e), tok)
        return self.out(F.silu(self.norm_out(h)))


class Projector(nn.Module):
    """M: style vector a_s (style.dim) -> m_s in the semantic space (unit length, like c_y)."""

    def __init__(self, style_dim=128, sem_dim=256, hidden=256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(style_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, sem_dim))

    def forward(self, style):
        return F.normalize(self.net(style), dim=-1)


class Generator(nn.Module):
    """The UNet and the projector, trained (and checkpointed) together."""

    def __init__(self, latent=4, ch=(64, 128, 128), style_dim=128):
        super().__init__()
        self.unet = UNet(ch=tuple(ch), latent=latent)
        self.proj = Projector(style_dim=style_dim)


class EpsilonFromV(nn.Module):
    """A v-predicting UNet seen as an epsilon-predicting one: eps = sqrt(abar_t) v + sqrt(1 - abar_t) z_t, with
    abar_t looked up from the schedule at the (integer-valued) timestep. Exported this way, unet.onnx outputs
    epsilon whatever the network learnt, and the engine's sampler (guidance, inversion) stays as it is: guidance
    weights sum to 1, so guiding the v's and converting equals converting and guiding the eps's."""

    def __init__(self, unet: nn.Module, alphas_cumprod):
        super().__init__()
        self.unet = unet
        ac = torch.as_tensor(alphas_cumprod, dtype=torch.float32)
        self.register_buffer("sqrt_ab", ac.sqrt(), persistent=False)
        self.register_buffer("sqrt_1m_ab", (1 - ac).sqrt(), persistent=False)

    @property
    def out(self):  # the sampler reads the latent's channels from the output convolution
        return self.unet.out

    def forward(self, latent, timestep, content, style, content_mask, style_mask):
        v = self.unet(latent, timestep, content, style, content_mask, style_mask)
        t = timestep.round().long().clamp(0, self.sqrt_ab.shape[0] - 1)
        return self.sqrt_ab[t].view(-1, 1, 1, 1) * v + self.sqrt_1m_ab[t].view(-1, 1, 1, 1) * latent


def epsilon_model(unet: nn.Module, prediction: str, alphas_cumprod) -> nn.Module:
    """The UNet as the engine calls it (epsilon out), for a network trained to predict `prediction`."""
    if prediction == "epsilon":
        return unet
    if prediction == "v":
        return EpsilonFromV(unet, alphas_cumprod)
    raise ValueError(f"unknown prediction {prediction!r}")


def make_vae(c) -> tuple["VaeEncoder", "VaeDecoder"]:
    """The autoencoder of a `generator.vae` config section."""
    return (VaeEncoder(tuple(c.enc_channels), c.latent_channels),
            VaeDecoder(tuple(c.dec_channels), c.latent_channels))


def make_generator(g, style_dim: int = 128) -> Generator:
    """The UNet + projector of a `generator` config section; the projector takes the style descriptor's width
    (config.style_dim: 128, or 224 with the foreground colour part)."""
    return Generator(g.vae.latent_channels, tuple(g.unet.channels), style_dim)


class EMA:
    def __init__(self, model, decay):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model, step):
        d = min(self.decay, (1 + step) / (10 + step))
        for pe, p in zip(self.model.parameters(), model.parameters()):
            pe.mul_(d).add_(p.detach(), alpha=1 - d)
        for be, b in zip(self.model.buffers(), model.buffers()):
            be.copy_(b)
