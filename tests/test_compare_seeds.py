"""A comparison on several seeds: methods × seeds, exact and batched, each image restorable from its own recipe."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import StudioError
from app.recipes import decode_share, encode_share, recipe_from_compare, run_recipe
from app.request.compare import parse_compare_request
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BOUND = {"float32": 2, "bfloat16": 4, "float16": 4}[TEST_DTYPE]
SHARED = {"prompt": "an astronaut waving", "seed": 21, "num_inference_steps": 2, "width": 64, "height": 64}
METHODS = ["text", "canny", "pose", "depth", "ip_adapter"]


def largest_difference(first, second) -> int:
    return int(np.abs(pixels(first).astype(int) - pixels(second).astype(int)).max())


def test_three_seeds_by_five_methods_batched_match_exact_and_each_seed_is_its_solo_run(studio, photo, reference):
    request = {**SHARED, "methods": METHODS, "seed_count": 3}
    exact = {e.method.name: e.result for e in studio.compare({**request, "batching": "exact"}, photo, reference)}
    batched = {e.method.name: e.result for e in studio.compare({**request, "batching": "batched"}, photo, reference)}
    for method in METHODS:
        assert exact[method].seeds == batched[method].seeds == [21, 22, 23], method
        for one, other in zip(exact[method].images, batched[method].images, strict=True):
            assert largest_difference(one, other) <= BOUND, method
    solo = studio.generate({**SHARED, "seed": 23})
    assert np.array_equal(pixels(solo.image), pixels(exact["text"].images[2]))  # exact: seed+2 is that seed's run
    assert batched["text"].seconds < batched["canny"].seconds  # its own cost, not an equal share


def test_the_scores_keep_each_seed_and_the_verdict_says_how_sure_it_is(studio, photo):
    from app.fit.decision import how_sure

    request = {**SHARED, "methods": ["text", "canny", "depth"], "seed_count": 3}
    entries = list(studio.compare(request, photo))
    card = studio.score(entries, request)
    assert card.matrix.seeds == 3 and len(card.matrix.sample("canny", "edges")) == 3
    mean, half, n = card.matrix.interval("canny", "edges")
    assert n == 3 and half >= 0 and abs(mean - card.matrix.value("canny", "edges")) < 1e-9
    assert " ± " in card.matrix.to_rows()[1][2]  # the table shows each mean with its interval
    assert "one seed" in how_sure(1) and "same 3 seeds" in how_sure(3)


def test_each_seeds_recipe_restores_exactly_its_image(studio, photo):
    from app.ui.compare_tab import Grid

    request = parse_compare_request({**SHARED, "methods": ["text", "canny"], "seed_count": 2}).model_dump()
    entries = list(studio.compare(request, photo))
    recipe = recipe_from_compare(request, structure="astronaut.png")
    grid = Grid(request["methods"], 64, 64, None, recipe, parse_compare_request(request).seeds)
    for index, entry in enumerate(entries):
        grid.add(index, entry, request)
    second = grid._recipe_on(22)
    assert second.compare.seed == 22 and second.compare.seed_count == 1
    again = {e.method.name: e.result for e in run_recipe(decode_share(encode_share(second)), studio)}
    assert np.array_equal(pixels(again["canny"].image), pixels(entries[1].result.images[1]))
    assert len(grid.update()) == 2 * 2 + 2  # two rows of results (one per seed), then what drove each method


def test_confirming_with_more_seeds_reuses_the_maps(studio, photo, monkeypatch):
    request = {**SHARED, "methods": ["text", "canny", "depth"]}
    list(studio.compare(request, photo))
    calls = []
    for name in ("canny", "depth_anything"):
        detector = studio.maps.detector(name)
        monkeypatch.setattr(detector, "analyse", lambda *a, **k: calls.append(a) or pytest.fail("a map was remade"))
    entries = list(studio.compare({**request, "seed_count": 4}, photo))
    assert not calls and all(len(e.result.images) == 4 for e in entries)


def test_the_seed_count_is_bounded_and_travels_in_recipes():
    for bad, message in ((0, "seed_count"), (9, "seed_count"), (2.5, "seed_count")):
        with pytest.raises(StudioError, match=message):
            parse_compare_request({**SHARED, "methods": ["text"], "seed_count": bad})
    with pytest.raises(StudioError, match="largest seed"):
        parse_compare_request({**SHARED, "seed": 2**53 - 2, "methods": ["text"], "seed_count": 4})
    recipe = recipe_from_compare(parse_compare_request({**SHARED, "methods": ["text"], "seed_count": 5}).model_dump())
    assert decode_share(encode_share(recipe)).compare.seed_count == 5


def test_a_studio_caps_the_seeds_per_method(tiny_settings, tiny_root):
    from dataclasses import replace

    from app.engine.models import tiny_spec
    from app.studio import Studio

    capped = Studio(replace(tiny_settings, max_seeds=2), tiny_spec(tiny_root))
    with pytest.raises(StudioError, match="at most 2"):
        list(capped.compare({**SHARED, "methods": ["text"], "seed_count": 3}))
