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


class VisionStatistics(torch.nn.Module):
    """The weights-free style descriptor's raw statistics: for every transformer block of the vision
    tower, the mean and the standard deviation over the patch tokens of each channel (AdaIN's style
    statistics, pooled per layer as ALADIN does for conv layers). The class token is left out: it is
    a summary, not a place in the picture. Projected to the pack's style dimension later, by the
    projection `parasol pack fit-style` fits on indexed images."""

    def __init__(self, model):
        super().__init__()
        self.vision = model.vision_model

    def forward(self, pixels):
        hidden = self.vision(pixel_values=pixels, output_hidden_states=True).hidden_states[1:]
        stats = []
        for block in hidden:
            tokens = block[:, 1:, :]
            mean = tokens.mean(dim=1)
            std = torch.sqrt(((tokens - mean.unsqueeze(1)) ** 2).mean(dim=1) + 1e-6)
            stats += [mean, std]
        return torch.cat(stats, dim=-1)


# The style dimension a CLIP-only pack's statistics are projected to (ALADIN-ViT's and the mini pack's).
STYLE_DIM = 128


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
    say(f"exporting the vision tower's style statistics ({precision})")
    stats_check = export_tower(
        VisionStatistics(model), (pixels,), ["pixels"], folder / "style_stats.onnx", precision, (pixels,), output_name="statistics", normalise=False
    )
    vision = model.config.vision_config
    stats_dim = 2 * int(vision.num_hidden_layers) * int(vision.hidden_size)
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
        # Until a style encoder is imported: the weights-free descriptor from the vision tower itself,
        # usable once `parasol pack fit-style` has fitted its projection.
        "style": {
            "dim": min(STYLE_DIM, stats_dim),
            "image": {"file": "style_stats.onnx", "input": "pixels", "output": "statistics", "preprocess": preprocess},
            "statistics": {
                "dim": stats_dim,
                "source": f"token mean and std of {vision.num_hidden_layers} vision blocks x {vision.hidden_size} channels",
            },
        },
        "checks": {"semanticImage": image_check, "semanticText": text_check, "styleStatistics": stats_check},
    }


def real_token_mask(ids, special, max_tokens, texts, tokenizer) -> torch.Tensor:
    """1 for start, text and end tokens, 0 for padding (the runtime's mask)."""
    lengths = [min(len(tokenizer.encode(t, add_special_tokens=False).ids), max_tokens - 2) + 2 for t in texts]
    return torch.tensor([[1] * n + [0] * (max_tokens - n) for n in lengths])
