"""``hed_scribble``: controlnet-aux's HED in its scribble mode (A1111's ``scribble_hed``): the soft edges thinned,
blurred and thresholded into thick binary strokes, what ControlNet 1.1's scribble model was trained on.

The same network and weights as :mod:`.hed` (``ControlNetHED.pth`` from the pinned Annotators revision, read
weights-only); only the post-processing differs.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from app.preprocess.base import DetectorParams, MapResult
from app.preprocess.detectors.hed import HedDetector, HedParams


class HedScribbleDetector(HedDetector):
    """HED soft edges made into scribble strokes, at the map's own size, white on black."""

    name: ClassVar[str] = "hed_scribble"
    control_type: ClassVar[str] = "scribble"
    label: ClassVar[str] = "HED scribble (controlnet-aux)"
    description: ClassVar[str] = "HED's edges as thick strokes (A1111's scribble_hed); Apache-2.0."
    Params: ClassVar[type[DetectorParams]] = HedParams

    def _run(self, image: Image.Image, params: HedParams) -> MapResult:
        import torch

        side = min(image.size)  # the canvas is already the map's size
        with torch.inference_mode():
            strokes = self._model(
                np.asarray(image), detect_resolution=side, image_resolution=side, safe=params.safe, scribble=True
            )
        # Resampled back to the canvas, the strokes' borders turn grey: the model was trained on binary strokes.
        binary = np.where(np.asarray(strokes.convert("L")) > 127, 255, 0).astype(np.uint8)
        return self._result(Image.fromarray(binary).convert("RGB"), params)
