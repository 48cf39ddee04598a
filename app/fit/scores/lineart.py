"""Lineart adherence: the lineart re-extracted from the output vs the control lineart, SSIM (ControlNet++'s protocol).

ControlNet++ (Li et al., ECCV 2024) scores LineArt ControlNets by the SSIM between the input lineart and the lineart
extracted from the generated image. Here both come from the map's own detector with its parameters, at the
control's size, as grey levels on 0–1, with Wang et al.'s Gaussian-window SSIM (σ = 1.5). SSIM can dip below 0 for
anti-correlated structure; that counts as 0, no fit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

from app.fit.base import FitContext, Scorer


def grey(image: Image.Image) -> np.ndarray:
    """An image's grey levels on 0–1."""
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def ssim(first: np.ndarray, second: np.ndarray) -> float:
    """Wang et al.'s SSIM of two grey images on 0–1 (Gaussian window, σ = 1.5), floored at 0."""
    value = structural_similarity(
        first, second, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    return max(0.0, float(value))


class LineartScorer(Scorer):
    """The lineart map's detector (same parameters) on the output, SSIM against the control lineart."""

    name: ClassVar[str] = "lineart"
    label: ClassVar[str] = "Lineart (SSIM)"
    description: ClassVar[str] = (
        "How well the output keeps the control's lines: the same lineart detector re-run on it, SSIM against the "
        "lineart map (ControlNet++'s protocol)."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the lines"
    control_type: ClassVar[str] = "lineart"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return reextracted_ssim(output, ctx, "lineart")


def reextracted_ssim(output: Image.Image, ctx: FitContext, control_type: str) -> float:
    """SSIM between a control type's map and what its map's detector (same parameters) finds on ``output``, at
    the map's size: ControlNet++'s protocol for line and edge maps."""
    target, found = ctx.reextract(output, control_type)
    return ssim(grey(found.map), grey(target))
