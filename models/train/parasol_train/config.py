"""The one configuration: a dataclass tree loaded from a TOML file, with `section.key=value` overrides.

Relative paths are relative to models/train (the folder holding this package), so a config file works from
any current directory. Every stage reads its hyperparameters from here; nothing reads environment variables.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(TRAIN_DIR))


@dataclass
class Paths:
    work: str = "work"  # checkpoints, caches, logs
    corpus: str = "work/corpus"  # `parasol corpus export --size 64` output (items.jsonl + PNGs)
    # `parasol corpus export --corpus artwork --size 64` output (Open Clip Art); "" trains on emoji only
    artwork: str = ""
    artwork_data: str = "work/data"  # the data dir `parasol corpus fetch openclipart --data` unpacks into
    pack: str = "../mini"  # where the exported pack is written
    gen: str = "work/gen"  # generator checkpoints and caches
    style_descriptions: str = "style_descriptions.json"
    limits: str = "LIMITS.md"  # quoted in the card
    generator_card: str = "CARD_GENERATOR.md"  # appended to the card
    card_preface: str = ""  # a markdown file placed right after the card's title ("" = none)


@dataclass
class Runtime:
    threads: int = 2
    seed: int = 1234  # encoders (prepare, semantic, style, style_text)
    subset: int = 0  # > 0: train on a seeded random sample of this many corpus items (smoke runs)
    wordnet: bool = False  # WordNet synonyms/hypernyms as caption augmentation (and in the vocabulary)
    # true: train on every item, held-out splits included (the shipped pack); the metrics then measure training data
    all_data: bool = False
    # a git revision whose models/mini encoders the semantic and style towers start from ("" = from scratch)
    init_rev: str = ""
    style_min_works: int = 20  # artists with at least this many drawings are style labels
    random_encoders: bool = False  # generator stages may use seeded random encoders when checkpoints are missing
    # the generator stages' device (vae, triplets, unet): cpu, cuda, or auto (cuda when torch sees one); the encoder
    # stages always train on the CPU
    device: str = "auto"
    amp: bool = False  # bf16 autocast of the generator stages' forward passes, on CUDA only (ignored on the CPU)


@dataclass
class Semantic:
    steps: int = 800
    batch: int = 128  # codepoints per step (two renderings each)
    artwork_batch: int = 0  # artwork drawings per step (one view each, image-text loss only)
    wordnet_p: float = 0.0  # chance that a caption gets WordNet substitutions (needs runtime.wordnet)
    text_embed: int = 0  # > 0: factorised token embedding of this width (vocab x e, then e -> width)
    lr: float = 2e-3
    warmup: int = 100
    log_every: int = 20
    ckpt_every: int = 100


@dataclass
class Style:
    steps: int = 500
    classes: int = 12  # style classes per batch (half real sets, half palette pseudo-styles)
    per_class: int = 12  # items per class
    artist_classes: int = 0  # of the real classes per batch, this many are artwork artists (the rest emoji sets)
    colour_dim: int = 0  # > 0: this many of the output dims are a learned projection of the soft colour histograms
    # The descriptor's colour part: "trained" (the tower's own, above) or "foreground" (the baseline's hard 8x8x8
    # foreground histogram on its colour_axes principal axes over the train split, beside the tower's learned part,
    # weighted by colour_w; fitted by the style_colour stage; models/train/parasol_train/models/colour.py).
    colour_head: str = "trained"
    colour_axes: int = 128
    colour_w: float = 0.3
    colour_fit: int = 8000  # train-split images the axes are fitted on
    learned_axes: int = 0  # "foreground" only: > 0 puts the learned part on this many principal axes too (64 + 64 = 128)
    lr: float = 2e-3
    warmup: int = 100
    log_every: int = 20
    ckpt_every: int = 100


@dataclass
class StyleText:
    steps: int = 600
    batch: int = 256
    text_embed: int = 0  # > 0: factorised token embedding of this width
    lr: float = 2e-3
    warmup: int = 50
    log_every: int = 50
    ckpt_every: int = 200


@dataclass
class Vae:
    steps: int = 700
    batch: int = 32
    lr: float = 1e-3
    kl: float = 1e-4
    latent_channels: int = 4  # the latent is latent_channels x 16 x 16
    crop: int = 0  # train on random crops of this many px (a multiple of 4; 0: whole images) ...
    full_steps: int = 0  # ... except the last full_steps steps, on whole images (GroupNorm sees whole images)
    enc_channels: list[int] = field(default_factory=lambda: [32, 64, 96])  # at 64, 32, 16 px
    dec_channels: list[int] = field(default_factory=lambda: [96, 64, 16])  # at 16, 32, 64 px
    minutes: float = 0.0  # > 0: as many steps as fit in this many minutes (measured on the first steps), not `steps`
    warmup: int = 50
    log_every: int = 20
    ckpt_every: int = 100


@dataclass
class Decoder:
    """Fine-tuning of the autoencoder's decoder alone (stage `decoder`, after `vae`): the encoder is frozen, so the
    latents (and the UNet trained on them) are unchanged; whole train images, decoded from their posterior means,
    which is what the sampler's latents approximate. steps = 0: no fine-tuning (the `vae` stage's decoder is used)."""
    steps: int = 0
    batch: int = 32
    lr: float = 2e-4
    minutes: float = 0.0
    warmup: int = 20
    log_every: int = 20
    ckpt_every: int = 50


@dataclass
class Triplets:
    k: int = 64  # candidates per search
    sem_quantile: float = 0.99  # tau_sem = this quantile of random-pair semantic similarities
    sty_quantile: float = 0.80  # tau_sty = this quantile of random-pair style similarities
    tau_sem: float | None = None  # absolute thresholds instead of the quantiles
    tau_sty: float | None = None


@dataclass
class Unet:
    steps: int = 4000
    channels: list[int] = field(default_factory=lambda: [64, 128, 128])  # at 16, 8, 4 latent px
    batch: int = 64
    lr: float = 5e-4
    p_drop: float = 0.12  # per-modality condition dropout
    w_s: float = 10.0
    w_y: float = 10.0
    aux_n: int = 8  # rows per step for the style/content losses
    aux_t: int = 400  # only rows with t below this
    aux_every: int = 2
    ema: float = 0.999
    min_snr: float = 5.0
    # what the network learns to predict: "epsilon" (the noise) or "v" (sqrt(abar) eps - sqrt(1 - abar) z0). The
    # exported unet.onnx always outputs epsilon (a v-model's graph converts), so the engine's sampler is unchanged.
    prediction: str = "epsilon"
    # share of each batch's rows whose target x and style image s get one random palette transform together (hue
    # rotation about the grey axis, saturation scale; the style tower's pseudo-styles): the style condition then
    # comes from looks no training set has, as the unseen sets' do. 0: off (the latents and style vectors are cached)
    p_palette: float = 0.0
    minutes: float = 0.0  # > 0: as many steps as fit in this many minutes (measured on the first steps), not `steps`
    warmup: int = 100
    log_every: int = 25
    eval_every: int = 500  # fixed-set eps-MSE of the EMA weights
    ckpt_every: int = 200


@dataclass
class Samples:
    """Sampler settings of the generator's contact sheet and held-out evaluation."""
    steps: int = 25
    g_s: float = 5.0
    g_y: float = 3.0
    eval_pairs: int = 48


@dataclass
class NoiseSchedule:
    """The DDPM betas over T = 1000 steps (schedule.py; the engine's src/parasol/schedule.ts reads them from the
    pack). kind: "linear" (betas evenly spaced) or "scaled-linear" (their square roots evenly spaced)."""
    kind: str = "linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012


@dataclass
class Generator:
    seed: int = 20261129
    schedule: NoiseSchedule = field(default_factory=NoiseSchedule)
    vae: Vae = field(default_factory=Vae)
    decoder: Decoder = field(default_factory=Decoder)
    triplets: Triplets = field(default_factory=Triplets)
    unet: Unet = field(default_factory=Unet)
    samples: Samples = field(default_factory=Samples)


@dataclass
class Config:
    name: str = "mini"
    paths: Paths = field(default_factory=Paths)
    runtime: Runtime = field(default_factory=Runtime)
    semantic: Semantic = field(default_factory=Semantic)
    style: Style = field(default_factory=Style)
    style_text: StyleText = field(default_factory=StyleText)
    generator: Generator = field(default_factory=Generator)

    def path(self, name: str) -> str:
        """An absolute path from `paths.<name>` (relative ones are relative to models/train)."""
        p = getattr(self.paths, name)
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(TRAIN_DIR, p))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


class ConfigError(ValueError):
    pass


def _apply(obj: Any, values: dict[str, Any], where: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}{key}: unknown setting (known: {', '.join(sorted(fields))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key}: expected a table")
            _apply(current, value, f"{where}{key}.")
        else:
            setattr(obj, key, _coerce(value, fields[key].type, f"{where}{key}"))


def _coerce(value: Any, type_name: Any, where: str) -> Any:
    kind = str(type_name)
    if kind.startswith("float"):  # `float` and `float | None`
        if value is None and "None" in kind:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if kind == "list[int]":
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise ConfigError(f"{where}: expected a list of integers, got {value!r}")
        return list(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def parse_override(text: str) -> dict[str, Any]:
    """`generator.unet.steps=10` -> {"generator": {"unet": {"steps": 10}}} (the value is read as TOML)."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected section.key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare string such as a path
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def _load_file(cfg: Config, path: str, depth: int = 0) -> None:
    """Applies a TOML file; its optional top-level `base = "other.toml"` (relative to the file) is applied first."""
    with open(path, "rb") as f:
        values = tomllib.load(f)
    base = values.pop("base", None)
    if base is not None:
        if not isinstance(base, str) or depth > 4:
            raise ConfigError(f"{path}: base must name one TOML file (at most 4 levels)")
        _load_file(cfg, os.path.join(os.path.dirname(os.path.abspath(path)), base), depth + 1)
    _apply(cfg, values, "")


def load_config(path: str | None, overrides: list[str] = ()) -> Config:
    cfg = Config()
    if path:
        _load_file(cfg, path)
    for o in overrides:
        _apply(cfg, parse_override(o), "")
    _check(cfg)
    return cfg


def _check(cfg: Config) -> None:
    """Settings whose values form a closed set or a range: wrong ones fail here, not hours into a run."""
    u, s = cfg.generator.unet, cfg.generator.schedule
    if not 0 <= u.p_palette <= 1:
        raise ConfigError(f"generator.unet.p_palette: expected a probability in [0, 1], got {u.p_palette}")
    if u.prediction not in ("epsilon", "v"):
        raise ConfigError(f"generator.unet.prediction: expected \"epsilon\" or \"v\", got {u.prediction!r}")
    if s.kind not in ("linear", "scaled-linear"):
        raise ConfigError(f"generator.schedule.kind: expected \"linear\" or \"scaled-linear\", got {s.kind!r}")
    if not 0 < s.beta_start <= s.beta_end < 1:
        raise ConfigError(f"generator.schedule: need 0 < beta_start <= beta_end < 1, got {s.beta_start}, {s.beta_end}")
    st = cfg.style
    if st.colour_head not in ("trained", "foreground"):
        raise ConfigError(f"style.colour_head: expected \"trained\" or \"foreground\", got {st.colour_head!r}")
    if st.colour_head == "foreground" and not (0 < st.colour_w < 1 and 1 <= st.colour_axes <= 512 and st.colour_dim > 0
                                               and 0 <= st.learned_axes <= 128 - st.colour_dim):
        raise ConfigError("style.colour_head \"foreground\": needs 0 < colour_w < 1, 1 <= colour_axes <= 512 and a tower "
                          f"with colour_dim > 0, and 0 <= learned_axes <= 128 - colour_dim (got {st.colour_w}, {st.colour_axes}, "
                          f"{st.colour_dim}, {st.learned_axes})")


def style_dim(cfg: Config) -> int:
    """The style descriptor's dimensions: the tower's 128, or its learned part beside the foreground colour axes."""
    st = cfg.style
    if st.colour_head != "foreground":
        return 128
    return (st.learned_axes or 128 - st.colour_dim) + st.colour_axes
