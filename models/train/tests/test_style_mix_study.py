"""style_mix_study.py: an embedding made with one mix weight splits into the style network's two unit parts, and
re-mixing them with the trained weight gives the network's own output back. Run from models/train:
python -m unittest discover tests"""
import unittest

import numpy as np
import torch

from parasol_train.models.encoders import StyleNet
from style_mix_study import mixed, parts


class StyleMixTest(unittest.TestCase):
    def test_parts_are_unit_and_remix_exactly(self):
        torch.manual_seed(0)
        net = StyleNet(128, colour_dim=32).eval()
        with torch.no_grad():
            net.colour_mix.fill_(0.7)
            E = net(torch.rand(4, 3, 64, 64)).numpy()
        w = float(torch.sigmoid(net.colour_mix))
        learned, colour = parts(E, 32, w)
        np.testing.assert_allclose(np.linalg.norm(learned, axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(colour, axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(mixed(learned, colour, w), E, atol=1e-6)
        # Another weight keeps unit norm and moves the cosine between the two parts' cosines.
        other = mixed(learned, colour, 0.2)
        np.testing.assert_allclose(np.linalg.norm(other, axis=1), 1, atol=1e-5)
        cos = float(other[0] @ other[1])
        expected = 0.8 * float(learned[0] @ learned[1]) + 0.2 * float(colour[0] @ colour[1])
        self.assertAlmostEqual(cos, expected, places=5)


if __name__ == "__main__":
    unittest.main()
