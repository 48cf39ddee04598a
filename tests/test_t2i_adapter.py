"""T2I-Adapter as a second way to apply a map: ``canny@t2i`` beside ``canny`` on the same map and seed, on the tiny
SDXL twin (TencentARC's ``full_adapter_xl`` layout, loaded by diffusers' own ``T2IAdapter.from_pretrained``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.controls import method_label
from app.engine.models import tiny_sdxl_spec
from app.errors import StudioError
from app.fit.decision import own_fits
from app.recipes import recipe_from_compare
from app.recipes.a1111 import format_parameters, read_parameters
from app.recipes.convert import generation_from_compare, recipe_from_generation
from app.recipes.reading import settle
from app.request.compare import parse_method
from app.studio import Studio
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {"family": "sdxl", "prompt": "a lighthouse at dusk", "seed": 5, "num_inference_steps": 2, "width": 64,
        "height": 64}  # fmt: skip
BOUND = {"float32": 2, "bfloat16": 4, "float16": 4}[TEST_DTYPE]  # batched vs exact, as tests/test_batched.py


@pytest.fixture(scope="module")
def sdxl(tiny_settings, tiny_root) -> Studio:
    return Studio(tiny_settings, tiny_sdxl_spec(tiny_root))


def gap(first, second) -> int:
    return int(np.abs(pixels(first).astype(int) - pixels(second).astype(int)).max())


def test_method_strings_mark_the_adapter_and_name_it():
    method = parse_method("depth:midas@t2i+ip_adapter")
    assert method.controls == (("depth", "midas"),) and method.adapters == ("depth",) and method.ip_adapter
    assert method.name == "depth:midas@t2i+ip_adapter"
    assert method.label == "Depth (midas, T2I-Adapter) + IP-Adapter"
    assert method_label("canny@t2i") == "Canny (T2I-Adapter)"
    assert parse_method("canny@t2i").name != parse_method("canny").name


def test_controlnet_and_t2i_adapter_on_one_map_and_seed(sdxl, photo, reference):
    """Each steers (differs from text-only), the adapter's entry is its solo run, at strength 0 it is text-only, it
    runs with a second adapter and with the IP-Adapter, and its cost counts the adapter's weights."""
    methods = ["text", "canny", "canny@t2i", "canny@t2i+depth@t2i", "canny@t2i+ip_adapter"]
    entries = {e.method.name: e for e in sdxl.compare({**BASE, "methods": methods}, photo, reference)}
    assert {name: e.error for name, e in entries.items()} == dict.fromkeys(methods)
    text, adapter = entries["text"].result, entries["canny@t2i"].result
    assert gap(adapter, text) > 3 * BOUND and gap(adapter, entries["canny"].result) > 3 * BOUND
    assert gap(entries["canny@t2i+depth@t2i"].result, adapter) > 3 * BOUND
    assert gap(entries["canny@t2i+ip_adapter"].result, adapter) > 3 * BOUND
    assert adapter.model_bytes > text.model_bytes and adapter.method == "canny@t2i"
    solo = sdxl.generate(
        {**BASE, "controls": [{"control_type": "canny", "adapter": True, "image": entries["canny@t2i"].maps[0].map}]}
    )
    assert np.array_equal(pixels(solo), pixels(adapter))
    zero = {**BASE, "methods": ["text", "canny@t2i"], "control": {"controlnet_conditioning_scale": 0.0}}
    at_zero = [e.result for e in sdxl.compare(zero, photo)]
    assert np.array_equal(pixels(at_zero[0]), pixels(at_zero[1]))


def test_a_batched_comparison_runs_the_adapter_on_its_own_and_scores_it_by_its_types_fit(sdxl, photo):
    request = {**BASE, "methods": ["text", "canny", "canny@t2i"]}
    exact = {e.method.name: e.result for e in sdxl.compare({**request, "batching": "exact"}, photo)}
    entries = list(sdxl.compare({**request, "batching": "batched"}, photo))
    batched = {e.method.name: e.result for e in entries}
    assert np.array_equal(pixels(batched["canny@t2i"]), pixels(exact["canny@t2i"]))
    assert any("T2I-Adapter pipeline" in note for note in batched["canny@t2i"].notes)
    assert gap(batched["canny"], exact["canny"]) <= BOUND
    card = sdxl.score(entries, request)
    assert card.matrix.value("canny@t2i", "edges") is not None
    assert own_fits("canny@t2i") == own_fits("canny") == ["edges"]  # the verdict judges it by its type's fit


@pytest.mark.parametrize(
    ("family", "methods", "said"),
    [
        ("sd15", ["canny@t2i"], r"Stable Diffusion 1\.5: none is offered.*pickled \.bin"),
        ("sdxl", ["seg@t2i"], "no SDXL T2I-Adapter for seg; there is one for canny, depth, lineart, pose, scribble"),
        ("sdxl", ["canny@t2i+depth"], "a T2I-Adapter and a ControlNet cannot steer one generation"),
    ],
)
def test_what_an_adapter_cannot_do_is_its_methods_reason_and_the_others_run(studio, sdxl, photo, family, methods, said):
    request = {**BASE, "family": family, "methods": ["text", *methods]}
    entries = list((sdxl if family == "sdxl" else studio).compare(request, photo))
    assert entries[0].error is None and entries[0].result is not None
    assert re.search(said, entries[1].error, re.IGNORECASE), entries[1].error


def test_an_adapter_window_and_size_are_checked_by_name(sdxl, noise_map):
    control = {"control_type": "canny", "adapter": True, "image": noise_map}
    with pytest.raises(StudioError, match="applies from the first step"):
        sdxl.generate({**BASE, "controls": [{**control, "control_guidance_start": 0.2}]})
    with pytest.raises(StudioError, match=r"multiples of 32 .* received 72×64"):
        sdxl.generate({**BASE, "width": 72, "controls": [control]})


def test_an_adapter_tiles_recipe_restores_the_adapter():
    recipe = recipe_from_compare({**BASE, "methods": ["text", "canny@t2i"]})
    generation = generation_from_compare(recipe.compare, "canny@t2i")
    assert [c.adapter for c in generation.controls] == [True] and generation.method == "canny@t2i"


def test_an_adapter_recipe_survives_as_a1111_text_when_its_recipe_chunk_is_stripped():
    recipe = recipe_from_generation({**BASE, "width": 1024, "height": 1024, "controls": [
        {"control_type": "canny", "adapter": True, "controlnet_conditioning_scale": 0.7}]})  # fmt: skip
    text = format_parameters(recipe)
    assert "T2I-Adapter canny: canny weight 0.7 from 0 to 1" in text
    restored, notes = settle(read_parameters(text))
    assert [(c["control_type"], c.get("adapter")) for c in restored["controls"]] == [("canny", True)], notes
