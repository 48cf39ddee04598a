"""Helpers shared by the preprocessor tests; each test module wraps them in its own fixtures."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from app.preprocess.sources import DetectorSources


@lru_cache(maxsize=1)
def tiny_detector_sources() -> DetectorSources:
    """The tiny detector folder, written once per test process."""
    from app.tiny.detectors import build_tiny_detectors

    root = Path(tempfile.mkdtemp(prefix="tiny-detectors-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_detectors(root)


def astronaut_photo() -> Image.Image:
    """scikit-image's public-domain NASA portrait (512×512 RGB)."""
    return Image.fromarray(data.astronaut())


def grey_levels(image: Image.Image) -> bool:
    """Whether an RGB map is grey (R = G = B everywhere)."""
    pixels = np.asarray(image)
    return bool(np.all(pixels[..., 0] == pixels[..., 1]) and np.all(pixels[..., 1] == pixels[..., 2]))
