"""Segmentation, the seventh control type: an ADE20K UperNet through transformers (its tiny twin here, safetensors),
drawn in ADE20K's palette, ControlNet++'s seg mIoU, and a comparison that uses it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.fit.base import ControlTarget, FitContext
from app.fit.scores.seg import SegScorer, mean_iou
from app.images import fit_to_size
from app.preprocess.detectors.upernet import ade_palette, classes_of

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def upernet(studio):
    return studio.maps.detector("upernet")


def test_the_map_is_drawn_in_ade20k_colours_and_keeps_its_classes(upernet, photo):
    result = upernet.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.control_type == "seg"
    palette = ade_palette()
    assert palette.shape == (150, 3) and palette[0].tolist() == [120, 120, 120]  # ADE20K's "wall"
    classes = result.extras["classes"]
    assert classes.shape == (64, 96) and np.array_equal(classes_of(result.map, palette), classes)


def test_mean_iou_counts_a_lost_class_as_zero():
    target = np.array([[1, 1], [2, 2]])
    assert mean_iou(target, target) == 1.0
    assert mean_iou(np.array([[1, 1], [1, 1]]), target) == pytest.approx((0.5 + 0.0) / 2)


def test_the_score_is_one_for_the_photo_that_made_the_map(upernet, photo):
    made = upernet.analyse(photo, (96, 64))
    ctx = FitContext(maps={"seg": ControlTarget(made.map, upernet, made.params)})
    assert SegScorer().score(fit_to_size(photo, 96, 64, "crop"), ctx) == pytest.approx(1.0)
    assert SegScorer().score(Image.new("RGB", (96, 64)), FitContext()) is None  # no segmentation map


def test_a_comparison_runs_segmentation_and_scores_it(studio, photo):
    request = {**SHARED, "methods": ["text", "seg"]}
    entries = list(studio.compare(request, photo))
    assert entries[1].error is None and [m.detector for m in entries[1].maps] == ["upernet"]
    card = studio.score(entries, request)
    assert card.matrix.value("seg", "seg") is not None and card.matrix.value("text", "seg") is not None
