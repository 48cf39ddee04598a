"""The one interface every fit scorer implements, and the context they read.

A scorer is a small class: a ``name`` (the matrix column), a ``label`` and
``description`` for the table header, ``applies(ctx)`` (is there anything to
compare against?) and ``score(output, ctx)``, which returns a float, or None
when the score is undefined for this input. A missing score is None, never a
stand-in number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from app.errors import StudioError
from app.fit.clip import get_clip
from app.preprocess import DEFAULTS, get_detector, get_map_service

SCORE_KINDS = ("prompt", "structure", "reference")


@dataclass
class FitContext:
    """What every output of one comparison is scored against.

    Build it by hand, or from the control maps with :meth:`from_maps`. Every
    field is optional: a scorer whose inputs are missing does not apply.

    Attributes:
        prompt: The prompt all methods shared.
        reference: The IP-Adapter reference image.
        control_edges: The canny edge map the ControlNet saw (white edges on black).
        canny_params: Parameters of the canny run that made ``control_edges``; the
            output is re-run with the same ones.
        control_people: People (OpenPose-18 keypoints) behind the pose map.
        pose_params: Parameters of the pose detector that found them.
        control_depth: Relative depth (HxW, larger = nearer) behind the depth map.
        depth_params: Parameters of the depth detector that estimated it.
        edge_detector: Detector re-run on outputs for edges (default: the shared ``canny``).
        pose_detector: Object with ``detect_keypoints(image, **params) -> list[Person]``
            (default: the shared default pose detector). Use the one that made the map.
        depth_detector: Object with ``estimate_depth(image, **params) -> np.ndarray``
            (default: the shared default depth detector). Use the one that made the map.
        clip: A :class:`~app.fit.clip.ClipEmbedder` (default: the process-wide one).
    """

    prompt: str | None = None
    reference: Image.Image | None = None
    control_edges: Image.Image | None = None
    canny_params: dict[str, Any] = field(default_factory=dict)
    control_people: list | None = None
    pose_params: dict[str, Any] = field(default_factory=dict)
    control_depth: np.ndarray | None = None
    depth_params: dict[str, Any] = field(default_factory=dict)
    edge_detector: Any = None
    pose_detector: Any = None
    depth_detector: Any = None
    clip: Any = None

    @classmethod
    def from_maps(
        cls,
        prompt: str | None = None,
        reference: Image.Image | None = None,
        maps: Mapping[str, Any] | None = None,
        service: Any = None,
        clip: Any = None,
    ) -> FitContext:
        """A context from the control maps a comparison used (``MapService.get_map`` results).

        Args:
            prompt: The shared prompt.
            reference: The IP-Adapter reference image, if any.
            maps: ``MapResult`` by control type (``canny``, ``pose``, ``depth``). A map from
                the ``none`` detector (the user's own map) is used as it is: its edges for
                canny, its brightness as depth (near = bright); an own pose skeleton has no
                keypoints, so pose is not scored.
            service: The :class:`~app.preprocess.MapService` whose detectors re-run on the
                outputs (default: the process-wide one).
            clip: The CLIP embedder (default: the process-wide one).

        Returns:
            The context; detectors are looked up by the names that made the maps.

        Raises:
            StudioError: A key is not a control type.
        """
        maps = dict(maps or {})
        unknown = [k for k in maps if k not in DEFAULTS]
        if unknown:
            raise StudioError(f"maps for {unknown} are not allowed; key maps by control type: {', '.join(DEFAULTS)}.")
        service = service if service is not None else get_map_service()
        ctx = cls(prompt=prompt, reference=reference, clip=clip)

        def detector_for(control_type: str, result: Any) -> tuple[Any, dict[str, Any]]:
            own = result.detector not in service.registry or service.registry[result.detector].control_type == "any"
            if own:  # the user's own map: re-run the default detector with its defaults
                return service.detector(DEFAULTS[control_type]), {}
            return service.detector(result.detector), dict(result.params)

        if "canny" in maps:
            ctx.control_edges = maps["canny"].map
            ctx.edge_detector, ctx.canny_params = detector_for("canny", maps["canny"])
        if "pose" in maps and maps["pose"].people is not None:
            ctx.control_people = list(maps["pose"].people)
            ctx.pose_detector, ctx.pose_params = detector_for("pose", maps["pose"])
        if "depth" in maps:
            result = maps["depth"]
            depth = result.depth
            if depth is None:
                depth = np.asarray(result.map.convert("L"), dtype=np.float32)
            ctx.control_depth = depth
            ctx.depth_detector, ctx.depth_params = detector_for("depth", result)
        return ctx

    # Shared instances when the caller passed none, so models load once per process.
    def get_edge_detector(self) -> Any:
        """The edge detector to re-run (the given one, else the shared ``canny``)."""
        if self.edge_detector is None:
            self.edge_detector = get_detector("canny")
        return self.edge_detector

    def get_pose_detector(self) -> Any:
        """The pose detector to re-run (the given one, else the shared default)."""
        if self.pose_detector is None:
            self.pose_detector = get_detector(DEFAULTS["pose"])
        return self.pose_detector

    def get_depth_detector(self) -> Any:
        """The depth detector to re-run (the given one, else the shared default)."""
        if self.depth_detector is None:
            self.depth_detector = get_detector(DEFAULTS["depth"])
        return self.depth_detector

    def get_clip(self) -> Any:
        """The CLIP embedder (the given one, else the process-wide one)."""
        if self.clip is None:
            self.clip = get_clip()
        return self.clip


class Scorer(ABC):
    """Base of every fit scorer: one column of the fit matrix, higher is better."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[str]  # one of SCORE_KINDS: what the advice rules treat it as
    # Plain-language noun for what a high score means was kept ("the layout").
    keeps: ClassVar[str] = ""
    # The documented range of the score: a value outside it (in a results file, say) is not one of its scores.
    bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)

    @abstractmethod
    def applies(self, ctx: FitContext) -> bool:
        """Whether ``ctx`` holds what this score compares against (a prompt, a map, a reference)."""

    def score(self, output: Image.Image, ctx: FitContext) -> float | None:
        """The score of one output; None when this score does not apply to ``ctx`` or is undefined for it.

        Raises:
            StudioError: ``output`` is not a PIL image.
        """
        rgb = as_rgb(output)
        return self._score(rgb, ctx) if self.applies(ctx) else None

    @abstractmethod
    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        """The score of one RGB output for a ``ctx`` it applies to."""


def as_rgb(image: Any) -> Image.Image:
    """An output image as RGB, refusing anything that is not a PIL image."""
    if not isinstance(image, Image.Image):
        raise StudioError(f"a fit scorer needs a PIL image as output, received {type(image).__name__}.")
    return image if image.mode == "RGB" else image.convert("RGB")
