"""Reading checkpoint files as plain state dicts, with one clear error for a damaged file."""
from pathlib import Path

import torch

from .errors import ExportError


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such weights file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded = load_file(str(path))
        else:
            loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # every reader fails differently on a cut-off file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ExportError(f"{path}: cannot read the weights (truncated or corrupt file? {reason})") from None
    return unwrap(loaded, path)


def unwrap(loaded: object, path: Path) -> dict[str, torch.Tensor]:
    """Training checkpoints nest the weights ({"state_dict": ...}, {"model": ...}) and prefix them (module.)."""
    for key in ("state_dict", "model_state_dict", "model", "module"):
        if isinstance(loaded, dict) and key in loaded and isinstance(loaded[key], dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ExportError(f"{path}: not a state dict of tensors (a TorchScript archive? save model.state_dict())")
    out = {}
    for key, value in loaded.items():
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out
