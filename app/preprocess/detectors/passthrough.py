"""``none``: the uploaded image already is a control map (own skeleton, edges or depth)."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.preprocess.base import Detector, DetectorParams, MapResult


class PassthroughDetector(Detector):
    """Use the image as is; only the shared normalisation and fit-to-size apply."""

    name: ClassVar[str] = "none"
    control_type: ClassVar[str] = "any"
    label: ClassVar[str] = "None (my image is already a map)"
    description: ClassVar[str] = "For a skeleton, edge or depth map you made yourself."

    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        return self._result(image.copy(), params)
