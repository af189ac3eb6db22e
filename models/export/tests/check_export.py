"""Builds tiny random checkpoints of the real classes, imports them with `python -m parasol_export`
(the path users run), and checks ONNX against PyTorch. Writes <work>/reference.json for the Node
tests (tokenizer ids, embeddings) and exits non-zero on any failure.

usage: python models/export/tests/check_export.py <work-folder>
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

HERE = Path(__file__).resolve().parent
EXPORT_ROOT = HERE.parent
sys.path.insert(0, str(EXPORT_ROOT))
sys.path.insert(0, str(HERE))

# transformers asks whether torchvision is installed while it defines its classes: import them
# before the test-only finder below makes torchvision look present.
from transformers import CLIPConfig, CLIPModel, CLIPVisionModel, ViTModel  # noqa: E402,F401

import torchvision_absent  # noqa: E402

torchvision_absent.install()

from parasol_export import clip_tokenizer  # noqa: E402
from parasol_export.openclip_convert import bpe_vocabulary  # noqa: E402

TOLERANCE = 1e-4
CONTEXT = 16
STRINGS = [
    "a photo of a cat",
    "Pizza!",
    "ink-wash painting, misty mountains.",
    "Café au lait — crème brûlée",
    "naïve façade, Ångström, smörgåsbord",
    "🐱 cat emoji 🍕🍕",
    "👩‍👩‍👧 family",
    "it's, they're, we'll, I'd, you've",
    "HELLO    World\tTabs\nnewline",
    "3.14159 and 42 apples",
    "#hashtag @mention $100 50%",
    "(parentheses) [brackets] {braces}",
    "ÀÉÎÕÜ uppercase accents",
    "日本語のテキスト",
    "emoji only 😀😃😄",
    "x",
    "",
    "   leading and trailing   ",
    "don't stop-believing!!!",
    "a.b.c,d;e:f?g",
    "über straße",
    " ".join(f"word{i}" for i in range(100)),
]


def run_import(*args: str, subprocess_run: bool = False) -> subprocess.CompletedProcess:
    """The exporter's own entry point: `python -m parasol_export` in a child process (as users run
    it), or its main() in this process, which saves a torch import per call on a busy machine."""
    if subprocess_run:
        return subprocess.run([sys.executable, "-m", "parasol_export", *args], cwd=EXPORT_ROOT, capture_output=True, text=True)
    import contextlib
    import io

    from parasol_export.__main__ import main as export_main

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = export_main(list(args))
    return subprocess.CompletedProcess(args, code, "", stderr.getvalue())


def must_import(*args: str, subprocess_run: bool = False) -> None:
    result = run_import(*args, subprocess_run=subprocess_run)
    if result.returncode != 0:
        raise SystemExit(f"import {' '.join(args)} failed:\n{result.stderr}")


def must_refuse(needle: str, *args: str) -> str:
    result = run_import(*args)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.returncode == 0 or len(lines) != 1 or needle not in lines[0] or "Traceback" in result.stderr:
        raise SystemExit(f"expected one 'error:' line containing {needle!r} for {args}, got rc={result.returncode}:\n{result.stderr}")
    return lines[0]


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def unit(x: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(x, dim=-1).detach().numpy()


def close(name: str, got: np.ndarray, want: np.ndarray) -> float:
    diff = float(np.abs(got - want).max())
    if diff > TOLERANCE:
        raise SystemExit(f"{name}: ONNX differs from PyTorch by {diff:.2e}")
    print(f"ok {name}: max |onnx - torch| = {diff:.2e}")
    return diff


def text_inputs(tokenizer, special, texts, context):
    ids = [clip_tokenizer.encode(tokenizer, t, special, context) for t in texts]
    lengths = [min(len(tokenizer.encode(t, add_special_tokens=False).ids), context - 2) + 2 for t in texts]
    mask = [[1] * n + [0] * (context - n) for n in lengths]
    return torch.tensor(ids), torch.tensor(mask)


def tiny_hf_clip(folder: Path, tokenizer) -> "torch.nn.Module":
    torch.manual_seed(1)
    config = CLIPConfig(
        projection_dim=24,
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=CONTEXT, hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                           patch_size=8, hidden_act="quick_gelu"),
    )
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    vocab = tokenizer.get_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    model_json = json.loads(tokenizer.to_str())
    merges = model_json["model"]["merges"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in merges]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": 32, "width": 32}, "do_center_crop": True, "size": {"shortest_edge": 36},
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    }))
    (folder / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<|endoftext|>"}))
    return model


def tiny_open_clip(work: Path):
    import open_clip

    config = {
        "embed_dim": 24,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
        "text_cfg": {"context_length": CONTEXT, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2},
    }
    path = work / "tiny-open-clip.json"
    path.write_text(json.dumps(config))
    torch.manual_seed(2)
    model = open_clip.model.CLIP(config["embed_dim"], open_clip.model.CLIPVisionCfg(**config["vision_cfg"]),
                                 open_clip.model.CLIPTextCfg(**config["text_cfg"])).eval()
    checkpoint = work / "tiny-open-clip.pt"
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, checkpoint)
    return model, path, checkpoint


def tiny_timm_vit(work: Path):
    import timm

    torch.manual_seed(3)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, num_classes=0
    ).eval()
    head = torch.nn.Linear(48, 20)
    checkpoint, head_file = work / "tiny-vit.safetensors", work / "tiny-vit-head.pt"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(checkpoint))
    torch.save(head.state_dict(), head_file)
    return model, head.eval(), checkpoint, head_file


def tiny_csd(work: Path):
    """CSD's backbone is OpenAI's CLIP ViT (QuickGELU, 64-wide heads); its proj is replaced by last_layer_style."""
    import open_clip

    torch.manual_seed(4)
    visual = open_clip.model._build_vision_tower(
        24, open_clip.model.CLIPVisionCfg(image_size=32, layers=2, width=128, patch_size=8), quick_gelu=True
    ).eval()
    style = torch.randn(128, 12)
    state = {f"module.backbone.{k}": v for k, v in visual.state_dict().items() if k != "proj"}
    state["module.last_layer_style"] = style
    state["module.last_layer_content"] = torch.randn(128, 12)
    checkpoint = work / "tiny-csd.pth"
    torch.save({"model_state_dict": state}, checkpoint)
    visual.proj = None
    return checkpoint, visual, style


def main() -> None:
    work = Path(sys.argv[1]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = clip_tokenizer.from_open_clip_bpe(bpe_vocabulary())
    reference: dict = {"strings": STRINGS, "context": CONTEXT, "packs": {}}

    # Tokenizer: the exported tokenizer.json against OpenCLIP's own SimpleTokenizer.
    import open_clip

    simple = open_clip.tokenizer.SimpleTokenizer(context_length=CONTEXT)
    special = clip_tokenizer.special_ids(tokenizer, 0)
    want_ids = simple(STRINGS).tolist()
    got_ids = [clip_tokenizer.encode(tokenizer, s, special, CONTEXT) for s in STRINGS]
    for s, got, want in zip(STRINGS, got_ids, want_ids):
        if got != want:
            raise SystemExit(f"tokenizer.json and OpenCLIP disagree on {s!r}: {got} vs {want}")
    print(f"ok tokenizer: {len(STRINGS)} strings identical to OpenCLIP's SimpleTokenizer")
    reference["openClipIds"] = want_ids

    # 1. Hugging Face CLIP folder.
    hf_folder = work / "hf-clip-src"
    hf_folder.mkdir(exist_ok=True)
    hf_model = tiny_hf_clip(hf_folder, tokenizer)
    hf_pack = work / "hf-pack"
    must_import("hf-clip", str(hf_folder), "--out", str(hf_pack), subprocess_run=True)
    manifest = json.loads((hf_pack / "pack.json").read_text())
    hf_special = manifest["semantic"]["text"]["specialTokens"]
    ids, mask = text_inputs(tokenizer, hf_special, STRINGS, CONTEXT)
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want_text = unit(hf_model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output)
        want_image = unit(hf_model.get_image_features(pixel_values=pixels).pooler_output)
    got_text = session(hf_pack / "semantic_text.onnx").run(["embedding"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    got_image = session(hf_pack / "semantic_image.onnx").run(["embedding"], {"pixels": pixels.numpy()})[0]
    close("hf-clip text", got_text, want_text)
    close("hf-clip image", got_image, want_image)
    reference["packs"]["hf"] = {"ids": ids.tolist(), "text": want_text.tolist()}

    # 1b. The CLIP-only pack's weights-free style statistics: per block, token mean and std.
    with torch.no_grad():
        hidden = hf_model.vision_model(pixel_values=pixels, output_hidden_states=True).hidden_states[1:]
        want_stats = torch.cat([torch.cat([h[:, 1:].mean(1), h[:, 1:].std(1, unbiased=False)], -1) for h in hidden], -1).numpy()
    got_stats = session(hf_pack / "style_stats.onnx").run(["statistics"], {"pixels": pixels.numpy()})[0]
    stats_diff = float(np.abs(got_stats - want_stats).max())
    if got_stats.shape != want_stats.shape or stats_diff > TOLERANCE * max(1.0, float(np.abs(want_stats).max())):
        raise SystemExit(f"style statistics: shape {got_stats.shape} vs {want_stats.shape}, max diff {stats_diff:.2e}")
    if manifest["style"]["statistics"]["dim"] != want_stats.shape[1] or "projection" in manifest["style"]["statistics"]:
        raise SystemExit(f"style statistics: pack.json declares {manifest['style']}")
    print(f"ok style statistics: {want_stats.shape[1]} numbers, max |onnx - torch| {stats_diff:.2e}")
    shutil.copytree(hf_pack, work / "clip-only-pack")

    # 2. OpenCLIP checkpoint, checked against the open_clip model itself.
    oc_model, oc_config, oc_checkpoint = tiny_open_clip(work)
    oc_pack = work / "open-clip-pack"
    must_import("open-clip", "--model", str(oc_config), "--checkpoint", str(oc_checkpoint), "--out", str(oc_pack))
    oc_ids = torch.tensor(want_ids)
    oc_mask = (torch.tensor([[1] * (row.index(49407) + 1) + [0] * (CONTEXT - row.index(49407) - 1) for row in want_ids]))
    with torch.no_grad():
        want_text = unit(oc_model.encode_text(oc_ids))
        want_image = unit(oc_model.encode_image(pixels))
    got_text = session(oc_pack / "semantic_text.onnx").run(["embedding"], {"input_ids": oc_ids.numpy(), "attention_mask": oc_mask.numpy()})[0]
    got_image = session(oc_pack / "semantic_image.onnx").run(["embedding"], {"pixels": pixels.numpy()})[0]
    close("open-clip text", got_text, want_text)
    close("open-clip image", got_image, want_image)
    reference["packs"]["openClip"] = {"text": want_text.tolist()}

    # 3. A timm ViT style encoder with a projection head, added to the OpenCLIP pack.
    vit, head, vit_checkpoint, head_file = tiny_timm_vit(work)
    must_import("style", "--arch", "vit_tiny_patch16_224", "--checkpoint", str(vit_checkpoint), "--head", str(head_file), "--heads", "3", "--into", str(oc_pack))
    with torch.no_grad():
        want_style = unit(head(vit.forward_head(vit.forward_features(pixels), pre_logits=True)))
    got_style = session(oc_pack / "style_image.onnx").run(["embedding"], {"pixels": pixels.numpy()})[0]
    close("timm vit style", got_style, want_style)

    # 4. CSD: an OpenAI-layout CLIP vision tower and its style projection.
    csd_checkpoint, visual, style_projection = tiny_csd(work)
    must_import("style", "--kind", "csd", "--checkpoint", str(csd_checkpoint), "--into", str(hf_pack))
    with torch.no_grad():
        want_csd = unit(visual(pixels) @ style_projection)
    got_csd = session(hf_pack / "style_image.onnx").run(["embedding"], {"pixels": pixels.numpy()})[0]
    close("csd style", got_csd, want_csd)

    # 5. Precisions: int8 is smaller and close to fp32.
    int8_pack = work / "int8-pack"
    must_import("open-clip", "--model", str(oc_config), "--checkpoint", str(oc_checkpoint), "--out", str(int8_pack), "--precision", "int8")
    int8 = json.loads((int8_pack / "pack.json").read_text())
    if int8["precision"] != "int8":
        raise SystemExit("int8 pack does not record its precision")
    print(f"ok int8: min cosine to PyTorch {int8['checks']['semanticImage']['minCosine']:.4f} (image)")

    # 5b. A conv semantic tower already in ONNX (the fixture pack): statistics by graph surgery,
    # checked inside the import against the activations' own mean/std; a ViT tower is refused.
    conv_pack = work / "conv-statistics-pack"
    shutil.copytree(HERE.parents[2] / "test" / "fixtures" / "tiny-pack", conv_pack)
    must_refuse("already has a trained style tower", "statistics", "--into", str(conv_pack))
    must_import("statistics", "--into", str(conv_pack), "--replace-style")
    conv = json.loads((conv_pack / "pack.json").read_text())
    if conv["style"]["image"]["file"] != "style_stats.onnx" or conv["checks"]["styleStatistics"]["activations"] != 2:
        raise SystemExit(f"statistics import wrote {conv['style']}")
    must_refuse("no 4-D activations", "statistics", "--into", str(int8_pack), "--replace-style")
    print(f"ok conv statistics: {conv['style']['statistics']['dim']} numbers, max |diff| {conv['checks']['styleStatistics']['maxAbsDiff']:.2e}")

    # 6. Refusals: one line each, and nothing left behind.
    reference["refusals"] = {
        "architecture": must_refuse("unsupported architecture", "style", "--arch", "resnet50", "--checkpoint", str(vit_checkpoint), "--into", str(oc_pack)),
        "openClipArchitecture": must_refuse("unsupported architecture", "open-clip", "--model", "RN50", "--checkpoint", str(oc_checkpoint), "--out", str(work / "rn50")),
    }
    truncated = work / "truncated-src"
    truncated.mkdir(exist_ok=True)
    for file in ("config.json", "vocab.json", "merges.txt"):
        (truncated / file).write_bytes((hf_folder / file).read_bytes())
    data = (hf_folder / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    reference["refusals"]["truncated"] = must_refuse("truncated", "hf-clip", str(truncated), "--out", str(work / "truncated-pack"))
    leftovers = [p.name for p in work.iterdir() if p.name.startswith((".truncated-pack", "truncated-pack", "rn50", ".rn50"))]
    if leftovers:
        raise SystemExit(f"a failed import left {leftovers}")
    print("ok refusals: " + " | ".join(reference["refusals"].values()))

    (work / "reference.json").write_text(json.dumps(reference))
    print("ok all")


if __name__ == "__main__":
    main()
