"""Soft-edge adherence: the soft edges re-extracted from the output vs the control's, SSIM (ControlNet++'s HED SSIM).

ControlNet++ (Li et al., ECCV 2024) scores HED ControlNets by the SSIM between the input HED map and the one
extracted from the generated image; here both come from the map's own detector with its parameters, at the
control's size (see :func:`app.fit.scores.lineart.reextracted_ssim`).
"""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.fit.base import FitContext, Scorer
from app.fit.scores.lineart import reextracted_ssim


class SoftEdgeScorer(Scorer):
    """The soft-edge map's detector (same parameters) on the output, SSIM against the control's soft edges."""

    name: ClassVar[str] = "softedge"
    label: ClassVar[str] = "Soft edges (SSIM)"
    description: ClassVar[str] = (
        "How well the output keeps the control's soft edges: the same detector re-run on it, SSIM against the "
        "soft-edge map (ControlNet++'s HED SSIM)."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the boundaries"
    control_type: ClassVar[str] = "softedge"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return reextracted_ssim(output, ctx, "softedge")
