"""Edge adherence: Canny re-run on the output vs the control edge map, F1 with a small pixel tolerance.

An output edge pixel counts as correct (precision) when a control edge lies
within the tolerance; a control edge pixel counts as kept (recall) when an
output edge lies within it. The tolerance forgives the one- or two-pixel
shifts that diffusion and Canny's non-maximum suppression always introduce.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
from PIL import Image

from app.errors import StudioError
from app.fit.base import FitContext, Scorer

# 2 px at SD1.5's 512 px, scaled with the image's long side (never below 1 px).
TOLERANCE_PX_AT_512 = 2.0


def tolerance_for(width: int, height: int) -> float:
    """The match tolerance in pixels for an image of this size."""
    return max(1.0, TOLERANCE_PX_AT_512 * max(width, height) / 512.0)


def edge_mask(edge_map: Image.Image | np.ndarray) -> np.ndarray:
    """A boolean edge mask from an edge map (white edges on black, any mode)."""
    array = np.asarray(edge_map.convert("L")) if isinstance(edge_map, Image.Image) else np.asarray(edge_map)
    if array.ndim == 3:
        array = array.max(axis=-1)
    return array > (0.5 if array.dtype == bool or array.max(initial=0) <= 1 else 127)


def _near(mask: np.ndarray, tolerance: float) -> np.ndarray:
    """Pixels within ``tolerance`` (Euclidean) of a True pixel of ``mask``."""
    # distanceTransform measures the distance to the nearest zero pixel: zero the edges.
    distance = cv2.distanceTransform(np.where(mask, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= tolerance


def edge_f1(predicted: np.ndarray, target: np.ndarray, tolerance: float) -> float | None:
    """F1 of two boolean edge masks of one size, matching pixels within ``tolerance``.

    Args:
        predicted: Edges found on the output.
        target: The control edges.
        tolerance: Match distance in pixels.

    Returns:
        0–1; None when ``target`` has no edges (nothing to adhere to); 0 when the
        output has none.

    Raises:
        StudioError: The masks differ in shape.
    """
    if predicted.shape != target.shape:
        raise StudioError(f"edge masks must have one shape, received {predicted.shape} and {target.shape}.")
    target_count = int(target.sum())
    if target_count == 0:
        return None
    predicted_count = int(predicted.sum())
    if predicted_count == 0:
        return 0.0
    precision = float((predicted & _near(target, tolerance)).sum()) / predicted_count
    recall = float((target & _near(predicted, tolerance)).sum()) / target_count
    if precision + recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


class EdgeScorer(Scorer):
    """Canny (same detector and parameters as the control map) on the output, F1 against the control edges."""

    name: ClassVar[str] = "edges"
    label: ClassVar[str] = "Edges (F1)"
    description: ClassVar[str] = (
        "How well the output keeps the control outlines: Canny re-run on it, F1 against the edge map "
        "with a 2 px tolerance at 512 px."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the outlines"
    control_type: ClassVar[str] = "canny"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return reextracted_f1(output, ctx, "canny")


def edges_of(output: Image.Image, ctx: FitContext, control_type: str = "canny") -> tuple[np.ndarray, np.ndarray]:
    """The control's lines and the lines its map's detector (with its parameters) finds on ``output`` at the
    control's size, as boolean masks (canny edges, scribble strokes, straight lines)."""
    target, found = ctx.reextract(output, control_type)
    return edge_mask(target), edge_mask(found.map)


def reextracted_f1(output: Image.Image, ctx: FitContext, control_type: str) -> float | None:
    """F1 of the lines a line map's detector finds on ``output`` against the map's, within the size's tolerance."""
    target, found = edges_of(output, ctx, control_type)
    height, width = target.shape
    return edge_f1(found, target, tolerance_for(width, height))
