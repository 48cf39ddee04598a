"""Soft edge, the fifth control type: HED through controlnet-aux with weights read weights-only from the pinned
Annotators file (its tiny twin here), ControlNet++'s HED SSIM, and a comparison that uses it."""

from __future__ import annotations

import pytest
from PIL import Image

from app.errors import StudioError
from app.fit.base import ControlTarget, FitContext
from app.fit.scores.softedge import SoftEdgeScorer
from app.images import fit_to_size

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def hed(studio):
    return studio.maps.detector("hed")


def test_hed_makes_a_soft_edge_map_at_the_asked_size_and_refuses_bad_parameters(hed, photo):
    result = hed.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.map.mode == "RGB" and result.control_type == "softedge"
    with pytest.raises(StudioError, match="safe"):
        hed.detect(photo, 64, safe="sometimes")


def test_the_score_is_one_for_the_photo_that_made_the_map(hed, photo):
    made = hed.analyse(photo, (96, 64))
    ctx = FitContext(maps={"softedge": ControlTarget(made.map, hed, made.params)})
    assert SoftEdgeScorer().score(fit_to_size(photo, 96, 64, "crop"), ctx) == pytest.approx(1.0, abs=0.02)
    assert SoftEdgeScorer().score(Image.new("RGB", (96, 64)), FitContext()) is None  # no soft-edge map


def test_a_comparison_runs_soft_edge_and_scores_it(studio, photo):
    request = {**SHARED, "methods": ["text", "softedge"]}
    entries = list(studio.compare(request, photo))
    assert entries[1].error is None and [m.detector for m in entries[1].maps] == ["hed"]
    card = studio.score(entries, request)
    assert card.matrix.value("softedge", "softedge") is not None
    assert card.matrix.value("text", "softedge") is not None
