"""`style`: a style image encoder added to an existing pack as style_image.onnx.

--arch <timm ViT name>: an ALADIN-ViT-shaped encoder, a timm VisionTransformer (class token,
pre-norm blocks, final norm) with an optional linear projection head. timm itself cannot be
imported here (it imports torchvision; see openclip_convert.py), so its weights are loaded into
transformers' ViTModel, which computes the same function; every dimension is read from the
checkpoint's tensors, and the name only has to be a plain timm ViT.
--kind csd: CSD, a CLIP ViT-L/14 vision tower (OpenAI layout under `backbone.`) and its
`last_layer_style` projection.
"""
import re
from pathlib import Path

import torch

from .errors import ExportError
from .onnx_export import export_tower
from .pack_writer import extended_pack, read_manifest, write_manifest
from .progress import say
from .weights import load_state_dict

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
TIMM_VIT = re.compile(r"^vit_(tiny|small|base|large|huge|giant)_patch(\d+)_(?:clip_)?(\d+)(?:\.[\w-]+)?$")
HEADS = {"tiny": 3, "small": 6, "base": 12, "large": 16, "huge": 16, "giant": 16}


class Projected(torch.nn.Module):
    def __init__(self, backbone, head: torch.nn.Module | None, features):
        super().__init__()
        self.backbone = backbone
        self.head = head if head is not None else torch.nn.Identity()
        self.features = features

    def forward(self, pixels):
        return self.head(self.features(self.backbone, pixels))


def vit_class_token(backbone, pixels):
    return backbone(pixel_values=pixels).last_hidden_state[:, 0]


def clip_pooled(backbone, pixels):
    return backbone(pixel_values=pixels).pooler_output


STANDARD_WIDTH = {"tiny": 192, "small": 384, "base": 768, "large": 1024, "huge": 1280, "giant": 1408}


def attention_heads(size: str, width: int, heads: int | None) -> int:
    """Heads cannot be read from the weights: timm's value for its standard widths, else 64-wide heads."""
    if heads:
        if width % heads:
            raise ExportError(f"--heads {heads} does not divide the width {width}")
        return heads
    if width == STANDARD_WIDTH[size]:
        return HEADS[size]
    if width % 64:
        raise ExportError(f"a {width}-wide ViT is not a standard timm size: give --heads")
    return width // 64


def timm_vit(arch: str, state: dict, checkpoint: str, heads: int | None = None):
    from transformers import ViTConfig, ViTModel

    match = TIMM_VIT.match(arch)
    if not match:
        raise ExportError(f"unsupported architecture {arch!r}: style --arch takes a timm ViT (vit_<size>_patch<N>_<res>, e.g. vit_base_patch16_224)")
    if "fc_norm.weight" in state or "reg_token" in state or "norm.weight" not in state:
        raise ExportError(f"{checkpoint}: not a class-token timm ViT with a final norm (avg-pool or register-token ViTs are not supported)")
    try:
        width = state["cls_token"].shape[-1]
        patch = state["patch_embed.proj.weight"].shape[-1]
        tokens = state["pos_embed"].shape[1] - 1
    except KeyError as missing:
        raise ExportError(f"{checkpoint}: lacks {missing} (not a timm ViT checkpoint?)") from None
    layers = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    side = int(round(tokens**0.5))
    heads = attention_heads(match.group(1), width, heads)
    config = ViTConfig(
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=state["blocks.0.mlp.fc1.weight"].shape[0],
        hidden_act="gelu",
        layer_norm_eps=1e-6,
        image_size=side * patch,
        patch_size=patch,
        qkv_bias="blocks.0.attn.qkv.bias" in state,
    )
    weights = {
        "embeddings.cls_token": state["cls_token"],
        "embeddings.position_embeddings": state["pos_embed"],
        "embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
        "layernorm.weight": state["norm.weight"],
        "layernorm.bias": state["norm.bias"],
    }
    for i in range(layers):
        # transformers 5.x ViT layout (pinned in requirements.txt).
        src, dst = f"blocks.{i}", f"layers.{i}"
        q, k, v = state[f"{src}.attn.qkv.weight"].chunk(3)
        qb, kb, vb = state[f"{src}.attn.qkv.bias"].chunk(3)
        weights.update(
            {
                f"{dst}.attention.q_proj.weight": q, f"{dst}.attention.q_proj.bias": qb,
                f"{dst}.attention.k_proj.weight": k, f"{dst}.attention.k_proj.bias": kb,
                f"{dst}.attention.v_proj.weight": v, f"{dst}.attention.v_proj.bias": vb,
                f"{dst}.attention.o_proj.weight": state[f"{src}.attn.proj.weight"],
                f"{dst}.attention.o_proj.bias": state[f"{src}.attn.proj.bias"],
                f"{dst}.layernorm_before.weight": state[f"{src}.norm1.weight"], f"{dst}.layernorm_before.bias": state[f"{src}.norm1.bias"],
                f"{dst}.layernorm_after.weight": state[f"{src}.norm2.weight"], f"{dst}.layernorm_after.bias": state[f"{src}.norm2.bias"],
                f"{dst}.mlp.fc1.weight": state[f"{src}.mlp.fc1.weight"], f"{dst}.mlp.fc1.bias": state[f"{src}.mlp.fc1.bias"],
                f"{dst}.mlp.fc2.weight": state[f"{src}.mlp.fc2.weight"], f"{dst}.mlp.fc2.bias": state[f"{src}.mlp.fc2.bias"],
            }
        )
    model = ViTModel(config, add_pooling_layer=False)
    load_exactly(model, weights, checkpoint)
    return model.eval(), side * patch, width


def load_exactly(model, weights: dict, checkpoint: str) -> None:
    own = model.state_dict()
    for key, value in weights.items():
        if key not in own or own[key].shape != value.shape:
            raise ExportError(f"{checkpoint}: {key} does not fit the model ({tuple(value.shape)})")
    missing, _ = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing:
        raise ExportError(f"{checkpoint}: no weights for {missing[0]}")


def linear_head(path: str | None, state: dict, width: int) -> torch.nn.Module | None:
    """--head: a Linear's state dict ({weight, bias?}) or one [out, in] matrix; else the checkpoint's own head.*."""
    if path:
        head = load_state_dict(path)
        weight = head.get("weight", head.get("head.weight", next(iter(head.values())) if len(head) == 1 else None))
        bias = head.get("bias", head.get("head.bias"))
        where = path
    elif "head.weight" in state:
        weight, bias, where = state["head.weight"], state.get("head.bias"), "head.weight"
    else:
        return None
    if weight is None or weight.dim() != 2 or weight.shape[1] != width:
        raise ExportError(f"{where}: the head must be a [out, {width}] linear weight")
    linear = torch.nn.Linear(width, weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)
    return linear


def csd(state: dict, checkpoint: str):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from .openclip_convert import vision_weights

    prefix = "backbone."
    if f"{prefix}conv1.weight" not in state or "last_layer_style" not in state:
        raise ExportError(f"{checkpoint}: not a CSD checkpoint (needs backbone.* and last_layer_style)")
    width = state[f"{prefix}class_embedding"].shape[0]
    patch = state[f"{prefix}conv1.weight"].shape[-1]
    tokens = state[f"{prefix}positional_embedding"].shape[0] - 1
    layers = len({k.split(".")[3] for k in state if k.startswith(f"{prefix}transformer.resblocks.")})
    config = CLIPVisionConfig(
        hidden_size=width,
        intermediate_size=state[f"{prefix}transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        num_hidden_layers=layers,
        num_attention_heads=max(1, width // 64),
        image_size=int(round(tokens**0.5)) * patch,
        patch_size=patch,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
    )
    model = CLIPVisionModel(config)
    # CLIPVisionModel's keys carry no "vision_model." prefix on transformers 5.x.
    target = "vision_model" if any(k.startswith("vision_model.") for k in model.state_dict()) else ""
    weights = {k.lstrip("."): v for k, v in vision_weights(state, prefix, target, layers).items()}
    load_exactly(model, weights, checkpoint)
    projection = state["last_layer_style"]
    if projection.dim() != 2 or projection.shape[0] != width:
        raise ExportError(f"{checkpoint}: last_layer_style must be [{width}, dim], got {tuple(projection.shape)}")
    head = torch.nn.Linear(width, projection.shape[1], bias=False)
    with torch.no_grad():
        head.weight.copy_(projection.t())
    return model.eval(), config.image_size, head


def import_style(
    kind: str, arch: str | None, checkpoint: str, head_path: str | None, into: str, precision: str, heads: int | None = None
) -> Path:
    say(f"reading {checkpoint}")
    state = load_state_dict(checkpoint)
    if kind == "csd":
        backbone, size, head = csd(state, checkpoint)
        module = Projected(backbone, head, clip_pooled)
        mean, std = CLIP_MEAN, CLIP_STD
    else:
        if not arch:
            raise ExportError("style needs --arch <timm ViT name> (or --kind csd)")
        backbone, size, width = timm_vit(arch, state, checkpoint, heads)
        module = Projected(backbone, linear_head(head_path, state, width), vit_class_token)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        dim = int(module(pixels).shape[-1])
    with extended_pack(into) as work:
        manifest = read_manifest(work)
        for stale in ("style_image.onnx", "style_image.onnx.data"):
            (work / stale).unlink(missing_ok=True)
        say(f"exporting the style image tower ({precision})")
        check = export_tower(module, (pixels,), ["pixels"], work / "style_image.onnx", precision, (pixels,))
        preprocess = {"size": size, "resize": "shortest", "background": "#ffffff", "mean": mean, "std": std}
        manifest["style"] = {
            "dim": dim,
            "image": {"file": "style_image.onnx", "input": "pixels", "output": "embedding", "preprocess": preprocess},
        }
        manifest.setdefault("checks", {})["styleImage"] = check
        manifest.setdefault("source", {})["style"] = {"kind": kind, "arch": arch, "checkpoint": str(Path(checkpoint).resolve())}
        write_manifest(work, manifest)
    say(f"added style_image.onnx to {into}")
    return Path(into)
