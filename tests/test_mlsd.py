"""Straight lines (MLSD), the eighth control type: controlnet-aux's M-LSD with weights read weights-only from the pinned
Annotators file (its tiny twin here), line F1 with a tolerance, and a comparison that uses it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.errors import StudioError
from app.fit.base import ControlTarget, FitContext
from app.fit.scores.mlsd import MlsdScorer
from app.images import fit_to_size

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def mlsd(studio):
    return studio.maps.detector("mlsd")


def test_mlsd_draws_straight_lines_at_the_asked_size_and_refuses_bad_parameters(mlsd, photo):
    result = mlsd.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.map.mode == "RGB" and result.control_type == "mlsd"
    assert set(np.unique(np.asarray(result.map))) <= {0, 255}  # one-pixel white lines drawn on black
    with pytest.raises(StudioError, match="score_threshold"):
        mlsd.detect(photo, 64, score_threshold=5)


def test_the_score_is_one_for_the_photo_that_made_the_map(mlsd, photo):
    made = mlsd.analyse(photo, (96, 64))
    ctx = FitContext(maps={"mlsd": ControlTarget(made.map, mlsd, made.params)})
    if not np.asarray(made.map).any():
        pytest.skip("the tiny M-LSD twin found no line on this photo")
    assert MlsdScorer().score(fit_to_size(photo, 96, 64, "crop"), ctx) == pytest.approx(1.0, abs=0.02)
    assert MlsdScorer().score(Image.new("RGB", (96, 64)), FitContext()) is None  # no line map


def test_a_comparison_runs_mlsd_and_scores_it(studio, photo):
    request = {**SHARED, "methods": ["text", "mlsd"]}
    entries = list(studio.compare(request, photo))
    assert entries[1].error is None and [m.detector for m in entries[1].maps] == ["mlsd"]
    card = studio.score(entries, request)
    assert card.matrix.value("mlsd", "mlsd") is not None
