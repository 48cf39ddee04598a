"""A tiny, seeded-random CLIP for the fit scorers: the real loading code, offline, in well under a second.

:func:`build_tiny_scorers` writes ``ROOT/clip/`` with a ``CLIPModel`` (tiny
config), a byte-level ``CLIPTokenizer`` (the one the tiny diffusion family
uses) and a ``CLIPImageProcessor``, all via ``save_pretrained`` (safetensors).
Scores from it are meaningless numbers, but deterministic, and every shape and
code path is the real one.

Command line: ``python -m app.tiny.scorers FOLDER``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.fit.clip import ScorerSources
from app.tiny.common import build_tokenizer, marker_is_current, write_marker

SEED = 0
# Bump when the layout or config changes, so stale folders are rebuilt.
TINY_VERSION = 1
_MARKER = "tiny_scorers.json"
IMAGE_SIZE = 32
PROJECTION_DIM = 32
"""The tiny CLIP's embedding size: the fit scores' and the tiny FLUX IP-Adapter's image embeddings (both read it)."""


def build_tiny_scorers(root: str | Path, *, force: bool = False) -> ScorerSources:
    """Write a tiny seeded-random CLIP into ``root/clip`` and return sources pointing at it.

    Deterministic for a given version and seed; reuses a complete folder unless ``force``.

    Args:
        root: Folder to write (created if needed).
        force: Rebuild even if a complete folder of this version is there.

    Returns:
        Sources loading the CLIP model from ``root/clip``, local files only.
    """
    root = Path(root)
    folder = root / "clip"
    sources = ScorerSources(clip=str(folder), local_files_only=True, label="tiny")
    marker = root / _MARKER

    if not force and marker_is_current(marker, TINY_VERSION):
        return sources
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    tokenizer = build_tokenizer()
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        projection_dim=PROJECTION_DIM,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=8,
        projection_dim=PROJECTION_DIM,
    )
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = CLIPModel(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    ).save_pretrained(folder)
    write_marker(marker, TINY_VERSION, SEED)
    return sources


def main(argv: list[str] | None = None) -> int:
    """``python -m app.tiny.scorers FOLDER``: write the tiny scorer folder and print how to use it."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.tiny.scorers FOLDER", file=sys.stderr)
        return 2
    sources = build_tiny_scorers(Path(args[0]), force=True)
    print(f"tiny CLIP scorer written to {sources.clip}; use STUDIO_CLIP_MODEL={sources.clip}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
