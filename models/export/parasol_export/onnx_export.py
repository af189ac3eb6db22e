"""PyTorch tower -> ONNX file at a chosen precision, verified against PyTorch before it is kept."""
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from .errors import ExportError
from .progress import say

PRECISIONS = ("fp32", "fp16", "int8")
# Protobuf cannot hold a model over 2 GiB; larger towers keep their weights in a side file.
EXTERNAL_DATA_BYTES = 2 * 1024**3 - 64 * 1024**2
OPSET = 18
FP32_TOLERANCE = 1e-4
LOW_PRECISION_MIN_COSINE = 0.99


class Normalised(torch.nn.Module):
    """The pack contract: every tower outputs L2-normalised embeddings."""

    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, *inputs):
        return torch.nn.functional.normalize(self.features(*inputs), dim=-1)


def export_tower(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    input_names: list[str],
    path: Path,
    precision: str,
    probe: tuple[torch.Tensor, ...],
    output_name: str = "embedding",
    normalise: bool = True,
    token_axis: bool = False,
) -> dict:
    """Writes `path` (plus `path`.data when large) and returns what the check measured.

    `normalise=False` keeps the output as it is (the style statistics, whose scale per layer matters).
    With `token_axis` (text towers) the inputs' second axis is dynamic too, so the runtime can pad a batch
    only to its longest text instead of the whole context; the check then also runs the probe with its
    padding cut off."""
    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r} (expected one of {', '.join(PRECISIONS)})")
    module = (Normalised(module) if normalise else module).eval()
    fp32_path = path.with_name(path.stem + ".fp32.onnx") if precision != "fp32" else path
    with torch.no_grad():
        torch.onnx.export(
            module,
            example,
            str(fp32_path),
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes={
                **{name: {0: "batch", 1: "tokens"} if token_axis else {0: "batch"} for name in input_names},
                output_name: {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
        save_model(model, path)
        remove_model(fp32_path)
    elif precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(fp32_path),
            str(path),
            weight_type=QuantType.QInt8,
            # Gather: a text tower's token table is most of its bytes (ViT-B/32: 101 of 254 MB).
            op_types_to_quantize=["MatMul", "Gemm", "Gather"],
            use_external_data_format=model_bytes(fp32_path) > EXTERNAL_DATA_BYTES,
        )
        remove_model(fp32_path)
    else:
        model = onnx.load(str(path))
        if model.ByteSize() > EXTERNAL_DATA_BYTES:
            save_model(model, path)
    check = verify(module, path, input_names, probe, precision, output_name)
    if token_axis:
        check["trimmed"] = verify(module, path, input_names, trim_padding(probe), precision, output_name, want_from=probe)
    return check


def trim_padding(probe: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """(ids, mask) cut to the longest real text: what the runtime feeds a text tower with a token axis."""
    ids, mask = probe
    longest = int(mask.sum(1).max())
    return ids[:, :longest], mask[:, :longest]


def model_bytes(path: Path) -> int:
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def save_model(model: onnx.ModelProto, path: Path) -> None:
    large = sum(t.ByteSize() for t in model.graph.initializer) > EXTERNAL_DATA_BYTES
    if large:
        onnx.save_model(
            model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=path.name + ".data"
        )
    else:
        onnx.save_model(model, str(path))


def remove_model(path: Path) -> None:
    for file in (path, path.with_name(path.name + ".data")):
        if file.exists():
            os.remove(file)


def verify(
    module,
    path: Path,
    input_names: list[str],
    probe: tuple[torch.Tensor, ...],
    precision: str,
    output_name: str = "embedding",
    want_from: tuple[torch.Tensor, ...] | None = None,
) -> dict:
    """Runs the written file on `probe` and PyTorch on `want_from` (default: the same probe): fp32 must
    agree to 1e-4 (relative to the largest output when that exceeds 1: unnormalised statistics), fp16/int8
    by cosine."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: tensor.numpy() for name, tensor in zip(input_names, probe)}
    got = session.run([output_name], feeds)[0]
    with torch.no_grad():
        want = module(*(want_from if want_from is not None else probe)).numpy()
    if got.shape != want.shape:
        raise ExportError(f"{path.name}: ONNX output shape {got.shape} differs from PyTorch {want.shape}")
    max_diff = float(np.abs(got - want).max())
    scale = max(1.0, float(np.abs(want).max()))
    cosine = float(((got * want).sum(-1) / (np.linalg.norm(got, axis=-1) * np.linalg.norm(want, axis=-1))).min())
    if precision == "fp32" and max_diff > FP32_TOLERANCE * scale:
        raise ExportError(f"{path.name}: ONNX differs from PyTorch by {max_diff:.2e} (> {FP32_TOLERANCE})")
    if precision != "fp32" and cosine < LOW_PRECISION_MIN_COSINE:
        say(f"warning: {path.name} at {precision} has cosine {cosine:.4f} to fp32 on the probe")
    say(f"{path.name}: {precision}, {model_bytes(path) / 1e6:.1f} MB, max |onnx - torch| {max_diff:.2e}, min cosine {cosine:.6f}")
    return {"maxAbsDiff": max_diff, "minCosine": cosine}
