"""English WordNet (Debian's `wordnet-base`, WordNet 3.0) as caption augmentation: the synonyms and hypernyms of a
caption word, so that a word never seen in a title lands near its meaning. The package is fetched by the training
itself with `apt-get download` + `dpkg-deb -x` (no root; nothing is installed) into paths.work/wordnet.

Only the database files are read (data.* and index.*, plus the *.exc irregular forms for lemmatising); the format is
WordNet's documented wndb(5): `index.<pos>` lines `lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt
offset...` (offsets in sense order, most frequent first), `data.<pos>` lines `offset lex_filenum ss_type w_cnt
word lex_id ... p_cnt [ptr_symbol offset pos source/target]... | gloss`."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

from .runtime import log

PACKAGE = "wordnet-base"
DB_SUBDIR = os.path.join("usr", "share", "wordnet")
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
HYPERNYM = ("@", "@i")  # hypernym, instance hypernym
# Morphy's detachment rules (wndb(5) / morph(3WN)): suffix -> replacement, per part of speech.
DETACH = {"n": [("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
                ("ies", "y"), ("s", "")],
          "v": [("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""), ("s", "")],
          "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")], "r": []}


class WordNetUnavailable(RuntimeError):
    pass


def ensure_wordnet(work: str) -> str:
    """The WordNet database folder under `work`, fetching the Debian package first when it is missing."""
    target = os.path.join(work, "wordnet")
    db = os.path.join(target, DB_SUBDIR)
    if os.path.exists(os.path.join(db, "data.noun")):
        return db
    os.makedirs(work, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".wordnet-", dir=work)
    try:
        try:
            subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            raise WordNetUnavailable(f"cannot fetch the Debian package {PACKAGE} with apt-get download "
                                     f"({detail.strip().splitlines()[-1] if detail.strip() else e}); install it "
                                     f"(apt-get install {PACKAGE}) or unpack its .deb into {target}") from e
        debs = glob.glob(os.path.join(tmp, f"{PACKAGE}_*.deb"))
        if not debs:
            raise WordNetUnavailable(f"apt-get download {PACKAGE} wrote no .deb")
        root = os.path.join(tmp, "root")
        try:
            subprocess.run(["dpkg-deb", "-x", debs[0], root], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise WordNetUnavailable(f"cannot unpack the Debian package {PACKAGE} with dpkg-deb -x ({e})") from e
        if not os.path.exists(os.path.join(root, DB_SUBDIR, "data.noun")):
            raise WordNetUnavailable(f"the package {PACKAGE} has no {DB_SUBDIR}/data.noun")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(root, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"fetched {PACKAGE} into {target}")
    return db


class WordNet:
    """Lemmas, senses and hypernym links of the four parts of speech."""

    def __init__(self, db: str):
        self.index: dict[str, dict[str, list[int]]] = {p: {} for p in POS_FILES}  # pos -> lemma -> offsets
        self.synsets: dict[tuple[str, int], tuple[list[str], list[tuple[str, int]]]] = {}
        self.exceptions: dict[str, dict[str, str]] = {p: {} for p in POS_FILES}
        for pos, name in POS_FILES.items():
            with open(os.path.join(db, f"index.{name}"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith(" "):
                        continue  # licence header
                    t = line.split()
                    n_syn, n_ptr = int(t[2]), int(t[3])
                    self.index[pos][t[0]] = [int(o) for o in t[6 + n_ptr: 6 + n_ptr + n_syn]]
            with open(os.path.join(db, f"data.{name}"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith(" "):
                        continue
                    t = line.split(" | ")[0].split()
                    off, n_w = int(t[0]), int(t[3], 16)
                    words = [t[4 + 2 * i].split("(")[0].lower() for i in range(n_w)]
                    k = 4 + 2 * n_w
                    n_p = int(t[k])
                    ptrs = []
                    for j in range(n_p):
                        sym, o, p = t[k + 1 + 4 * j: k + 4 + 4 * j]
                        if sym in HYPERNYM:
                            ptrs.append(("a" if p == "s" else p, int(o)))
                    self.synsets[(pos, off)] = (words, ptrs)
            exc = os.path.join(db, f"{name}.exc")
            if os.path.exists(exc):
                with open(exc, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        t = line.split()
                        if len(t) >= 2:
                            self.exceptions[pos][t[0]] = t[1]

    def lemmas(self, word: str, pos: str) -> list[str]:
        """Base forms of `word` as `pos` that WordNet knows (morphy: exceptions, the word itself, detachment)."""
        w = word.lower()
        out = []
        if w in self.exceptions[pos] and self.exceptions[pos][w] in self.index[pos]:
            out.append(self.exceptions[pos][w])
        if w in self.index[pos] and w not in out:
            out.append(w)
        for suffix, repl in DETACH[pos]:
            if w.endswith(suffix) and len(w) > len(suffix) + 1:
                base = w[: len(w) - len(suffix)] + repl
                if base in self.index[pos] and base not in out:
                    out.append(base)
        return out

    def related(self, word: str, senses: int = 2, hypernym_levels: int = 2) -> tuple[list[str], list[str]]:
        """(synonyms, hypernyms) of `word`: the other lemmas of its first `senses` noun senses (first sense for
        verbs and adjectives), and the lemmas of the hypernyms of its first noun (else verb) sense up to
        `hypernym_levels` levels. Multi-word lemmas come back with spaces."""
        synonyms: list[str] = []
        hypernyms: list[str] = []
        first: tuple[str, int] | None = None
        for pos, n in (("n", senses), ("v", 1), ("a", 1)):
            for lemma in self.lemmas(word, pos)[:1]:
                for off in self.index[pos][lemma][:n]:
                    if first is None and pos in ("n", "v"):
                        first = (pos, off)
                    for w in self.synsets[(pos, off)][0]:
                        w = w.replace("_", " ")
                        if w != word.lower() and w != lemma and w not in synonyms:
                            synonyms.append(w)
        frontier = [first] if first else []
        for _ in range(hypernym_levels):
            nxt = []
            for key in frontier:
                for ptr in self.synsets.get(key, ((), []))[1]:
                    if ptr not in self.synsets:
                        continue
                    nxt.append(ptr)
                    for w in self.synsets[ptr][0][:2]:
                        w = w.replace("_", " ")
                        if w not in hypernyms and w not in synonyms:
                            hypernyms.append(w)
            frontier = nxt
        return synonyms, hypernyms


def augmentation_table(wn: WordNet, words, max_each: int = 6) -> dict[str, list[str]]:
    """word -> up to `max_each` related phrases (synonyms first, then hypernyms), for every caption word that has any.
    Words of two letters or fewer and digits are left alone."""
    table = {}
    for w in sorted(set(words)):
        if len(w) <= 2 or not w.isalpha():
            continue
        syn, hyp = wn.related(w)
        rel = syn[: max_each // 2] + hyp
        rel = [r for r in dict.fromkeys(rel) if r.replace(" ", "").replace("-", "").isalpha()][:max_each]
        if rel:
            table[w] = rel
    return table
