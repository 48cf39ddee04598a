"""Scribble adherence: the scribble re-extracted from the output vs the control's, F1 with a pixel tolerance.

ControlNet++ has no scribble protocol; the issue's choice is edge F1 with a tolerance, as for canny
(:func:`app.fit.scores.edges.edge_f1`): the map's own detector (same parameters) re-run on the output at the
control's size, its strokes matched to the control's within the tolerance.
"""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.fit.base import FitContext, Scorer
from app.fit.scores.edges import reextracted_f1


class ScribbleScorer(Scorer):
    """The scribble map's detector (same parameters) on the output, stroke F1 against the control's scribble."""

    name: ClassVar[str] = "scribble"
    label: ClassVar[str] = "Scribble (F1)"
    description: ClassVar[str] = (
        "How well the output keeps the control's strokes: the same scribble detector re-run on it, F1 against the "
        "scribble map with a 2 px tolerance at 512 px."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the sketched shapes"
    control_type: ClassVar[str] = "scribble"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return reextracted_f1(output, ctx, "scribble")
