"""Build the tiny random model pack used by the encoder tests (test/fixtures/tiny-pack/).

Four small ONNX models (opset 17, dynamic batch) with random, seeded weights, a small WordPiece
tokenizer.json, a pack.json and reference.json: embeddings torch computed for a few PNG images
and texts, so the TypeScript side can prove it feeds the models exactly what the manifest says.

The two image towers deliberately differ (32px contain on white, 24px cover on black, different
input/output names and dims) and the two text towers differ in input names and maxTokens, so a
tower that reads the wrong manifest block is caught.

Only images whose preprocessing can be reproduced exactly get a reference for a tower: images
already at the tower's size, or flat colours (resizing a flat colour is exact).

Run:
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/bin/python3 models/train/make_tiny_pack.py
"""

import json
import os
import sys
import unicodedata

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "tiny-pack")

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]",
    "a", "an", "the", "of", "in", "and", "with",
    "red", "blue", "green", "black", "white",
    "cat", "dog", "sun", "mountain", "tree", "house",
    "ink", "wash", "painting", "pixel", "art", "sketch", "water", "colour",
    "##s", "##ed", "##ing", "##y",
    "-", "!", ".", ",",
]

PACK = {
    "name": "tiny",
    "version": 1,
    "semantic": {
        "dim": 32,
        "image": {
            "file": "semantic_image.onnx",
            "input": "pixels",
            "output": "embedding",
            "preprocess": {
                "size": 32,
                "resize": "contain",
                "background": "#ffffff",
                "mean": [0.48, 0.46, 0.41],
                "std": [0.27, 0.26, 0.28],
            },
        },
        "text": {
            "file": "semantic_text.onnx",
            "inputs": {"ids": "input_ids", "mask": "attention_mask"},
            "output": "embedding",
            "tokenizer": "tokenizer.json",
            "maxTokens": 8,
        },
    },
    "style": {
        "dim": 16,
        "image": {
            "file": "style_image.onnx",
            "input": "image",
            "output": "style",
            "preprocess": {
                "size": 24,
                "resize": "cover",
                "background": "#000000",
                "mean": [0.5, 0.5, 0.5],
                "std": [0.5, 0.5, 0.5],
            },
        },
        "text": {
            "file": "style_text.onnx",
            "inputs": {"ids": "ids", "mask": "mask"},
            "output": "style",
            "tokenizer": "tokenizer.json",
            "maxTokens": 6,
        },
    },
}

TEXTS = [
    "a red cat",
    "Ink-wash painting of mountains!",
    "the green trees and the blue sun in a sketchy house with water",  # longer than maxTokens
    "a zebra",  # unknown word -> [UNK]
    "",  # nothing but padding
]


class ImageTower(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.proj = torch.nn.Linear(16 + 3, dim)

    def forward(self, pixels):
        x = F.relu(self.conv1(pixels))
        x = F.relu(self.conv2(x))
        # The channel means keep flat colours distinguishable after the ReLUs.
        features = torch.cat([x.mean(dim=(2, 3)), pixels.mean(dim=(2, 3))], dim=1)
        return F.normalize(self.proj(features), dim=1)


class TextTower(torch.nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, 16)
        self.position = torch.nn.Parameter(torch.randn(16, 16) * 0.1)
        self.proj = torch.nn.Linear(16, dim)

    def forward(self, ids, mask):
        tokens = self.embed(ids) + self.position[: ids.shape[1]].unsqueeze(0)
        weights = mask.to(torch.float32).unsqueeze(-1)
        pooled = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        # The projection's bias keeps an all-padding text away from the zero vector.
        return F.normalize(self.proj(pooled), dim=1)


# --- tokenisation (BertNormalizer lowercase + BertPreTokenizer + WordPiece), ASCII texts only ---

def bert_words(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words, current = [], ""
    for ch in text:
        if ch.isspace():
            if current:
                words.append(current)
            current = ""
        elif unicodedata.category(ch).startswith("P") or ch in "$+<=>^`|~":
            if current:
                words.append(current)
            words.append(ch)
            current = ""
        else:
            current += ch
    if current:
        words.append(current)
    return words


def wordpiece(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [vocab["[UNK]"]]
        pieces.append(vocab[found])
        start = end
    return pieces


def tokenize(text, vocab, max_tokens):
    ids = [i for w in bert_words(text) for i in wordpiece(w, vocab)][:max_tokens]
    mask = [1] * len(ids) + [0] * (max_tokens - len(ids))
    return ids + [vocab["[PAD]"]] * (max_tokens - len(ids)), mask


def tokenizer_json(vocab):
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in special
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        # Present so that a caller forgetting add_special_tokens=false gets [CLS]/[SEP] and fails the reference test.
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", vocab["[SEP]"]], "cls": ["[CLS]", vocab["[CLS]"]]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


# --- fixture images: each returns (PIL image, {tower: model input HWC uint8 or None}) ---

def hex_rgb(colour):
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


def flat_banner():
    """48x24 flat orange: contain pads it with the background; cover crops a flat area."""
    colour = np.array([230, 120, 20], dtype=np.uint8)
    img = np.tile(colour, (24, 48, 1))
    sem = np.tile(hex_rgb(PACK["semantic"]["image"]["preprocess"]["background"]), (32, 32, 1))
    sem[8:24, :, :] = colour  # 48x24 fits as 32x16, centred: 8 rows of padding above and below
    sty = np.tile(colour, (24, 24, 1))
    return Image.fromarray(img, "RGB"), {"semantic": sem, "style": sty}


def pattern(size, seed):
    """Random pixels at exactly one tower's size: catches channel order and layout mistakes."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    return Image.fromarray(img, "RGB"), img


def transparent_pattern(size, seed):
    """Binary alpha, so flattening is exact: transparent pixels become the tower's background."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    alpha = np.where(rng.random((size, size)) < 0.4, 0, 255).astype(np.uint8)
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), rgb, alpha


def flattened(rgb, alpha, background):
    out = rgb.copy()
    out[alpha == 0] = hex_rgb(background)
    return out


def fixture_images():
    sem_pre = PACK["semantic"]["image"]["preprocess"]
    sty_pre = PACK["style"]["image"]["preprocess"]
    fixtures = []
    banner, inputs = flat_banner()
    fixtures.append(("flat-banner.png", banner, inputs))
    img, arr = pattern(32, 1)
    fixtures.append(("pattern-32.png", img, {"semantic": arr, "style": None}))
    img, arr = pattern(24, 2)
    fixtures.append(("pattern-24.png", img, {"semantic": None, "style": arr}))
    img, rgb, alpha = transparent_pattern(32, 3)
    fixtures.append(("alpha-32.png", img, {"semantic": flattened(rgb, alpha, sem_pre["background"]), "style": None}))
    img, rgb, alpha = transparent_pattern(24, 4)
    fixtures.append(("alpha-24.png", img, {"semantic": None, "style": flattened(rgb, alpha, sty_pre["background"])}))
    return fixtures


def to_tensor(hwc, preprocess):
    x = torch.from_numpy(hwc.astype(np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def export(model, args, input_names, output_name, path):
    dynamic = {name: {0: "batch"} for name in input_names}
    dynamic[output_name] = {0: "batch"}
    torch.onnx.export(model, args, path, input_names=input_names, output_names=[output_name],
                      dynamic_axes=dynamic, opset_version=17, do_constant_folding=True)


def rounded(values):
    return [float(f"{v:.7g}") for v in values]


def one_entry_per_line(reference):
    """Readable diffs: one JSON object per line instead of one number per line."""
    sections = []
    for key, entries in reference.items():
        lines = ",\n".join("    " + json.dumps(entry) for entry in entries)
        sections.append(f'  "{key}": [\n{lines}\n  ]')
    return "{\n" + ",\n".join(sections) + "\n}\n"


def main():
    torch.manual_seed(20240601)
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    vocab = {token: i for i, token in enumerate(VOCAB)}

    towers = {}
    for key in ("semantic", "style"):
        spec = PACK[key]
        image_model = ImageTower(spec["dim"]).eval()
        text_model = TextTower(len(VOCAB), spec["dim"]).eval()
        size = spec["image"]["preprocess"]["size"]
        n = spec["text"]["maxTokens"]
        with torch.no_grad():
            export(image_model, (torch.zeros(1, 3, size, size),), [spec["image"]["input"]],
                   spec["image"]["output"], os.path.join(OUT, spec["image"]["file"]))
            ids_name, mask_name = spec["text"]["inputs"]["ids"], spec["text"]["inputs"]["mask"]
            export(text_model, (torch.zeros(1, n, dtype=torch.int64), torch.ones(1, n, dtype=torch.int64)),
                   [ids_name, mask_name], spec["text"]["output"], os.path.join(OUT, spec["text"]["file"]))
        towers[key] = (image_model, text_model)

    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(vocab), f, indent=1)
    with open(os.path.join(OUT, "pack.json"), "w") as f:
        json.dump(PACK, f, indent=2)
        f.write("\n")

    reference = {"images": [], "texts": []}
    with torch.no_grad():
        for name, image, inputs in fixture_images():
            image.save(os.path.join(OUT, "images", name))
            entry = {"file": f"images/{name}"}
            for key in ("semantic", "style"):
                if inputs[key] is not None:
                    x = to_tensor(inputs[key], PACK[key]["image"]["preprocess"])
                    entry[key] = rounded(towers[key][0](x)[0].tolist())
            reference["images"].append(entry)
        for text in TEXTS:
            entry = {"text": text}
            for key in ("semantic", "style"):
                ids, mask = tokenize(text, vocab, PACK[key]["text"]["maxTokens"])
                entry["ids" if key == "semantic" else "styleIds"] = ids
                out = towers[key][1](torch.tensor([ids]), torch.tensor([mask]))
                entry[key] = rounded(out[0].tolist())
            reference["texts"].append(entry)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        f.write(one_entry_per_line(reference))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
