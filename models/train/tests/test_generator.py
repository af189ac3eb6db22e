"""Generator settings of mini v2: the latent's channel count and the autoencoder's widths come from the config
(lists parse, bad lists are refused), every model agrees on the latent shape, and crop training takes windows on
the latent's 4-px grid. Run from models/train: python -m unittest discover tests"""
import unittest

import torch

from parasol_train.config import ConfigError, load_config
from parasol_train.models.generator import latent_shape, make_generator, make_vae
from parasol_train.stages.vae import random_crops


class GeneratorShapeTest(unittest.TestCase):
    def test_latent_channels_and_widths_from_the_config(self):
        cfg = load_config(None, ["generator.vae.latent_channels=8", "generator.vae.dec_channels=[48, 32, 16]",
                                 "generator.unet.channels=[32, 64, 64]"])
        self.assertEqual(cfg.generator.vae.dec_channels, [48, 32, 16])
        enc, dec = make_vae(cfg.generator.vae)
        gen = make_generator(cfg.generator)
        z = enc(torch.zeros(2, 3, 64, 64))
        self.assertEqual(tuple(z.shape[1:]), latent_shape(8))
        self.assertEqual(tuple(dec(z).shape), (2, 3, 64, 64))
        eps = gen.unet(z, torch.tensor([5.0, 500.0]), torch.zeros(2, 256), torch.zeros(2, 256), torch.ones(2),
                       torch.zeros(2))
        self.assertEqual(eps.shape, z.shape)

    def test_bad_lists_are_refused(self):
        for bad in ("generator.vae.enc_channels=[32, 1.5, 64]", "generator.vae.enc_channels=32",
                    "generator.unet.channels=[true, 2, 3]"):
            with self.assertRaises(ConfigError):
                load_config(None, [bad])


class CropTest(unittest.TestCase):
    def test_windows_on_the_latent_grid(self):
        x = torch.arange(64, dtype=torch.float32).view(1, 1, 1, 64).expand(6, 3, 64, 64).contiguous()
        g = torch.Generator().manual_seed(3)
        crops = random_crops(x, 32, g)
        self.assertEqual(tuple(crops.shape), (6, 3, 32, 32))
        starts = crops[:, 0, 0, 0]
        self.assertTrue(bool((starts % 4 == 0).all()))
        self.assertTrue(bool((crops[:, 0, 0, 31] - starts == 31).all()))
        self.assertGreater(len(set(starts.tolist())), 1)


if __name__ == "__main__":
    unittest.main()


class PredictionTest(unittest.TestCase):
    """A v-predicting UNet exported as epsilon: the engine's sampler must see the same eps an eps model would."""

    def test_a_perfect_v_model_reads_as_the_true_noise(self):
        from parasol_train.models.generator import EpsilonFromV
        from parasol_train.schedule import alphas_cumprod

        ac = torch.from_numpy(alphas_cumprod(spec={"kind": "scaled-linear", "betaStart": 0.00085, "betaEnd": 0.012}))
        g = torch.Generator().manual_seed(0)
        z0, noise = torch.randn(3, 8, 16, 16, generator=g), torch.randn(3, 8, 16, 16, generator=g)
        t = torch.tensor([0.0, 411.0, 999.0])
        ab = ac[t.long()].float().view(-1, 1, 1, 1)
        zt = ab.sqrt() * z0 + (1 - ab).sqrt() * noise
        v = ab.sqrt() * noise - (1 - ab).sqrt() * z0

        class Oracle(torch.nn.Module):
            out = torch.nn.Conv2d(1, 8, 1)

            def forward(self, latent, timestep, *conds):
                return v

        eps = EpsilonFromV(Oracle(), ac)(zt, t, None, None, None, None)
        self.assertLess(float((eps - noise).abs().max()), 1e-4)
        self.assertEqual(EpsilonFromV(Oracle(), ac).out.out_channels, 8)

    def test_epsilon_models_pass_through_and_unknown_kinds_fail(self):
        from parasol_train.models.generator import epsilon_model

        net = torch.nn.Identity()
        self.assertIs(epsilon_model(net, "epsilon", [0.5]), net)
        with self.assertRaises(ValueError):
            epsilon_model(net, "x0", [0.5])

    def test_prediction_and_schedule_settings_are_checked(self):
        cfg = load_config(None, ['generator.unet.prediction="v"', 'generator.schedule.kind="scaled-linear"'])
        self.assertEqual((cfg.generator.unet.prediction, cfg.generator.schedule.kind), ("v", "scaled-linear"))
        for bad in ('generator.unet.prediction="x0"', 'generator.schedule.kind="cosine"',
                    "generator.schedule.beta_start=0.02"):
            with self.assertRaises(ConfigError):
                load_config(None, [bad])

    def test_a_checkpoint_refuses_another_prediction_on_resume(self):
        from parasol_train.stages.unet import trained_as

        self.assertEqual(trained_as({}), ("epsilon", {"kind": "linear", "betaStart": 0.00085, "betaEnd": 0.012}))
        self.assertEqual(trained_as({"prediction": "v", "schedule": {"kind": "linear"}})[0], "v")


class DecoderFineTuneTest(unittest.TestCase):
    """load_vae() hands out the `decoder` stage's fine-tuned decoder exactly when generator.decoder.steps is set,
    and only one made from this autoencoder."""

    def test_the_fine_tuned_decoder_replaces_the_vae_stages_one(self):
        import os
        import tempfile

        from parasol_train.checkpoints import decoder_tag, load_vae, vae_tag
        from parasol_train.runtime import atomic_save

        with tempfile.TemporaryDirectory() as gen:
            cfg = load_config(None, [f'paths.gen="{gen}"', "generator.vae.dec_channels=[32, 16, 8]",
                                     "generator.vae.enc_channels=[8, 16, 16]"])
            enc, dec = make_vae(cfg.generator.vae)
            atomic_save({"done": True, "step": 5, "scale": 1.25, "enc": enc.state_dict(), "dec": dec.state_dict()},
                        os.path.join(gen, "vae.pt"))
            tuned = {k: v + 1 for k, v in dec.state_dict().items()}
            self.assertIsNone(load_vae(cfg)[3].get("decoder_step"))  # steps = 0: the vae stage's decoder

            cfg = load_config(None, [f'paths.gen="{gen}"', "generator.vae.dec_channels=[32, 16, 8]",
                                     "generator.vae.enc_channels=[8, 16, 16]", "generator.decoder.steps=3"])
            with self.assertRaises(RuntimeError):  # asked for, not made yet
                load_vae(cfg)
            atomic_save({"done": True, "step": 3, "vae": "vae@4:1.250000", "dec": tuned}, os.path.join(gen, "decoder.pt"))
            with self.assertRaises(RuntimeError):  # made from another autoencoder
                load_vae(cfg)
            atomic_save({"done": True, "step": 3, "vae": "vae@5:1.250000", "dec": tuned}, os.path.join(gen, "decoder.pt"))
            _, got, scale, ck = load_vae(cfg)
            self.assertEqual((scale, ck["decoder_step"]), (1.25, 3))
            self.assertTrue(torch.equal(got.out.weight, tuned["out.weight"]))
            self.assertEqual(vae_tag(ck), "vae@5:1.250000")  # the latents' identity is the encoder's
            self.assertEqual(decoder_tag(ck), "vae@5:1.250000+decoder@3")
            _, plain, _, ck = load_vae(cfg, fine_tuned=False)
            self.assertTrue(torch.equal(plain.out.weight, dec.state_dict()["out.weight"]))


class RecolourTest(unittest.TestCase):
    """The palette pseudo-styles of the UNet stage: one transform per image, white stays white."""

    def test_identity_grey_and_white(self):
        import math

        from parasol_train.data import recolour

        g = torch.Generator().manual_seed(1)
        u = torch.rand(3, 3, 8, 8, generator=g)
        u[:, :, 0, 0] = 1.0  # a white pixel
        same = recolour(u, torch.zeros(3), torch.ones(3))
        self.assertLess(float((same - u).abs().max()), 1e-6)
        out = recolour(u, torch.tensor([1.0, 2.0, math.pi]), torch.tensor([1.0, 0.0, 0.7]))
        self.assertLess(float((out[:, :, 0, 0] - 1).abs().max()), 1e-5)  # white stays white
        grey = out[1]
        self.assertLess(float((grey - grey.mean(0, keepdim=True)).abs().max()), 1e-6)  # saturation 0: grey
        self.assertGreater(float((out[0] - u[0]).abs().max()), 0.05)  # a rotation changes colours
        # a rotation keeps each pixel's grey level (the mean of its channels) where nothing clips
        inside = (out[0] > 0) & (out[0] < 1)
        if bool(inside.all(0).any()):
            m = inside.all(0)
            self.assertLess(float((out[0].mean(0)[m] - u[0].mean(0)[m]).abs().max()), 1e-5)

    def test_p_palette_is_a_probability(self):
        with self.assertRaises(ConfigError):
            load_config(None, ["generator.unet.p_palette=1.5"])
