"""A transformers CLIPModel -> the pack's two semantic towers, pack.json and tokenizer.json."""
from pathlib import Path

import torch
from tokenizers import Tokenizer

from . import clip_tokenizer
from .onnx_export import export_tower
from .progress import say


class ImageFeatures(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        return features(self.model.get_image_features(pixel_values=pixels))


class TextFeatures(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, mask):
        return features(self.model.get_text_features(input_ids=ids, attention_mask=mask))


def features(output):
    # transformers 5.x returns a model output whose pooler_output is the projected embedding.
    return output if torch.is_tensor(output) else output.pooler_output


def write_clip_pack(
    model,
    tokenizer: Tokenizer,
    special: dict[str, int],
    preprocess: dict,
    max_tokens: int,
    folder: Path,
    name: str,
    precision: str,
    source: dict,
) -> dict:
    model = model.eval()
    size = preprocess["size"]
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(2, 3, size, size, generator=generator)
    probe_texts = ["a photo of a cat", "ink wash painting of mountains, misty"]
    ids = torch.tensor([clip_tokenizer.encode(tokenizer, t, special, max_tokens) for t in probe_texts])
    mask = real_token_mask(ids, special, max_tokens, probe_texts, tokenizer)

    say(f"exporting the image tower ({precision})")
    image_check = export_tower(ImageFeatures(model), (pixels,), ["pixels"], folder / "semantic_image.onnx", precision, (pixels,))
    say(f"exporting the text tower ({precision})")
    text_check = export_tower(
        TextFeatures(model), (ids, mask), ["input_ids", "attention_mask"], folder / "semantic_text.onnx", precision, (ids, mask), token_axis=True
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    dim = int(model.config.projection_dim)
    return {
        "name": name,
        "version": 1,
        "source": source,
        "precision": precision,
        "semantic": {
            "dim": dim,
            "image": {"file": "semantic_image.onnx", "input": "pixels", "output": "embedding", "preprocess": preprocess},
            "text": {
                "file": "semantic_text.onnx",
                "inputs": {"ids": "input_ids", "mask": "attention_mask"},
                "output": "embedding",
                "tokenizer": "tokenizer.json",
                "maxTokens": max_tokens,
                "specialTokens": special,
                "trimPadding": True,
            },
        },
        "checks": {"semanticImage": image_check, "semanticText": text_check},
    }


def real_token_mask(ids, special, max_tokens, texts, tokenizer) -> torch.Tensor:
    """1 for start, text and end tokens, 0 for padding (the runtime's mask)."""
    lengths = [min(len(tokenizer.encode(t, add_special_tokens=False).ids), max_tokens - 2) + 2 for t in texts]
    return torch.tensor([[1] * n + [0] * (max_tokens - n) for n in lengths])
