"""The detector registry: name → class. Adding a detector is one module in :mod:`app.preprocess.detectors`.

Checked at import against the control types (:mod:`app.controls`): every detector makes maps for a registered type
(or ``any``), and every type's default detector is registered for it.
"""

from __future__ import annotations

from app.controls import CONTROLS, default_detectors
from app.discovery import by_name, classes_defined, import_modules
from app.preprocess.base import AnnotatorFile, Detector

REGISTRY: dict[str, type[Detector]] = by_name(
    classes_defined(import_modules("app.preprocess.detectors"), Detector), "detector"
)
"""Every detector by name: the concrete classes the modules of :mod:`app.preprocess.detectors` define."""


def annotator_files() -> tuple[AnnotatorFile, ...]:
    """Every Annotators checkpoint a registered detector reads, once each, in registry order."""
    files: dict[str, AnnotatorFile] = {}
    for detector in REGISTRY.values():
        for file in detector.annotator_files:
            files.setdefault(file.name, file)
    return tuple(files.values())


DEFAULTS: dict[str, str] = default_detectors()
"""The detector each control type uses unless the user picks another."""


def check_against_controls() -> None:
    """Raise ValueError unless the registry and the control types (:mod:`app.controls`) fit each other."""
    strays = {name: cls.control_type for name, cls in REGISTRY.items() if cls.control_type not in (*CONTROLS, "any")}
    defaults = default_detectors()
    unmade = {t: name for t, name in defaults.items() if name not in REGISTRY or REGISTRY[name].control_type != t}
    problems = [f"detector {n!r} makes maps for {t!r}, which is not a control type" for n, t in strays.items()]
    problems += [f"control type {t!r}: its default detector {n!r} is not registered for it" for t, n in unmade.items()]
    if problems:
        raise ValueError(f"detectors ({', '.join(REGISTRY)}): " + "; ".join(problems))


check_against_controls()
