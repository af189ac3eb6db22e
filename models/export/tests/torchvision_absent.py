"""TEST-ONLY: lets `import timm` / `import open_clip` succeed without torchvision.

Both packages import torchvision at import time (FrozenBatchNorm2d, transforms) but the model
classes the tests build (timm's VisionTransformer, OpenCLIP's CLIP) never call it. The local
torchvision wheels are CUDA builds that break transformers, so the reference models are built with
this finder installed: every torchvision name resolves to a class that fails if it is ever used.
The shipped exporter (parasol_export) never imports timm, open_clip or torchvision.
"""
import importlib.abc
import importlib.machinery
import sys
import types


class _Placeholder(type):
    # Class-level constants (InterpolationMode.BICUBIC) used as default arguments at import time.
    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(name, (_Unavailable,), {})


class _Unavailable(metaclass=_Placeholder):
    def __init__(self, *args, **kwargs):
        raise RuntimeError("torchvision is not installed; this test path must not use it")


class _Module(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(name, (_Unavailable,), {})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Module(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def install() -> None:
    if "torchvision" not in sys.modules:
        sys.meta_path.insert(0, _Finder())
