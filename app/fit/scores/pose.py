"""Pose adherence: pose re-detected on the output vs the control keypoints, PCK.

PCK@α: the share of the control's visible keypoints that the output has
within ``α × the person's size`` of where the control put them. A person's
size is the longest side of their box (the detector's box, else the box of
their visible keypoints), so the threshold does not depend on the image size.
People are matched one to one so that the most keypoints are kept (an
optimal assignment); a control person without a match scores 0 on all their keypoints; extra people in the output
are not penalised (the pose ControlNet does not forbid them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment

from app.fit.base import FitContext, Scorer
from app.preprocess.keypoints import Person

# α of PCK: 0.1 of the person's box is the usual "PCK@0.1 of the bounding box"
# (about a head's width for a standing person).
PCK_ALPHA = 0.1
# A box smaller than this (normalised) would make the threshold vanish; e.g. a single visible keypoint.
MIN_PERSON_SIZE = 0.05


def person_size(person: Person, width: int, height: int, threshold: float = 0.0) -> float:
    """Longest side in pixels of the person's box (the detector's, else their visible keypoints')."""
    if person.box is not None:
        x0, y0, x1, y1 = person.box
    else:
        visible = [person.keypoints[i] for i in person.visible(threshold)]
        if not visible:
            return MIN_PERSON_SIZE * max(width, height)
        xs, ys = [k.x for k in visible], [k.y for k in visible]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return max((x1 - x0) * width, (y1 - y0) * height, MIN_PERSON_SIZE * max(width, height))


def _hits(
    control: Person, found: Person, width: int, height: int, alpha: float, control_threshold: float, threshold: float
) -> int:
    limit = alpha * person_size(control, width, height, control_threshold)
    hits = 0
    for index in control.visible(control_threshold):
        if index >= len(found.keypoints):
            continue
        a, b = control.keypoints[index], found.keypoints[index]
        if b.score > threshold and np.hypot((a.x - b.x) * width, (a.y - b.y) * height) <= limit:
            hits += 1
    return hits


def pck(
    control: Sequence[Person],
    found: Sequence[Person],
    width: int = 512,
    height: int = 512,
    alpha: float = PCK_ALPHA,
    threshold: float = 0.0,
) -> float | None:
    """PCK@``alpha`` of the control people's keypoints among the people found on the output.

    Args:
        control: People of the control map (OpenPose-18, normalised coordinates).
        found: People detected on the output (same format).
        width: Output width in pixels (distances are measured in pixels).
        height: Output height in pixels.
        alpha: Fraction of each control person's size a keypoint may be off.
        threshold: Keypoints scoring at or below this are absent (both sides).

    Returns:
        0–1; None when the control has no visible keypoint; 0 when nobody is found.
    """
    people = [p for p in control if p.visible(threshold)]
    total = sum(len(p.visible(threshold)) for p in people)
    if total == 0:
        return None
    if not found:
        return 0.0
    table = np.array([[_hits(c, f, width, height, alpha, threshold, threshold) for f in found] for c in people])
    # One found person per control person, the pairing that keeps the most keypoints (scipy's assignment solver).
    rows, columns = linear_sum_assignment(table, maximize=True)
    return int(table[rows, columns].sum()) / total


class PoseScorer(Scorer):
    """The control map's pose detector on the output, PCK against the control keypoints."""

    name: ClassVar[str] = "pose"
    label: ClassVar[str] = "Pose (PCK@0.1)"
    description: ClassVar[str] = (
        "How well the output keeps the body pose: people re-detected on it, share of control keypoints "
        "within 0.1 of the person's size; 0 when nobody is found."
    )
    kind: ClassVar[str] = "structure"
    keeps: ClassVar[str] = "the pose"
    control_type: ClassVar[str] = "pose"

    @classmethod
    def target_of(cls, result: Any) -> list[Person] | None:
        """The people behind the pose map; None for a skeleton drawn elsewhere (no keypoints to compare)."""
        return None if result.people is None else list(result.people)

    def _score(self, output: Image.Image, ctx: FitContext) -> float | None:
        control = ctx.maps["pose"]
        threshold = float(control.params.get("keypoint_threshold", 0.0))
        if not any(p.visible(threshold) for p in control.target):
            return None  # don't run a detector for a score that cannot exist
        found = _detect(ctx.detector("pose"), output, control.params)
        return pck(control.target, found, output.width, output.height, PCK_ALPHA, threshold)


def _detect(detector: Any, image: Image.Image, params: dict[str, Any]) -> list[Person]:
    return list(detector.detect_keypoints(image, **params))
