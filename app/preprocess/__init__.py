"""Preprocessors: canny, pose and depth control maps, with preview, own-map upload and caching.

Public API::

    from app.preprocess import get_detector, detectors_for, preview, get_map_service

    detector = get_detector("canny")                   # shared instance; model loads lazily
    edge_map = detector.detect(image, 512, low_threshold=50)
    result = get_map_service().get_map(image, "vitpose", (512, 768))   # cached MapResult
    items = preview(image, detectors=["canny", "vitpose", "depth_anything"])

The core never imports gradio; the UI builds its sliders from
``get_detector(name).param_specs()``.
"""

from __future__ import annotations

from typing import Any

from app.controls import CONTROL_TYPES
from app.preprocess.base import (
    DepthDetector,
    Detector,
    DetectorParams,
    MapResult,
    NoPersonFound,
    PoseDetector,
    depth_to_image,
)
from app.preprocess.cache import MapCache
from app.preprocess.keypoints import Keypoint, Person
from app.preprocess.registry import DEFAULTS, REGISTRY
from app.preprocess.service import (
    MapService,
    PreviewItem,
    detectors_for,
    get_map_service,
    set_map_service,
)
from app.preprocess.sources import DetectorSources


def get_detector(name: str) -> Detector:
    """The process-wide instance of detector ``name`` (see :data:`REGISTRY`).

    Raises:
        StudioError: ``name`` is not registered.
    """
    return get_map_service().detector(name)


def preview(
    image: Any,
    detectors: list[str] | tuple[str, ...] | None = None,
    resolution: int | tuple[int, int] = 512,
    fit: str = "crop",
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, PreviewItem]:
    """Every requested map of ``image`` at once with the time each took (see :meth:`MapService.preview`)."""
    return get_map_service().preview(image, detectors, resolution, fit, params)


__all__ = [
    "CONTROL_TYPES",
    "DEFAULTS",
    "REGISTRY",
    "DepthDetector",
    "Detector",
    "DetectorParams",
    "DetectorSources",
    "Keypoint",
    "MapCache",
    "MapResult",
    "MapService",
    "NoPersonFound",
    "Person",
    "PoseDetector",
    "PreviewItem",
    "depth_to_image",
    "detectors_for",
    "get_detector",
    "get_map_service",
    "preview",
    "set_map_service",
]
