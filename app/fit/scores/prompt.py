"""Prompt adherence: cosine similarity of the CLIP embeddings of the prompt and the output."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from app.fit.base import FitContext, Scorer


class PromptScorer(Scorer):
    """CLIP text–image cosine (raw, −1…1; real CLIP gives about 0.2–0.35 for matching pairs)."""

    name: ClassVar[str] = "prompt"
    label: ClassVar[str] = "Prompt (CLIP)"
    description: ClassVar[str] = "How well the output matches the prompt: CLIP cosine of prompt and image."
    kind: ClassVar[str] = "prompt"
    keeps: ClassVar[str] = "the prompt"
    bounds: ClassVar[tuple[float, float]] = (-1.0, 1.0)  # a cosine

    def applies(self, ctx: FitContext) -> bool:
        return bool(ctx.prompt and ctx.prompt.strip())

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        return ctx.get_clip().text_image_similarity(ctx.prompt, output)
