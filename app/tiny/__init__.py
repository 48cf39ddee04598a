"""The tiny model family: the real component classes with tiny configs and seeded random weights.

Built offline in a few seconds, loaded through the very loaders real weights take, so tests, benchmarks
and the offline demo run every code path without a hub. One module per part:

- :mod:`app.tiny.diffusion` — SD1.5-layout pipeline, ControlNets and IP-Adapter (``build_family``);
- :mod:`app.tiny.detectors` — RT-DETR, ViTPose, Depth Anything and the controlnet-aux annotators;
- :mod:`app.tiny.scorers` — the fit-scoring CLIP;
- :mod:`app.tiny.common` — the byte-level tokenizer and completion markers they share.

Whoever needs the family builds it (:func:`ensure_tiny_family`); the model spec only points at it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from app.tiny.detectors import build_tiny_detectors
from app.tiny.diffusion import BUILDER_VERSION, DEFAULT_SEED, build_family
from app.tiny.scorers import build_tiny_scorers

_COMPLETE = "COMPLETE"


def layout_key() -> str:
    """A short key of what the family holds (the registered control types, the detectors' annotator files), so a
    cache built before a type or detector was added is not mistaken for the current family."""
    from app.controls import CONTROL_TYPES
    from app.preprocess.registry import annotator_files

    return hashlib.sha256(repr((CONTROL_TYPES, [file.name for file in annotator_files()])).encode()).hexdigest()[:8]


def ensure_tiny_family(cache_dir: Path, seed: int = DEFAULT_SEED) -> Path:
    """The tiny family's folder under ``cache_dir``, built once per machine.

    The folder is written to a temporary sibling and renamed into place, so
    concurrent processes never see a half-written family.
    """
    root = Path(cache_dir) / f"tiny-family-v{BUILDER_VERSION}-{layout_key()}-seed{seed}"
    if (root / _COMPLETE).exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=root.parent))
    try:
        started = time.perf_counter()
        build_family(staging, "tiny", seed)
        build_tiny_detectors(staging / "detectors")
        build_tiny_scorers(staging / "scorers")
        (staging / _COMPLETE).write_text(f"built in {time.perf_counter() - started:.2f}s\n")
        try:
            os.rename(staging, root)
        except OSError:
            if not (root / _COMPLETE).exists():  # a stale partial folder: replace it
                shutil.rmtree(root, ignore_errors=True)
                os.rename(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


__all__ = ["build_family", "build_tiny_detectors", "build_tiny_scorers", "ensure_tiny_family"]
