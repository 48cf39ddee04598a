"""Normals, the ninth control type: Bae et al.'s estimator through controlnet-aux with weights read weights-only from
the pinned Annotators file (its tiny twin here, saved as the real DataParallel checkpoint), the mean angular error as
a score, and a comparison that uses it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.fit.base import ControlTarget, FitContext
from app.fit.scores.normal import NormalScorer, mean_angle, normals_of
from app.images import fit_to_size

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def normalbae(studio):
    return studio.maps.detector("normalbae")


def test_normalbae_makes_a_normal_map_at_the_asked_size(normalbae, photo):
    result = normalbae.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.map.mode == "RGB" and result.control_type == "normal"
    assert np.allclose(np.linalg.norm(normals_of(result.map), axis=-1), 1.0, atol=1e-4)


def test_the_angle_between_normal_fields():
    up, right = np.zeros((2, 2, 3)), np.zeros((2, 2, 3))
    up[..., 2], right[..., 0] = 1.0, 1.0
    assert mean_angle(up, up) == pytest.approx(0.0, abs=1e-3) and mean_angle(up, right) == pytest.approx(90.0)
    facing = Image.new("RGB", (4, 4), (128, 128, 255))  # the usual "straight at the viewer" colour
    assert normals_of(facing)[0, 0] == pytest.approx([0.0, 0.0, 1.0], abs=0.01)


def test_the_score_is_one_for_the_photo_that_made_the_map(normalbae, photo):
    made = normalbae.analyse(photo, (96, 64))
    ctx = FitContext(maps={"normal": ControlTarget(made.map, normalbae, made.params)})
    assert NormalScorer().score(fit_to_size(photo, 96, 64, "crop"), ctx) == pytest.approx(1.0, abs=0.01)
    assert NormalScorer().score(Image.new("RGB", (96, 64)), FitContext()) is None  # no normal map


def test_a_comparison_runs_normals_and_scores_it(studio, photo):
    request = {**SHARED, "methods": ["text", "normal"]}
    entries = list(studio.compare(request, photo))
    assert entries[1].error is None and [m.detector for m in entries[1].maps] == ["normalbae"]
    card = studio.score(entries, request)
    assert card.matrix.value("normal", "normal") is not None
