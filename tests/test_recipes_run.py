"""Recipes on the tiny family: restored recipes regenerate identical pixels; every preset runs.

Presets run with their own detectors, parameters, photos, methods, strengths and
scheduler, but with 2 steps and a long side of 64 px: the tiny family's images are
noise at any size, so full size and 25 steps would only add minutes without
testing anything more (their size and steps are validated by the schema and the
studio's caps in test_recipes.py and below).
"""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import StudioError
from app.recipes import (
    Recipe,
    decode_share,
    encode_share,
    load_presets,
    parse_recipe,
    png_with_recipe,
    recipe_from_compare,
    recipe_from_generation,
    recipe_from_png,
    recipe_to_dict,
    recipe_to_request,
    run_recipe,
)
from app.request import GenerationRequest
from tests.conftest import pixels

SMALL = {"num_inference_steps": 2, "width": 64, "height": 64}


def shrink(recipe: Recipe) -> Recipe:
    """The same recipe with 2 steps and a 64 px long side (aspect kept), validated again."""
    document = recipe_to_dict(recipe)
    settings = document[recipe.mode]
    scale = 64 / max(settings["width"], settings["height"])  # a 64 px long side, multiples of 8, at least 64
    width, height = (max(64, round(side * scale / 8) * 8) for side in (settings["width"], settings["height"]))
    settings.update(num_inference_steps=2, width=width, height=height)
    return parse_recipe(document)


def test_generation_restored_from_png_regenerates_identical_pixels(studio):
    recipe = recipe_from_generation(
        {
            **SMALL,
            "prompt": "a red bicycle",
            "seed": 11,
            "controls": [{"control_type": "canny"}, {"control_type": "depth"}],
            "ip_adapter": {"scale": 0.7, "mode": "style"},
            "num_images_per_prompt": 2,
        },
        detector_params={"canny": {"low_threshold": 40, "high_threshold": 120}},
        structure="coffee.png",
        reference="chelsea.png",
    )
    first = run_recipe(recipe, studio)
    restored, _ = recipe_from_png(png_with_recipe(first.images[1], recipe, seed=first.seeds[1]))
    again = run_recipe(restored, studio)
    assert restored == recipe
    for a, b in zip(first.images, again.images, strict=True):
        assert np.array_equal(pixels(a), pixels(b))
    assert again.method == "canny+depth+ip_adapter" and again.seeds == [11, 12]


def test_recipe_captured_from_a_request_reproduces_that_request(studio):
    # What the UI does: it ran a request with maps it made, then saves the recipe of it.
    photo = studio.control_map(_asset("rocket.jpg"), "depth_anything", 64, 64).map
    request = GenerationRequest(
        **SMALL, prompt="a lighthouse", seed=3, controls=[{"control_type": "depth", "image": photo}]
    )
    original = studio.generate(request)
    recipe = recipe_from_generation(request, detectors={"depth": "depth_anything"}, structure=_asset("rocket.jpg"))
    assert recipe.images.structure == "rocket.jpg"  # recognised by its pixels
    again = studio.generate(recipe_to_request(decode_share(encode_share(recipe)), studio))
    assert np.array_equal(pixels(original.image), pixels(again.image))


def test_comparison_restored_from_share_link_regenerates_identical_pixels(studio):
    recipe = recipe_from_compare(
        {**SMALL, "prompt": "a lighthouse", "seed": 4, "methods": ["text", "canny", "depth+ip_adapter"]},
        structure="coffee.png",
        reference="chelsea.png",
    )
    first = list(run_recipe(recipe, studio))
    again = list(run_recipe(decode_share(encode_share(recipe)), studio))
    assert [e.method.name for e in again] == ["text", "canny", "depth+ip_adapter"]
    for a, b in zip(first, again, strict=True):
        assert a.error is None and b.error is None
        assert np.array_equal(pixels(a.result.image), pixels(b.result.image))


def test_user_supplied_images_replace_and_complete_the_recipe(studio, noise_map):
    recipe = recipe_from_generation({**SMALL, "prompt": "x", "controls": [{"control_type": "canny"}]})
    with pytest.raises(StudioError, match="needs a structure photo"):
        run_recipe(recipe, studio)
    result = run_recipe(recipe, studio, structure_image=noise_map)
    assert result.image.size == (64, 64)


def test_studio_caps_still_apply_to_recipes(studio):
    recipe = Recipe(mode="generate", generate={"prompt": "x", "width": 2048, "height": 64, "num_inference_steps": 2})
    with pytest.raises(StudioError, match="this studio allows at most"):
        run_recipe(recipe, studio)


@pytest.mark.parametrize("name", list(load_presets()))
def test_every_preset_runs_on_the_tiny_family(studio, name):
    recipe = shrink(load_presets()[name])
    outcome = run_recipe(recipe, studio)
    if recipe.mode == "generate":
        settings = recipe.generate
        types = [c.control_type for c in settings.controls] + ["ip_adapter"] * (settings.ip_adapter is not None)
        assert outcome.method == ("+".join(types) or "text")
        assert outcome.image.size == (recipe.generate.width, recipe.generate.height)
    else:
        entries = list(outcome)
        assert [e.method.name for e in entries] == [m.name for m in recipe.compare.parsed_methods()]
        assert all(e.error is None for e in entries), [e.error for e in entries]


def test_documents_that_are_not_recipes_are_refused_before_the_studio(studio):
    for document in ('{"mode": "generate", "generate": {"guidance_scale": NaN}}', "[" * 100_000, "{" * 10):
        with pytest.raises(StudioError, match="Invalid recipe"):
            parse_recipe(document)


HOSTILE = [  # valid recipes, each asking the studio for more than it serves or for an image it was not given
    ({"mode": "generate", "generate": {"prompt": "big", "width": 2048, "height": 2048}}, "at most 1024 pixels"),
    ({"mode": "generate", "generate": {"prompt": "long", "num_inference_steps": 150}}, "at most 100"),
    ({"mode": "generate", "generate": {"prompt": "many", "num_images_per_prompt": 8}}, "at most 4"),
    (
        {"mode": "generate", "generate": {"prompt": "no map", "controls": [{"control_type": "depth"}]}},
        r"(?i)photo|image",
    ),
]


@pytest.mark.parametrize(("document", "message"), HOSTILE)
def test_valid_recipes_asking_too_much_reach_the_studio_which_refuses_them_and_keeps_serving(studio, document, message):
    import json

    before = run_recipe(Recipe(mode="generate", generate={**SMALL, "prompt": "ok"}), studio).image
    recipe = parse_recipe(json.dumps(document))  # the document itself is a valid recipe...
    with pytest.raises(StudioError, match=message):  # ...that the studio refuses, with what it allows
        run_recipe(recipe, studio)
    after = run_recipe(Recipe(mode="generate", generate={**SMALL, "prompt": "ok"}), studio).image
    assert np.array_equal(pixels(before), pixels(after))


def test_a_comparison_recipe_without_its_photo_runs_what_it_can_and_says_why_not_the_rest(studio):
    recipe = Recipe(mode="compare", compare={**SMALL, "prompt": "edges", "methods": ["text", "canny"]})
    text, canny = run_recipe(recipe, studio)
    assert text.result is not None and canny.result is None and "needs a structure photo" in canny.error


def _asset(name):
    from app.recipes import load_asset

    return load_asset(name)
