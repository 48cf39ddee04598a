"""Canny edges (OpenCV), with fixed or automatic (image-median) thresholds."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
from PIL import Image
from pydantic import Field, model_validator

from app.preprocess.base import Detector, DetectorParams, MapResult

# Width of the automatic band around the median: the common "sigma = 0.33" heuristic.
AUTO_SIGMA = 0.33


class CannyParams(DetectorParams):
    """Canny thresholds on the gradient magnitude (0–255 scale)."""

    low_threshold: int = Field(100, ge=0, le=255, description="Edges weaker than this are dropped.")
    high_threshold: int = Field(200, ge=0, le=255, description="Edges stronger than this always stay.")
    auto_threshold: bool = Field(
        False, description="Ignore the thresholds and derive them from the image's median brightness."
    )

    @model_validator(mode="after")
    def _ordered(self) -> CannyParams:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold ({self.low_threshold}) must not exceed high_threshold ({self.high_threshold})"
            )
        return self


def auto_thresholds(gray: np.ndarray, sigma: float = AUTO_SIGMA) -> tuple[int, int]:
    """Thresholds ``(1 ± sigma) × median`` of a greyscale image, clipped to 0–255."""
    median = float(np.median(gray))
    return int(max(0.0, (1.0 - sigma) * median)), int(min(255.0, (1.0 + sigma) * median))


class CannyDetector(Detector):
    """OpenCV Canny on the RGB image (the gradient of the strongest channel), white edges on black."""

    name: ClassVar[str] = "canny"
    control_type: ClassVar[str] = "canny"
    label: ClassVar[str] = "Canny edges (OpenCV)"
    description: ClassVar[str] = "Outlines and fine detail; no model to load."
    Params: ClassVar[type[DetectorParams]] = CannyParams

    def _run(self, image: Image.Image, params: CannyParams) -> MapResult:
        rgb = np.asarray(image)
        low, high = params.low_threshold, params.high_threshold
        if params.auto_threshold:
            low, high = auto_thresholds(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        edges = cv2.Canny(rgb, low, high)
        result = self._result(Image.fromarray(np.stack([edges] * 3, axis=-1), mode="RGB"), params)
        result.extras["thresholds"] = (low, high)
        return result
