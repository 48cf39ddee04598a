"""What a control type is: one spec holding everything the studio says and loads for it.

A control type (canny edges, a pose skeleton, a depth map, …) is one :class:`ControlType` registered with
:func:`register` by its own module in this package (every module here is imported with the package). Every other
part reads it from :data:`CONTROLS`: request validation and the UI (its name, label and detectors), the engine (its
ControlNet per family, or its mode in a family's union ControlNet), the fit scores (the scorer that measures it),
the guide and the advice (its words), the Hub file list and the tiny twins. Its detectors and scorer are modules of
:mod:`app.preprocess.detectors` and :mod:`app.fit.scores`, whose registries refuse at import a type whose default
detector or scorer is missing, so a new type can never be accepted and silently left unscored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Guide:
    """The guide's words for a control type: what its ControlNet carries, when it fits, what to watch for."""

    carries: str
    fits_when: str
    watch_for: str


@dataclass(frozen=True)
class ControlType:
    """One control type.

    Attributes:
        name: How requests, recipes and method strings spell it (``canny``); lower-case letters and ``_``.
        label: For sentences and table rows (``Canny``).
        description: For form fields and the API schema (``canny edges``).
        default_detector: The detector that makes its maps unless the user picks another (registered in
            :mod:`app.preprocess.registry` with this ``control_type``).
        scorer: The fit score (matrix column) that measures how well an output kept this map, registered in
            :mod:`app.fit.registry` with this ``control_type``.
        controlnets: Per model family (``sd15``, ``sdxl``), the Hub repository of the type's own ControlNet.
        union_modes: Per model family, the type's control mode in that family's union ControlNet.
        adapters: Per model family, the Hub repository of the type's T2I-Adapter (safetensors only), the second way
            to apply its map: features computed once per generation, added to the UNet's encoder at every step.
        guide: The guide's words.
        in_default_comparison: Whether a new comparison includes it.
        rank: Its place among the types (UI choices, default methods, table rows and columns): lower comes first.
        other_names: Words other tools use for it in preprocessor, node and model names (A1111 modules, ComfyUI
            node classes, ControlNet file names), lower-case; its own name is always one (see
            :func:`app.controls.type_named`).
    """

    name: str
    label: str
    description: str
    default_detector: str
    scorer: str
    guide: Guide
    controlnets: Mapping[str, str] = field(default_factory=dict)
    union_modes: Mapping[str, int] = field(default_factory=dict)
    adapters: Mapping[str, str] = field(default_factory=dict)
    in_default_comparison: bool = True
    rank: int = 100
    other_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalpha() or not self.name.islower() or self.name in RESERVED:
            raise ValueError(f"control type name {self.name!r}: use lower-case letters and _, not {RESERVED}")
        missing = [f for f in ("label", "description", "default_detector", "scorer") if not getattr(self, f)]
        if missing:
            raise ValueError(f"control type {self.name!r} has no {', '.join(missing)}")
        if not (self.controlnets or self.union_modes):
            raise ValueError(f"control type {self.name!r} names no ControlNet for any family")


FLUX_UNION_CONTROLNET = "Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro-2.0"
"""FLUX.1 [dev]'s ControlNet for the types that name it: one network for canny, soft edge, depth and pose (and
grey), with no control-mode input (its card: "use as a normal ControlNet"), so each type lists it as its own and the
studio loads it once. Non-commercial, as FLUX.1 [dev] is."""

RESERVED = ("text", "ip_adapter", "any", "none")
"""Words method strings and detector registries already use for something else."""

_REGISTRY: dict[str, ControlType] = {}
CONTROLS: Mapping[str, ControlType] = MappingProxyType(_REGISTRY)
"""Every registered control type by name, by rank (the order of UI choices, table rows and columns)."""


def register(control: ControlType) -> ControlType:
    """Add ``control`` to :data:`CONTROLS` in its rank's place; a second type of the same name is refused."""
    if control.name in _REGISTRY:
        raise ValueError(f"control type {control.name!r} is registered twice")
    ranked = sorted([*_REGISTRY.values(), control], key=lambda c: (c.rank, c.name))
    _REGISTRY.clear()
    _REGISTRY.update((c.name, c) for c in ranked)
    return control
