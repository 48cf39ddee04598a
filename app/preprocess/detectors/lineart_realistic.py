"""``lineart_realistic`` and ``lineart_coarse``: controlnet-aux's learned lineart (Informative Drawings' generator,
the annotator ControlNet 1.1's lineart model was trained with; A1111's ``lineart_realistic`` / ``lineart_coarse``).

Their weights (``sk_model.pth``, ``sk_model2.pth``: the fine and the coarse generator) come from the pinned
``lllyasviel/Annotators`` revision or an operator's folder, read weights-only by :mod:`app.preprocess.weights` and
handed to controlnet-aux's network class. Unlike the model-free ``lineart_standard`` they draw the lines a person
would, not every dark edge: ``lineart:lineart_realistic`` against ``lineart`` is the detector pair to sweep.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image

from app.preprocess.base import AnnotatorFile, Detector, DetectorParams, MapResult
from app.preprocess.third_party import import_controlnet_aux

LINEART_FILE = "sk_model.pth"  # in the pinned Annotators revision (MIT)
LINEART_COARSE_FILE = "sk_model2.pth"


def _generator() -> Any:
    """Informative Drawings' generator, as controlnet-aux builds it for both files."""
    return import_controlnet_aux("lineart", "lineart_realistic").Generator(3, 1, 3)


class LineartRealisticDetector(Detector):
    """The fine lineart generator via controlnet-aux, at the map's own size, white lines on black."""

    name: ClassVar[str] = "lineart_realistic"
    control_type: ClassVar[str] = "lineart"
    label: ClassVar[str] = "Learned lineart (controlnet-aux)"
    description: ClassVar[str] = "The annotator ControlNet 1.1's lineart model was trained with (sk_model.pth); MIT."
    Params: ClassVar[type[DetectorParams]] = DetectorParams
    needs_model: ClassVar[bool] = True
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (AnnotatorFile(LINEART_FILE, _generator),)

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        from app.preprocess.weights import float32_at_boundary

        lineart = import_controlnet_aux("lineart", self.name)
        # controlnet-aux feeds float32 inputs and reads float32 outputs: cast at the model's boundary. One network
        # serves as both of its detector's models: this detector is the fine one or the coarse one, not both.
        net = float32_at_boundary(self._annotator_network())
        return lineart.LineartDetector(net, net)

    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        import torch

        side = min(image.size)  # the canvas is already the map's size
        with torch.inference_mode():
            lines = self._model(np.asarray(image), detect_resolution=side, image_resolution=side)
        return self._result(lines.convert("RGB"), params)


class LineartCoarseDetector(LineartRealisticDetector):
    """The coarse lineart generator (``sk_model2.pth``): fewer, bolder lines (A1111's ``lineart_coarse``)."""

    name: ClassVar[str] = "lineart_coarse"
    label: ClassVar[str] = "Learned coarse lineart (controlnet-aux)"
    description: ClassVar[str] = "The coarse lineart generator (sk_model2.pth): fewer, bolder lines; MIT."
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (AnnotatorFile(LINEART_COARSE_FILE, _generator),)
