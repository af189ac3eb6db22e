"""The WordPiece tokenizer of both text towers, written as a Hugging Face tokenizer.json (BertNormalizer +
BertPreTokenizer + WordPiece) so the engine's @huggingface/tokenizers gives the same ids (stage tokenizer_check)."""
import json
import unicodedata

import numpy as np
import torch

MAX_TOKENS = 16


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_ws(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def normalize(text):
    out = []
    for ch in text:  # clean_text
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if _is_ws(ch) else ch)
    text = "".join(out)
    text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)  # handle_chinese_chars
    text = unicodedata.normalize("NFD", text)  # strip_accents
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return text.lower()


def pre_tokenize(text):
    words, cur = [], []
    for ch in text:
        if _is_ws(ch) or ch.isspace():
            if cur:
                words.append("".join(cur)); cur = []
        elif _is_punct(ch):
            if cur:
                words.append("".join(cur)); cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def words_of(text):
    return pre_tokenize(normalize(text))


class WordPiece:
    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.pad, self.unk = self.ids["[PAD]"], self.ids["[UNK]"]

    @classmethod
    def load(cls, path):
        j = json.load(open(path))
        v = j["model"]["vocab"]
        vocab = [None] * len(v)
        for w, i in v.items():
            vocab[i] = w
        return cls(vocab)

    def encode_word(self, w):
        chars = list(w)
        if len(chars) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(chars):
            end, cur = len(chars), None
            while start < end:
                s = "".join(chars[start:end])
                if start > 0:
                    s = "##" + s
                if s in self.ids:
                    cur = self.ids[s]
                    break
                end -= 1
            if cur is None:
                return [self.unk]
            out.append(cur)
            start = end
        return out

    def encode(self, text):
        ids = []
        for w in words_of(text):
            ids.extend(self.encode_word(w))
        return ids

    def batch(self, texts, n=MAX_TOKENS):
        ids = np.full((len(texts), n), self.pad, np.int64)
        mask = np.zeros((len(texts), n), np.int64)
        for i, t in enumerate(texts):
            e = self.encode(t)[:n]
            ids[i, :len(e)] = e
            mask[i, :len(e)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def to_json(self):
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": 0, "content": "[PAD]", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True},
                {"id": 1, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True},
            ],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": True, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": None,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": {w: i for i, w in enumerate(self.vocab)}},
        }


def build_vocab(texts):
    words = {}
    for t in texts:
        for w in words_of(t):
            words[w] = words.get(w, 0) + 1
    base = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    punct = [chr(c) for c in range(33, 127) if _is_punct(chr(c))]
    vocab = ["[PAD]", "[UNK]"] + base + ["##" + c for c in base] + punct
    seen = set(vocab)
    for w in sorted(words, key=lambda w: (-words[w], w)):
        if w not in seen and len(w) <= 100:
            vocab.append(w)
            seen.add(w)
    return vocab


def item_texts(it):
    """Word pool sources of an item: name (an artwork's title), short names, keywords, and for artwork the words of
    its category folder (`animals/amphibian` -> `animals`, `amphibian`)."""
    out = [it.get("name") or ""]
    out += [s.replace("_", " ") for s in it.get("shortNames") or []]
    out += [k.replace("_", " ") for k in it.get("keywords") or []]
    if it.get("corpus") == "artwork" and it.get("category"):
        out += [c.replace("_", " ") for c in it["category"].split("/")]
    return [t for t in out if t]


def augment_text(text, table, rng, p_word=0.5):
    """`text` with some of its words replaced by a WordNet synonym or hypernym from `table` (word -> phrases);
    at least one word is replaced when any can be. Words are matched after normalisation (lowercase, no accents)."""
    words = words_of(text)
    can = [i for i, w in enumerate(words) if w in table]
    if not can:
        return text
    chosen = {i for i in can if rng.random() < p_word} or {rng.choice(can)}
    return " ".join(rng.choice(table[w]) if i in chosen else w for i, w in enumerate(words))
