"""The one interface every fit scorer implements, and the context they read.

A scorer is a small class: a ``name`` (the matrix column), a ``label`` and
``description`` for the table header, ``applies(ctx)`` (is there anything to
compare against?) and ``score(output, ctx)``, which returns a float, or None
when the score is undefined for this input. A missing score is None, never a
stand-in number. A structure score also names the ``control_type`` it measures
and takes what it compares against from that type's map (``target_of``); the
scorer registry checks at import that every control type has exactly one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from app.controls import CONTROLS
from app.errors import StudioError
from app.fit.clip import get_clip
from app.preprocess import get_detector, get_map_service

SCORE_KINDS = ("prompt", "structure", "reference")


@dataclass
class ControlTarget:
    """One control type's side of a context: what the map holds, and how to find the same on an output.

    Attributes:
        target: What the type's scorer compares an output against (its ``target_of`` a map): the edge map for
            canny, the people (OpenPose-18 keypoints) for pose, the relative depth (HxW, larger = nearer) for depth.
        detector: The detector re-run on outputs (None: the type's default detector, shared). Use the one that
            made the map.
        params: Its parameters, as they made the map.
    """

    target: Any
    detector: Any = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FitContext:
    """What every output of one comparison is scored against.

    Build it by hand, or from the control maps with :meth:`from_maps`. Every
    field is optional: a scorer whose inputs are missing does not apply.

    Attributes:
        prompt: The prompt all methods shared.
        reference: The IP-Adapter reference image.
        maps: By control type (:mod:`app.controls`), what its map holds and the detector to re-run.
        clip: A :class:`~app.fit.clip.ClipEmbedder` (default: the process-wide one).
    """

    prompt: str | None = None
    reference: Image.Image | None = None
    maps: dict[str, ControlTarget] = field(default_factory=dict)
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
            maps: ``MapResult`` by control type. Each type's scorer takes what it compares against from the map
                (:meth:`Scorer.target_of`). A map from the ``none`` detector (the user's own map) is used as it
                is and its type's default detector is re-run on outputs with its defaults: its edges for canny,
                its brightness as depth (near = bright); an own pose skeleton has no keypoints, so pose is not
                scored.
            service: The :class:`~app.preprocess.MapService` whose detectors re-run on the
                outputs (default: the process-wide one).
            clip: The CLIP embedder (default: the process-wide one).

        Returns:
            The context; detectors are looked up by the names that made the maps.

        Raises:
            StudioError: A key is not a control type.
        """
        maps = dict(maps or {})
        unknown = [k for k in maps if k not in CONTROLS]
        if unknown:
            raise StudioError(f"maps for {unknown} are not allowed; key maps by control type: {', '.join(CONTROLS)}.")
        service = service if service is not None else get_map_service()
        ctx = cls(prompt=prompt, reference=reference, clip=clip)
        for control_type, result in maps.items():
            target = structure_scorer(control_type).target_of(result)
            if target is None:
                continue
            own = result.detector not in service.registry or service.registry[result.detector].control_type == "any"
            if own:  # the user's own map: re-run the default detector with its defaults
                detector, params = service.detector(CONTROLS[control_type].default_detector), {}
            else:
                detector, params = service.detector(result.detector), dict(result.params)
            ctx.maps[control_type] = ControlTarget(target, detector, params)
        return ctx

    def detector(self, control_type: str) -> Any:
        """The detector to re-run on outputs for ``control_type`` (the given one, else its shared default)."""
        control = self.maps[control_type]
        if control.detector is None:  # a shared instance, so models load once per process
            control.detector = get_detector(CONTROLS[control_type].default_detector)
        return control.detector

    def reextract(self, output: Image.Image, control_type: str) -> tuple[Image.Image, Any]:
        """The control's map and what its detector (with the map's parameters) finds on ``output`` brought to the
        map's size: the two things every re-extraction score (ControlNet++'s protocol) compares.

        Returns:
            ``(map image, MapResult of the output)``.
        """
        control = self.maps[control_type]
        target = control.target
        rgb = output if output.size == target.size else output.resize(target.size, Image.Resampling.BICUBIC)
        detector = self.detector(control_type)
        return target, detector.run(rgb, detector.parse_params(control.params))

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
    # The control type whose map a structure score measures (app.controls); None for the others.
    control_type: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("control_type") is not None:
            _STRUCTURE_SCORERS[cls.control_type] = cls

    @classmethod
    def target_of(cls, result: Any) -> Any:
        """What a structure score compares outputs against, taken from its type's map (a ``MapResult``); None
        when the map holds nothing to compare against. The map image itself unless a scorer says otherwise."""
        return result.map

    def applies(self, ctx: FitContext) -> bool:
        """Whether ``ctx`` holds what this score compares against (a prompt, a map, a reference)."""
        return self.control_type is not None and self.control_type in ctx.maps

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


_STRUCTURE_SCORERS: dict[str, type[Scorer]] = {}


def structure_scorer(control_type: str) -> type[Scorer]:
    """The scorer class that measures ``control_type`` (every scorer module is imported with :mod:`app.fit`)."""
    try:
        return _STRUCTURE_SCORERS[control_type]
    except KeyError:
        raise StudioError(
            f"no fit score measures {control_type!r} maps; scored types: {list(_STRUCTURE_SCORERS)}"
        ) from None


def as_rgb(image: Any) -> Image.Image:
    """An output image as RGB, refusing anything that is not a PIL image."""
    if not isinstance(image, Image.Image):
        raise StudioError(f"a fit scorer needs a PIL image as output, received {type(image).__name__}.")
    return image if image.mode == "RGB" else image.convert("RGB")
