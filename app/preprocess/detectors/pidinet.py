"""``pidinet`` and ``pidinet_scribble``: controlnet-aux's PiDiNet, ControlNet 1.1's second soft-edge annotator
(A1111's ``softedge_pidinet`` and ``scribble_pidinet``).

Its weights (``table5_pidinet.pth``, a ``{"state_dict": …}`` DataParallel checkpoint) come from the pinned
``lllyasviel/Annotators`` revision or an operator's folder, read weights-only by :mod:`app.preprocess.weights` and
handed to controlnet-aux's network class. Lighter than HED (0.7 M parameters against 14.7 M), a little thinner edges:
``softedge:pidinet`` against ``softedge:hed`` is the detector pair people sweep.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from app.preprocess.base import AnnotatorFile, Detector, DetectorParams, MapResult
from app.preprocess.third_party import import_controlnet_aux

PIDINET_FILE = "table5_pidinet.pth"  # in the pinned Annotators revision (MIT)


class PidinetParams(DetectorParams):
    """controlnet-aux's one switch, as for HED."""

    safe: bool = Field(False, description='Quantise the edge strengths ("safe" PiDiNet): steadier, a little coarser.')


class PidinetDetector(Detector):
    """PiDiNet (pixel difference network) soft edges via controlnet-aux, at the map's own size, white on black."""

    name: ClassVar[str] = "pidinet"
    control_type: ClassVar[str] = "softedge"
    label: ClassVar[str] = "PiDiNet soft edges (controlnet-aux)"
    description: ClassVar[str] = "ControlNet 1.1's second soft-edge annotator: lighter than HED, thinner edges; MIT."
    Params: ClassVar[type[DetectorParams]] = PidinetParams
    needs_model: ClassVar[bool] = True
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = (
        AnnotatorFile(PIDINET_FILE, lambda: import_controlnet_aux("pidi", "pidinet").pidinet(), wrapper="state_dict"),
    )
    float32_only: ClassVar[bool] = True  # its pixel-difference convolutions build float32 kernels from the weights
    scribble: ClassVar[bool] = False

    def source_description(self) -> str:
        return repr(self.sources.annotators)

    def _load(self) -> Any:
        from app.preprocess.weights import float32_at_boundary

        pidi = import_controlnet_aux("pidi", self.name)
        # controlnet-aux feeds float32 inputs and reads float32 outputs: cast at the model's boundary.
        return pidi.PidiNetDetector(float32_at_boundary(self._annotator_network()))

    def _run(self, image: Image.Image, params: PidinetParams) -> MapResult:
        import torch

        side = min(image.size)  # the canvas is already the map's size
        with torch.inference_mode():
            edges = self._model(
                np.asarray(image), detect_resolution=side, image_resolution=side, safe=params.safe,
                scribble=self.scribble,
            )  # fmt: skip
        if self.scribble:  # resampled back to the canvas, stroke borders turn grey: scribble models want binary
            binary = np.where(np.asarray(edges.convert("L")) > 127, 255, 0).astype(np.uint8)
            edges = Image.fromarray(binary)
        return self._result(edges.convert("RGB"), params)


class PidinetScribbleDetector(PidinetDetector):
    """PiDiNet's edges thinned, blurred and thresholded into thick binary strokes (A1111's ``scribble_pidinet``)."""

    name: ClassVar[str] = "pidinet_scribble"
    control_type: ClassVar[str] = "scribble"
    label: ClassVar[str] = "PiDiNet scribble (controlnet-aux)"
    description: ClassVar[str] = "PiDiNet's edges as thick strokes (A1111's scribble_pidinet); MIT."
    scribble: ClassVar[bool] = True
