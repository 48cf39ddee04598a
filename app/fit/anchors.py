"""Published anchors: metrics as papers compute them, so a run's numbers can sit beside the published ones.

Our fit scores are built for telling methods apart on one input (an edge F1 that forgives 2 px, a rank correlation
of depth). Papers report other protocols. These functions compute them on the same outputs and control maps:

- ControlNet++ (Li et al., ECCV 2024), SD1.5 ControlNet baselines on their MultiGen-20M / COCO evaluation sets:
  Canny **F1** (Canny re-run on the output with the control's thresholds, binary F1 with no tolerance, ×100), and
  depth **RMSE** (per-pixel RMSE between the depth map re-estimated on the output and the input depth map, both on
  0–255; they use MiDaS), and segmentation **mIoU** on ADE20K (our segments fit, ×100).
- IP-Adapter (Ye et al., 2023), SD1.5 on 2,000 COCO 2017 validation images: **CLIP-I** (cosine of the CLIP ViT-L/14
  image embeddings of output and image prompt) and **CLIP-T** (CLIPScore of the output against the image prompt's
  caption). CLIP-I is our reference fit. CLIP-T is read here as Hessel et al.'s CLIPScore, 2.5 × max(cos, 0), of
  our prompt fit; that factor is our reading of the paper's "CLIPScore", and the paper's text is the reference
  image's COCO caption where ours is the run's prompt.

The published figures are the issue's (ControlNet++ Table 1 for the SD1.5 ControlNet rows; IP-Adapter Table 1).
They describe other datasets, prompts, step counts and guidance: place our numbers beside them, never rank by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.fit.base import FitContext
from app.fit.scores.depth import estimated_depth
from app.fit.scores.edges import edge_f1, edges_of

CLIPSCORE_WEIGHT = 2.5
"""Hessel et al.'s CLIPScore weight: CLIPScore = w · max(cos, 0)."""


@dataclass(frozen=True)
class Anchor:
    """One published metric: how the paper computed it, its figure, and what differs in our runs."""

    name: str
    label: str
    paper: str
    published: float
    higher_is_better: bool
    protocol: str
    differences: str
    bounds: tuple[float, float] = (0.0, 1.0)
    """The range the metric lies in (a value outside it is not one of its results)."""


ANCHORS: tuple[Anchor, ...] = (
    Anchor(
        "canny_f1",
        "Canny F1 ×100",
        "ControlNet++ (ECCV 2024), SD1.5 ControlNet",
        34.65,
        True,
        "Canny re-run on the output with the control map's thresholds; binary F1 against the control edges, no "
        "pixel tolerance, ×100.",
        "Their MultiGen-20M validation images and captions; ours are your photos and prompt, at your size, steps "
        "and guidance.",
        (0.0, 100.0),
    ),
    Anchor(
        "depth_rmse",
        "Depth RMSE (0–255)",
        "ControlNet++ (ECCV 2024), SD1.5 ControlNet",
        35.90,
        False,
        "Depth re-estimated on the output; per-pixel RMSE against the input depth map, both scaled to 0–255.",
        "They estimate with MiDaS; we use the depth method's own detector (Depth Anything unless you chose "
        "depth:midas), each map min–max scaled to 0–255, on your photos and prompt.",
        (0.0, 255.0),
    ),
    Anchor(
        "seg_miou",
        "Seg mIoU ×100 (ADE20K)",
        "ControlNet++ (ECCV 2024), SD1.5 ControlNet",
        32.55,
        True,
        "The output re-segmented into ADE20K classes; mean IoU against the segmentation map's classes, ×100 (our "
        "segments fit).",
        "They segment with UperNet-R50 on ADE20K validation images and captions (the ECCV figure, .png labels); we "
        "re-run the map's own segmenter (UperNet ConvNeXt-tiny unless overridden) on your photos and prompt, over "
        "the classes in either map.",
        (0.0, 100.0),
    ),
    Anchor(
        "clip_i",
        "CLIP-I",
        "IP-Adapter (2023), SD1.5",
        0.828,
        True,
        "Cosine of the CLIP ViT-L/14 image embeddings of the output and the image prompt (our reference fit).",
        "Their 2,000 COCO 2017 validation images as image prompts; ours are your references, at your IP-Adapter "
        "scale and prompt.",
        (-1.0, 1.0),
    ),
    Anchor(
        "clip_t",
        "CLIP-T",
        "IP-Adapter (2023), SD1.5",
        0.588,
        True,
        f"CLIPScore ({CLIPSCORE_WEIGHT:g} × max(cos, 0), CLIP ViT-L/14) of the output against a text.",
        "Their text is the image prompt's COCO caption; ours is your prompt. The 2.5 weight is our reading of "
        "'CLIPScore'.",
        (0.0, CLIPSCORE_WEIGHT),
    ),
)


def canny_f1(output: Image.Image, ctx: FitContext) -> float | None:
    """ControlNet++'s Canny F1 (×100): no tolerance, the control map's detector and thresholds."""
    if "canny" not in ctx.maps:
        return None
    target, found = edges_of(output, ctx)
    f1 = edge_f1(found, target, tolerance=0.0)
    return None if f1 is None else 100.0 * f1


def depth_rmse(output: Image.Image, ctx: FitContext) -> float | None:
    """ControlNet++'s depth RMSE: output depth vs control depth, each scaled to 0–255, at the control's size."""
    if "depth" not in ctx.maps:
        return None
    control = _to_255(np.asarray(ctx.maps["depth"].target, dtype=np.float64))
    if control is None:
        return None
    estimated = np.asarray(estimated_depth(output, ctx), dtype=np.float64)
    if estimated.shape != control.shape:
        resized = Image.fromarray(estimated.astype(np.float32)).resize(control.shape[::-1], Image.Resampling.BILINEAR)
        estimated = np.asarray(resized, dtype=np.float64)
    found = _to_255(estimated)
    if found is None:  # a flat output kept no layout: as far from the control as a constant map is
        found = np.zeros_like(control)
    return float(np.sqrt(np.mean((found - control) ** 2)))


def clip_t(prompt_fit: float | None) -> float | None:
    """CLIP-T as CLIPScore from our prompt fit (a CLIP ViT-L/14 cosine)."""
    return None if prompt_fit is None else CLIPSCORE_WEIGHT * max(prompt_fit, 0.0)


def anchor_values(output: Image.Image, ctx: FitContext, scores: dict[str, float | None]) -> dict[str, float]:
    """Every anchor that applies to one output: the protocol metrics, and CLIP-I / CLIP-T from its fit scores."""
    values = {
        "canny_f1": canny_f1(output, ctx),
        "depth_rmse": depth_rmse(output, ctx),
        "seg_miou": None if scores.get("seg") is None else 100.0 * scores["seg"],
        "clip_i": scores.get("reference"),
        "clip_t": clip_t(scores.get("prompt")),
    }
    return {name: round(float(value), 4) for name, value in values.items() if value is not None}


def _to_255(depth: np.ndarray) -> np.ndarray | None:
    low, high = float(depth.min()), float(depth.max())
    return None if high - low == 0.0 else (depth - low) / (high - low) * 255.0
