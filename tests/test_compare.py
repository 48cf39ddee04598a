"""Comparison and sweep on the tiny family: fairness, streaming, errors, scoring and grid layout."""

from __future__ import annotations

import re
import threading
from dataclasses import replace

import numpy as np
import pytest

from app.engine.models import tiny_spec
from app.errors import Cancelled, StudioError
from app.request.compare import parse_compare_request, parse_method
from app.studio import Studio
from tests.conftest import pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}


def test_method_strings_parse_pairs_and_refuse_nonsense():
    method = parse_method("depth:midas+ip_adapter")
    assert method.controls == (("depth", "midas"),) and method.ip_adapter
    assert parse_method("ip_adapter+canny").name == "canny+ip_adapter"
    assert parse_method("pose").controls == (("pose", "vitpose"),)
    for bad in ("sketch", "depth:canny", "text+depth", "canny+canny", "", "x" * 200):
        with pytest.raises(StudioError, match=r"allowed|does not make"):
            parse_method(bad)


def test_comparison_is_fair_text_equals_solo_and_strength_zero_equals_text(studio, photo):
    request = {**SHARED, "methods": ["text", "canny", "depth"], "control": {"controlnet_conditioning_scale": 0.0}}
    entries = list(studio.compare(request, photo))
    assert [e.method.name for e in entries] == ["text", "canny", "depth"]
    solo = studio.generate(SHARED)
    text = pixels(entries[0].result.image)
    assert np.array_equal(text, pixels(solo.image))
    for entry in entries[1:]:
        assert entry.error is None and len(entry.maps) == 1
        assert np.array_equal(text, pixels(entry.result.image)), entry.method.name


def test_every_method_starts_from_the_same_initial_latents(studio, photo, reference):
    seen = {}

    def capture(method):
        def progress(fraction, label):
            seen.setdefault(method, label)

        return progress

    # Same latents: with every control at strength 0 and IP scale 0, all methods give text-only's pixels.
    request = {
        **SHARED,
        "methods": ["text", "pose", "ip_adapter", "depth+ip_adapter"],
        "control": {"controlnet_conditioning_scale": 0.0},
        "ip_adapter": {"scale": 0.0},
    }
    outputs = [pixels(e.result.image) for e in studio.compare(request, photo, reference, capture("all"))]
    assert all(np.array_equal(outputs[0], o) for o in outputs[1:])
    assert "all" in seen


def test_results_stream_one_by_one_with_progress(studio, photo):
    request = {**SHARED, "methods": ["text", "canny"]}
    reports = []
    stream = studio.compare(request, photo, progress=lambda f, label: reports.append((f, label)))
    first = next(stream)
    assert first.method.name == "text" and first.result is not None
    assert all(f <= 0.5 for f, _ in reports)  # the second method has not started yet
    rest = list(stream)
    assert [e.method.name for e in rest] == ["canny"]
    assert reports[-1][0] == pytest.approx(1.0)
    assert any("Canny" in label for _, label in reports)


def test_a_method_without_its_image_is_left_out_saying_why_and_the_others_run(studio, photo):
    for mode in ("exact", "batched"):
        entries = list(studio.compare({**SHARED, "batching": mode, "methods": ["text", "canny", "ip_adapter"]}))
        assert [e.method.name for e in entries] == ["text", "canny", "ip_adapter"]
        assert entries[0].result is not None and entries[0].error is None
        assert entries[1].result is None and re.match(r"Left out: Canny.* needs a structure photo", entries[1].error)
        assert entries[2].result is None and "IP-Adapter needs a reference image, received none" in entries[2].error
        assert not entries[1].retry and not entries[2].retry  # the input decides: a rerun fails the same way
    alone = list(studio.compare({**SHARED, "methods": ["ip_adapter"]}, photo))
    assert alone[0].result is None and alone[0].error.startswith("Left out")


def test_bad_requests_are_refused(studio, photo):
    with pytest.raises(StudioError, match="each method may appear once"):
        parse_compare_request({"methods": ["depth", "depth:depth_anything"]})
    with pytest.raises(StudioError, match="width"):
        list(studio.compare({**SHARED, "width": 100, "methods": ["text"]}))


def test_a_method_that_cannot_run_reports_why_and_the_others_still_run(tiny_settings, tiny_root, photo, tmp_path):
    spec = tiny_spec(tiny_root)
    broken = Studio(tiny_settings, replace(spec, controlnets={**spec.controlnets, "pose": str(tmp_path / "gone")}))
    entries = list(broken.compare({**SHARED, "methods": ["text", "pose", "canny"]}, photo))
    by_name = {e.method.name: e for e in entries}
    assert by_name["pose"].result is None
    assert "pose ControlNet" in by_name["pose"].error
    assert by_name["pose"].maps[0].detector == "vitpose"  # the map was made; the model failed
    assert by_name["text"].result is not None and by_name["canny"].result is not None


def test_cancel_stops_a_comparison(studio, photo):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        list(studio.compare({**SHARED, "methods": ["text", "canny"]}, photo, cancel=cancel))
    assert studio.generate(SHARED).image.size == (64, 64)


def test_scorecard_scores_every_result_on_every_applicable_fit(studio, photo, reference):
    request = {**SHARED, "methods": ["text", "canny", "depth", "ip_adapter"]}
    entries = list(studio.compare(request, photo, reference))
    card = studio.score(entries, request, reference)
    matrix = card.matrix
    assert matrix.methods == ["text", "canny", "depth", "ip_adapter"]
    columns = {c.name for c in matrix.columns}
    assert {"prompt", "edges", "depth", "reference", "seconds", "peak_memory", "model_memory"} <= columns
    assert matrix.value("canny", "model_memory") > matrix.value("text", "model_memory")
    for method in matrix.methods:  # text-only's structure scores are the baseline
        for name in ("prompt", "edges", "depth", "reference"):
            assert matrix.value(method, name) is not None, (method, name)
    assert card.verdict.text


def test_sweep_two_by_three_grid_has_labelled_cells_in_order(studio, photo):
    sweep = {
        "base": {**SHARED, "methods": ["depth"]},
        "x": {"name": "controlnet_conditioning_scale", "values": [0.0, 0.5, 1.0]},
        "y": {"name": "method", "values": ["depth", "canny"]},
    }
    result = studio.sweep(sweep, photo)
    assert [(c.y, c.x) for c in result.cells] == [
        ("depth", 0.0), ("depth", 0.5), ("depth", 1.0), ("canny", 0.0), ("canny", 0.5), ("canny", 1.0)
    ]  # fmt: skip
    assert all(c.entry.result is not None for c in result.cells)
    assert result.cells[0].label == "Depth (depth_anything) · ControlNet strength 0"
    assert result.cells[5].entry.method.name == "canny"
    assert result.cells[5].entry.result.settings["controls"][0]["controlnet_conditioning_scale"] == 1.0
    # Grid: 3 columns and 2 rows of 64 px cells, plus label margins.
    width, height = result.grid.size
    assert width > 3 * 64 and (height - 2 * 64) > 0
    # Each cell image sits in the grid where its row and column say.
    left, top = width - 3 * 64, height - 2 * 64
    grid = pixels(result.grid)
    for index, cell in enumerate(result.cells):
        row, column = divmod(index, 3)
        tile = grid[top + row * 64 : top + (row + 1) * 64, left + column * 64 : left + (column + 1) * 64]
        assert np.array_equal(tile, pixels(cell.entry.result.image)), cell.label
    assert len(result.scorecard.matrix.methods) == 6
    plotted = result.plot_rows()
    assert {r["x"] for r in plotted} == {"0", "0.5", "1"}  # plot ticks are the values; the axis title names them


def test_sweep_with_method_detector_pairs_and_seed_axis(studio, photo):
    result = studio.sweep(
        {"base": {**SHARED}, "x": {"name": "method", "values": ["depth", "depth:midas"]}, "y": None}, photo
    )
    assert [c.entry.maps[0].detector for c in result.cells] == ["depth_anything", "midas"]
    seeds = studio.sweep({"base": {**SHARED, "methods": ["text"]}, "x": {"name": "seed", "values": [1, 2]}})
    assert [c.entry.result.seeds for c in seeds.cells] == [[1], [2]]


@pytest.mark.parametrize(
    ("axis", "values", "message"),
    [
        ("controlnet_conditioning_scale", [0.5, 2.5], "controlnet_conditioning_scale value 2.5"),
        ("control_guidance_end", [-0.1], "control_guidance_end value -0.1"),
        ("ip_adapter_scale", [float("nan")], "finite"),
        ("num_inference_steps", [0], "num_inference_steps value 0"),
        ("seed", [-5], "seed value -5"),
        ("guidance_scale", [99], "guidance_scale value 99"),
        ("method", ["depth:canny"], "does not make depth maps"),
        ("sampler", [1], "x.name"),
    ],
)
def test_sweep_values_outside_bounds_are_refused_before_running(studio, axis, values, message):
    with pytest.raises(StudioError, match=message):
        studio.sweep({"base": {**SHARED, "methods": ["depth"]}, "x": {"name": axis, "values": values}})


def test_sweep_size_and_axes_are_capped(studio):
    with pytest.raises(StudioError, match="at most 16 cells"):
        studio.sweep(
            {
                "base": SHARED,
                "x": {"name": "seed", "values": list(range(8))},
                "y": {"name": "num_inference_steps", "values": [1, 2, 3]},
            }
        )
    with pytest.raises(StudioError, match="different settings"):
        studio.sweep({"base": SHARED, "x": {"name": "seed", "values": [1]}, "y": {"name": "seed", "values": [2]}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detectors": {"depth": "canny"}}, "does not make depth maps"),
        ({"detectors": {"pose": "../../etc/passwd"}}, "does not make pose maps"),
        ({"detector_params": {"canny": {"low_threshold": -5}}}, "low_threshold"),
        ({"detector_params": {"sketcher": {}}}, "not a detector"),
        ({"ip_adapter": {"scale": 0.5, "image": "x.png"}}, "image"),
    ],
)
def test_compare_request_checks_detectors_and_their_parameters(change, message):
    with pytest.raises(StudioError, match=message):
        parse_compare_request({**SHARED, **change})
