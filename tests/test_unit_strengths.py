"""Each ControlNet its own strength: a combined method's units set per control type (``unit_controls``), in exact
and batched comparisons, in recipes, in the page's table and as two sweep axes set against each other."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.models import tiny_sdxl_spec
from app.errors import StudioError
from app.recipes import recipe_from_compare
from app.recipes.convert import generation_from_compare
from app.request.compare import parse_compare_request
from app.request.sweep import cell_requests, parse_sweep
from app.studio import Studio
from app.ui.controls import read_unit_rows, unit_rows
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

SHARED = {"prompt": "an astronaut waving", "seed": 3, "num_inference_steps": 2, "width": 64, "height": 64}
BOUND = {"float32": 2, "bfloat16": 4, "float16": 4}[TEST_DTYPE]  # batched vs exact, as tests/test_batched.py
SLIDERS = {"controlnet_conditioning_scale": 0.8, "control_guidance_start": 0.0, "control_guidance_end": 0.9}


def gap(first, second) -> int:
    return int(np.abs(pixels(first).astype(int) - pixels(second).astype(int)).max())


def test_a_type_without_its_own_settings_takes_the_shared_ones():
    request = parse_compare_request(
        {
            "methods": ["canny+depth"],
            "control": SLIDERS,
            "unit_controls": {"depth": {"controlnet_conditioning_scale": 0.3}},
        }
    )
    assert request.control_for("canny").controlnet_conditioning_scale == 0.8
    assert request.control_for("depth").controlnet_conditioning_scale == 0.3
    assert request.control_for("depth").control_guidance_end == 1.0  # its own window, whole by default


@pytest.mark.parametrize(
    ("units", "said"),
    [
        ({"sketch": {}}, "unit_controls"),
        ({"depth": {"controlnet_conditioning_scale": 5}}, "less than or equal to 2"),
        ({"depth": {"control_guidance_start": 0.9, "control_guidance_end": 0.2}}, "must be below"),
        ({"depth": {"strength": 1}}, "strength"),
    ],
)
def test_bad_per_type_settings_are_refused_by_name(units, said):
    with pytest.raises(StudioError, match=said):
        parse_compare_request({"methods": ["canny+depth"], "unit_controls": units})


def test_one_unit_at_zero_equals_the_method_without_it_exact_and_batched(studio, photo):
    """The fairness invariant per unit: canny+depth with depth at 0 is canny alone, in both modes; and a batched
    pass gives each type its own strength (canny+depth at 1.0/0.5 within the bound of its exact run)."""
    for units, same in (({"depth": {"controlnet_conditioning_scale": 0.0}}, "canny"), ({}, None)):
        request = {**SHARED, "methods": ["text", "canny", "canny+depth"], "unit_controls": units}
        exact = {e.method.name: e.result for e in studio.compare({**request, "batching": "exact"}, photo)}
        batched = {e.method.name: e.result for e in studio.compare({**request, "batching": "batched"}, photo)}
        if same:
            assert np.array_equal(pixels(exact["canny+depth"]), pixels(exact[same]))
            assert gap(batched["canny+depth"], exact[same]) <= BOUND
        else:
            assert gap(exact["canny+depth"], exact["canny"]) > 3 * BOUND  # depth at its strength does steer
        assert all(gap(batched[m], exact[m]) <= BOUND for m in exact)
    half = {"depth": {"controlnet_conditioning_scale": 0.5}}
    request = {**SHARED, "methods": ["canny", "canny+depth"], "unit_controls": half}
    exact = {e.method.name: e.result for e in studio.compare({**request, "batching": "exact"}, photo)}
    batched = {e.method.name: e.result for e in studio.compare({**request, "batching": "batched"}, photo)}
    assert all(gap(batched[m], exact[m]) <= BOUND for m in exact)
    assert [c["controlnet_conditioning_scale"] for c in exact["canny+depth"].settings["controls"]] == [1.0, 0.5]


def test_a_tile_recipe_carries_each_units_own_strength():
    units = {"depth": {"controlnet_conditioning_scale": 0.4, "control_guidance_end": 0.6}}
    recipe = recipe_from_compare({**SHARED, "methods": ["canny+depth"], "control": SLIDERS, "unit_controls": units})
    assert recipe.compare.unit_controls["depth"].controlnet_conditioning_scale == 0.4
    generation = generation_from_compare(recipe.compare, "canny+depth")
    strengths = {c.control_type: (c.controlnet_conditioning_scale, c.control_guidance_end) for c in generation.controls}
    assert strengths == {"canny": (0.8, 0.9), "depth": (0.4, 0.6)}


def test_two_units_strengths_sweep_against_each_other():
    sweep = parse_sweep(
        {
            "base": {**SHARED, "methods": ["canny+depth"]},
            "x": {"name": "canny_strength", "values": [0, 1]},
            "y": {"name": "depth_strength", "values": [0.5, 1.5]},
        }
    )
    cells = cell_requests(sweep)
    assert [(c.control_for("canny").controlnet_conditioning_scale, c.control_for("depth").controlnet_conditioning_scale)
            for _, _, c in cells] == [(0, 0.5), (1, 0.5), (0, 1.5), (1, 1.5)]  # fmt: skip
    assert sweep.x.label(0.5) == "Canny strength 0.5"
    with pytest.raises(StudioError, match="'depth' has no canny control"):
        parse_sweep({"base": {"methods": ["depth"]}, "x": {"name": "canny_strength", "values": [0, 1]}})


def test_a_fused_union_method_gives_each_mode_its_own_strength_and_drops_a_unit_at_zero(
    tiny_settings, tiny_root, photo
):
    """SDXL's union network fuses pose and normal in one call and weighs each mode's condition by that unit's
    strength; a unit at 0 is not run, so the method equals the one without it, and all at 0 equal text-only."""
    sdxl = Studio(tiny_settings, tiny_sdxl_spec(tiny_root))
    base = {**SHARED, "family": "sdxl", "methods": ["text", "pose", "pose+normal"], "batching": "exact"}

    def images(units):
        return {e.method.name: e.result for e in sdxl.compare({**base, "unit_controls": units}, photo)}

    both = images({"normal": {"controlnet_conditioning_scale": 0.5}})
    assert [c["controlnet_conditioning_scale"] for c in both["pose+normal"].settings["controls"]] == [1.0, 0.5]
    assert gap(both["pose+normal"], images({})["pose+normal"]) > 0  # the weight reaches the network
    dropped = images({"normal": {"controlnet_conditioning_scale": 0.0}})
    assert np.array_equal(pixels(dropped["pose+normal"]), pixels(dropped["pose"]))
    off = images({t: {"controlnet_conditioning_scale": 0.0} for t in ("pose", "normal")})
    assert np.array_equal(pixels(off["pose+normal"]), pixels(off["text"]))


def test_the_pages_table_reads_blanks_as_the_sliders_and_refuses_what_it_cannot_read():
    rows = unit_rows({})
    assert [r[0] for r in rows][:3] == ["canny", "pose", "depth"] and all(r[1:] == ["", "", ""] for r in rows)
    rows[2][1] = "0.5"
    assert read_unit_rows(rows, SLIDERS) == {"depth": {**SLIDERS, "controlnet_conditioning_scale": 0.5}}
    request = parse_compare_request({"methods": ["canny+depth"], "unit_controls": read_unit_rows(rows, SLIDERS)})
    assert unit_rows(request.unit_controls)[2] == ["depth", "0.5", "0", "0.9"]
    with pytest.raises(StudioError, match=r"Input should be a valid number.*'lots'"):
        rows[2][1] = "lots"
        parse_compare_request({"methods": ["depth"], "unit_controls": read_unit_rows(rows, SLIDERS)})
    for bad, said in (([["depth", "1", "", ""]] * 2, "given twice"), ([["depth"]], "a row must be"), ("x", "rows of")):
        with pytest.raises(StudioError, match=said):
            read_unit_rows(bad, SLIDERS)
    with pytest.raises(StudioError, match="received"):
        read_unit_rows([["canny", "", "", ""]] * 1000, SLIDERS)
