"""``upernet``: ADE20K semantic segmentation through transformers (``UperNetForSemanticSegmentation``), drawn in
ADE20K's palette, the map ControlNet 1.1's seg model was trained on.

The segmenter is ``openmmlab/upernet-convnext-tiny`` (MIT, safetensors) or an operator's folder; the 150-colour
palette is controlnet-aux's ``ade_palette`` (the one sd-webui-controlnet and ComfyUI's aux nodes draw with). The
class of each pixel is kept beside the map (``extras["classes"]``) for the fit score.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image

from app.preprocess.base import Detector, DetectorParams, MapResult
from app.preprocess.third_party import import_controlnet_aux


def ade_palette() -> np.ndarray:
    """ADE20K's 150 class colours, ``(150, 3)`` uint8, class i at row i."""
    return np.asarray(import_controlnet_aux("util", "upernet").ade_palette(), dtype=np.uint8)


def classes_of(segmentation_map: Image.Image, palette: np.ndarray) -> np.ndarray:
    """The class of every pixel of a map drawn in ``palette``: the nearest palette colour (a resized map blends
    colours along class borders)."""
    pixels = np.asarray(segmentation_map.convert("RGB"), dtype=np.int32).reshape(-1, 1, 3)
    nearest = np.empty(pixels.shape[0], dtype=np.int64)
    for start in range(0, pixels.shape[0], 65536):  # bounded memory: 64 Ki pixels × 150 colours at a time
        chunk = pixels[start : start + 65536]
        nearest[start : start + len(chunk)] = ((chunk - palette[None].astype(np.int32)) ** 2).sum(-1).argmin(1)
    return nearest.reshape(segmentation_map.height, segmentation_map.width)


class UperNetDetector(Detector):
    """Semantic segmentation into ADE20K's 150 classes, each pixel painted its class colour."""

    name: ClassVar[str] = "upernet"
    control_type: ClassVar[str] = "seg"
    label: ClassVar[str] = "UperNet ADE20K (transformers)"
    description: ClassVar[str] = "150 ADE20K classes (wall, sky, person, …) in the palette the seg ControlNet knows."
    needs_model: ClassVar[bool] = True

    def source_description(self) -> str:
        return repr(self.sources.segmenter)

    def _load(self) -> Any:
        from transformers import UperNetForSemanticSegmentation

        source = self.sources.segmenter
        model = UperNetForSemanticSegmentation.from_pretrained(source, **self.sources.transformers_kwargs(source))
        return self.sources.image_processor(source), self.placement.place(model).eval(), ade_palette()

    def segment(self, image: Image.Image) -> np.ndarray:
        """The ADE20K class of every pixel of ``image``, ``(height, width)``."""
        import torch

        processor, model, _ = self.load()
        with torch.inference_mode():
            inputs = self.placement.inputs(processor(images=image, return_tensors="pt"))
            logits = model(**inputs).logits.float()
            upsampled = torch.nn.functional.interpolate(
                logits, size=(image.height, image.width), mode="bilinear", align_corners=False
            )
        return upsampled.argmax(1)[0].cpu().numpy()

    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        classes = self.segment(image)
        palette = self._model[2]
        return self._result(Image.fromarray(palette[classes]), params, extras={"classes": classes})
