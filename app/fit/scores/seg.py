"""Segmentation adherence: the output segmented again vs the control's segmentation, mean IoU (ControlNet++'s seg mIoU).

ControlNet++ (Li et al., ECCV 2024) scores segmentation ControlNets by the mIoU between the input segmentation and
the one a segmenter finds on the generated image. Here both come from the map's own detector, at the control's
size; the mean runs over the classes present in either, so a class the output lost counts as an IoU of 0.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from app.fit.base import FitContext, Scorer
from app.preprocess.detectors.upernet import ade_palette, classes_of


def mean_iou(predicted: np.ndarray, target: np.ndarray) -> float | None:
    """Mean IoU over the classes present in either map (None when both are empty)."""
    classes = np.union1d(np.unique(predicted), np.unique(target))
    if classes.size == 0:
        return None
    ious = [((predicted == c) & (target == c)).sum() / ((predicted == c) | (target == c)).sum() for c in classes]
    return float(np.mean(ious))


class SegScorer(Scorer):
    """The segmentation map's detector on the output, mean IoU of its classes against the control's."""

    name: ClassVar[str] = "seg"
    label: ClassVar[str] = "Segments (mIoU)"
    description: ClassVar[str] = (
        "How well the output keeps what is where: the same segmenter re-run on it, mean IoU of its ADE20K classes "
        "against the segmentation map's (ControlNet++'s seg mIoU)."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "what is where"
    control_type: ClassVar[str] = "seg"

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        target, found = ctx.reextract(output, "seg")
        palette = ade_palette()
        predicted = found.extras.get("classes")
        if predicted is None:  # a detector that draws the palette without its classes
            predicted = classes_of(found.map, palette)
        return mean_iou(predicted, classes_of(target, palette))
