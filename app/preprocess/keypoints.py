"""People and their keypoints as pose detectors find them and the pose renderer and scorer use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Keypoint(NamedTuple):
    """One keypoint: ``x``, ``y`` normalised to 0–1 of the image; ``score`` 0 when missing."""

    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Person:
    """One person's body keypoints in OpenPose-18 order (see :mod:`app.preprocess.render_pose`)."""

    keypoints: tuple[Keypoint, ...]
    score: float = 1.0
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1, normalised
    hands: tuple[tuple[Keypoint, ...], ...] = ()
    face: tuple[Keypoint, ...] = ()

    def visible(self, threshold: float = 0.0) -> list[int]:
        """Indices of keypoints with a score above ``threshold``."""
        return [i for i, k in enumerate(self.keypoints) if k.score > threshold]
