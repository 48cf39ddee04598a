"""``hed``: controlnet-aux's HED soft-edge detector (ControlNet 1.1's Apache-2.0 reimplementation).

Its weights (``ControlNetHED.pth``) come from the pinned ``lllyasviel/Annotators`` revision or an operator's folder,
read weights-only by :mod:`app.preprocess.weights` and handed to controlnet-aux's network class.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from app.preprocess.base import AnnotatorFile, Detector, DetectorParams, MapResult
from app.preprocess.sources import HED_FILE
from app.preprocess.third_party import import_controlnet_aux


class HedParams(DetectorParams):
    """controlnet-aux's one switch."""

    safe: bool = Field(False, description='Quantise the edge strengths ("safe" HED): steadier, a little coarser.')


class HedDetector(Detector):
    """HED (holistically-nested edge detection) via controlnet-aux, at the map's own size, white edges on black."""

    name: ClassVar[str] = "hed"
    control_type: ClassVar[str] = "softedge"
    label: ClassVar[str] = "HED soft edges (controlnet-aux)"
    description: ClassVar[str] = "The annotator ControlNet 1.1's soft-edge model was trained with; Apache-2.0."
    Params: ClassVar[type[DetectorParams]] = HedParams
    needs_model: ClassVar[bool] = True
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (
        AnnotatorFile(HED_FILE, lambda: import_controlnet_aux("hed", "hed").ControlNetHED_Apache2()),
    )

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        from app.preprocess.weights import float32_at_boundary

        hed = import_controlnet_aux("hed", self.name)
        # controlnet-aux feeds float32 inputs and reads float32 outputs: cast at the model's boundary.
        return hed.HEDdetector(float32_at_boundary(self._annotator_network()))

    def _run(self, image: Image.Image, params: HedParams) -> MapResult:
        import torch

        side = min(image.size)  # the canvas is already the map's size
        with torch.inference_mode():
            edges = self._model(np.asarray(image), detect_resolution=side, image_resolution=side, safe=params.safe)
        return self._result(edges.convert("RGB"), params)
