"""ONNX export (opset 17, dynamic batch, checked by onnx.checker) and onnxruntime-node runs of the exported files."""
import json
import os
import subprocess

import onnx
import torch

from .config import REPO_ROOT, TRAIN_DIR
from .runtime import log


def export_onnx(model, args, names_in, name_out, path):
    dyn = {n: {0: "batch"} for n in names_in}
    dyn[name_out] = {0: "batch"}
    torch.onnx.export(model, args, path, input_names=names_in, output_names=[name_out], dynamic_axes=dyn,
                      opset_version=17, do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(onnx.load(path))
    log(f"exported {os.path.basename(path)} ({os.path.getsize(path) / 1e6:.2f} MB), onnx.checker ok")


def run_node(script: str, args: list[str]) -> str:
    """stdout of `node models/train/<script> args...` run from the repository root (it needs node_modules)."""
    r = subprocess.run(["node", os.path.join(TRAIN_DIR, script)] + args, capture_output=True, text=True, cwd=REPO_ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"node {script} failed: {r.stderr[-2000:]}")
    return r.stdout


def onnxruntime_outputs(pack: str, cases_path: str, cases: list[dict]) -> list[dict]:
    """Runs each case {file, inputs: {name: {dims, data, type?}}, output} through onnxruntime-node."""
    json.dump(cases, open(cases_path, "w"))
    return json.loads(run_node("verify_onnx.mjs", [os.path.abspath(pack), os.path.abspath(cases_path)]))
