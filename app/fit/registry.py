"""The scorer registry: one class per score, in matrix column order. Adding a score is a module plus one line."""

from __future__ import annotations

from app.fit.base import Scorer
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
