"""Depth adherence: depth re-estimated on the output vs the control depth, Spearman rank correlation.

Relative depth from monocular estimators has no fixed scale or offset (and a
hand-made map any monotone encoding), so only the order of pixels from near
to far is compared: Spearman's rho is invariant to every monotone rescaling.
"""

from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import Image
from scipy.stats import spearmanr

from app.errors import StudioError
from app.fit.base import FitContext, Scorer

# Both maps are compared on a grid of at most this long side: depth is smooth,
# and ranking 16 k pixels instead of 262 k keeps the score a few milliseconds.
GRID_LONG_SIDE = 128


def _to_grid(depth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    array = np.nan_to_num(np.asarray(depth, dtype=np.float32))
    if array.ndim == 3:
        array = array.mean(axis=-1)
    if array.shape == (height, width):
        return array
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)


def grid_shape(shape: tuple[int, ...], long_side: int = GRID_LONG_SIDE) -> tuple[int, int]:
    """The common comparison grid (height, width) for a depth map of ``shape``, aspect kept."""
    height, width = int(shape[0]), int(shape[1])
    scale = min(1.0, long_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def spearman(first: np.ndarray, second: np.ndarray) -> float | None:
    """Spearman's rank correlation of two arrays of one shape (−1…1).

    Returns:
        None when either array is constant (its order carries no layout).

    Raises:
        StudioError: The arrays differ in shape.
    """
    if first.shape != second.shape:
        raise StudioError(f"depth maps must have one shape, received {first.shape} and {second.shape}.")
    a, b = first.ravel(), second.ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.clip(spearmanr(a, b).statistic, -1.0, 1.0))


def depth_correlation(output_depth: np.ndarray, control_depth: np.ndarray) -> float | None:
    """Spearman of two depth maps brought to a common grid (the control's aspect, long side ≤ 128).

    Returns:
        −1…1; None when the control depth is constant (no layout to keep); 0 when
        only the output's is (it kept no layout).
    """
    shape = grid_shape(np.shape(control_depth))
    control = _to_grid(control_depth, shape)
    if float(control.max() - control.min()) == 0.0:
        return None
    rho = spearman(_to_grid(output_depth, shape), control)
    return 0.0 if rho is None else rho


class DepthScorer(Scorer):
    """The control map's depth detector on the output, Spearman against the control depth."""

    name: ClassVar[str] = "depth"
    label: ClassVar[str] = "Depth (Spearman)"
    description: ClassVar[str] = (
        "How well the output keeps the 3-D layout: depth re-estimated on it, rank correlation with the control depth."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the layout"
    bounds: ClassVar[tuple[float, float]] = (-1.0, 1.0)  # a rank correlation
    control_type: ClassVar[str] = "depth"

    @classmethod
    def target_of(cls, result: Any) -> np.ndarray:
        """The relative depth behind the map; for a map made elsewhere, its brightness (near = bright)."""
        return result.depth if result.depth is not None else np.asarray(result.map.convert("L"), dtype=np.float32)

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        control = ctx.maps["depth"]
        return depth_correlation(estimated_depth(output, ctx), control.target)


def estimated_depth(output: Image.Image, ctx: FitContext) -> np.ndarray:
    """The depth the depth map's detector (with its parameters) estimates on ``output``."""
    return ctx.detector("depth").estimate_depth(output, **ctx.maps["depth"].params)
