"""Reference adherence: cosine similarity of the CLIP image embeddings of output and reference."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.fit.base import FitContext, Scorer, as_rgb


class ReferenceScorer(Scorer):
    """CLIP image–image cosine (−1…1; 1.0 for the reference itself)."""

    name: ClassVar[str] = "reference"
    label: ClassVar[str] = "Reference (CLIP)"
    description: ClassVar[str] = "How much the output looks like the reference: CLIP cosine of the two images."
    kind: ClassVar[str] = "reference"
    keeps: ClassVar[str] = "the reference"
    bounds: ClassVar[tuple[float, float]] = (-1.0, 1.0)  # a cosine

    def applies(self, ctx: FitContext) -> bool:
        return ctx.reference is not None

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return ctx.get_clip().image_image_similarity(output, as_rgb(ctx.reference))
