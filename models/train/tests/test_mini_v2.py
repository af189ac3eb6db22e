"""mini v2 logic: the WordNet reader and caption augmentation on a tiny database in WordNet's own format, config
files with a `base`, both corpora loaded into one item list with style labels, the colour branch of the style
network, and the warm start's conv+BN rebuild from a folded export. Run from models/train:
python -m unittest discover tests"""
import os
import random
import tempfile
import unittest

import torch

from parasol_train.config import load_config
from parasol_train.data import load_training_items, style_artists_of, style_label_of
from parasol_train.models.encoders import SemanticImage, StyleNet
from parasol_train.text import augment_text
from parasol_train.warmstart import _calibrate, _conv_bn_pairs
from parasol_train.wordnet import WordNet, augmentation_table

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by Princeton University\n"
DB = {
    "index.noun": HEADER + "cat n 1 1 @ 1 0 00000100  \nfeline n 1 1 @ 1 0 00000300  \nkitty n 1 0 1 0 00000400  \n"
                           "mouse n 1 0 1 0 00000500  \n",
    "data.noun": HEADER + "00000100 05 n 02 cat 0 true_cat 0 001 @ 00000300 n 0000 | a small feline\n"
                          "00000300 05 n 02 feline 0 felid 0 001 @ 00000600 n 0000 | a cat family member\n"
                          "00000400 05 n 01 kitty 0 000 | a young cat\n"
                          "00000500 05 n 01 mouse 0 000 | a rodent\n"
                          "00000600 05 n 01 carnivore 0 000 | meat eater\n",
    "noun.exc": "mice mouse\n",
    "index.verb": HEADER, "data.verb": HEADER, "index.adj": HEADER, "data.adj": HEADER,
    "index.adv": HEADER, "data.adv": HEADER,
}


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class WordNetTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        for name, text in DB.items():
            write(os.path.join(self.dir.name, name), text)
        self.wn = WordNet(self.dir.name)

    def tearDown(self):
        self.dir.cleanup()

    def test_synonyms_and_two_levels_of_hypernyms(self):
        self.assertEqual(self.wn.related("cat"), (["true cat"], ["feline", "felid", "carnivore"]))

    def test_plurals_and_irregular_forms_find_their_lemma(self):
        self.assertEqual(self.wn.lemmas("cats", "n"), ["cat"])
        self.assertEqual(self.wn.lemmas("mice", "n"), ["mouse"])
        self.assertEqual(self.wn.lemmas("dogs", "n"), [])

    def test_table_and_augmentation(self):
        table = augmentation_table(self.wn, ["cat", "mice", "xx", "kitty", "42"])
        self.assertEqual(table, {"cat": ["true cat", "feline", "felid", "carnivore"]})
        rng = random.Random(0)
        seen = {augment_text("a Cat face", table, rng) for _ in range(40)}
        self.assertEqual(seen, {f"a {w} face" for w in table["cat"]})
        self.assertEqual(augment_text("grinning face", table, rng), "grinning face")


class ConfigAndDataTest(unittest.TestCase):
    def test_base_file_then_own_values_then_overrides(self):
        with tempfile.TemporaryDirectory() as d:
            write(os.path.join(d, "base.toml"), 'name = "a"\n[semantic]\nsteps = 7\nbatch = 3\n')
            write(os.path.join(d, "child.toml"), 'base = "base.toml"\nname = "b"\n[semantic]\nsteps = 9\n')
            cfg = load_config(os.path.join(d, "child.toml"), ["semantic.batch=5"])
        self.assertEqual((cfg.name, cfg.semantic.steps, cfg.semantic.batch), ("b", 9, 5))

    def test_both_corpora_with_paths_from_the_emoji_folder_and_style_labels(self):
        import json
        with tempfile.TemporaryDirectory() as d:
            emoji, art = os.path.join(d, "corpus"), os.path.join(d, "corpus_artwork")
            os.makedirs(emoji)
            os.makedirs(art)
            write(os.path.join(emoji, "items.jsonl"), json.dumps(
                {"id": "noto:1f600", "path": "images/noto/1f600.png", "set": "noto", "split": "train"}) + "\n")
            rows = [{"id": f"openclipart:x{i}", "path": f"images/openclipart/x{i}.png", "corpus": "artwork",
                     "set": "openclipart", "artist": "Ann" if i < 3 else "Bo", "split": "train"} for i in range(4)]
            write(os.path.join(art, "items.jsonl"), "\n".join(json.dumps(r) for r in rows) + "\n")
            items = load_training_items(emoji, art)
        self.assertEqual([it["corpus"] for it in items], ["emoji"] + ["artwork"] * 4)
        self.assertEqual(items[1]["path"], os.path.join("..", "corpus_artwork", "images/openclipart/x0.png"))
        artists = style_artists_of(items, 3)
        self.assertEqual(artists, {"Ann"})
        self.assertEqual([style_label_of(it, artists) for it in items], ["noto", "artist:Ann", "artist:Ann",
                                                                           "artist:Ann", None])


class MetricsTest(unittest.TestCase):
    def test_chance_of_a_hit_in_the_top_k(self):
        from parasol_train.stages.metrics import chance_hit
        self.assertAlmostEqual(chance_hit(100, 1, 10), 0.1)
        self.assertAlmostEqual(chance_hit(100, 2, 10), 1 - (90 * 89) / (100 * 99))
        self.assertEqual(chance_hit(5, 1, 10), 1.0)
        self.assertEqual(chance_hit(100, 0, 10), 0.0)

    def test_style_precision_by_label_with_its_chance_level(self):
        import numpy as np
        from parasol_train.stages.metrics import style_metrics
        items = [{"artist": a, "codepoint": None} for a in "aaabbc"]
        E = np.array([[1, 0], [1, 0.1], [1, 0.2], [0, 1], [0.1, 1], [1, -1]], np.float32)
        r = style_metrics(E, items, list(range(6)), "artist")
        # a's queries: 2 of their top 10 (everything else) are a; b's: 1; c's: 0
        self.assertAlmostEqual(r["P@10"], (3 * 0.2 + 2 * 0.1 + 0) / 6)
        self.assertAlmostEqual(r["chance_P@10"], (3 * 2 / 5 + 2 * 1 / 5 + 0) / 6)
        self.assertEqual(sorted(r["P@10_per_set"]), ["a", "b", "c"])

    def test_artwork_text_to_image_counts_a_drawing_with_the_query_title(self):
        import numpy as np
        from parasol_train.stages.metrics import artwork_text_metrics
        items = [{"name": "Red  Apple"}, {"name": "pear"}, {"name": "red apple"}]
        Ei = np.eye(3, dtype=np.float32)
        Et = np.array([[0, 0, 1], [1, 0, 0]], np.float32)  # "red apple" -> item 2; "pear" -> item 0 (a miss at 1)
        r = artwork_text_metrics(Et, Ei, items, [0, 1, 2], ["red apple", "pear"])
        self.assertEqual((r["R@1"], r["R@5"], r["queries"], r["database"]), (0.5, 1.0, 2, 3))
        self.assertEqual(r["chance_R@10"], 1.0)


class ModelTest(unittest.TestCase):
    def test_colour_branch_unit_output_and_mix(self):
        torch.manual_seed(0)
        net = StyleNet(128, colour_dim=32).eval()
        x = torch.rand(3, 3, 64, 64) * 2 - 1
        z = net(x)
        self.assertEqual(tuple(z.shape), (3, 128))
        torch.testing.assert_close(z.norm(dim=1), torch.ones(3))
        w = torch.sigmoid(net.colour_mix).item()
        torch.testing.assert_close(z[:, 96:].norm(dim=1), torch.full((3,), w ** 0.5))

    def test_conv_bn_rebuilt_from_folded_weights_computes_the_exported_function(self):
        torch.manual_seed(0)
        src = SemanticImage(32, widths=(8, 16)).eval()
        for m in src.modules():  # non-trivial BN statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        folded = []
        for conv, bn in _conv_bn_pairs(src.features):
            s = bn.weight / (bn.running_var + bn.eps).sqrt()
            folded.append(((conv.weight * s[:, None, None, None]).detach().numpy(),
                           (bn.bias - bn.running_mean * s).detach().numpy()))
        dst = SemanticImage(32, widths=(8, 16))
        dst.proj.load_state_dict(src.proj.state_dict())
        x = torch.rand(16, 3, 64, 64) * 2 - 1
        _calibrate(dst, _conv_bn_pairs(dst.features), folded, x)
        dst.eval()
        with torch.no_grad():
            torch.testing.assert_close(dst(x), src(x), atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(dst(x[:4] * 0.5), src(x[:4] * 0.5), atol=1e-5, rtol=1e-4)


if __name__ == "__main__":
    unittest.main()
