"""The training device and the GPU round trip, on the CPU: runtime.device resolves as documented; checkpoints hold CPU
tensors and the device that trained them; a time budget sets the step count once and ends with a final checkpoint;
measuring autocast leaves a stage as it was; and gpu.sh's three steps (pack, train --device cpu, import) followed
by export_generator run end to end on a tiny synthetic corpus, the imported weights being exactly those trained (and a
rerun keeps the returned autoencoder, `--reuse`), with
the shipped recipe's style descriptor (the tower beside its fitted foreground colour part) as the generator's style.
Run from models/train: nice -n 10 python3 -m pytest -q tests/test_device.py"""
import json
import os
import random
import tempfile
import time
import unittest

import numpy as np
import torch

from PIL import Image

from parasol_train.config import load_config
from parasol_train.models.colour import fit_axes
from parasol_train.models.encoders import StyleNet
from parasol_train.runtime import atomic_save, load_checkpoint, resolve_device, to_cpu
from parasol_train.stages.metrics import hist_feat
from parasol_train.trainer import TrainStage, measure_amp, train


class ToyStage(TrainStage):
    name = "toy"

    def __init__(self, total=6, sleep=0.0, minutes=0.0):
        torch.manual_seed(0)
        self.total, self.lr, self.warmup, self.log_every, self.ckpt_every = total, 0.1, 5, 1000, 1000
        self.minutes, self.sleep = minutes, sleep
        self.device = resolve_device("cpu")
        self.net = torch.nn.Linear(3, 1).to(self.device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr)
        self.rng = random.Random(1)

    def modules(self):
        return {"net": self.net, "opt": self.optimizer}

    def train_step(self, step):
        g = torch.Generator().manual_seed(step)
        x = (torch.randn(8, 3, generator=g) + self.rng.random()).to(self.device)
        with self.autocast():
            loss = ((self.net(x) - x.sum(1, keepdim=True)) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.sleep:
            time.sleep(self.sleep)
        return {"loss": loss.item()}


class DeviceTest(unittest.TestCase):
    def test_names(self):
        self.assertEqual(resolve_device("cpu").type, "cpu")
        self.assertEqual(resolve_device("auto").type, "cuda" if torch.cuda.is_available() else "cpu")
        with self.assertRaises(ValueError):
            resolve_device("gpu")
        if not torch.cuda.is_available():
            with self.assertRaises(RuntimeError):
                resolve_device("cuda")

    def test_config_default_and_override(self):
        self.assertEqual(load_config(None).runtime.device, "auto")
        cfg = load_config(None, ["runtime.device=cpu", "runtime.amp=true", "generator.unet.minutes=2.5"])
        self.assertEqual((cfg.runtime.device, cfg.runtime.amp, cfg.generator.unet.minutes), ("cpu", True, 2.5))

    def test_to_cpu_walks_nested_state(self):
        state = {"a": torch.ones(2), "b": [torch.zeros(1), {"c": torch.ones(1)}], "n": 3, "t": (torch.ones(1), 2)}
        out = to_cpu(state)
        self.assertEqual(out["n"], 3)
        self.assertEqual(out["b"][1]["c"].device.type, "cpu")
        self.assertIsInstance(out["t"], tuple)


class CheckpointTest(unittest.TestCase):
    def test_cpu_tensors_and_device_recorded_then_resumed_without_optimizer_state(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "toy.pt")
            train(ToyStage(total=4), path, resume=False)
            ck = torch.load(path, map_location="cpu", weights_only=False)
            self.assertEqual((ck["device"], ck["devices"], ck["total"], ck["amp"]), ("cpu", ["cpu"], 4, False))
            self.assertTrue(all(t.device.type == "cpu" for t in ck["net"].values()))
            # a slim (optimizer-less) unfinished checkpoint, as a GPU run's could come back, resumes
            ck.update(done=False, step=2)
            del ck["opt"]
            torch.save(ck, path)
            train(ToyStage(total=4), path, resume=True)
            again = load_checkpoint(path)
            self.assertTrue(again["done"])
            self.assertEqual(again["step"], 4)
            self.assertEqual(again["devices"], ["cpu"])


class BudgetTest(unittest.TestCase):
    def test_steps_fit_the_minutes_and_the_run_ends_with_a_final_checkpoint(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "toy.pt")
            stage = ToyStage(total=100000, sleep=0.02, minutes=0.03)  # 1.8 s at ~50 steps/s
            train(stage, path, resume=False)
            ck = load_checkpoint(path)
            self.assertTrue(ck["done"])
            self.assertLess(ck["total"], 100000)
            self.assertEqual(ck["step"], ck["total"])
            self.assertEqual(ck["budget_minutes"], 0.03)
            self.assertGreater(ck["step"], 5)

    def test_measuring_autocast_leaves_the_stage_as_it_was(self):
        stage = ToyStage()
        before = {k: v.clone() for k, v in stage.net.state_dict().items()}
        rng = stage.rng.getstate()
        rates = measure_amp(stage, steps=2, warm=1)
        self.assertEqual(set(rates), {"fp32", "bf16"})
        for k, v in stage.net.state_dict().items():
            self.assertTrue(torch.equal(v, before[k]), k)
        self.assertEqual(stage.rng.getstate(), rng)
        self.assertEqual(len(stage.optimizer.state), 0)


def synthetic_corpus(folder):
    """48 train icons in two sets, 8 unseen-content ones, 6 of a held-out set: coloured discs and squares."""
    from PIL import Image, ImageDraw
    os.makedirs(os.path.join(folder, "images"))
    rs = np.random.RandomState(0)
    rows = []
    for s, (set_name, split, n) in enumerate((("noto", "train", 24), ("openmoji", "train", 24), ("noto", "unseen-content", 4),
                                              ("openmoji", "unseen-content", 4), ("twemoji", "unseen-style", 6))):
        for k in range(n):
            im = Image.new("RGB", (64, 64), (255, 255, 255))
            d = ImageDraw.Draw(im)
            box = [int(v) for v in (rs.randint(4, 20), rs.randint(4, 20), rs.randint(40, 60), rs.randint(40, 60))]
            (d.ellipse if k % 2 else d.rectangle)(box, fill=tuple(int(v) for v in rs.randint(0, 255, 3)))
            path = f"images/{set_name}_{split}_{k}.png"
            im.save(os.path.join(folder, path))
            rows.append({"id": f"{set_name}:{split}:{k}", "set": set_name, "codepoint": f"{s:x}{k:03x}", "split": split,
                         "path": path})
    with open(os.path.join(folder, "items.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


class RoundTripTest(unittest.TestCase):
    def test_pack_train_on_cpu_import_export(self):
        from parasol_train import gpu
        from parasol_train.stages import export_generator
        from parasol_train.stages.card import generator_devices
        with tempfile.TemporaryDirectory() as d:
            synthetic_corpus(os.path.join(d, "corpus"))
            os.makedirs(os.path.join(d, "pack"))
            os.makedirs(os.path.join(d, "work"))
            pre = {"preprocess": {"mean": [0.5] * 3, "std": [0.5] * 3}}
            json.dump({"semantic": {"dim": 256, "image": pre}, "style": {"dim": 96 + 16, "image": pre}},
                      open(os.path.join(d, "pack", "pack.json"), "w"))
            # a finished (seeded, untrained) style tower and its colour part fitted on the corpus: the descriptor the
            # pack's style_image.onnx would export, 96 learned + 16 colour dimensions
            torch.manual_seed(3)
            atomic_save({"net": StyleNet(128, colour_dim=32).state_dict(), "step": 5, "done": True},
                        os.path.join(d, "work", "style.pt"))
            X = np.stack([np.asarray(Image.open(os.path.join(d, "corpus", "images", f)).convert("RGB"))
                          for f in sorted(os.listdir(os.path.join(d, "corpus", "images")))])
            mean, axes = fit_axes(hist_feat(X, True), 16)
            np.savez(os.path.join(d, "work", "style_colour.npz"), mean=mean, axes=axes, w=np.float32(0.3), style_step=5,
                     fit_images=len(X))
            overrides = [f"paths.work={d}/work", f"paths.corpus={d}/corpus", "paths.artwork=\"\"", f"paths.pack={d}/pack",
                         f"paths.gen={d}/gen", "runtime.subset=0", "runtime.random_encoders=true", "runtime.device=cpu",
                         "generator.vae.latent_channels=4", "generator.vae.enc_channels=[8,16,16]",
                         "generator.vae.dec_channels=[16,16,8]", "generator.unet.channels=[16,32,32]",
                         "generator.triplets.k=8", "generator.triplets.tau_sem=2.0", "generator.triplets.tau_sty=2.0",
                         "generator.samples.eval_pairs=2", "generator.samples.steps=2", "style.colour_head=\"foreground\"",
                         "style.colour_axes=16"]
            cfg = load_config("configs/smoke.toml", overrides)
            bundle, out = os.path.join(d, "bundle"), os.path.join(d, "out")
            manifest = gpu.pack(cfg, bundle, max_mb=8)
            self.assertEqual((manifest["train_images"], manifest["heldout_images"]), (48, 14))
            self.assertTrue(os.path.exists(os.path.join(bundle, "work", "style_colour.npz")))
            summary = gpu.train(bundle, out, 0.0, "cpu", "auto", 0.3, os.path.join(d, "run"))
            self.assertEqual(summary["stages"]["unet"]["device"], "cpu")
            # smoke.toml fine-tunes the decoder (generator.decoder.steps), so its checkpoint travels too
            self.assertEqual(sorted(os.listdir(out)), ["decoder.pt", "summary.json", "triplets.json", "unet.pt", "vae.pt"])
            # a rerun that keeps the returned autoencoder trains only triplets and the UNet, and sends the kept one back
            out2 = os.path.join(d, "out2")
            rerun = gpu.train(bundle, out2, 0.0, "cpu", "auto", 0.3, os.path.join(d, "run2"), reuse=out)
            self.assertTrue(rerun["stages"]["vae"]["reused"] and rerun["stages"]["decoder"]["reused"])
            self.assertNotIn("reused", rerun["stages"]["unet"])
            first, kept = gpu.read_returned(out, "vae"), gpu.read_returned(out2, "vae")
            for k, v in first["enc"].items():
                self.assertTrue(torch.equal(v, kept["enc"][k]), k)
            placed = gpu.import_run(out, cfg)
            self.assertIn(os.path.join(d, "gen", "unet.pt"), placed)
            self.assertIn(os.path.join(d, "gen", "decoder.pt"), placed)
            with self.assertRaises(SystemExit):  # never over a checkpoint without --force
                gpu.import_run(out, cfg)
            trained = load_checkpoint(os.path.join(d, "run", "gen", "unet.pt"))
            imported = load_checkpoint(os.path.join(d, "gen", "unet.pt"))
            for k, v in trained["ema"].items():
                self.assertTrue(torch.equal(v, imported["ema"][k]), k)
            self.assertNotIn("opt", imported)
            export_generator.run(cfg, resume=False)
            for f in ("unet.onnx", "vae_encoder.onnx", "vae_decoder.onnx", "projector.onnx", "generator_samples.png"):
                self.assertTrue(os.path.exists(os.path.join(d, "pack", f)), f)
            import onnx
            projector = onnx.load(os.path.join(d, "pack", "projector.onnx"))
            self.assertEqual(projector.graph.input[0].type.tensor_type.shape.dim[1].dim_value, 112)
            # the triplets were embedded by the descriptor, colour part included (its fit is in the encoders' tag)
            tag = json.load(open(os.path.join(out, "triplets.json")))["encoders"]
            self.assertIn("style@5:", tag)
            os.remove(os.path.join(d, "work", "style_colour.npz"))
            with self.assertRaisesRegex(RuntimeError, "style_colour stage"):
                gpu.pack(cfg, bundle, max_mb=8)
            self.assertIn("unet on cpu", generator_devices(cfg))

    def test_parts_and_fp16_come_back_as_fp32(self):
        from parasol_train import gpu
        with tempfile.TemporaryDirectory() as d:
            big = {"model": {"w": torch.randn(3, 1 << 20), "i": torch.arange(3)}, "ema": {"w": torch.randn(3, 1 << 20)},
                   "opt": {"m": torch.randn(1 << 20)}, "step": 7, "done": True}
            torch.save(big, os.path.join(d, "unet.pt"))
            out = os.path.join(d, "out")
            os.makedirs(out)
            limits = gpu.PART, gpu.RETURN_LIMIT
            gpu.PART, gpu.RETURN_LIMIT = 4 << 20, 16 << 20  # 24 MiB of weights: over half the limit -> fp16
            try:
                names = gpu.send_checkpoint(os.path.join(d, "unet.pt"), out, "unet")
            finally:
                gpu.PART, gpu.RETURN_LIMIT = limits
            self.assertGreater(len(names), 1)
            back = gpu.read_returned(out, "unet")
            self.assertNotIn("opt", back)
            self.assertEqual(back["model"]["w"].dtype, torch.float32)
            self.assertTrue(torch.equal(back["model"]["i"], big["model"]["i"]))
            self.assertTrue(torch.allclose(back["ema"]["w"], big["ema"]["w"], rtol=1e-3, atol=1e-3))


if __name__ == "__main__":
    unittest.main()
