"""Scribble adherence: the scribble re-extracted from the output vs the control's, F1 with a pixel tolerance.

ControlNet++ has no scribble protocol; the issue's choice is edge F1 with a tolerance, as for canny
(:func:`app.fit.scores.edges.edge_f1`): the map's own detector (same parameters) re-run on the output at the
control's size, its strokes matched to the control's within the tolerance.
"""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.fit.base import FitContext, Scorer
from app.fit.scores.edges import edge_f1, edge_mask, tolerance_for


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
        control = ctx.maps["scribble"]
        target = edge_mask(control.target)
        height, width = target.shape
        rgb = output if output.size == (width, height) else output.resize((width, height), Image.Resampling.BICUBIC)
        detector = ctx.detector("scribble")
        found = edge_mask(detector.run(rgb, detector.parse_params(control.params)).map)
        return edge_f1(found, target, tolerance_for(width, height))
