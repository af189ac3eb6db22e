"""`parasol pack import statistics --into <pack>`: the weights-free style descriptor for a pack whose
semantic image tower is a conv net already in ONNX (the bundled mini pack, or any CNN tower), derived
by graph surgery: the per-channel mean and standard deviation over the spatial positions of every
activation (ReLU/GELU/SiLU) output, concatenated (ALADIN's AdaIN statistics). CLIP ViT towers get
theirs from PyTorch at import (clip_towers.VisionStatistics, token statistics per block)."""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, shape_inference

from .errors import ExportError
from .pack_writer import extended_pack, read_manifest, write_manifest
from .progress import say

ACTIVATIONS = {"Relu", "Gelu", "Sigmoid", "Silu", "HardSwish", "LeakyRelu", "Mish"}
EPS = 1e-6
STATS_FILE = "style_stats.onnx"


def activation_outputs(model: onnx.ModelProto) -> list[tuple[str, int]]:
    """The 4-D (batch, channels, height, width) activation outputs, in graph order, with their channels."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: v.type.tensor_type.shape.dim for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    found = []
    for node in model.graph.node:
        if node.op_type not in ACTIVATIONS:
            continue
        dims = shapes.get(node.output[0])
        if dims is not None and len(dims) == 4 and dims[1].dim_value > 0:
            found.append((node.output[0], dims[1].dim_value))
    return found


def reduce_mean(opset: int, name: str, source: str, keepdims: int, nodes: list, initializers: list) -> str:
    if opset >= 18:
        axes = f"{name}/axes"
        if not any(i.name == axes for i in initializers):
            initializers.append(onnx.numpy_helper.from_array(np.array([2, 3], dtype=np.int64), axes))
        nodes.append(helper.make_node("ReduceMean", [source, axes], [name], keepdims=keepdims))
    else:
        nodes.append(helper.make_node("ReduceMean", [source], [name], axes=[2, 3], keepdims=keepdims))
    return name


def statistics_nodes(model: onnx.ModelProto) -> tuple[int, list[str], list, list]:
    """The nodes computing "statistics" from the model's activations: (length, sources, nodes, initializers)."""
    acts = activation_outputs(model)
    if not acts:
        raise ExportError(
            "the semantic image tower has no 4-D activations to take statistics of (a ViT? re-import it with "
            "`parasol pack import hf-clip|open-clip`, which exports its token statistics)"
        )
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    nodes, initializers, parts = [], [], []
    eps = "parasol_stats/eps"
    initializers.append(onnx.numpy_helper.from_array(np.array(EPS, dtype=np.float32), eps))
    for i, (source, _) in enumerate(acts):
        p = f"parasol_stats/{i}"
        mean_k = reduce_mean(opset, f"{p}/mean_k", source, 1, nodes, initializers)
        nodes.append(helper.make_node("Sub", [source, mean_k], [f"{p}/centred"]))
        nodes.append(helper.make_node("Mul", [f"{p}/centred", f"{p}/centred"], [f"{p}/sq"]))
        var = reduce_mean(opset, f"{p}/var", f"{p}/sq", 0, nodes, initializers)
        nodes.append(helper.make_node("Add", [var, eps], [f"{p}/var_eps"]))
        nodes.append(helper.make_node("Sqrt", [f"{p}/var_eps"], [f"{p}/std"]))
        nodes.append(helper.make_node("Flatten", [mean_k], [f"{p}/mean"], axis=1))
        parts += [f"{p}/mean", f"{p}/std"]
    nodes.append(helper.make_node("Concat", parts, ["statistics"], axis=1))
    return 2 * sum(c for _, c in acts), [s for s, _ in acts], nodes, initializers


def build(semantic_path: Path, out_path: Path) -> dict:
    model = onnx.load(str(semantic_path))
    dim, sources, nodes, initializers = statistics_nodes(model)
    graph = model.graph
    graph.node.extend(nodes)
    graph.initializer.extend(initializers)
    input_name = graph.input[0].name
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("statistics", onnx.TensorProto.FLOAT, ["batch", dim]))
    # Only what the statistics need: the head after the last activation goes.
    onnx.save(model, str(out_path))
    pruned = onnx.utils.Extractor(onnx.load(str(out_path))).extract_model([input_name], ["statistics"])
    onnx.save(pruned, str(out_path))
    return verify(semantic_path, out_path, input_name, sources, dim)


def verify(semantic_path: Path, out_path: Path, input_name: str, sources: list[str], dim: int) -> dict:
    """The statistics against numpy's, computed from the original graph's own activations."""
    model = onnx.load(str(semantic_path))
    acts_model = onnx.utils.Extractor(shape_inference.infer_shapes(model)).extract_model([input_name], sources)
    size = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][2:] or [64, 64]
    pixels = np.random.default_rng(0).standard_normal((2, 3, *[s or 64 for s in size])).astype(np.float32)
    acts = ort.InferenceSession(acts_model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {input_name: pixels})
    want = np.concatenate([np.concatenate([a.mean((2, 3)), np.sqrt(a.var((2, 3)) + EPS)], 1) for a in acts], 1)
    got = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"]).run(["statistics"], {input_name: pixels})[0]
    if got.shape != (2, dim):
        raise ExportError(f"{out_path.name}: outputs {got.shape}, expected (2, {dim})")
    diff = float(np.abs(got - want).max())
    if diff > 1e-4 * max(1.0, float(np.abs(want).max())):
        raise ExportError(f"{out_path.name}: differs from the activations' statistics by {diff:.2e}")
    say(f"{out_path.name}: {len(sources)} activations, {dim} statistics, max |diff| {diff:.2e}")
    return {"maxAbsDiff": diff, "activations": len(sources)}


def import_statistics(pack: str, replace_style: bool) -> Path:
    with extended_pack(pack) as work:
        manifest = read_manifest(work)
        style = manifest.get("style")
        if style and "statistics" not in style and not replace_style:
            raise ExportError(f"{pack}: already has a trained style tower ({style['image']['file']}); pass --replace-style to describe styles by statistics instead")
        semantic = manifest["semantic"]["image"]
        (work / STATS_FILE).unlink(missing_ok=True)
        check = build(work / semantic["file"], work / STATS_FILE)
        stats_dim = int(onnx.load(str(work / STATS_FILE)).graph.output[0].type.tensor_type.shape.dim[1].dim_value)
        manifest["style"] = {
            "dim": min(128, stats_dim),
            "image": {"file": STATS_FILE, "input": semantic["input"], "output": "statistics", "preprocess": semantic["preprocess"]},
            "statistics": {"dim": stats_dim, "source": f"channel mean and std of {check['activations']} conv activations"},
        }
        manifest.setdefault("checks", {})["styleStatistics"] = check
        write_manifest(work, manifest)
    return Path(pack)
