"""The foreground-histogram colour part (parasol_train/models/colour.py): the same numbers as the style baseline's
histogram, a descriptor that mixes as its weight says, and an ONNX export that onnxruntime runs to the same output.
Run from models/train: python -m unittest discover tests"""
import os
import tempfile
import unittest

import numpy as np
import torch

from parasol_train.checkpoints import style_colour_path, style_descriptor
from parasol_train.config import ConfigError, load_config, style_dim
from parasol_train.data import to_tensor
from parasol_train.export import export_onnx, onnxruntime_outputs
from parasol_train.models.colour import ColourPart, ForegroundHistogram, StyleDescriptor, fit_axes
from parasol_train.models.encoders import StyleNet
from parasol_train.stages.metrics import hist_feat


def drawings(n: int, seed: int = 0) -> np.ndarray:
    """uint8 NHWC images: random colours on white paper, some levels exactly on bin edges and the white threshold."""
    rng = np.random.default_rng(seed)
    X = np.full((n, 64, 64, 3), 255, np.uint8)
    edges = np.array([0, 31, 32, 63, 64, 127, 128, 224, 249, 250, 255], np.uint8)
    for i in range(n):
        for _ in range(6):
            y, x = rng.integers(0, 56, 2)
            h, w = rng.integers(2, 24, 2)
            colour = rng.choice(edges, 3) if rng.random() < 0.5 else rng.integers(0, 256, 3)
            X[i, y:y + h, x:x + w] = colour
    X[0] = 255  # no foreground at all
    return X


class ForegroundHistogramTest(unittest.TestCase):
    def test_matches_the_baseline_histogram(self):
        X = drawings(12)
        with torch.no_grad():
            H = ForegroundHistogram()(to_tensor(X)).numpy()
        np.testing.assert_allclose(H, hist_feat(X, True), atol=1e-6)
        self.assertEqual(float(np.abs(H[0]).sum()), 0.0)
        np.testing.assert_allclose(H[1:].sum(1), 1, atol=1e-5)


class StyleDescriptorTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        X = drawings(40, seed=1)
        mean, axes = fit_axes(hist_feat(X, True), 16)
        self.X = X
        self.net = StyleNet(128, colour_dim=32).eval()
        self.descriptor = StyleDescriptor(self.net, ColourPart(mean, axes), 0.3).eval()

    def test_mixes_learned_and_colour_parts_by_w(self):
        with torch.no_grad():
            P = to_tensor(self.X[1:9])
            E = self.descriptor(P).numpy()
            learned = torch.nn.functional.normalize(self.net(P)[:, :96], dim=-1).numpy()
            colour = self.descriptor.colour(P).numpy()
        self.assertEqual(E.shape, (8, 96 + 16))
        self.assertEqual(self.descriptor.dim, 112)
        np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
        cos = float(E[0] @ E[1])
        expected = 0.7 * float(learned[0] @ learned[1]) + 0.3 * float(colour[0] @ colour[1])
        self.assertAlmostEqual(cos, expected, places=5)

    def test_onnx_export_runs_to_the_same_output(self):
        P = to_tensor(self.X[:6])
        with torch.no_grad():
            expected = self.descriptor(P).numpy()
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "style_image.onnx")
            export_onnx(self.descriptor, (torch.zeros(2, 3, 64, 64),), ["pixels"], "embedding", path)
            # onnxruntime-node, as the engine runs it.
            case = {"file": "style_image.onnx", "output": "embedding",
                    "inputs": {"pixels": {"dims": list(P.shape), "data": P.numpy().ravel().tolist()}}}
            got = onnxruntime_outputs(folder, os.path.join(folder, "cases.json"), [case])[0]
        self.assertEqual(got["dims"], [6, 112])
        np.testing.assert_allclose(np.array(got["data"]).reshape(6, 112), expected, atol=1e-5)


class ForegroundConfigTest(unittest.TestCase):
    def test_the_descriptor_width_follows_the_config(self):
        # the shipped recipe: the learned part beside the foreground histogram on 128 axes
        self.assertEqual(style_dim(load_config("configs/mini.toml")), 96 + 128)
        self.assertEqual(style_dim(load_config("configs/mini.toml", ["style.colour_head=\"trained\""])), 128)
        cfg = load_config("configs/mini.toml", ["style.colour_head=\"foreground\"", "style.colour_axes=64"])
        self.assertEqual(style_dim(cfg), 96 + 64)
        with self.assertRaises(ConfigError):
            load_config("configs/mini.toml", ["style.colour_head=\"histogram\""])
        with self.assertRaises(ConfigError):
            load_config("configs/mini.toml", ["style.colour_head=\"foreground\"", "style.colour_w=1.5"])

    def test_the_loader_refuses_missing_or_stale_axes(self):
        with tempfile.TemporaryDirectory() as work:
            cfg = load_config("configs/mini.toml", ["style.colour_head=\"foreground\"", "style.colour_axes=16", f"paths.work=\"{work}\""])
            net = StyleNet(128, colour_dim=32).eval()
            with self.assertRaisesRegex(RuntimeError, "style_colour stage"):
                style_descriptor(cfg, net, 150)
            mean, axes = fit_axes(hist_feat(drawings(30), True), 16)
            np.savez(style_colour_path(cfg), mean=mean, axes=axes, w=np.float32(0.3), style_step=150, fit_images=30)
            self.assertEqual(style_descriptor(cfg, net, 150).dim, 112)
            with self.assertRaisesRegex(RuntimeError, "another style checkpoint"):
                style_descriptor(cfg, net, 151)
            # The learned part on its own axes too: 8 + 16 dimensions, unit length, mixed by w.
            both = load_config("configs/mini.toml", ["style.colour_head=\"foreground\"", "style.colour_axes=16", "style.learned_axes=8",
                                                     f"paths.work=\"{work}\""])
            self.assertEqual(style_dim(both), 24)
            with self.assertRaisesRegex(RuntimeError, "another style checkpoint or width"):
                style_descriptor(both, net, 150)
            with torch.no_grad():
                L = torch.nn.functional.normalize(net(to_tensor(drawings(20)))[:, :96], dim=-1).numpy()
            l_mean, l_axes = fit_axes(L, 8)
            np.savez(style_colour_path(both), mean=mean, axes=axes, w=np.float32(0.5), style_step=150, fit_images=30,
                     learned_mean=l_mean, learned_axes=l_axes)
            descriptor = style_descriptor(both, net, 150)
            with torch.no_grad():
                E = descriptor(to_tensor(drawings(5, seed=3))).numpy()
            self.assertEqual(E.shape, (5, 24))
            np.testing.assert_allclose(np.linalg.norm(E[:, :8], axis=1), np.sqrt(0.5), atol=1e-5)
            trained = load_config("configs/mini.toml", ["style.colour_head=\"trained\"", f"paths.work=\"{work}\""])
            self.assertIs(style_descriptor(trained, net, 151), net)


if __name__ == "__main__":
    unittest.main()
