"""What a comparison asks for: one set of shared settings, several conditioning methods.

A method is written as parts joined by ``+``: ``text`` alone, ``ip_adapter``,
or a control type with an optional detector after a colon, e.g. ``depth``,
``pose:openpose``, ``depth:midas+ip_adapter``. So a method and detector pair
is one value, in a comparison, a sweep axis or a recipe alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from app.controls import (
    ADAPTER_MARK,
    CONTROL_TYPES,
    DEFAULT_TYPES,
    ControlTypeName,
    adapter_part,
    default_detectors,
    method_label,
    part_name,
)
from app.engine.result import Result
from app.errors import StudioError
from app.fit import FitMatrix, Verdict
from app.preprocess import REGISTRY, detectors_for
from app.request import CommonSettings, ControlStrength, IPAdapterScale, validated
from app.request.generation import MAX_SEED
from app.request.labels import register_titles

CompareProgressFn = Callable[[float, str], None]
"""Called during a comparison with (fraction done, what is running), like ``gr.Progress``."""

DEFAULT_METHODS = ("text", *DEFAULT_TYPES, "ip_adapter")
MAX_METHOD_CHARS = 80
MAX_SEED_COUNT = 8
LEFT_OUT = "Left out:"
"""How the error of a method a comparison left out for a missing image starts (its tile and the verdict say so)."""


def default_methods(reference: bool) -> list[str]:
    """The methods a comparison starts with: the IP-Adapter ones only when a reference image is given."""
    return [m for m in DEFAULT_METHODS if reference or not uses_ip_adapter(m)]


def uses_ip_adapter(method: str) -> bool:
    """Whether a method name has an IP-Adapter part (read from the name alone, nothing resolved or refused)."""
    return any(part.strip().partition(":")[0] == "ip_adapter" for part in method.split("+"))


@dataclass(frozen=True)
class Method:
    """A parsed method: which controls (type, detector) and whether the IP-Adapter joins."""

    name: str
    controls: tuple[tuple[str, str], ...] = ()
    ip_adapter: bool = False
    adapters: tuple[str, ...] = ()
    """The control types whose map steers through their T2I-Adapter (``canny@t2i``), not their ControlNet."""

    @property
    def label(self) -> str:
        """A human label with every detector named, e.g. ``Depth (midas) + IP-Adapter``."""
        parts = [part_name(t, d, t in self.adapters) for t, d in self.controls]
        return method_label("+".join(parts + ["ip_adapter"] * self.ip_adapter) or "text")


def check_detector(control_type: str, detector: str) -> str:
    """``detector`` if it is registered and makes ``control_type`` maps, else ValueError saying what is allowed."""
    if detector not in REGISTRY or detector not in detectors_for(control_type):
        shown = repr(detector) if len(repr(detector)) <= 60 else repr(detector)[:57] + "…"
        raise ValueError(
            f"detector {shown} does not make {control_type} maps; use one of {', '.join(detectors_for(control_type))}"
        )
    return detector


def check_detector_params(detector: str, params: dict[str, Any]) -> None:
    """Validate ``params`` against the detector's own ``Params`` model (its UI sliders use the same bounds)."""
    cls = REGISTRY.get(detector)
    if cls is None:
        raise ValueError(f"{detector!r} is not a detector; use one of {', '.join(REGISTRY)}")
    try:
        cls.parse_params(params)
    except StudioError as error:
        raise ValueError(str(error)) from None


def parse_method(text: str, detectors: dict[str, str] | None = None) -> Method:
    """Parse a method string; detectors not named in it come from ``detectors`` (or the defaults).

    Raises:
        StudioError: an unknown part, a detector that does not feed its control type, or a repeat.
    """
    detectors = detectors or default_detectors()
    raw = text.strip().lower()
    allowed = (
        f"text, ip_adapter or a control type ({', '.join(CONTROL_TYPES)}; optionally type:detector, and "
        f"{ADAPTER_MARK} for its T2I-Adapter), joined by +"
    )
    if not raw or len(raw) > MAX_METHOD_CHARS:
        raise StudioError(f"method {text[:MAX_METHOD_CHARS]!r} is not allowed; use {allowed}.")
    if raw == "text":
        return Method("text")
    controls: list[tuple[str, str]] = []
    adapters: list[str] = []
    ip_adapter = False
    for part in raw.split("+"):
        bare, adapter = adapter_part(part.strip())
        kind, _, detector = bare.partition(":")
        if kind == "ip_adapter" and not detector and not ip_adapter:
            ip_adapter = True
            continue
        if kind not in CONTROL_TYPES or kind in (t for t, _ in controls):
            raise StudioError(f"method {text!r}: part {part!r} is not allowed (or repeated); use {allowed}.")
        detector = detector or detectors.get(kind) or default_detectors()[kind]
        try:
            check_detector(kind, detector)
        except ValueError as error:
            raise StudioError(f"method {text!r}: {error}.") from None
        controls.append((kind, detector))
        adapters += [kind] * adapter
    parts = [part_name(t, d if d != detectors.get(t) else None, t in adapters) for t, d in controls]
    return Method("+".join(parts + ["ip_adapter"] * ip_adapter), tuple(controls), ip_adapter, tuple(adapters))


class CompareRequest(CommonSettings):
    """One prompt, one seed, several methods: everything a comparison needs except the images."""

    methods: list[str] = Field(
        title="Methods",
        default_factory=lambda: list(DEFAULT_METHODS),
        min_length=1,
        max_length=16,
        description="Methods to compare, e.g. text, canny, pose:openpose, depth+ip_adapter.",
    )
    detectors: dict[ControlTypeName, str] = Field(
        title="Detectors", default_factory=default_detectors, description="Default detector of each control type."
    )
    detector_params: dict[str, dict[str, float | int | bool | str]] = Field(
        title="Detector settings",
        default_factory=dict,
        description="Parameters per detector name, e.g. {'canny': {'low_threshold': 50}}.",
    )
    control: ControlStrength = Field(
        title="ControlNet settings",
        default_factory=ControlStrength,
        description="Strength and window of every ControlNet, except the types set in unit_controls.",
    )
    unit_controls: dict[ControlTypeName, ControlStrength] = Field(
        title="Per-type ControlNet settings",
        default_factory=dict,
        description="A control type's own strength and window, e.g. {'depth': {'controlnet_conditioning_scale': "
        "0.5}}: in a combined method (canny+depth) each ControlNet steers by its own; types not named use control.",
    )
    ip_adapter: IPAdapterScale = Field(
        title="IP-Adapter",
        default_factory=IPAdapterScale,
        description="Scale and mode of the IP-Adapter, where a method uses it.",
    )
    fit: Literal["crop", "pad"] = Field(
        "crop", title="Fit photo to size", description="How the structure photo is fitted to the output size."
    )
    seed_count: int = Field(
        1,
        ge=1,
        le=MAX_SEED_COUNT,
        description="Seeds per method: seed, seed+1, … (as A1111 numbers a batch); more seeds, a verdict to trust.",
    )
    batching: Literal["exact", "batched"] | None = Field(
        None,
        description="How the methods run: 'exact', one after another, each bit-identical to its solo run; "
        "'batched', all in one denoising pass (faster on a GPU; equal within a few pixel levels). "
        "Unset: batched on a GPU, exact elsewhere.",
    )

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: list[str]) -> list[str]:
        parsed = [parse_method(m).name for m in methods]
        if len(set(parsed)) != len(parsed):
            raise ValueError("each method may appear once")
        return methods

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, detectors: dict[str, str]) -> dict[str, str]:
        for control_type, detector in detectors.items():
            check_detector(control_type, detector)
        return detectors

    @field_validator("detector_params")
    @classmethod
    def _known_params(cls, params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for detector, values in params.items():
            check_detector_params(detector, values)
        return params

    @model_validator(mode="after")
    def _methods_with_these_detectors(self) -> CompareRequest:
        self.parsed_methods()  # a method's detector is resolved against this request's defaults
        return self

    @model_validator(mode="after")
    def _seeds_in_range(self) -> CompareRequest:
        if self.seed + self.seed_count - 1 > MAX_SEED:
            raise ValueError(
                f"Seed · seed ({self.seed}) plus Seeds per method · seed_count ({self.seed_count}) runs past the "
                f"largest seed, {MAX_SEED}"
            )
        return self

    @property
    def seeds(self) -> list[int]:
        """The seeds every method runs on: seed, seed+1, … (``seed_count`` of them)."""
        return [self.seed + offset for offset in range(self.seed_count)]

    def control_for(self, control_type: str) -> ControlStrength:
        """The strength and window of ``control_type``'s ControlNet: its own (``unit_controls``) or the shared one."""
        return self.unit_controls.get(control_type, self.control)

    def parsed_methods(self) -> list[Method]:
        """The methods, parsed with this request's default detectors."""
        return [parse_method(m, self.detectors) for m in self.methods]


register_titles(CompareRequest)


def parse_compare_request(data: dict[str, Any] | CompareRequest) -> CompareRequest:
    """Validate ``data`` into a :class:`CompareRequest`, raising :class:`StudioError` with a readable message."""
    return validated(CompareRequest, data, "Invalid comparison — ")


@dataclass
class CompareEntry:
    """One method's outcome in a comparison: its result, or why there is none.

    Attributes:
        method: The parsed method.
        result: The generation (None when the method could not run, see ``error``).
        maps: The control maps it used, with their keypoints or depth, in control order.
        error: Why the method could not run (e.g. no person found for pose).
        retry: Whether running it again may succeed: a model that did not load, memory, a fault; not an input
            that cannot drive the method (no person found), which fails the same way every time.
    """

    method: Method
    result: Result | None
    maps: list[Any] = field(default_factory=list)
    error: str | None = None
    retry: bool = False


@dataclass
class Scorecard:
    """The measured fit of a comparison and the advice read from it."""

    matrix: FitMatrix
    verdict: Verdict
