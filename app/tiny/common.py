"""What the tiny builders share: the byte-level CLIP vocabulary and the marker that says a folder is complete."""

from __future__ import annotations

import json
from pathlib import Path


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-to-printable-character table used by byte-level BPE."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def tiny_vocab() -> dict[str, int]:
    """The tiny byte-level CLIP vocabulary: the two special tokens, then every byte alone and word-final."""
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in bytes_to_unicode().values():
        for token in (char, char + "</w>"):
            vocab.setdefault(token, len(vocab))
    return vocab


def build_tokenizer():
    """A CLIP tokenizer with a byte-level vocabulary and no merges: every byte is a token."""
    from transformers import CLIPTokenizer  # imported here: the vocabulary helpers need no transformers

    return CLIPTokenizer(vocab=tiny_vocab(), merges=[], model_max_length=77)


def marker_is_current(marker: Path, version: int) -> bool:
    """Whether a builder's marker file says its folder was completely written by builder ``version``."""
    try:
        return json.loads(marker.read_text()).get("version") == version
    except (OSError, ValueError, AttributeError):
        return False


def write_marker(marker: Path, version: int, seed: int) -> None:
    """Mark a builder's folder complete; written last, so a half-written folder has no marker."""
    marker.write_text(json.dumps({"version": version, "seed": seed}))
