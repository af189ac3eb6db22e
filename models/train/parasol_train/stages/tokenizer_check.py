"""Stage tokenizer_check: the Python WordPiece used in training and @huggingface/tokenizers (the engine's) must
give identical ids for the pack's tokenizer.json (runs models/train/verify_tokenizer.mjs with node)."""
import json
import os
import subprocess

from ..config import REPO_ROOT, TRAIN_DIR, Config
from ..text import WordPiece

SAMPLES = ["grinning face", "Grinning FACE!", "", "   ", "thumbs up sign", "+1", "face with tears of joy",
           "café crème brûlée", "naïve Zoë", "ÉCOLE", "man_technologist", "flag: Côte d'Ivoire", "woman's hat",
           "x-ray", "1st place medal", "keycap: #", "keycap: *", "a.b,c;d:e", "snowman ☃", "🙂 smile", "日本 flag",
           "supercalifragilisticexpialidocious", "qwzxv", "glossy 3D renders with soft gradients and lighting",
           "flat line-art icons with thick black outlines and pastel fills", "tab\tand\nnewline", "emoji\u00a0nbsp",
           "zero\u200bwidth", "ÅNGSTRÖM", "straße", "ﬁ ligature", "red heart ❤️", "#hashtag @at $dollar 100%",
           "(parentheses) [brackets] {braces}", "a-b_c/d\\e", "quote \"double\" 'single'", "«guillemets» — dash",
           "1234567890 numbers 42", "mixedCASE words", "monochrome black silhouettes", "über cool", "señor",
           "smiling face with heart-eyes", "person: medium skin tone", "A" * 120, "abc" * 40,
           "very long text " * 10, "control\x01char", "ΑΒΓ greek", "кириллица", "trailing space ",
           "colourful flat emoji with black outlines mostly yellow"]


def run(cfg: Config, resume: bool) -> None:
    path = os.path.join(cfg.path("pack"), "tokenizer.json")
    py = WordPiece.load(path).batch(SAMPLES)[0].tolist()
    js = json.loads(subprocess.run(["node", os.path.join(TRAIN_DIR, "verify_tokenizer.mjs"), path],
                                   input=json.dumps(SAMPLES), capture_output=True, text=True, check=True,
                                   cwd=REPO_ROOT).stdout)
    bad = [(s, p, j) for s, p, j in zip(SAMPLES, py, js) if p != j]
    for s, p, j in bad:
        print("MISMATCH", repr(s), p, j)
    print(f"tokenizer check: {len(SAMPLES) - len(bad)}/{len(SAMPLES)} identical")
    if bad:
        raise SystemExit(1)
