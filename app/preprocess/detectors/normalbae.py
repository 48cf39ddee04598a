"""``normalbae``: surface normals by Bae et al. (ICCV 2021) through controlnet-aux, the annotator ControlNet 1.1's
normal model was trained with; each pixel's colour is its normal (x, y, z mapped from −1…1 to 0…255).

Its weights (``scannet.pt``) come from the pinned ``lllyasviel/Annotators`` revision or an operator's folder, read
weights-only by :mod:`app.preprocess.weights` into controlnet-aux's network class, whose EfficientNet encoder is
built from the code controlnet-aux ships (nothing is downloaded).
"""

from __future__ import annotations

import contextlib
import io
import types
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from app.preprocess.base import AnnotatorFile, Detector, DetectorParams, MapResult
from app.preprocess.sources import NORMAL_FILE
from app.preprocess.third_party import import_controlnet_aux

NNET_ARGS = {"mode": "client", "architecture": "BN", "pretrained": "scannet", "sampling_ratio": 0.4,
             "importance_ratio": 0.7}  # fmt: skip
"""controlnet-aux's settings for the network (``NormalBaeDetector.from_pretrained``)."""


def build_network() -> Any:
    """controlnet-aux's ``NNET`` (its encoder announces itself on stdout: kept quiet)."""
    nets = import_controlnet_aux("normalbae.nets.NNET", "normalbae")
    with contextlib.redirect_stdout(io.StringIO()):
        return nets.NNET(types.SimpleNamespace(**NNET_ARGS))


class NormalBaeDetector(Detector):
    """Bae et al.'s normals via controlnet-aux at the map's own size, as an RGB normal map."""

    name: ClassVar[str] = "normalbae"
    control_type: ClassVar[str] = "normal"
    label: ClassVar[str] = "NormalBae (controlnet-aux)"
    description: ClassVar[str] = "Surface directions from Bae et al.'s ScanNet model; MIT."
    needs_model: ClassVar[bool] = True
    # Saved as a DataParallel training checkpoint: {"model": {"module.…": …}}.
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (AnnotatorFile(NORMAL_FILE, build_network, wrapper="model"),)
    overflows_float16: ClassVar[bool] = True  # its EfficientNet's activations left float16's range (NaN maps)

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        from app.preprocess.weights import float32_at_boundary

        normalbae = import_controlnet_aux("normalbae", self.name)
        # controlnet-aux feeds float32 inputs and reads float32 outputs: cast at the model's boundary.
        return normalbae.NormalBaeDetector(float32_at_boundary(self._annotator_network()))

    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        import torch

        side = min(image.size)  # the canvas is already the map's size
        with torch.inference_mode():
            normals = self._model(np.asarray(image), detect_resolution=side, image_resolution=side)
        return self._result(normals.convert("RGB"), params)
