"""OpenCLIP / OpenAI CLIP weights -> a transformers CLIP model of the same shape.

OpenCLIP's own package cannot be imported here (it imports torchvision, whose only local wheels
are CUDA builds that break transformers), so its model config and BPE vocabulary are read from
the installed wheel as data, and its standard ViT towers are loaded into the transformers CLIP
classes, which compute the same function. Configs outside that shape are refused by name.
"""
import importlib.util
import json
from pathlib import Path



from .errors import ExportError

# Keys of an OpenCLIP model config whose non-default values change the architecture.
VISION_KEYS = {"image_size", "layers", "width", "patch_size", "head_width", "mlp_ratio"}
TEXT_KEYS = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio"}


def open_clip_folder() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ExportError("open_clip_torch is not installed (pip install -r models/export/requirements.txt)")
    return Path(list(spec.submodule_search_locations)[0])


def read_model_config(model: str) -> dict:
    """`model` is an OpenCLIP model name (ViT-B-32, ViT-B-32-quickgelu, ...) or a path to such a JSON config."""
    path = Path(model) if model.endswith(".json") else open_clip_folder() / "model_configs" / f"{model}.json"
    if not path.exists():
        raise ExportError(f"unknown OpenCLIP model {model!r} (no {path.name} in open_clip's model_configs)")
    return json.loads(path.read_text())


def bpe_vocabulary() -> Path:
    return open_clip_folder() / "bpe_simple_vocab_16e6.txt.gz"


def check_supported(name: str, config: dict) -> None:
    vision, text = config.get("vision_cfg", {}), config.get("text_cfg", {})
    extra = sorted({f"vision_cfg.{k}" for k in vision if k not in VISION_KEYS} | {f"text_cfg.{k}" for k in text if k not in TEXT_KEYS})
    extra += sorted(k for k in config if k not in {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu", "custom_text"})
    if extra or not isinstance(vision.get("layers"), int):
        raise ExportError(
            f"unsupported architecture {name!r}: only OpenCLIP's plain ViT towers are imported (it sets {', '.join(extra) or 'vision_cfg.layers as a list (ResNet)'})"
        )


def clip_config(config: dict):
    from transformers import CLIPConfig

    vision, text = config["vision_cfg"], config["text_cfg"]
    act = "quick_gelu" if config.get("quick_gelu") else "gelu"
    vision_width = vision["width"]
    text_width = text.get("width", 512)
    return CLIPConfig(
        projection_dim=config["embed_dim"],
        vision_config={
            "hidden_size": vision_width,
            "intermediate_size": int(vision_width * vision.get("mlp_ratio", 4.0)),
            "num_hidden_layers": vision["layers"],
            "num_attention_heads": vision_width // vision.get("head_width", 64),
            "image_size": vision["image_size"],
            "patch_size": vision["patch_size"],
            "hidden_act": act,
            "layer_norm_eps": 1e-5,
        },
        text_config={
            "vocab_size": text.get("vocab_size", 49408),
            "hidden_size": text_width,
            "intermediate_size": int(text_width * text.get("mlp_ratio", 4.0)),
            "num_hidden_layers": text.get("layers", 12),
            "num_attention_heads": text.get("heads", 8),
            "max_position_embeddings": text.get("context_length", 77),
            "hidden_act": act,
            "layer_norm_eps": 1e-5,
            # OpenCLIP pools at the end-of-text token; transformers does for an eos id other than 2.
            "bos_token_id": 49406,
            "eos_token_id": 49407,
            "pad_token_id": 0,
        },
    )


def transformer_blocks(state: dict, prefix: str, target: str, count: int) -> dict:
    out = {}
    for i in range(count):
        src, dst = f"{prefix}.resblocks.{i}", f"{target}.encoder.layers.{i}"
        q, k, v = state[f"{src}.attn.in_proj_weight"].chunk(3)
        qb, kb, vb = state[f"{src}.attn.in_proj_bias"].chunk(3)
        out.update(
            {
                f"{dst}.self_attn.q_proj.weight": q, f"{dst}.self_attn.q_proj.bias": qb,
                f"{dst}.self_attn.k_proj.weight": k, f"{dst}.self_attn.k_proj.bias": kb,
                f"{dst}.self_attn.v_proj.weight": v, f"{dst}.self_attn.v_proj.bias": vb,
                f"{dst}.self_attn.out_proj.weight": state[f"{src}.attn.out_proj.weight"],
                f"{dst}.self_attn.out_proj.bias": state[f"{src}.attn.out_proj.bias"],
                f"{dst}.layer_norm1.weight": state[f"{src}.ln_1.weight"], f"{dst}.layer_norm1.bias": state[f"{src}.ln_1.bias"],
                f"{dst}.layer_norm2.weight": state[f"{src}.ln_2.weight"], f"{dst}.layer_norm2.bias": state[f"{src}.ln_2.bias"],
                f"{dst}.mlp.fc1.weight": state[f"{src}.mlp.c_fc.weight"], f"{dst}.mlp.fc1.bias": state[f"{src}.mlp.c_fc.bias"],
                f"{dst}.mlp.fc2.weight": state[f"{src}.mlp.c_proj.weight"], f"{dst}.mlp.fc2.bias": state[f"{src}.mlp.c_proj.bias"],
            }
        )
    return out


def vision_weights(state: dict, prefix: str, target: str, layers: int) -> dict:
    """OpenAI/OpenCLIP VisionTransformer keys under `prefix` -> transformers CLIPVisionTransformer keys."""
    p = prefix
    out = {
        f"{target}.embeddings.class_embedding": state[f"{p}class_embedding"],
        f"{target}.embeddings.position_embedding.weight": state[f"{p}positional_embedding"],
        f"{target}.embeddings.patch_embedding.weight": state[f"{p}conv1.weight"],
        f"{target}.pre_layrnorm.weight": state[f"{p}ln_pre.weight"], f"{target}.pre_layrnorm.bias": state[f"{p}ln_pre.bias"],
        f"{target}.post_layernorm.weight": state[f"{p}ln_post.weight"], f"{target}.post_layernorm.bias": state[f"{p}ln_post.bias"],
    }
    out.update(transformer_blocks(state, f"{p}transformer", target, layers))
    return out


def to_transformers(state: dict, config: dict, checkpoint: str):
    from transformers import CLIPModel

    hf_config = clip_config(config)
    vision_layers, text_layers = hf_config.vision_config.num_hidden_layers, hf_config.text_config.num_hidden_layers
    try:
        weights = vision_weights(state, "visual.", "vision_model", vision_layers)
        weights["visual_projection.weight"] = state["visual.proj"].t()
        weights.update(transformer_blocks(state, "transformer", "text_model", text_layers))
        weights.update(
            {
                "text_model.embeddings.token_embedding.weight": state["token_embedding.weight"],
                "text_model.embeddings.position_embedding.weight": state["positional_embedding"],
                "text_model.final_layer_norm.weight": state["ln_final.weight"],
                "text_model.final_layer_norm.bias": state["ln_final.bias"],
                "text_projection.weight": state["text_projection"].t(),
                "logit_scale": state["logit_scale"].reshape(()),
            }
        )
    except KeyError as missing:
        raise ExportError(f"{checkpoint}: lacks {missing} (not a checkpoint of this OpenCLIP model?)") from None
    model = CLIPModel(hf_config)
    own = model.state_dict()
    for key, value in weights.items():
        if own[key].shape != value.shape:
            raise ExportError(f"{checkpoint}: {key} has shape {tuple(value.shape)}, the model config expects {tuple(own[key].shape)}")
    missing, _ = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing:
        raise ExportError(f"{checkpoint}: no weights for {missing[0]}")
    return model.eval()


def import_open_clip(model_name: str, checkpoint: str, out: str, precision: str, name: str | None) -> Path:
    from . import clip_tokenizer
    from .clip_towers import write_clip_pack
    from .hf_clip import OPENAI_MEAN, OPENAI_STD
    from .pack_writer import new_pack, write_manifest
    from .progress import say
    from .weights import load_state_dict

    config = read_model_config(model_name)
    check_supported(model_name, config)
    say(f"reading {checkpoint}")
    state = load_state_dict(checkpoint)
    model = to_transformers(state, config, checkpoint)
    tokenizer = clip_tokenizer.from_open_clip_bpe(bpe_vocabulary())
    # OpenCLIP pads with id 0 and pools at the end-of-text token.
    special = clip_tokenizer.special_ids(tokenizer, 0)
    size = config["vision_cfg"]["image_size"]
    preprocess = {"size": size, "resize": "shortest", "background": "#ffffff", "mean": OPENAI_MEAN, "std": OPENAI_STD}
    with new_pack(out) as work:
        manifest = write_clip_pack(
            model, tokenizer, special, preprocess, config["text_cfg"].get("context_length", 77), work,
            name or Path(out).name, precision,
            {"kind": "open-clip", "model": model_name, "checkpoint": str(Path(checkpoint).resolve())},
        )
        write_manifest(work, manifest)
    say(f"wrote {out}")
    return Path(out)


