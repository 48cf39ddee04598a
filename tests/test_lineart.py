"""Lineart, the fourth control type: its detector, its fit score and a comparison that uses it on the tiny family.

It was added as the registry promises (a spec in app/controls, a detector in app/preprocess/detectors, a score in
app/fit/scores): everything else below reads it from there.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.errors import StudioError
from app.fit.base import ControlTarget, FitContext
from app.fit.scores.lineart import LineartScorer, ssim
from app.images import fit_to_size
from app.preprocess import get_detector
from app.request.compare import LEFT_OUT, parse_method

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def lines(photo):
    return get_detector("lineart_standard").analyse(photo, (128, 96))


def test_the_detector_draws_white_lines_on_black_at_the_asked_size(lines):
    pixels = np.asarray(lines.map.convert("L"), dtype=np.float64)
    assert lines.map.size == (128, 96) and lines.map.mode == "RGB" and lines.control_type == "lineart"
    assert pixels.mean() < 80 and pixels.max() > 200  # mostly background, some strong strokes


def test_bolder_blur_keeps_more_line_and_bad_parameters_are_refused_by_name(photo):
    detector = get_detector("lineart_standard")
    thin = np.asarray(detector.detect(photo, 96, gaussian_sigma=1.0).convert("L")).mean()
    bold = np.asarray(detector.detect(photo, 96, gaussian_sigma=12.0).convert("L")).mean()
    assert bold > thin
    with pytest.raises(StudioError, match="gaussian_sigma"):
        detector.detect(photo, 96, gaussian_sigma=500)


def test_the_score_is_one_for_the_photo_that_made_the_map_and_lower_for_anything_else(lines, photo):
    ctx = FitContext(maps={"lineart": ControlTarget(lines.map, get_detector("lineart_standard"), lines.params)})
    scorer = LineartScorer()
    source = fit_to_size(photo, 128, 96, "crop")  # what the map was made from
    assert scorer.score(source, ctx) == pytest.approx(1.0, abs=0.02)  # the map's own photo re-extracts to the map
    flat = scorer.score(Image.new("RGB", (128, 96), (120, 120, 120)), ctx)
    flipped = scorer.score(source.transpose(Image.Transpose.FLIP_TOP_BOTTOM), ctx)
    assert 0.0 <= flat < 0.5 and 0.0 <= flipped < 0.7
    assert scorer.score(photo, FitContext()) is None  # no lineart map: the score does not apply
    noise = np.random.default_rng(0).random((96, 128))
    assert ssim(noise, noise) == pytest.approx(1.0) and 0.0 <= ssim(noise, 1.0 - noise) < 0.05


def test_a_comparison_runs_lineart_and_scores_its_lines(studio, photo):
    assert parse_method("lineart").controls == (("lineart", "lineart_standard"),)
    request = {**SHARED, "methods": ["text", "lineart", "lineart+ip_adapter"]}
    entries = list(studio.compare(request, photo))
    assert entries[1].error is None and [m.control_type for m in entries[1].maps] == ["lineart"]
    assert entries[2].error.startswith(LEFT_OUT)  # no reference given
    card = studio.score(entries, request)
    assert card.matrix.value("lineart", "lineart") is not None
    assert card.matrix.value("text", "lineart") is not None  # text-only is the baseline on every structure score
    assert "lineart" in card.verdict.text.lower()  # the advice reads the new score like the others


@pytest.mark.parametrize("name", ["lineart_realistic", "lineart_coarse"])
def test_the_learned_lineart_detectors_run_from_their_annotator_files_and_sweep_against_the_standard(
    studio, photo, name
):
    """controlnet-aux's Informative Drawings generators (sk_model.pth, sk_model2.pth from the pinned Annotators,
    weights-only; random tiny twins here): a map at the asked size, scored by the same lineart fit."""
    detector = studio.maps.detector(name)
    result = detector.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.map.mode == "RGB" and result.control_type == "lineart"
    request = {**SHARED, "methods": ["lineart", f"lineart:{name}"]}
    entries = list(studio.compare(request, photo))
    assert [e.error for e in entries] == [None, None]
    assert [m.detector for e in entries for m in e.maps] == ["lineart_standard", name]
    assert studio.score(entries, request).matrix.value(f"lineart:{name}", "lineart") is not None
