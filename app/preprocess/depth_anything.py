"""``depth_anything``: Depth Anything V2 through transformers' ``depth-estimation`` pipeline."""

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
        from transformers import pipeline

        source = self.sources.depth_anything
        kwargs = self.sources.transformers_kwargs(source)
        hub = {k: kwargs.pop(k) for k in ("revision", "trust_remote_code") if k in kwargs}
        return pipeline("depth-estimation", model=source, device="cpu", model_kwargs=kwargs, **hub)

    def _depth(self, image: Image.Image, params: DetectorParams) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = self._model(image)
        depth = output["predicted_depth"].detach().float().cpu().numpy().squeeze()
        if depth.shape != (image.height, image.width):
            depth = cv2.resize(depth, image.size, interpolation=cv2.INTER_CUBIC)
        return depth.astype(np.float32)
