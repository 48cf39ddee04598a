"""Straight-line adherence: the lines re-detected on the output vs the control's, F1 with a pixel tolerance.

ControlNet++ has no MLSD protocol; the issue's choice is line F1: the map's own detector (same parameters) re-run on
the output at the control's size, its line pixels matched to the control's within the canny tolerance
(:func:`app.fit.scores.edges.edge_f1`).
"""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.fit.base import FitContext, Scorer
from app.fit.scores.edges import reextracted_f1


class MlsdScorer(Scorer):
    """The MLSD map's detector (same parameters) on the output, line F1 against the control's lines."""

    name: ClassVar[str] = "mlsd"
    label: ClassVar[str] = "Lines (F1)"
    description: ClassVar[str] = (
        "How well the output keeps the control's straight lines: M-LSD re-run on it, F1 against the line map "
        "with a 2 px tolerance at 512 px."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the straight lines"
    control_type: ClassVar[str] = "mlsd"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return reextracted_f1(output, ctx, "mlsd")
