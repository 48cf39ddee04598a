"""Published anchors: papers' protocols on our outputs (ControlNet++ canny F1, depth RMSE, seg mIoU; CLIP-T)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.fit.anchors import ANCHORS, anchor_values, canny_f1, clip_t, depth_rmse
from app.fit.base import ControlTarget, FitContext
from app.fit.scores.edges import EdgeScorer
from app.preprocess.detectors.canny import CannyDetector


class RampDepth:
    """A stand-in depth estimator: depth is the image's brightness (so a ramp image has a ramp depth)."""

    def estimate_depth(self, image: Image.Image, **params) -> np.ndarray:
        return np.asarray(image.convert("L"), dtype=np.float32)


def ramp(width: int = 64, height: int = 48, flip: bool = False) -> Image.Image:
    row = np.linspace(0, 255, width)[::-1] if flip else np.linspace(0, 255, width)
    return Image.fromarray(np.tile(row, (height, 1)).astype(np.uint8)).convert("RGB")


def test_the_published_figures_and_their_protocols_are_stated():
    assert {a.name: a.published for a in ANCHORS} == {
        "canny_f1": 34.65, "depth_rmse": 35.90, "seg_miou": 32.55, "clip_i": 0.828, "clip_t": 0.588,
    }  # fmt: skip
    assert all(a.protocol and a.differences and a.paper for a in ANCHORS)
    assert [a.name for a in ANCHORS if not a.higher_is_better] == ["depth_rmse"]


def test_canny_f1_has_no_tolerance_where_the_fit_score_has_one(photo):
    canny = CannyDetector()
    image = photo.resize((256, 256))
    ctx = FitContext(maps={"canny": ControlTarget(canny.detect(image, 256), canny)})
    assert canny_f1(image, ctx) == pytest.approx(100.0)  # the control's own photo: every edge pixel matches
    shifted = Image.fromarray(np.roll(np.asarray(image), 1, axis=1))  # one pixel to the right
    strict, tolerant = canny_f1(shifted, ctx), 100 * EdgeScorer().score(shifted, ctx)
    assert strict < 60 < 95 < tolerant  # ControlNet++'s binary F1 punishes a 1 px shift; our fit forgives it
    assert canny_f1(image, FitContext()) is None


def test_depth_rmse_is_on_0_to_255_maps_at_the_controls_size():
    ctx = FitContext(maps={"depth": ControlTarget(RampDepth().estimate_depth(ramp()), RampDepth())})
    assert depth_rmse(ramp(), ctx) == pytest.approx(0.0, abs=1e-6)
    assert depth_rmse(ramp(128, 96), ctx) == pytest.approx(0.0, abs=1.5)  # resized to the control's grid
    inverted = depth_rmse(ramp(flip=True), ctx)
    expected = float(np.sqrt(np.mean((np.linspace(0, 255, 64) - np.linspace(255, 0, 64)) ** 2)))
    assert inverted == pytest.approx(expected, rel=0.01)  # about 148: the layout upside down
    flat = Image.new("RGB", (64, 48), (90, 90, 90))
    assert depth_rmse(flat, ctx) > 100  # a flat output kept no layout
    assert depth_rmse(ramp(), FitContext()) is None


def test_clip_i_and_clip_t_come_from_the_fit_scores():
    assert clip_t(0.3) == pytest.approx(0.75) and clip_t(-0.1) == 0.0 and clip_t(None) is None
    values = anchor_values(ramp(), FitContext(), {"prompt": 0.24, "reference": 0.81, "seg": 0.3})
    assert values == {"clip_i": 0.81, "clip_t": 0.6, "seg_miou": 30.0}  # seg mIoU is our segments fit, ×100
