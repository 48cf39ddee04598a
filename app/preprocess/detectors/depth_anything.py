"""``depth_anything``: Depth Anything V2 through transformers (``AutoModelForDepthEstimation``)."""

from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import Image

from app.preprocess.base import DepthDetector, DetectorParams


class DepthAnythingDetector(DepthDetector):
    """Relative depth (disparity: near = large) from Depth Anything V2 Small (Apache-2.0)."""

    name: ClassVar[str] = "depth_anything"
    label: ClassVar[str] = "Depth Anything V2 (transformers)"
    description: ClassVar[str] = "Sharp, robust relative depth; the default."
    needs_model: ClassVar[bool] = True

    def source_description(self) -> str:
        return repr(self.sources.depth_anything)

    def _load(self) -> Any:
        from transformers import AutoModelForDepthEstimation

        source = self.sources.depth_anything
        model = AutoModelForDepthEstimation.from_pretrained(source, **self.sources.transformers_kwargs(source))
        return self.sources.image_processor(source), self.placement.place(model).eval()

    def _depth(self, image: Image.Image, params: DetectorParams) -> np.ndarray:
        import torch

        processor, model = self._model
        # The model directly, not transformers' depth-estimation pipeline: its post-processing calls .numpy()
        # on the model's dtype, which fails in bfloat16.
        with torch.inference_mode():
            inputs = self.placement.inputs(processor(images=image, return_tensors="pt"))
            predicted = model(**inputs).predicted_depth.float().cpu()
        depth = predicted.numpy().squeeze()
        if depth.shape != (image.height, image.width):
            depth = cv2.resize(depth, image.size, interpolation=cv2.INTER_CUBIC)
        return depth.astype(np.float32)
