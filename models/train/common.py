"""Shared code for training the Parasol `mini` pack: data, tokenizer, models, augmentations, logging."""
import json, math, os, random, sys, time, unicodedata
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("PARASOL_WORK", os.path.join(HERE, "work"))
CORPUS = os.environ.get("PARASOL_CORPUS", os.path.join(WORK, "corpus"))
OUT = os.environ.get("PARASOL_PACK_OUT", os.path.join(HERE, "..", "mini"))
MEAN = [0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5]
MAX_TOKENS = 16
SEED = 1234
HELD_OUT_SETS = ["emojione-monotone", "twemoji", "fxemoji"]


def seed_all(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_torch():
    torch.set_num_threads(int(os.environ.get("PARASOL_THREADS", "2")))
    seed_all()


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------------------- data

def load_items():
    items = []
    with open(os.path.join(CORPUS, "items.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                items.append(json.loads(line))
    return items


def load_png(path):
    from PIL import Image
    im = Image.open(path)
    if im.mode != "RGB":
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im).convert("RGB")
    if im.size != (64, 64):  # contain on white (corpus is already 64x64)
        im.thumbnail((64, 64), Image.BILINEAR)
        bg = Image.new("RGB", (64, 64), (255, 255, 255))
        bg.paste(im, ((64 - im.size[0]) // 2, (64 - im.size[1]) // 2))
        im = bg
    return np.asarray(im, dtype=np.uint8)


def load_images(items):
    """uint8 [N,64,64,3], cached in WORK keyed by the item ids."""
    key = str(abs(hash(tuple(it["id"] for it in items))) % (10 ** 12))
    cache = os.path.join(WORK, f"images_{len(items)}.npz")
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        if str(z["key"]) == key:
            return z["x"]
    log(f"decoding {len(items)} PNGs ...")
    x = np.zeros((len(items), 64, 64, 3), np.uint8)
    for i, it in enumerate(items):
        x[i] = load_png(os.path.join(CORPUS, it["path"]))
    np.savez(cache, x=x, key=np.array(key))
    return x


def to_tensor(x_uint8):
    """uint8 NHWC numpy -> normalised float NCHW tensor."""
    t = torch.from_numpy(np.ascontiguousarray(x_uint8)).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    return (t - m) / s


# ----------------------------------------------------------------------------- augmentation (batched, on normalised tensors)

def affine_aug(x, scale=(0.85, 1.1), trans=0.1, rot=10.0, flip=False):
    """Random scale/translate/rotate(/flip) with white fill. x normalised [B,3,H,W]."""
    B = x.shape[0]
    white = torch.tensor([(1 - m) / s for m, s in zip(MEAN, STD)]).view(1, 3, 1, 1)
    s = torch.empty(B).uniform_(*scale)
    a = torch.empty(B).uniform_(-rot, rot) * math.pi / 180
    tx = torch.empty(B).uniform_(-trans, trans) * 2
    ty = torch.empty(B).uniform_(-trans, trans) * 2
    fx = torch.ones(B)
    if flip:
        fx = torch.where(torch.rand(B) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    theta = torch.stack([torch.stack([cos * fx, -sin, tx], 1), torch.stack([sin * fx, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x - white, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return y + white


def colour_aug(x, p_gray=0.1, strength=0.15):
    """Mild content-preserving photometric jitter (semantic tower only)."""
    B = x.shape[0]
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    u = x * s + m
    g = (u * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    gray = (torch.rand(B, 1, 1, 1) < p_gray).float()
    u = gray * g.expand_as(u) + (1 - gray) * u
    c = 1 + torch.empty(B, 1, 1, 1).uniform_(-strength, strength)
    b = torch.empty(B, 1, 1, 1).uniform_(-strength, strength) * 0.5
    u = ((u - 0.5) * c + 0.5 + b * (u < 0.98).float()).clamp(0, 1)
    return (u - m) / s


# ----------------------------------------------------------------------------- tokenizer (WordPiece, HF tokenizer.json)

def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_ws(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def normalize(text):
    out = []
    for ch in text:  # clean_text
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if _is_ws(ch) else ch)
    text = "".join(out)
    text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)  # handle_chinese_chars
    text = unicodedata.normalize("NFD", text)  # strip_accents
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return text.lower()


def pre_tokenize(text):
    words, cur = [], []
    for ch in text:
        if _is_ws(ch) or ch.isspace():
            if cur:
                words.append("".join(cur)); cur = []
        elif _is_punct(ch):
            if cur:
                words.append("".join(cur)); cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def words_of(text):
    return pre_tokenize(normalize(text))


class WordPiece:
    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.pad, self.unk = self.ids["[PAD]"], self.ids["[UNK]"]

    @classmethod
    def load(cls, path):
        j = json.load(open(path))
        v = j["model"]["vocab"]
        vocab = [None] * len(v)
        for w, i in v.items():
            vocab[i] = w
        return cls(vocab)

    def encode_word(self, w):
        chars = list(w)
        if len(chars) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(chars):
            end, cur = len(chars), None
            while start < end:
                s = "".join(chars[start:end])
                if start > 0:
                    s = "##" + s
                if s in self.ids:
                    cur = self.ids[s]
                    break
                end -= 1
            if cur is None:
                return [self.unk]
            out.append(cur)
            start = end
        return out

    def encode(self, text):
        ids = []
        for w in words_of(text):
            ids.extend(self.encode_word(w))
        return ids

    def batch(self, texts, n=MAX_TOKENS):
        ids = np.full((len(texts), n), self.pad, np.int64)
        mask = np.zeros((len(texts), n), np.int64)
        for i, t in enumerate(texts):
            e = self.encode(t)[:n]
            ids[i, :len(e)] = e
            mask[i, :len(e)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def to_json(self):
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": 0, "content": "[PAD]", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True},
                {"id": 1, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True},
            ],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": True, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": None,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": {w: i for i, w in enumerate(self.vocab)}},
        }


def build_vocab(texts):
    words = {}
    for t in texts:
        for w in words_of(t):
            words[w] = words.get(w, 0) + 1
    base = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    punct = [chr(c) for c in range(33, 127) if _is_punct(chr(c))]
    vocab = ["[PAD]", "[UNK]"] + base + ["##" + c for c in base] + punct
    seen = set(vocab)
    for w in sorted(words, key=lambda w: (-words[w], w)):
        if w not in seen and len(w) <= 100:
            vocab.append(w)
            seen.add(w)
    return vocab


def item_texts(it):
    """Word pool sources of an item: name, short names, keywords."""
    out = [it.get("name") or ""]
    out += [s.replace("_", " ") for s in it.get("shortNames") or []]
    out += [k.replace("_", " ") for k in it.get("keywords") or []]
    return [t for t in out if t]


# ----------------------------------------------------------------------------- models

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
    def __init__(self, vocab_size, dim, width=256, layers=2, max_tokens=MAX_TOKENS):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.zeros(1, max_tokens, width))
        self.blocks = nn.ModuleList([Block(width) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.01)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.to(torch.float32)
        x = self.tok(input_ids) + self.pos[:, : input_ids.shape[1]]
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
    is a soft colour histogram; its square root (Hellinger) joins the statistics."""

    def __init__(self, dim=128, widths=(32, 48, 96, 128, 192), hidden=512, bins=6):
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
        n = 2 * (3 + sum(widths)) + bins ** 3
        self.mlp = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim))
        self.norm = nn.LayerNorm(n)

    @staticmethod
    def stats(h):
        mu = h.mean(dim=(2, 3))
        sd = (h.var(dim=(2, 3), unbiased=False) + 1e-5).sqrt()
        return [mu, sd]

    def soft_hist(self, pixels):
        u = F.avg_pool2d(pixels * self.std + self.mean, 2)
        d = (u * u).sum(1, keepdim=True) - 2 * F.conv2d(u, self.centres) + self.cc
        return (torch.exp(-d * self.inv2s2).mean(dim=(2, 3)) + 1e-6).sqrt()

    def forward(self, pixels):
        feats = self.stats(pixels) + [self.soft_hist(pixels)]
        h = pixels
        for c in self.convs:
            h = c(h)
            feats += self.stats(h)
        z = self.norm(torch.cat(feats, 1))
        return F.normalize(self.mlp(z), dim=-1)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# ----------------------------------------------------------------------------- losses

def clip_loss(a, b, logit_scale):
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


class Progress:
    def __init__(self, name, total, start=0):
        self.name, self.total, self.t0, self.s0 = name, total, time.time(), start

    def __call__(self, step, epoch, loss, extra=""):
        el = time.time() - self.t0
        done = step - self.s0
        rate = done / max(el, 1e-6)
        eta = (self.total - step) / max(rate, 1e-6)
        log(f"[{self.name}] epoch {epoch} step {step}/{self.total} loss {loss:.4f} {extra}"
            f"{rate:.2f} it/s ETA {eta / 60:.1f} min")


def save_ckpt(path, **kw):
    tmp = path + ".tmp"
    torch.save(kw, tmp)
    os.replace(tmp, path)
