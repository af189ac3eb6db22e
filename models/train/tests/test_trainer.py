"""The trainer loop and the config: an interrupted run resumed with --resume ends where an uninterrupted one does;
--set overrides are typed and unknown keys are refused. Run from models/train: python -m unittest discover tests"""
import os
import random
import tempfile
import unittest

import torch

from parasol_train.config import ConfigError, load_config
from parasol_train.runtime import load_checkpoint
from parasol_train.trainer import TrainStage, train


class Interrupt(Exception):
    pass


class ToyStage(TrainStage):
    """A linear regression whose batches come from both checkpointed RNGs (Python's and torch's)."""
    name = "toy"

    def __init__(self, total=6, stop_at=None):
        torch.manual_seed(0)
        self.total, self.lr, self.warmup, self.log_every, self.ckpt_every = total, 0.1, 2, 1, 2
        self.net = torch.nn.Linear(3, 1)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr)
        self.rng = random.Random(1)
        self.stop_at = stop_at

    def modules(self):
        return {"net": self.net, "opt": self.optimizer}

    def train_step(self, step):
        if step == self.stop_at:
            raise Interrupt()
        x = torch.randn(8, 3) + self.rng.random()
        loss = ((self.net(x) - x.sum(1, keepdim=True)) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}


class TrainerTest(unittest.TestCase):
    def test_resume_continues_exactly(self):
        with tempfile.TemporaryDirectory() as d:
            whole, part = os.path.join(d, "whole.pt"), os.path.join(d, "part.pt")
            train(ToyStage(), whole, resume=False)
            with self.assertRaises(Interrupt):
                train(ToyStage(stop_at=5), part, resume=False)  # dies after the step-4 checkpoint
            self.assertEqual(load_checkpoint(part)["step"], 4)
            self.assertFalse(load_checkpoint(part)["done"])
            torch.manual_seed(123)  # a new process: the global RNG must come from the checkpoint
            train(ToyStage(), part, resume=True)
            a, b = load_checkpoint(whole), load_checkpoint(part)
            self.assertTrue(b["done"])
            self.assertEqual(b["step"], 6)
            for k in a["net"]:
                self.assertTrue(torch.equal(a["net"][k], b["net"][k]), k)

    def test_resume_of_a_finished_stage_does_nothing_and_fresh_restarts(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.pt")
            train(ToyStage(total=2), path, resume=False)
            before = os.path.getmtime(path)
            train(ToyStage(total=2, stop_at=0), path, resume=True)  # would raise if it trained
            self.assertEqual(os.path.getmtime(path), before)
            with self.assertRaises(Interrupt):
                train(ToyStage(total=2, stop_at=0), path, resume=False)


class ConfigTest(unittest.TestCase):
    def test_overrides(self):
        cfg = load_config(os.path.join(os.path.dirname(__file__), "..", "configs", "mini.toml"),
                          ["generator.unet.steps=10", "semantic.lr=1e-3", "generator.triplets.tau_sem=0.5",
                           "paths.work=/tmp/w"])
        self.assertEqual(cfg.generator.unet.steps, 10)
        self.assertEqual(cfg.semantic.lr, 1e-3)
        self.assertEqual(cfg.generator.triplets.tau_sem, 0.5)
        self.assertEqual(cfg.path("work"), "/tmp/w")
        self.assertTrue(cfg.path("pack").endswith(os.path.join("models", "mini")))

    def test_bad_overrides(self):
        for bad in ["semantic.stepz=3", "semantic.steps=1.5", "semantic.steps=true", "semantic", "runtime.threads=x"]:
            with self.assertRaises(ConfigError, msg=bad):
                load_config(None, [bad])


if __name__ == "__main__":
    unittest.main()
