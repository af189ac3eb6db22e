"""Shared code for the mini PARASOL generator (models/mini: unet.onnx, vae_*.onnx, projector.onnx).

Stages (models/train/run_generator.sh runs them in order, each resumable):
  train_vae.py        autoencoder E/D: 64x64x3 in [-1, 1] <-> 4x16x16 latent (small KL), then frozen
  triplets.py         (x, y, s) by cross-modal search over the frozen encoders' embeddings (train split only)
  train_unet.py       latent UNet (eps-prediction, T = 1000) + style projector M, L = L_DM + w_s L_s + w_y L_y
  export_generator.py ONNX export, reference outputs, pack.json `parasol` block, samples, timing, card numbers

Everything here reads the corpus export (WORK/corpus) and the encoder checkpoints (WORK/semantic.pt,
WORK/style.pt) through common.py; nothing is written outside WORK/gen and the pack folder.
"""
import json, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the encoder pack's shared code: paths, PNG loading, encoder classes)

WORK = common.WORK
CORPUS = common.CORPUS
OUT = common.OUT
GEN = os.environ.get("PARASOL_GEN_WORK", os.path.join(WORK, "gen"))
CACHE = os.environ.get("PARASOL_GEN_CACHE", os.path.join(WORK, "gen"))  # decoded-image caches (shared by smoke runs)
SEED = int(os.environ.get("GEN_SEED", "20261129"))

LATENT = (4, 16, 16)
IMAGE = 64
T = 1000
SCHEDULE = {"kind": "linear", "betaStart": 0.00085, "betaEnd": 0.012}

VAE_CKPT = os.path.join(GEN, "vae.pt")
TRIPLETS = os.path.join(GEN, "triplets.npz")
UNET_CKPT = os.path.join(GEN, "unet.pt")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def setup(seed=SEED):
    torch.set_num_threads(int(os.environ.get("PARASOL_THREADS", "2")))
    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))
    os.makedirs(GEN, exist_ok=True)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


class Progress:
    """step, loss, rate, ETA lines."""

    def __init__(self, name, total, start=0):
        self.name, self.total, self.start = name, total, start
        self.t0 = time.time()

    def line(self, step, **vals):
        dt = max(time.time() - self.t0, 1e-6)
        rate = (step - self.start) / dt
        eta = (self.total - step) / rate / 60 if rate > 0 else float("nan")
        v = " ".join(f"{k} {x:.4f}" if isinstance(x, float) else f"{k} {x}" for k, x in vals.items())
        log(f"[{self.name}] step {step}/{self.total} {v} {rate:.2f} it/s ETA {eta:.1f} min")


# ----------------------------------------------------------------------------- data

def load_corpus_items():
    return common.load_items()


def load_split_images(split_filter, tag):
    """(items, uint8 [N,64,64,3]) of the corpus items whose split passes split_filter; cached in GEN."""
    items = [it for it in load_corpus_items() if split_filter(it["split"])]
    ids = "\n".join(it["id"] for it in items)
    import hashlib
    key = hashlib.sha1(ids.encode()).hexdigest()
    os.makedirs(CACHE, exist_ok=True)
    cache = os.path.join(CACHE, f"images_{tag}.npz")
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        if str(z["key"]) == key:
            return items, z["x"]
    log(f"decoding {len(items)} PNGs ({tag}) ...")
    x = np.zeros((len(items), IMAGE, IMAGE, 3), np.uint8)
    for i, it in enumerate(items):
        x[i] = common.load_png(os.path.join(CORPUS, it["path"]))
    np.savez(cache + ".tmp.npz", x=x, key=np.array(key))
    os.replace(cache + ".tmp.npz", cache)
    return items, x


def train_images():
    return load_split_images(lambda s: s == "train", "train")


def heldout_images():
    return load_split_images(lambda s: s != "train", "heldout")


def to_pm1(x_uint8):
    """uint8 NHWC -> float NCHW in [-1, 1] (the VAE's pixels)."""
    t = torch.from_numpy(np.ascontiguousarray(x_uint8)).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0


def to_uint8(x_pm1):
    """float NCHW in [-1, 1] -> uint8 NHWC."""
    u = ((x_pm1.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u.permute(0, 2, 3, 1).numpy()


# ----------------------------------------------------------------------------- frozen encoders (A: style, C: semantic)

def encoder_preprocess():
    """mean/std the pack declares for its image encoders (pack.json when present, else common.py's)."""
    p = os.path.join(OUT, "pack.json")
    if os.path.exists(p):
        pk = json.load(open(p))
        if "semantic" in pk and "style" in pk:
            a = pk["semantic"]["image"]["preprocess"]
            b = pk["style"]["image"]["preprocess"]
            return (a["mean"], a["std"]), (b["mean"], b["std"])
    return (common.MEAN, common.STD), (common.MEAN, common.STD)


class Preprocessed(nn.Module):
    """pixels in [-1, 1] -> the encoder's normalisation ((v - mean) / std with v in [0, 1]) -> frozen encoder."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x_pm1):
        return self.net(((x_pm1 + 1) * 0.5 - self.mean) / self.std)


def load_encoders(random_ok=False):
    """The frozen semantic (C) and style (A) image encoders, taking [-1, 1] pixels.
    GEN_RANDOM_ENCODERS=1 (smoke tests only) uses seeded random ones when the checkpoints are missing."""
    rnd = os.environ.get("GEN_RANDOM_ENCODERS") == "1" or random_ok
    (sm, ss), (tm, ts) = encoder_preprocess()
    nets, tags = {}, []
    for name, make, key in (("semantic", lambda: common.SemanticImage(256), "img"), ("style", lambda: common.StyleNet(128), "net")):
        torch.manual_seed(7 if name == "semantic" else 8)
        net = nets[name] = make()
        path = os.path.join(os.environ.get("GEN_ENCODER_DIR", WORK), f"{name}.pt")
        if os.path.exists(path) and not os.environ.get("GEN_FORCE_RANDOM_ENCODERS"):
            ck = torch.load(path, map_location="cpu")
            try:
                net.load_state_dict(ck[key])
                if not ck.get("done"):
                    if not rnd:
                        raise RuntimeError(f"{path}: the {name} encoder has not finished training (no 'done' flag)")
                    log(f"WARNING {name}.pt is not finished (step {ck.get('step')}); smoke run only")
                import hashlib
                h = hashlib.sha1()
                for k_, v_ in sorted(ck[key].items()):
                    h.update(k_.encode()); h.update(v_.detach().cpu().numpy().tobytes())
                tags.append(f"{name}@{ck.get('step')}:{h.hexdigest()[:12]}")
                continue
            except RuntimeError as e:
                if not rnd:
                    raise
                log(f"WARNING {name}.pt does not fit ({str(e)[:120]}); random encoder (smoke)")
        elif not rnd:
            raise FileNotFoundError(f"{path}: the encoder checkpoint is missing (train the encoders first)")
        torch.manual_seed(7 if name == "semantic" else 8)
        nets[name] = make()
        tags.append(f"{name}@random")
    C = Preprocessed(nets["semantic"], sm, ss).eval()
    A = Preprocessed(nets["style"], tm, ts).eval()
    for m in (C, A):
        for p in m.parameters():
            p.requires_grad_(False)
    return C, A, ";".join(tags)


@torch.no_grad()
def embed_all(model, X_uint8, bs=256):
    out = []
    for i in range(0, len(X_uint8), bs):
        out.append(model(to_pm1(X_uint8[i:i + bs])))
    return torch.cat(out)


# ----------------------------------------------------------------------------- autoencoder

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
    """64x64x3 -> (mean, logvar) of a 4x16x16 Gaussian posterior. forward() returns the mean (the ONNX model)."""

    def __init__(self, ch=(32, 64, 96)):
        super().__init__()
        c0, c1, c2 = ch
        self.inp = nn.Conv2d(3, c0, 3, padding=1)
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)  # 32x32
        self.res1 = ResBlock(c1, c1)
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)  # 16x16
        self.res2 = ResBlock(c2, c2)
        self.res3 = ResBlock(c2, c2)
        self.norm = gn(c2)
        self.out = nn.Conv2d(c2, 2 * LATENT[0], 3, padding=1)

    def moments(self, x):
        h = F.silu(self.inp(x))
        h = self.res1(self.down1(h))
        h = self.res3(self.res2(self.down2(h)))
        mean, logvar = self.out(F.silu(self.norm(h))).chunk(2, dim=1)
        return mean, logvar.clamp(-20.0, 4.0)

    def forward(self, pixels):
        return self.moments(pixels)[0]


class VaeDecoder(nn.Module):
    """4x16x16 -> 64x64x3 in [-1, 1] (tanh); the last 2x upsampling is a sub-pixel (pixel-shuffle) convolution."""

    def __init__(self, ch=(96, 64, 16)):
        super().__init__()
        c0, c1, c2 = ch
        self.inp = nn.Conv2d(LATENT[0], c0, 3, padding=1)
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


def load_vae():
    ck = torch.load(VAE_CKPT, map_location="cpu")
    if not ck.get("done"):
        raise RuntimeError(f"{VAE_CKPT}: the autoencoder has not finished training")
    enc, dec = VaeEncoder(), VaeDecoder()
    enc.load_state_dict(ck["enc"])
    dec.load_state_dict(ck["dec"])
    enc.eval(); dec.eval()
    for m in (enc, dec):
        for p in m.parameters():
            p.requires_grad_(False)
    return enc, dec, float(ck["scale"])


# ----------------------------------------------------------------------------- denoiser

class TimestepEmbedding(nn.Module):
    def __init__(self, dim, out):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, out), nn.SiLU(), nn.Linear(out, out))

    def forward(self, t):
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
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
    """eps(z_t, t, c_y, m_s) over 4x16x16 latents: 16 -> 8 -> 4 -> 8 -> 16, ResBlocks with a (timestep +
    condition) scale-shift embedding, cross-attention on the two condition tokens at every level, self-attention
    at 4x4. Where a mask is 0 the modality's token is the learned null token (exactly: m*proj(c) + (1-m)*null)."""

    def __init__(self, sem_dim=256, ch=(64, 128, 128), token=128, emb=256):
        super().__init__()
        c0, c1, c2 = ch
        self.temb = TimestepEmbedding(128, emb)
        self.content_proj = nn.Sequential(nn.Linear(sem_dim, token), nn.SiLU(), nn.Linear(token, token))
        self.style_proj = nn.Sequential(nn.Linear(sem_dim, token), nn.SiLU(), nn.Linear(token, token))
        self.null_content = nn.Parameter(torch.randn(token) * 0.1)
        self.null_style = nn.Parameter(torch.randn(token) * 0.1)
        self.tok_norm = nn.LayerNorm(token)
        self.cond_emb = nn.Linear(2 * token, emb)
        self.inp = nn.Conv2d(LATENT[0], c0, 3, padding=1)
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
        self.out = nn.Conv2d(c0, LATENT[0], 3, padding=1)
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


# ----------------------------------------------------------------------------- schedule and sampling (mirrors src/parasol/schedule.ts)

def betas_np(T_=T, spec=SCHEDULE):
    if spec["kind"] == "linear":
        return np.linspace(spec["betaStart"], spec["betaEnd"], T_, dtype=np.float64)
    return np.linspace(spec["betaStart"] ** 0.5, spec["betaEnd"] ** 0.5, T_, dtype=np.float64) ** 2


def alphas_cumprod():
    return np.cumprod(1.0 - betas_np())


def sampling_timesteps(steps, T_=T):
    stride = T_ / steps
    return [int(round(T_ - i * stride)) - 1 for i in range(steps)]


def sampling_plan(steps):
    ac = alphas_cumprod()
    ts = sampling_timesteps(steps)
    plan = []
    for i, t in enumerate(ts):
        tp = ts[i + 1] if i + 1 < len(ts) else -1
        ab = ac[t]
        abp = ac[tp] if tp >= 0 else 1.0
        alpha = ab / abp
        beta = 1 - alpha
        var = (1 - abp) / (1 - ab) * beta
        plan.append(dict(t=t, tp=tp, x0_x=1 / math.sqrt(ab), x0_e=math.sqrt(1 - ab) / math.sqrt(ab),
                         mu_x0=math.sqrt(abp) * beta / (1 - ab), mu_x=math.sqrt(alpha) * (1 - abp) / (1 - ab),
                         sigma=math.sqrt(max(var, 0.0)) if tp >= 0 else 0.0, ab=ab))
    return plan


@torch.no_grad()
def guided_eps(unet, x, t, content, style, g_s, g_y):
    """eps = eps(0,0) + g_s [eps(m,0) - eps(0,0)] + g_y [eps(0,c) - eps(0,0)], one batched call of 3N rows."""
    n = x.shape[0]
    one, zero = torch.ones(n), torch.zeros(n)
    out = unet(torch.cat([x, x, x]), torch.full((3 * n,), float(t)), torch.cat([content] * 3), torch.cat([style] * 3),
               torch.cat([zero, zero, one]), torch.cat([zero, one, zero]))
    e0, es, ec = out.chunk(3)
    return e0 + g_s * (es - e0) + g_y * (ec - e0)


def step_mean(st, x, eps):
    x0 = st["x0_x"] * x - st["x0_e"] * eps
    return st["mu_x0"] * x0 + st["mu_x"] * x


@torch.no_grad()
def sample_from_noise(unet, content, style, steps=25, g_s=3.0, g_y=3.0, seed=0):
    """DDPM (trailing spacing, as the TypeScript sampler) from seeded noise; returns clean latents."""
    gen = torch.Generator().manual_seed(seed)
    n = content.shape[0]
    x = torch.randn((n, *LATENT), generator=gen)
    for st in sampling_plan(steps):
        eps = guided_eps(unet, x, st["t"], content, style, g_s, g_y)
        x = step_mean(st, x, eps)
        if st["sigma"] > 0:
            x = x + st["sigma"] * torch.randn(x.shape, generator=gen)
    return x


@torch.no_grad()
def invert_and_sample(unet, z0, content, own_style, target_style, lam, steps=25, g_s=3.0, g_y=3.0, seed=0):
    """PARASOL: edit-friendly DDPM inversion of z0 under y's own conditions, then the reverse process with the
    own style for the first `lam` steps and the target style after (mirrors src/parasol/invert.ts + sampler.ts)."""
    gen = torch.Generator().manual_seed(seed)
    plan = sampling_plan(steps)
    noisy = []
    for st in plan:
        noisy.append(math.sqrt(st["ab"]) * z0 + math.sqrt(1 - st["ab"]) * torch.randn(z0.shape, generator=gen))
    maps = []
    for i, st in enumerate(plan):
        eps = guided_eps(unet, noisy[i], st["t"], content, own_style, g_s, g_y)
        target = noisy[i + 1] if i + 1 < len(plan) else z0
        scale = st["sigma"] if st["sigma"] > 0 else 1.0
        maps.append((target - step_mean(st, noisy[i], eps)) / scale)
    x = noisy[0].clone()
    for i, st in enumerate(plan):
        style = own_style if i < lam else target_style
        eps = guided_eps(unet, x, st["t"], content, style, g_s, g_y)
        scale = st["sigma"] if st["sigma"] > 0 else 1.0
        x = step_mean(st, x, eps) + scale * maps[i]
    return x


class EMA:
    def __init__(self, model, decay):
        import copy
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
