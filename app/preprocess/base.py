"""The one interface every detector implements, and the results it returns.

A detector is a small class: a ``name``, the ``control_type`` its maps feed
(canny / pose / depth), a pydantic ``Params`` model whose bounds and defaults
the UI turns into sliders, a lazy loader, and one call::

    detector.detect(image, resolution, fit="crop", **params) -> PIL.Image  # RGB map

Detectors are created cheaply; their model loads on first use (once, under
a lock) and is then shared by every thread.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError

from app.engine.placement import CPU, Placement
from app.errors import ModelLoadError, StudioError
from app.images import fit_to_size, load_image
from app.preprocess.keypoints import Person
from app.preprocess.params import param_specs
from app.preprocess.render_pose import render_people
from app.preprocess.sources import HOW_TO_GO_OFFLINE, DetectorSources


class DetectorParams(BaseModel):
    """Base of every detector's parameters: immutable, unknown names refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class MapResult:
    """A control map and what produced it.

    Attributes:
        map: The RGB map at the requested size.
        detector: The detector's registry name.
        control_type: canny, pose or depth.
        params: The validated parameters, defaults filled in.
        people: Pose detectors: the people found (OpenPose-18 keypoints).
        depth: Depth detectors: the raw relative depth (float32, HxW, larger = nearer).
        seconds: Time this map took (near zero for a cache hit).
        cached: Whether it came from the cache.
    """

    map: Image.Image
    detector: str
    control_type: str
    params: dict[str, Any]
    people: list[Person] | None = None
    depth: np.ndarray | None = None
    seconds: float = 0.0
    cached: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


def parse_resolution(resolution: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``512`` → ``(512, 512)``; ``(w, h)`` stays; anything else is refused."""
    if isinstance(resolution, (int, np.integer)) and not isinstance(resolution, bool):
        return int(resolution), int(resolution)
    if isinstance(resolution, (tuple, list)) and len(resolution) == 2:
        return int(resolution[0]), int(resolution[1])
    raise StudioError(f"resolution {resolution!r} is not allowed; give one size (512) or (width, height).")


@dataclass(frozen=True)
class AnnotatorFile:
    """A checkpoint a detector reads from the pinned Annotators repository, as the real file stores it.

    The Space's file list (:mod:`app.serving.hub`) and the tiny twins (:mod:`app.tiny.detectors`) are read from
    these declarations, so a detector with weights is its own module and nothing else.

    Attributes:
        name: The file's name in the repository (``table5_pidinet.pth``).
        network: Builds the architecture whose state dict the file holds (called on the meta device).
        wrapper: The training checkpoint's key the state dict sits under (``{"state_dict": …}``), its names with
            ``DataParallel``'s ``module.`` prefix, as saved; None for a plain state dict.
        block_prefix: Whether the names keep their first part (controlnet-aux's OpenPose files drop it).
    """

    name: str
    network: Callable[[], Any]
    wrapper: str | None = None
    block_prefix: bool = True


class Detector(ABC):
    """Base class of every detector. Subclasses set the class attributes and implement ``_load``/``_run``."""

    name: ClassVar[str]
    control_type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[DetectorParams]] = DetectorParams
    needs_model: ClassVar[bool] = False
    annotator_files: ClassVar[tuple[AnnotatorFile, ...]] = ()
    """The Annotators checkpoints it reads (see :class:`AnnotatorFile`)."""
    overflows_float16: ClassVar[bool] = False
    """Whether float16's range is too small for the model's activations (NaN maps): it then runs in float32."""
    float32_only: ClassVar[bool] = False
    """Whether the third-party code builds float32 tensors of its own inside the model (PiDiNet's pixel-difference
    kernels): it then runs in float32 in every dtype, on the studio's device."""

    def __init__(self, sources: DetectorSources | None = None, placement: Placement = CPU) -> None:
        self.sources = sources if sources is not None else DetectorSources.from_env()
        self.placement = placement  # where the model runs (device, dtype); maps always come back as CPU images
        self._load_lock = threading.Lock()
        # One inference at a time per detector: processors and controlnet-aux
        # models keep per-call state; different detectors still run in parallel.
        self._run_lock = threading.Lock()
        self._model: Any = None
        self.load_seconds: float | None = None

    @property
    def model_placement(self) -> Placement:
        """Where the model runs: the studio's device and dtype, float32 instead of a float16 it overflows or of any
        half precision its code cannot run in."""
        if self.float32_only or (self.overflows_float16 and self.placement.dtype == "float16"):
            return replace(self.placement, dtype="float32")
        return self.placement

    def _annotator_network(
        self, file: AnnotatorFile | None = None, adapt: Callable[[Any, dict], dict] | None = None
    ) -> Any:
        """``file``'s network (default: the detector's first file) holding its weights, read weights-only from the
        Annotators source, placed where the model runs (:attr:`model_placement`).

        Args:
            file: Which of :attr:`annotator_files`.
            adapt: Maps the network and the file's state dict to the names the network takes (OpenPose's files drop
                their block prefix).
        """
        import torch

        from app.preprocess.weights import load_state_dict, materialise

        file = file or self.annotator_files[0]
        weights = load_state_dict(self.sources.annotator_file(file.name))
        with torch.device("meta"):
            net = file.network()
        if adapt is not None:
            weights = adapt(net, weights)
        return self.model_placement.place(materialise(net, weights, file.name))

    # -- parameters -----------------------------------------------------------------
    @classmethod
    def parse_params(cls, params: dict[str, Any] | DetectorParams | None = None, **kwargs: Any) -> DetectorParams:
        """Validate parameters against ``Params``.

        Raises:
            StudioError: An unknown name or an out-of-bounds value, saying what is allowed.
        """
        if isinstance(params, cls.Params) and not kwargs:
            return params
        merged = dict(params.model_dump() if isinstance(params, DetectorParams) else (params or {}))
        merged.update(kwargs)
        try:
            return cls.Params(**merged)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']} (received {err.get('input')!r})"
                for err in exc.errors()
            )
            allowed = ", ".join(cls.Params.model_fields) or "none"
            raise StudioError(f"{cls.name} parameters are not allowed: {problems}. Parameters: {allowed}.") from None

    @classmethod
    def param_specs(cls) -> list[dict[str, Any]]:
        """One entry per parameter (name, type, default, bounds, step, description) for building sliders."""
        return param_specs(cls.Params)

    # -- loading --------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (always True for model-free detectors)."""
        return not self.needs_model or self._model is not None

    def load(self) -> Any:
        """Load the model once (thread-safe) and return it.

        Raises:
            ModelLoadError: Naming what was being loaded and how to use local or tiny models instead.
        """
        if not self.needs_model:
            return None
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    start = time.perf_counter()
                    try:
                        model = self._load()
                    except StudioError:
                        raise
                    except Exception as exc:  # any loader failure becomes one clear message
                        raise ModelLoadError(
                            f"could not load the {self.name} detector from {self.source_description()} "
                            f"({type(exc).__name__}: {str(exc)[:300]}). {HOW_TO_GO_OFFLINE}"
                        ) from exc
                    self.load_seconds = time.perf_counter() - start
                    self._model = model
        return self._model

    def source_description(self) -> str:
        """Where this detector loads from, for messages."""
        return "(no model)"

    def _load(self) -> Any:
        return None

    # -- running --------------------------------------------------------------------
    def detect(
        self,
        image: Any,
        resolution: int | tuple[int, int] = 512,
        fit: str = "crop",
        **params: Any,
    ) -> Image.Image:
        """The RGB control map of ``image`` at ``resolution``.

        Args:
            image: Anything :func:`app.images.load_image` accepts.
            resolution: Output size: one number (square) or ``(width, height)``, multiples of 8.
            fit: How the image is brought to that size: ``"crop"`` or ``"pad"``.
            **params: Detector parameters (see ``Params``).

        Returns:
            An RGB image of exactly the requested size.
        """
        return self.analyse(image, resolution, fit, **params).map

    def analyse(
        self,
        image: Any,
        resolution: int | tuple[int, int] = 512,
        fit: str = "crop",
        **params: Any,
    ) -> MapResult:
        """Like :meth:`detect` but returns a :class:`MapResult` (keypoints, raw depth, timing)."""
        parsed = self.parse_params(params)
        width, height = parse_resolution(resolution)
        rgb = image if isinstance(image, Image.Image) and image.mode == "RGB" else load_image(image)
        fitted = fit_to_size(rgb, width, height, fit)
        return self.run(fitted, parsed)

    def run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        """Run on an RGB image already at the output size (no resizing of the canvas)."""
        self.load()
        start = time.perf_counter()
        with self._run_lock:
            result = self._run(image, params)
        if result.map.size != image.size or result.map.mode != "RGB":
            result.map = result.map.convert("RGB").resize(image.size, Image.Resampling.BILINEAR)
        result.seconds = time.perf_counter() - start
        return result

    def _result(self, image: Image.Image, params: DetectorParams, **extra: Any) -> MapResult:
        return MapResult(
            map=image, detector=self.name, control_type=self.control_type, params=params.model_dump(), **extra
        )

    @abstractmethod
    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        """Compute the map of an RGB image at its own size."""


class NoPersonFound(StudioError):
    """A pose detector found nobody: the map would be empty and silently useless."""


class PoseDetector(Detector, ABC):
    """A detector that finds people and draws them as an OpenPose-18 skeleton."""

    control_type: ClassVar[str] = "pose"

    def detect_keypoints(self, image: Any, **params: Any) -> list[Person]:
        """Every person in ``image`` with OpenPose-18 keypoints normalised to 0–1 (may be empty).

        Args:
            image: Anything :func:`app.images.load_image` accepts; used at its own size.
            **params: Detector parameters.
        """
        parsed = self.parse_params(params)
        rgb = image if isinstance(image, Image.Image) and image.mode == "RGB" else load_image(image)
        self.load()
        with self._run_lock:
            return self._people(rgb, parsed)

    @abstractmethod
    def _people(self, image: Image.Image, params: DetectorParams) -> list[Person]:
        """Find people in an RGB image."""

    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        people = self._people(image, params)
        threshold = getattr(params, "keypoint_threshold", 0.0)
        drawable = [p for p in people if len(p.visible(threshold)) >= 2]
        if not drawable:
            raise NoPersonFound(
                f"{self.name} found no person in the image ({len(people)} candidate(s) with fewer than two "
                f"keypoints above {threshold}); use an image with a clearly visible person, lower the "
                "thresholds, or upload your own skeleton with the 'none' detector."
            )
        canvas = render_people(drawable, image.width, image.height, threshold=threshold)
        return self._result(canvas, params, people=people)


class DepthDetector(Detector, ABC):
    """A detector that estimates relative depth and draws it as a 0–255 map, near = bright."""

    control_type: ClassVar[str] = "depth"

    def estimate_depth(self, image: Any, **params: Any) -> np.ndarray:
        """Raw relative depth of ``image`` at its own size (float32 HxW, larger = nearer).

        Args:
            image: Anything :func:`app.images.load_image` accepts.
            **params: Detector parameters.
        """
        parsed = self.parse_params(params)
        rgb = image if isinstance(image, Image.Image) and image.mode == "RGB" else load_image(image)
        self.load()
        with self._run_lock:
            return self._depth(rgb, parsed)

    @abstractmethod
    def _depth(self, image: Image.Image, params: DetectorParams) -> np.ndarray:
        """Relative inverse depth (near = large), float32, at the image's size."""

    def _run(self, image: Image.Image, params: DetectorParams) -> MapResult:
        depth = self._depth(image, params)
        return self._result(depth_to_image(depth), params, depth=depth)


def depth_to_image(depth: np.ndarray) -> Image.Image:
    """Min–max normalise a relative depth array to an 8-bit RGB map (near = bright).

    A constant array (no depth information) gives a black map rather than NaNs.
    """
    depth = np.nan_to_num(depth.astype(np.float32))
    low, high = float(depth.min()), float(depth.max())
    if high - low <= 1e-12:
        grey = np.zeros(depth.shape, dtype=np.uint8)
    else:
        grey = np.round((depth - low) / (high - low) * 255.0).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1), mode="RGB")
