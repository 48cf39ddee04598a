"""PiDiNet, the second soft-edge detector (and its scribble mode): controlnet-aux's network with weights read
weights-only from the pinned Annotators file (its tiny twin here, a ``{"state_dict"}`` DataParallel checkpoint like the
real one), swept against HED as a detector pair."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import StudioError
from app.request.sweep import cell_label, cell_requests, parse_sweep

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


@pytest.mark.parametrize(("name", "kind"), [("pidinet", "softedge"), ("pidinet_scribble", "scribble")])
def test_pidinet_makes_its_map_at_the_asked_size_and_refuses_bad_parameters(studio, photo, name, kind):
    detector = studio.maps.detector(name)
    result = detector.analyse(photo, (96, 64))
    assert result.map.size == (96, 64) and result.map.mode == "RGB" and result.control_type == kind
    if kind == "scribble":  # binary strokes, as scribble ControlNets were trained on
        assert np.isin(np.asarray(result.map), (0, 255)).mean() > 0.9  # grey only where resized to the canvas
    with pytest.raises(StudioError, match="safe"):
        detector.detect(photo, 64, safe="sometimes")


def test_hed_and_pidinet_sweep_as_a_detector_pair_and_compare_side_by_side(studio, photo):
    sweep = parse_sweep({"base": {**SHARED, "methods": ["softedge"]},
                         "x": {"name": "method", "values": ["softedge:hed", "softedge:pidinet"]}})  # fmt: skip
    assert [c.parsed_methods()[0].controls for _, _, c in cell_requests(sweep)] == [
        (("softedge", "hed"),), (("softedge", "pidinet"),)
    ]  # fmt: skip
    # The preprocessor × model plot: the detector along X, the method along Y; labels name the detector once.
    plot = parse_sweep({"base": {**SHARED, "methods": ["softedge"]},
                        "x": {"name": "softedge_detector", "values": ["hed", "pidinet"]},
                        "y": {"name": "method", "values": ["softedge", "softedge+ip_adapter"]}})  # fmt: skip
    assert [(c.parsed_methods()[0].controls[0][1], cell_label(plot, x, y)) for x, y, c in cell_requests(plot)][:2] == [
        ("hed", "Soft edge · Soft edge detector hed"), ("pidinet", "Soft edge · Soft edge detector pidinet")
    ]  # fmt: skip
    with pytest.raises(StudioError, match="names its softedge detector itself"):
        parse_sweep({**plot.model_dump(), "base": {**SHARED, "methods": ["softedge:hed"]}, "y": None})
    request = {**SHARED, "methods": ["softedge", "softedge:pidinet", "scribble:pidinet_scribble"]}
    entries = list(studio.compare(request, photo))
    assert [e.error for e in entries] == [None] * 3
    assert [m.detector for e in entries for m in e.maps] == ["hed", "pidinet", "pidinet_scribble"]
    card = studio.score(entries, request)
    assert card.matrix.value("softedge:pidinet", "softedge") is not None
