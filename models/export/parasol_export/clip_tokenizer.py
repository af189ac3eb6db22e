"""CLIP's byte-level BPE as a Hugging Face tokenizer.json, built from vocab + merges.

Built here rather than through transformers: on 5.x `CLIPTokenizer` ignores `vocab_file=` and
`merges_file=`, and a tokenizer.json it saves has no padding. Pack tokenizers encode without
special tokens; pack.json's `specialTokens` tells the runtime the start/end/pad ids.
"""
import gzip
import json
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from .errors import ExportError

START = "<|startoftext|>"
END = "<|endoftext|>"
# CLIP's word pattern: special tokens, English contractions, letter runs, single digits, other symbols.
WORDS = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def byte_alphabet() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes, in CLIP's vocabulary order
    (printable bytes first, then the rest mapped past U+0100)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def build(vocab: dict[str, int], merges: list[tuple[str, str]]) -> Tokenizer:
    tokenizer = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=merges,
            unk_token=END,
            end_of_word_suffix="</w>",
            continuing_subword_prefix="",
            fuse_unk=False,
        )
    )
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(WORDS), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([START, END])
    return tokenizer


def from_vocab_files(vocab_json: Path, merges_txt: Path) -> Tokenizer:
    try:
        vocab = json.loads(vocab_json.read_text(encoding="utf-8"))
        lines = merges_txt.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as error:
        raise ExportError(f"cannot read the tokenizer files ({error})") from None
    merges = [tuple(line.split()) for line in lines if line and not line.startswith("#version")]
    return build(vocab, merges)


def from_open_clip_bpe(bpe_gz: Path) -> Tokenizer:
    """OpenCLIP's bpe_simple_vocab_16e6.txt.gz -> the 49408-token vocabulary its SimpleTokenizer builds."""
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    alphabet = byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [START, END]
    return build({token: i for i, token in enumerate(tokens)}, merges)


def special_ids(tokenizer: Tokenizer, pad: str | int) -> dict[str, int]:
    ids = {"start": tokenizer.token_to_id(START), "end": tokenizer.token_to_id(END)}
    ids["pad"] = pad if isinstance(pad, int) else tokenizer.token_to_id(pad)
    if None in ids.values():
        raise ExportError(f"the vocabulary lacks {START}, {END} or the pad token")
    return ids


def encode(tokenizer: Tokenizer, text: str, special: dict[str, int], max_tokens: int) -> list[int]:
    """What the runtime does (src/encoders/text.ts): start, the text cut to fit, end, then pad."""
    ids = tokenizer.encode(text, add_special_tokens=False).ids[: max_tokens - 2]
    ids = [special["start"], *ids, special["end"]]
    return ids + [special["pad"]] * (max_tokens - len(ids))
