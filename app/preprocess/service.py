"""The map service: one detector instance per name, loaded once, and the map cache in front of them.

Use the process-wide instance from :func:`get_map_service`; the UI, the
studio and scorers then share loaded models and cached maps.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from app.engine.placement import CPU, Placement
from app.errors import StudioError
from app.images import content_hash, load_image
from app.preprocess.base import Detector, MapResult, parse_resolution
from app.preprocess.cache import CacheStats, MapCache, MapKey
from app.preprocess.registry import DEFAULTS, REGISTRY
from app.preprocess.sources import DetectorSources


@dataclass
class PreviewItem:
    """One detector's outcome in a preview: its map, or the message saying why there is none."""

    detector: str
    control_type: str
    result: MapResult | None
    error: str | None
    seconds: float

    @property
    def map(self) -> Image.Image | None:
        """The map, or None when the detector failed (see ``error``)."""
        return self.result.map if self.result is not None else None


class MapService:
    """Owns the detectors (created and loaded once, thread-safe) and the map cache.

    Args:
        sources: Where detector models come from (default: the environment).
        cache: The map cache (default: 64 maps, 512 MiB).
        registry: Detector classes by name (default: :data:`REGISTRY`).
        placement: Where the detectors' models run (default: CPU, float32).
    """

    def __init__(
        self,
        sources: DetectorSources | None = None,
        cache: MapCache | None = None,
        registry: dict[str, type[Detector]] | None = None,
        placement: Placement = CPU,
    ) -> None:
        self.sources = sources if sources is not None else DetectorSources.from_env()
        self.cache = cache if cache is not None else MapCache()
        self.registry = dict(REGISTRY if registry is None else registry)
        self.placement = placement
        self._detectors: dict[str, Detector] = {}
        self._lock = threading.Lock()

    def detector(self, name: str) -> Detector:
        """The shared instance of detector ``name`` (its model loads lazily, once).

        Raises:
            StudioError: ``name`` is not registered.
        """
        cls = self.registry.get(name)
        if cls is None:
            raise StudioError(f"detector {name!r} is not allowed; use one of {', '.join(self.registry)}.")
        with self._lock:
            instance = self._detectors.get(name)
            if instance is None:
                instance = self._detectors[name] = cls(self.sources, self.placement)
        return instance

    def get_map(
        self,
        image: Any,
        detector: str,
        resolution: int | tuple[int, int] = 512,
        fit: str = "crop",
        params: dict[str, Any] | None = None,
    ) -> MapResult:
        """The control map of ``image`` by ``detector``, from the cache when possible.

        Args:
            image: Anything :func:`app.images.load_image` accepts.
            detector: A registry name (``canny``, ``vitpose``, ...).
            resolution: Output size, one number or ``(width, height)``, multiples of 8.
            fit: ``"crop"`` or ``"pad"`` (see :mod:`app.images`).
            params: Detector parameters; omitted ones take their defaults.

        Returns:
            The map and its extras; ``cached`` tells whether it was a cache hit.

        Raises:
            StudioError: Bad input or parameters, no person found, or a model that failed to load.
        """
        start = time.perf_counter()
        instance = self.detector(detector)
        parsed = instance.parse_params(params)
        width, height = parse_resolution(resolution)
        rgb = load_image(image)
        key = self.key(rgb, detector, parsed.model_dump(), width, height, fit)
        hit = self.cache.get(key)
        if hit is not None:
            hit.seconds = time.perf_counter() - start
            return hit
        result = instance.analyse(rgb, (width, height), fit, **parsed.model_dump())
        result.seconds = time.perf_counter() - start
        self.cache.put(key, result)
        return result

    @staticmethod
    def key(image: Image.Image, detector: str, params: dict[str, Any], width: int, height: int, fit: str) -> MapKey:
        """The cache key of a request (parameters with their defaults filled in)."""
        return (content_hash(image), detector, json.dumps(params, sort_keys=True), width, height, fit)

    def preview(
        self,
        image: Any,
        detectors: list[str] | tuple[str, ...] | None = None,
        resolution: int | tuple[int, int] = 512,
        fit: str = "crop",
        params: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, PreviewItem]:
        """Every requested map of one image at once, each with its time, so the user can choose.

        A detector that fails (no person found, model unavailable) yields an
        item with its ``error`` message; the others still return their maps.

        Args:
            image: Anything :func:`app.images.load_image` accepts (decoded once).
            detectors: Registry names; default: the default detector of each control type.
            resolution: Output size, one number or ``(width, height)``.
            fit: ``"crop"`` or ``"pad"``.
            params: Per-detector parameters, e.g. ``{"canny": {"low_threshold": 50}}``.

        Returns:
            Items by detector name, in the requested order.

        Raises:
            StudioError: The image itself is unusable or a name is unknown.
        """
        names = list(detectors) if detectors else list(DEFAULTS.values())
        for name in names:
            self.detector(name)  # refuse unknown names before any work
        rgb = load_image(image)
        params = params or {}
        items: dict[str, PreviewItem] = {}
        for name in names:
            start = time.perf_counter()
            try:
                result = self.get_map(rgb, name, resolution, fit, params.get(name))
                error = None
            except StudioError as exc:
                result, error = None, str(exc)
            items[name] = PreviewItem(
                name, self.registry[name].control_type, result, error, time.perf_counter() - start
            )
        return items

    def detectors_for(self, control_type: str) -> list[str]:
        """Registry names usable for ``control_type``, the default first and ``none`` last."""
        return detectors_for(control_type, self.registry)

    def stats(self) -> CacheStats:
        """Cache counters."""
        return self.cache.stats()


def detectors_for(control_type: str, registry: dict[str, type[Detector]] | None = None) -> list[str]:
    """Detector names for a control type (canny, pose or depth): the default first, ``none`` last.

    Raises:
        StudioError: Unknown control type.
    """
    if control_type not in DEFAULTS:
        raise StudioError(f"control type {control_type!r} is not allowed; use one of {', '.join(DEFAULTS)}.")
    registry = REGISTRY if registry is None else registry
    names = [n for n, cls in registry.items() if cls.control_type == control_type]
    names.sort(key=lambda n: n != DEFAULTS[control_type])
    return names + [n for n, cls in registry.items() if cls.control_type == "any"]


_service: MapService | None = None
_service_lock = threading.Lock()


def get_map_service() -> MapService:
    """The process-wide map service (created on first use with sources from the environment)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = MapService()
        return _service


def set_map_service(service: MapService | None) -> None:
    """Replace the process-wide service, e.g. with one on tiny detectors for the offline demo; None resets it."""
    global _service
    with _service_lock:
        _service = service
