"""The scorer registry: one class per score, in matrix column order. Adding a score is one module in
:mod:`app.fit.scores`.

Checked at import: every control type (:mod:`app.controls`) names a registered scorer that declares it, every
structure scorer measures a registered type, and every scorer's ``kind`` is one the advice reads.
"""

from __future__ import annotations

from app.controls import CONTROLS
from app.discovery import by_name, classes_defined, import_modules
from app.fit.base import SCORE_KINDS, Scorer, structure_scorer


def column_order(scorer: type[Scorer]) -> tuple[int, int]:
    """Where a score's column goes: by kind (prompt, structure, reference), structure scores in control type order."""
    kind = SCORE_KINDS.index(scorer.kind) if scorer.kind in SCORE_KINDS else len(SCORE_KINDS)
    types = list(CONTROLS)
    return kind, types.index(scorer.control_type) if scorer.control_type in types else len(types)


SCORERS: dict[str, type[Scorer]] = by_name(
    sorted(classes_defined(import_modules("app.fit.scores"), Scorer), key=column_order), "fit score"
)
"""Every fit score by name, in matrix column order: the concrete classes the modules of :mod:`app.fit.scores`
define."""


def default_scorers() -> list[Scorer]:
    """One instance of every registered scorer, in column order."""
    return [cls() for cls in SCORERS.values()]


def check_against_controls() -> None:
    """Raise ValueError unless the registry and the control types (:mod:`app.controls`) fit each other."""
    problems = [
        f"{n}: kind {c.kind!r} is not one of {SCORE_KINDS}" for n, c in SCORERS.items() if c.kind not in SCORE_KINDS
    ]
    problems += [
        f"{n}: measures {c.control_type!r}, not a control type"
        for n, c in SCORERS.items()
        if c.control_type is not None and c.control_type not in CONTROLS
    ]
    for name, spec in CONTROLS.items():
        scorer = SCORERS.get(spec.scorer)
        if scorer is None or scorer.control_type != name or structure_scorer(name) is not scorer:
            problems.append(f"control type {name!r}: its scorer {spec.scorer!r} is not registered as measuring it")
    if problems:
        raise ValueError("fit scorers: " + "; ".join(problems))


check_against_controls()
