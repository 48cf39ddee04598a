"""Normal adherence: the normals re-estimated on the output vs the control's, from their mean angular error.

ControlNet++ has no normal protocol; the issue's choice is the mean angular error between the control's normals and
those the map's own detector finds on the output, at the control's size. The score is ``1 − error / 180°`` so that,
like every structure score, higher fits better: 1 is the same surfaces, 0.5 a right angle on average.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from app.fit.base import FitContext, Scorer


def normals_of(normal_map: Image.Image) -> np.ndarray:
    """Unit normals ``(height, width, 3)`` from a normal map's colours (0…255 → −1…1)."""
    vectors = np.asarray(normal_map.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-6)


def mean_angle(found: np.ndarray, target: np.ndarray) -> float:
    """The mean angle in degrees between two fields of unit normals."""
    cosines = np.clip((found * target).sum(-1), -1.0, 1.0)
    return float(np.degrees(np.arccos(cosines)).mean())


class NormalScorer(Scorer):
    """The normal map's detector on the output; ``1 − mean angular error / 180°`` against the control's normals."""

    name: ClassVar[str] = "normal"
    label: ClassVar[str] = "Normals (1 − angle/180°)"
    description: ClassVar[str] = (
        "How well the output keeps the control's surface directions: the same normal estimator re-run on it, "
        "1 minus the mean angle between its normals and the map's, over 180°."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the surfaces' form"
    control_type: ClassVar[str] = "normal"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        target, found = ctx.reextract(output, "normal")
        return 1.0 - mean_angle(normals_of(found.map), normals_of(target)) / 180.0
