"""The control types, one module each; importing this package registers them (see :mod:`app.controls.base`).

A new control type is a module here that calls :func:`register`, its detector a module in
:mod:`app.preprocess.detectors` and its fit score a module in :mod:`app.fit.scores`; nothing else lists it.
"""

import itertools
import re
from typing import Literal

from app.controls.base import CONTROLS, ControlType, Guide, register
from app.discovery import import_modules

import_modules(__name__)  # each module registers its type

CONTROL_TYPES: tuple[str, ...] = tuple(CONTROLS)
"""The registered control types' names, by rank."""
DEFAULT_TYPES: tuple[str, ...] = tuple(name for name, spec in CONTROLS.items() if spec.in_default_comparison)
"""The control types a new comparison includes (and a Space preloads), by rank."""
ControlTypeName = Literal[CONTROL_TYPES]  # type: ignore[valid-type]  # the registered names, for pydantic schemas


def spelled_out(conjunction: str = "or") -> str:
    """The control types for a sentence: ``canny (canny edges), pose (OpenPose skeleton) or depth (depth map)``."""
    parts = [f"{name} ({spec.description})" for name, spec in CONTROLS.items()]
    return f" {conjunction} ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def method_label(method: str) -> str:
    """A method's name for people, the one spelling every tile, table and sentence uses.

    ``depth+ip_adapter`` → ``Depth + IP-Adapter``; ``pose:openpose`` → ``Pose (openpose)``; ``text`` → ``Text-only``.
    """
    labels = []
    for part in method.split("+"):
        part, adapter = adapter_part(part.strip())
        kind, _, detector = part.partition(":")
        label = CONTROLS[kind].label if kind in CONTROLS else METHOD_PARTS.get(kind, kind)
        notes = [detector] * bool(detector) + ["T2I-Adapter"] * adapter
        labels.append(f"{label} ({', '.join(notes)})" if notes else label)
    return " + ".join(labels)


METHOD_PARTS = {"text": "Text-only", "ip_adapter": "IP-Adapter"}
"""Labels of the method parts that are not control types."""
ADAPTER_MARK = "@t2i"
"""How a method part says its map steers through the type's T2I-Adapter, not its ControlNet: ``canny@t2i``."""


def part_name(kind: str, detector: str | None = None, adapter: bool = False) -> str:
    """How a method string spells one control: ``depth``, ``depth:midas``, ``depth:midas@t2i``."""
    return (f"{kind}:{detector}" if detector else kind) + ADAPTER_MARK * adapter


def adapted_types(family: str | None = None) -> tuple[str, ...]:
    """The control types with a T2I-Adapter on ``family`` (on any family when None), by rank."""
    return tuple(name for name, spec in CONTROLS.items() if (family in spec.adapters if family else spec.adapters))


def adapter_part(part: str) -> tuple[str, bool]:
    """A method part without its T2I-Adapter mark, and whether it had one: ``depth:midas@t2i`` → (depth:midas, True)."""
    return (part[: -len(ADAPTER_MARK)], True) if part.endswith(ADAPTER_MARK) else (part, False)


def _words(name: str) -> list[str]:
    """A tool's name split into lower-case words, with each pair of neighbours joined too: ``LineArtPreprocessor``
    → line, art, preprocessor, lineart, …; ``control_v11p_sd15_softedge`` → …, softedge; ``DWPreprocessor`` → dw, …"""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name[:200]))
    words = re.findall(r"[a-z]+", spaced.lower())
    return words + [a + b for a, b in itertools.pairwise(words)]


def type_named(*names: str) -> str | None:
    """The control type other tools' names point to, most telling name first: a union ControlNet's type
    (``hed/pidi/scribble/ted``), a preprocessor (``DWPreprocessor``, ``depth_midas``), a model file
    (``control_v11p_sd15_canny.pth``), an image file. A name that fits several types (``canny/lineart/…/mlsd``) is
    narrowed by the names after it; None when no name fits one. The words are each type's name and ``other_names``.
    """
    candidates: list[str] = []
    for name in names:
        found = [t for w in _words(name) for t in CONTROLS if w == t or w in CONTROLS[t].other_names]
        found = list(dict.fromkeys(found))  # in the order the name says them: "scribble_hed" is a scribble
        candidates = [t for t in candidates if t in found] or candidates or found
        if len(candidates) == 1:
            return candidates[0]
    return candidates[0] if candidates else None


def default_detectors() -> dict[str, str]:
    """The default detector of each control type."""
    return {name: spec.default_detector for name, spec in CONTROLS.items()}


__all__ = [
    "ADAPTER_MARK",
    "CONTROLS",
    "CONTROL_TYPES",
    "DEFAULT_TYPES",
    "ControlType",
    "ControlTypeName",
    "Guide",
    "adapted_types",
    "adapter_part",
    "default_detectors",
    "method_label",
    "part_name",
    "register",
    "spelled_out",
    "type_named",
]
