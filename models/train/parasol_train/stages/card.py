"""Stage card: write the pack's CARD.md from metrics.json, the checkpoints, the corpus metadata and the config."""
import datetime
import json
import os

import torch

from ..checkpoints import ENCODER_STAGES, ckpt_path, load_encoder_towers
from ..config import Config
from ..data import HELD_OUT_SETS, MEAN, STD, load_snapshot
from ..runtime import load_checkpoint, log, n_params
from . import metrics as M


def to_toml(d, prefix=""):
    """The config dict as TOML (tables after plain keys; None values are left out, as TOML has no null)."""
    plain = [(k, v) for k, v in d.items() if not isinstance(v, dict) and v is not None]
    lines = [f"{k} = {json.dumps(v)}" for k, v in plain]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in d.items():
        if isinstance(v, dict):
            out += f"\n[{prefix}{k}]\n" + to_toml(v, f"{prefix}{k}.")
    return out


def f(x):
    return f"{x:.3f}"


def run(cfg: Config, resume: bool) -> None:
    OUT, WORK, CORPUS = cfg.path("pack"), cfg.path("work"), cfg.path("corpus")
    snap = load_snapshot(WORK, OUT)
    items, tok = snap.items, snap.tok
    met = json.load(open(os.path.join(OUT, "metrics.json")))
    ck = {n: load_checkpoint(ckpt_path(cfg, n)) for n in ENCODER_STAGES}
    timing = json.load(open(os.path.join(WORK, "timing.json"))) if os.path.exists(os.path.join(WORK, "timing.json")) else {}
    m = load_encoder_towers(cfg, len(tok.vocab))
    corpus = json.load(open(os.path.join(CORPUS, "corpus.json"))) if os.path.exists(os.path.join(CORPUS, "corpus.json")) else {"sets": []}
    sizes = {fn: os.path.getsize(os.path.join(OUT, fn)) / 1e6 for fn in sorted(os.listdir(OUT)) if fn.endswith((".onnx", ".json"))}
    by_set = {}
    for it in items:
        d = by_set.setdefault(it["set"], {"train": 0, "unseen-style": 0, "unseen-content": 0, "unseen-both": 0, "unmapped": 0})
        d[it["split"]] += 1
        d["unmapped"] += it["codepoint"] is None
    L = []
    a = L.append
    a("# `mini` model pack — model card\n")
    a(f"Generated {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `models/train/run.sh` (`python -m parasol_train all`, PyTorch {torch.__version__}, CPU, "
      f"seed {cfg.runtime.seed}, config `{cfg.name}` recorded at the end of this card). Small encoders trained from scratch on the project's emoji corpus; no pretrained weights. "
      "They exist so that the engine, its tests and its demo run end to end on a laptop; swap in a real pack "
      "(CLIP + ALADIN/CSD) with `PARASOL_PACK` for real use.\n")
    a("## Files\n")
    a("| file | MB | what |\n|---|---|---|")
    what = {"semantic_image.onnx": "image → 256-d semantic (content) embedding", "semantic_text.onnx": "text ids → 256-d semantic embedding",
            "style_image.onnx": "image → 128-d style embedding", "style_text.onnx": "style description ids → 128-d style embedding",
            "tokenizer.json": "WordPiece tokenizer (Hugging Face format) for both text towers", "pack.json": "manifest",
            "reference.json": "reference embeddings (PyTorch) of reference/*.png and 6 texts, for ONNX parity tests (tolerance 1e-4)",
            "metrics.json": "all evaluation numbers below"}
    for fn, mb in sizes.items():
        a(f"| `{fn}` | {mb:.2f} | {what.get(fn, '')} |")
    a(f"\nTotal pack size: {sum(os.path.getsize(os.path.join(dp, x)) for dp, _, fs in os.walk(OUT) for x in fs) / 1e6:.1f} MB.\n")
    a("All models output L2-normalised float32 `[B, dim]` (`embedding`); image inputs `pixels` float32 `[B,3,64,64]` RGB, "
      f"value = (v/255 − mean)/std with mean {MEAN}, std {STD}, after `contain`-resizing onto white `#ffffff`; "
      "text inputs `input_ids`, `attention_mask` int64 `[B,16]` (tokenize without special tokens, truncate to 16, right-pad with `[PAD]`=0, mask 1 on real tokens). ONNX opset 17, dynamic batch axis.\n")
    a("## Data\n")
    a(f"Corpus: {len(items)} 64×64 emoji renderings (RGB on white) from 12 open emoji sets, exported by "
      "`parasol corpus export --size 64`. Splits: held-out styles (`unseen-style`, `unseen-both`) = "
      f"{', '.join(HELD_OUT_SETS)}; ~15% of codepoints held out as `unseen-content` (in every set). **Only `split == \"train\"` items are ever trained on.** "
      "Items whose icon has no Unicode codepoint (`codepoint: null`) are used for style training only, never for content training or metrics.\n")
    a("| set | licence | author | train | unseen-style | unseen-content | unseen-both | no codepoint |\n|---|---|---|---|---|---|---|---|")
    meta = {s.get("id"): s for s in corpus.get("sets", [])}
    for s in sorted(by_set):
        d, mm = by_set[s], meta.get(s, {})
        a(f"| {s}{' (held out)' if s in HELD_OUT_SETS else ''} | {mm.get('license', '?')} | {mm.get('author', '?')} | {d['train']} | {d['unseen-style']} | {d['unseen-content']} | {d['unseen-both']} | {d['unmapped']} |")
    a("\nLicences: each item's `license`/`attribution` is in the corpus `items.jsonl`; the pack's weights are derived from these "
      "works (CC-BY-SA-4.0 OpenMoji among them) — check attribution requirements before redistributing the weights. "
      "The reference PNGs in `reference/` are copies of corpus renderings under their sets' licences.\n")
    a(f"Tokenizer: WordPiece, {len(tok.vocab)} entries: `[PAD]`=0, `[UNK]`=1, every letter/digit and `##`letter/digit, ASCII punctuation, "
      "then every word of the train split's names/short names/keywords and of `models/train/style_descriptions.json` "
      "(BertNormalizer lowercase + strip accents + clean text, BertPreTokenizer). Words never seen in training split into letters. "
      "Python (training) and `@huggingface/tokenizers` (engine) ids were checked identical on 52 test strings.\n")
    a("## Models\n")
    def steps(n):
        c = ck[n]
        return f"{c['step']} steps (~{c.get('epochs', 0):.1f} epochs), {c.get('t_spent', 0) / 60:.1f} min wall"
    a(f"**Semantic** (CLIP-style). Image tower: 4×4/2 conv stem (64→32) + 7 conv3×3-BN-ReLU layers (32,64,128,256 channels at 32,16,8,4 px) + global mean pool + linear → 256, "
      f"{n_params(m['semantic_image']):,} params. Text tower: token + position embeddings (width 256), 2 pre-LN transformer blocks (4 heads), masked mean pool, linear → 256, "
      f"{n_params(m['semantic_text']):,} params. Loss: symmetric InfoNCE with learnable temperature between image and text, for two renderings of the same codepoint from different sets "
      "(image A–text, image B–text) plus image A–image B InfoNCE (cross-style content positives). Text per step: the emoji name (40%), one short name/keyword (20%), or a random subset and order of the words of its name, "
      "short names and keywords. Augmentation: random scale 0.8–1.1, rotation ±8°, translation ±8%, white fill; mild brightness/contrast, 10% greyscale. "
      f"Batch 128 codepoints (256 images), AdamW lr 2e-3 cosine, wd 0.05. {steps('semantic')}.\n")
    a(f"**Style** (ALADIN-style). 5 conv3×3-BN-ReLU layers (32,48,96,128,192 channels; stride 1,2,2,2,2); the per-channel mean and std over H×W (AdaIN statistics) of the input and of every layer "
      f"plus a fixed, untrained colour layer (Gaussian RBF responses of each 2×2-pooled pixel to a 6×6×6 grid of RGB centres, σ = 0.1; its spatial mean is a soft colour histogram, square-rooted) are concatenated (2×499 + 216 = 1214-d), layer-normalised and projected by an MLP (1214→512→128). {n_params(m['style_image']):,} params. "
      "Loss: supervised contrastive (τ = 0.1) on the style label. Batches: 12 style classes × 12 items of different contents: 6 distinct training sets as they are, and 6 pseudo-styles, each a colour training set "
      "under one random global palette transform drawn afresh per class and batch (hue rotation about the grey axis by 20°–340°, saturation × {0, U(0.4,1.3), 1}; white stays white), "
      "so the encoder learns to compare palettes rather than memorise the 9 training palettes. Style-preserving augmentation only: scale 0.9–1.12, translation ±6%, horizontal flip; "
      f"no colour jitter. AdamW lr 2e-3 cosine. {steps('style')}.\n")
    a(f"**Text-to-style**. Same text architecture (width 128, 2 blocks) → 128, {n_params(m['style_text']):,} params, trained against the frozen style encoder's embeddings of the training images. "
      "Texts: 9 training paraphrases per training set (`style_descriptions.json`; 3 more per set are held out and never trained on) and phrases of pixel-measured attributes "
      "of each image (monochrome/muted/colourful, flat/gradient shaded, dark/light, outlined/black outlines/no outlines, dominant hue; `attributes.py`), sometimes combined. "
      "Loss: multi-positive InfoNCE text→image (a set paraphrase's positives are the batch images of that set; an attribute phrase's positive is its own image); batch 256, learnable temperature. "
      f"{steps('style_text')}.\n")
    if timing:
        a("Wall time per stage (this run, 2-core CPU shared with other work): " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in timing.items()) + ".\n")
    a("## Evaluation (held-out material only)\n")
    a("Exact brute-force cosine kNN in float32 (the engine's `parasol eval retrieval` reproduces these through its HNSW indices; small differences from approximate search are expected). Ties broken by corpus order.\n")
    a("```\n" + M.__doc__.split("\n", 1)[1].strip() + "\n```\n")
    sr = met["style_retrieval"]
    a("### Style retrieval (3 held-out sets)\n")
    a("| method | P@10 | mAP@10 | " + " | ".join(f"P@10 {s}" for s in sorted(sr["model"]["P@10_per_set"])) + " |\n|---|---|---|---|---|---|")
    for k, name in [("model", "**style encoder**"), ("baseline_hist", "baseline: 8×8×8 RGB histogram (all pixels)"),
                    ("baseline_hist_fg", "baseline: histogram, foreground only"), ("baseline_pix16", "baseline: 16×16 raw pixels"),
                    ("semantic_model_as_style", "semantic encoder used for style")]:
        r = sr[k]
        a(f"| {name} | {f(r['P@10'])} | {f(r['mAP@10'])} | " + " | ".join(f(r["P@10_per_set"][s]) for s in sorted(r["P@10_per_set"])) + " |")
    a(f"\nQueries: {sr['model']['queries']}.\n")
    cr = met["content_retrieval"]
    a("### Cross-style content retrieval (unseen contents, all 12 sets)\n")
    a("| method | R@10 |\n|---|---|")
    for k, name in [("model", "**semantic encoder**"), ("baseline_pix16", "baseline: 16×16 raw pixels"), ("baseline_hist", "baseline: colour histogram"), ("style_model_as_content", "style encoder used for content")]:
        a(f"| {name} | {f(cr[k]['R@10'])} |")
    a(f"\nQueries: {cr['model']['queries']}.\n")
    ti = met["text_to_image"]
    a("### Text → image (unseen contents; query = emoji name)\n")
    a(f"R@1 {f(ti['R@1'])}, R@5 {f(ti['R@5'])}, **R@10 {f(ti['R@10'])}** over {ti['queries']} codepoints (chance R@10 ≈ {f(ti['chance_R@10'])}).\n")
    ts = met["text_to_style"]
    a("### Text → style (held-out paraphrases; database = unseen-content items of the 9 training sets)\n")
    a(f"**P@10 held-out paraphrases {f(ts['heldout']['P@10'])}** ({ts['heldout']['queries']} queries); training paraphrases {f(ts['train']['P@10'])}; chance {f(ts['chance'])}; database {ts['database']} items.\n")
    a("| set | held-out P@10 |\n|---|---|")
    for s, v in sorted(ts["heldout"]["per_set"].items()):
        a(f"| {s} | {f(v)} |")
    a("")
    a("### Targets\n")
    t_style = sr["model"]["P@10"]
    a(f"- style P@10 ≥ 0.9: **{f(t_style)}** ({'met' if t_style >= 0.9 else 'NOT met'}); ≥ 2× histogram baseline ({f(sr['baseline_hist']['P@10'])}): "
      f"{'met' if t_style >= 2 * sr['baseline_hist']['P@10'] else 'NOT met — the histogram baseline is already ' + f(sr['baseline_hist']['P@10']) + ' on these three very different sets, so 2× is arithmetically impossible (P@10 ≤ 1)' if 2 * sr['baseline_hist']['P@10'] > 1 else 'NOT met'}.")
    a(f"- content R@10 ≥ 0.6: **{f(cr['model']['R@10'])}** ({'met' if cr['model']['R@10'] >= 0.6 else 'NOT met'}).")
    a(f"- text → image R@10 ≥ 0.5: **{f(ti['R@10'])}** ({'met' if ti['R@10'] >= 0.5 else 'NOT met'}).")
    a(f"- text → style P@10 ≥ 0.8: **{f(ts['heldout']['P@10'])}** ({'met' if ts['heldout']['P@10'] >= 0.8 else 'NOT met'}).\n")
    lim = open(cfg.path("limits")).read() if os.path.exists(cfg.path("limits")) else ""
    a("## Limits\n")
    a(lim)
    # The generator's own card (run_generator.sh writes it) follows the encoders'.
    generator_card = cfg.path("generator_card")
    if os.path.exists(generator_card):
        a("\n" + open(generator_card).read().strip())
    a("\n## Training configuration\n")
    a("The configuration this pack was trained with (`python -m parasol_train all --config ...` plus overrides; "
      "paths are relative to `models/train`):\n")
    a("```toml\n" + to_toml(cfg.to_dict()) + "```")
    open(os.path.join(OUT, "CARD.md"), "w").write("\n".join(L) + "\n")
    log("wrote CARD.md")
