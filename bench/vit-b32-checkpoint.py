"""Writes randomly initialised, full-size checkpoints of the real classes for the real-pack bench
(bench/vit-b32-pack.sh): no weights are downloaded, only the shapes and the code paths are real.

  <out>/hf-clip-vit-b32/   a Hugging Face CLIP folder: transformers CLIPModel with the standard
                           ViT-B/32 config (vision 768 wide x 12 layers, patch 32, 224 px; text 512
                           wide x 12 layers, 77 tokens; 512-d projection), vocab.json + merges.txt
                           built from the CLIP BPE vocabulary the open_clip_torch wheel ships,
                           preprocessor_config.json as openai/clip-vit-base-patch32 has it
  <out>/style-vit.safetensors  a timm-layout ViT (class token, pre-norm, final norm) of the
  <out>/style-head.pt          shape --style-arch names, with a linear projection head: the
                               ALADIN-ViT shape `parasol pack import style` takes

usage: python bench/vit-b32-checkpoint.py <out> [--style-arch vit_base_patch32_224] [--style-dim 256]
Needs the importer's environment (models/export/requirements.txt; PARASOL_PYTHON).
"""
import argparse
import json
import re
import sys
from pathlib import Path

import torch

EXPORT_ROOT = Path(__file__).resolve().parent.parent / "models" / "export"
sys.path.insert(0, str(EXPORT_ROOT))

from parasol_export import clip_tokenizer  # noqa: E402
from parasol_export.openclip_convert import bpe_vocabulary  # noqa: E402

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
TIMM_WIDTH = {"small": (384, 6), "base": (768, 12), "large": (1024, 24)}


def hf_clip(folder: Path) -> None:
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(32)
    # CLIPConfig's defaults are openai/clip-vit-base-patch32's shapes; only the special tokens are set
    # here the way the released tokenizer numbers them (start 49406, end = pad 49407).
    config = CLIPConfig(
        projection_dim=512,
        text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                         max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, image_size=224,
                           patch_size=32, hidden_act="quick_gelu"),
    )
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    tokenizer = clip_tokenizer.from_open_clip_bpe(bpe_vocabulary())
    (folder / "vocab.json").write_text(json.dumps(tokenizer.get_vocab(), ensure_ascii=False))
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in merges]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "size": {"shortest_edge": 224},
        "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
    }))
    (folder / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<|endoftext|>"}))


def timm_vit(out: Path, arch: str, dim: int) -> None:
    """timm's VisionTransformer state dict, written key by key (timm itself imports torchvision)."""
    from safetensors.torch import save_file

    match = re.match(r"^vit_(small|base|large)_patch(\d+)_(\d+)$", arch)
    if not match:
        raise SystemExit(f"--style-arch: expected vit_<small|base|large>_patch<N>_<res>, got {arch!r}")
    width, _ = TIMM_WIDTH[match.group(1)]
    patch, side = int(match.group(2)), int(match.group(3))
    tokens = (side // patch) ** 2 + 1
    layers = 24 if match.group(1) == "large" else 12
    torch.manual_seed(16)

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(*shape) * 0.02

    state = {
        "cls_token": normal(1, 1, width),
        "pos_embed": normal(1, tokens, width),
        "patch_embed.proj.weight": normal(width, 3, patch, patch),
        "patch_embed.proj.bias": torch.zeros(width),
        "norm.weight": torch.ones(width),
        "norm.bias": torch.zeros(width),
    }
    for i in range(layers):
        block = f"blocks.{i}"
        state.update({
            f"{block}.norm1.weight": torch.ones(width), f"{block}.norm1.bias": torch.zeros(width),
            f"{block}.attn.qkv.weight": normal(3 * width, width), f"{block}.attn.qkv.bias": torch.zeros(3 * width),
            f"{block}.attn.proj.weight": normal(width, width), f"{block}.attn.proj.bias": torch.zeros(width),
            f"{block}.norm2.weight": torch.ones(width), f"{block}.norm2.bias": torch.zeros(width),
            f"{block}.mlp.fc1.weight": normal(4 * width, width), f"{block}.mlp.fc1.bias": torch.zeros(4 * width),
            f"{block}.mlp.fc2.weight": normal(width, 4 * width), f"{block}.mlp.fc2.bias": torch.zeros(width),
        })
    save_file(state, str(out / "style-vit.safetensors"))
    torch.save({"weight": normal(dim, width), "bias": torch.zeros(dim)}, out / "style-head.pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--style-arch", default="vit_base_patch32_224")
    parser.add_argument("--style-dim", type=int, default=256)
    args = parser.parse_args()
    folder = args.out / "hf-clip-vit-b32"
    folder.mkdir(parents=True, exist_ok=True)
    hf_clip(folder)
    print(f"wrote {folder}", file=sys.stderr)
    timm_vit(args.out, args.style_arch, args.style_dim)
    print(f"wrote {args.out / 'style-vit.safetensors'} ({args.style_arch}) and style-head.pt ({args.style_dim}-d)", file=sys.stderr)


if __name__ == "__main__":
    main()
