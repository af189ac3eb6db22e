"""Load the snapshot written by prepare.py."""
import json, os
import numpy as np
from common import WORK, OUT, WordPiece


def load():
    items = json.load(open(os.path.join(WORK, "items.json")))
    x = np.load(os.path.join(WORK, "data.npz"))["x"]
    attrs = json.load(open(os.path.join(WORK, "attrs.json")))
    tok = WordPiece.load(os.path.join(OUT, "tokenizer.json"))
    return items, x, attrs, tok
