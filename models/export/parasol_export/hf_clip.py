"""`hf-clip <folder>`: a Hugging Face CLIP folder -> a semantic pack."""
import json
from pathlib import Path



from . import clip_tokenizer
from .clip_towers import write_clip_pack
from .errors import ExportError
from .pack_writer import new_pack, write_manifest
from .progress import say
from .weights import load_state_dict

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def import_hf_clip(folder: str, out: str, precision: str, name: str | None) -> Path:
    source = Path(folder)
    config = read_json(source / "config.json", required=True)
    if config.get("model_type") != "clip":
        raise ExportError(
            f"{source}/config.json: unsupported architecture {config.get('model_type')!r} (hf-clip imports model_type \"clip\")"
        )
    from transformers import CLIPConfig, CLIPModel

    weights = next((source / f for f in ("model.safetensors", "pytorch_model.bin") if (source / f).exists()), None)
    if weights is None:
        raise ExportError(f"{source}: has neither model.safetensors nor pytorch_model.bin")
    say(f"reading {weights}")
    state = load_state_dict(weights)
    model = CLIPModel(CLIPConfig.from_dict(config))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing:
        raise ExportError(f"{weights}: lacks {len(missing)} weights of this config (first: {missing[0]})")

    tokenizer, special = read_tokenizer(source)
    text_config = model.config.text_config
    max_tokens = int(text_config.max_position_embeddings)
    preprocess = read_preprocess(source, int(model.config.vision_config.image_size))
    with new_pack(out) as work:
        manifest = write_clip_pack(
            model, tokenizer, special, preprocess, max_tokens, work, name or Path(out).name, precision,
            {"kind": "hf-clip", "path": str(source.resolve())},
        )
        write_manifest(work, manifest)
    say(f"wrote {out}")
    return Path(out)


def read_json(path: Path, required: bool = False) -> dict | None:
    if not path.exists():
        if required:
            raise ExportError(f"{path}: missing")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ExportError(f"{path}: not valid JSON ({error})") from None


def read_tokenizer(source: Path):
    if (source / "vocab.json").exists() and (source / "merges.txt").exists():
        tokenizer = clip_tokenizer.from_vocab_files(source / "vocab.json", source / "merges.txt")
    elif (source / "tokenizer.json").exists():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
    else:
        raise ExportError(f"{source}: has no tokenizer (vocab.json + merges.txt, or tokenizer.json)")
    pad = clip_tokenizer.END
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        declared = (read_json(source / file) or {}).get("pad_token")
        if isinstance(declared, dict):
            declared = declared.get("content")
        if isinstance(declared, str) and tokenizer.token_to_id(declared) is not None:
            pad = declared
            break
    return tokenizer, clip_tokenizer.special_ids(tokenizer, pad)


def read_preprocess(source: Path, image_size: int) -> dict:
    """The checkpoint's own processor config: shortest side to `shortest_edge`, centre crop to the model's size."""
    config = read_json(source / "preprocessor_config.json") or {}
    crop = config.get("crop_size", image_size)
    crop = crop.get("height", image_size) if isinstance(crop, dict) else int(crop)
    if crop != image_size:
        raise ExportError(f"{source}/preprocessor_config.json: crop_size {crop} differs from the model's image_size {image_size}")
    size = config.get("size", image_size)
    shortest = size.get("shortest_edge", image_size) if isinstance(size, dict) else int(size)
    if config.get("do_center_crop") is False and shortest != image_size:
        raise ExportError(f"{source}/preprocessor_config.json: no centre crop, but size {shortest} differs from image_size {image_size}")
    preprocess = {
        "size": image_size,
        "resize": "shortest",
        "background": "#ffffff",
        "mean": [float(v) for v in config.get("image_mean", OPENAI_MEAN)],
        "std": [float(v) for v in config.get("image_std", OPENAI_STD)],
    }
    if shortest != image_size:
        preprocess["shortestSide"] = shortest
    return preprocess


