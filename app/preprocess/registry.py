"""The detector registry: name → class. Adding a detector is one module plus one line here."""

from __future__ import annotations

from app.preprocess.base import Detector
from app.preprocess.canny import CannyDetector
from app.preprocess.depth_anything import DepthAnythingDetector
from app.preprocess.midas import MidasDetector
from app.preprocess.openpose import OpenposeDetector
from app.preprocess.passthrough import PassthroughDetector
from app.preprocess.vitpose import VitPoseDetector

REGISTRY: dict[str, type[Detector]] = {
    "canny": CannyDetector,
    "vitpose": VitPoseDetector,
    "openpose": OpenposeDetector,
    "depth_anything": DepthAnythingDetector,
    "midas": MidasDetector,
    "none": PassthroughDetector,
}

# The detector each control type uses unless the user picks another.
DEFAULTS: dict[str, str] = {"canny": "canny", "pose": "vitpose", "depth": "depth_anything"}
