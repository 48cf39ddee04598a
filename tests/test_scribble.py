"""Scribble, the sixth control type: HED in its scribble mode, the same weights read weights-only from the pinned
Annotators file (its tiny twin here), stroke F1 with a tolerance, and a comparison that uses it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.errors import StudioError
from app.fit.base import ControlTarget, FitContext
from app.fit.scores.scribble import ScribbleScorer
from app.images import fit_to_size

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def hed(studio):
    return studio.maps.detector("hed_scribble")


def test_hed_scribble_makes_a_binary_stroke_map_at_the_asked_size_and_refuses_bad_parameters(hed, photo):
    result = hed.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.map.mode == "RGB" and result.control_type == "scribble"
    pixels = np.asarray(result.map)
    assert np.isin(pixels, (0, 255)).mean() > 0.9  # strokes, not graded edges (grey only where resized)
    with pytest.raises(StudioError, match="safe"):
        hed.detect(photo, 64, safe="sometimes")


def test_the_score_is_one_for_the_photo_that_made_the_map(hed, photo):
    made = hed.analyse(photo, (96, 64))
    ctx = FitContext(maps={"scribble": ControlTarget(made.map, hed, made.params)})
    if not np.asarray(made.map).any():
        pytest.skip("the tiny HED twin drew no stroke on this photo")
    assert ScribbleScorer().score(fit_to_size(photo, 96, 64, "crop"), ctx) == pytest.approx(1.0, abs=0.02)
    assert ScribbleScorer().score(Image.new("RGB", (96, 64)), FitContext()) is None  # no scribble map


def test_a_comparison_runs_scribble_and_scores_it(studio, photo):
    request = {**SHARED, "methods": ["text", "scribble"]}
    entries = list(studio.compare(request, photo))
    assert entries[1].error is None and [m.detector for m in entries[1].maps] == ["hed_scribble"]
    card = studio.score(entries, request)
    assert "scribble" in [c.name for c in card.matrix.columns]
