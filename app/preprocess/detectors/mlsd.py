"""``mlsd``: controlnet-aux's M-LSD line-segment detector (ControlNet 1.1's straight-line annotator).

Its weights (``mlsd_large_512_fp32.pth``) come from the pinned ``lllyasviel/Annotators`` revision or an operator's
folder, read weights-only by :mod:`app.preprocess.weights` and handed to controlnet-aux's network class.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from app.preprocess.base import AnnotatorFile, Detector, DetectorParams, MapResult
from app.preprocess.sources import MLSD_FILE
from app.preprocess.third_party import import_controlnet_aux


class MlsdParams(DetectorParams):
    """controlnet-aux's two thresholds (its defaults)."""

    score_threshold: float = Field(
        0.1, ge=0.01, le=2.0, description="Lowest confidence a line keeps: higher keeps only the clearest lines."
    )
    distance_threshold: float = Field(
        0.1,
        ge=0.0,
        le=20.0,
        description="Shortest line kept, in pixels of the detector's view: higher drops short ones.",
    )


class MlsdDetector(Detector):
    """M-LSD via controlnet-aux at the map's own size: white straight lines on black."""

    name: ClassVar[str] = "mlsd"
    control_type: ClassVar[str] = "mlsd"
    label: ClassVar[str] = "M-LSD straight lines (controlnet-aux)"
    description: ClassVar[str] = "The annotator ControlNet 1.1's MLSD model was trained with; Apache-2.0."
    Params: ClassVar[type[DetectorParams]] = MlsdParams
    needs_model: ClassVar[bool] = True
    # Its backbone is built with pretrained=False: nothing downloads.
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (
        AnnotatorFile(MLSD_FILE, lambda: import_controlnet_aux("mlsd", "mlsd").MobileV2_MLSD_Large()),
    )

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        from app.preprocess.weights import float32_at_boundary

        # controlnet-aux feeds float32 inputs and reads float32 outputs: cast at the model's boundary.
        return float32_at_boundary(self._annotator_network())

    def _run(self, image: Image.Image, params: MlsdParams) -> MapResult:
        import cv2
        import torch

        # controlnet-aux's line decoding, called directly: its MLSDdetector swallows every error into an empty map.
        utils = import_controlnet_aux("mlsd.utils", self.name)
        pixels = np.asarray(image)
        height, width = pixels.shape[:2]
        view = [-(-height // 64) * 64, -(-width // 64) * 64]  # the network's input: multiples of 64, like theirs
        with torch.inference_mode():
            lines = utils.pred_lines(pixels, self._model, view, params.score_threshold, params.distance_threshold)
        drawn = np.zeros((height, width), dtype=np.uint8)
        for x_start, y_start, x_end, y_end in np.asarray(lines, dtype=float).reshape(-1, 4).astype(int):
            cv2.line(drawn, (x_start, y_start), (x_end, y_end), 255, 1)
        return self._result(Image.fromarray(drawn).convert("RGB"), params)
