"""``lineart_standard``: controlnet-aux's model-free lineart (dark strokes against their blurred surround).

It is the annotator sd-webui-controlnet and ComfyUI's aux nodes call "lineart_standard": a pixel becomes a line in
proportion to how much darker it is than a Gaussian blur of its neighbourhood, normalised by the median line
strength, so it needs no weights and runs in milliseconds.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from app.preprocess.base import Detector, DetectorParams, MapResult
from app.preprocess.third_party import import_controlnet_aux


class LineartStandardParams(DetectorParams):
    """controlnet-aux's two knobs (its defaults)."""

    gaussian_sigma: float = Field(
        6.0, ge=0.5, le=20.0, description="Blur radius the strokes are measured against: larger keeps bolder lines."
    )
    intensity_threshold: int = Field(
        8, ge=0, le=64, description="Darkening below this is texture, not a line (sets the median line strength)."
    )


class LineartStandardDetector(Detector):
    """controlnet-aux's LineartStandardDetector at the map's own size, white lines on black."""

    name: ClassVar[str] = "lineart_standard"
    control_type: ClassVar[str] = "lineart"
    label: ClassVar[str] = "Standard lineart (controlnet-aux)"
    description: ClassVar[str] = "Dark strokes against their surroundings; no model to load."
    Params: ClassVar[type[DetectorParams]] = LineartStandardParams

    def _run(self, image: Image.Image, params: LineartStandardParams) -> MapResult:
        lineart_standard = import_controlnet_aux("lineart_standard", self.name)
        with warnings.catch_warnings():  # a flat image has no strokes: the median of none is NaN, and no lines result
            warnings.simplefilter("ignore", RuntimeWarning)
            lines = lineart_standard.LineartStandardDetector()(
                np.asarray(image),
                guassian_sigma=params.gaussian_sigma,  # sic: controlnet-aux's spelling
                intensity_threshold=params.intensity_threshold,
                detect_resolution=min(image.size),  # the canvas is already the map's size
                output_type="pil",
            )
        return self._result(lines.convert("RGB"), params)
