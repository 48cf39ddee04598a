"""The scorer registry: one class per score, in matrix column order. Adding a score is a module plus one line.

Checked at import: every control type (:mod:`app.controls`) names a registered scorer that declares it, every
structure scorer measures a registered type, and every scorer's ``kind`` is one the advice reads.
"""

from __future__ import annotations

from app.controls import CONTROLS
from app.fit.base import SCORE_KINDS, Scorer, structure_scorer
from app.fit.depth import DepthScorer
from app.fit.edges import EdgeScorer
from app.fit.pose import PoseScorer
from app.fit.prompt import PromptScorer
from app.fit.reference import ReferenceScorer

SCORERS: dict[str, type[Scorer]] = {
    "prompt": PromptScorer,
    "edges": EdgeScorer,
    "pose": PoseScorer,
    "depth": DepthScorer,
    "reference": ReferenceScorer,
}


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
