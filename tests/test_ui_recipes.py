"""Recipes in the studio: every downloaded PNG carries its recipe, and the panel moves recipes in and out of the tabs.

API tests generate on each tab through gradio_client, download the image, read
its recipe back and regenerate from it on the same studio: same pixels. Handler
tests apply every shipped preset through the panel's own event functions and
capture it again. Browser tests (Chromium via Playwright) cover presets, save,
share link and restore from a PNG as a person would use them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gradio as gr
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from app.preprocess import REGISTRY
from app.recipes import Recipe, decode_share, encode_share, load_presets, recipe_from_png, run_recipe
from app.recipes.png import PARAMETERS_KEY, read_text_chunks
from tests.ui_fixtures import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHOTO,
    REFERENCE,
    TIMEOUT_MS,
    set_number,
    set_run_size,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip
    expect = None

SMALL = {"width": 64, "height": 64, "num_inference_steps": 2}


def restored(path: str) -> Recipe:
    """The recipe in a downloaded PNG (through the same reader the "restore from image" input uses)."""
    recipe, message = recipe_from_png(path)
    assert "Restored the recipe saved in this image" in message
    return recipe


def parameters(path: str) -> str:
    """The A1111 ``parameters`` line of a downloaded PNG."""
    return read_text_chunks(Path(path).read_bytes())[PARAMETERS_KEY]


def same_pixels(path: str, image: Image.Image) -> bool:
    return np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(image.convert("RGB")))


# -- every tab's downloads carry the recipe; the recipe regenerates the same pixels -----------------


def test_text_tab_pngs_carry_the_recipe_and_regenerate_identically(client, studio):
    gallery, _info = client.predict(
        prompt="a cat", negative_prompt="blurry", seed=7, guidance_scale=5.5, scheduler="euler_a",
        num_images_per_prompt=2, **SMALL, api_name="/text_to_image",
    )  # fmt: skip
    recipe = restored(gallery[1]["image"])
    assert recipe.ui_tab == "text" and recipe.generate.controls == [] and recipe.generate.ip_adapter is None
    asked = {"prompt": "a cat", "negative_prompt": "blurry", "seed": 7, "guidance_scale": 5.5}
    asked |= {"scheduler": "euler_a", "num_images_per_prompt": 2, **SMALL}
    assert recipe.generate.model_dump(include=set(asked)) == asked
    assert "Seed: 8" in parameters(gallery[1]["image"])  # the A1111 line names the image's own seed
    again = run_recipe(recipe, studio)
    assert all(same_pixels(item["image"], image) for item, image in zip(gallery, again.images, strict=True))


def test_controlnet_pngs_carry_both_controls_and_the_bundled_photo(client, studio):
    slider, gallery, info = client.predict(
        prompt="an astronaut", seed=3, photo=handle_file(PHOTO), control_type="canny", detector="canny",
        canny__low_threshold=50, strength=0.8, control_guidance_end=0.9, fit="pad", use_second=True,
        second_control_type="depth", second_detector="depth_anything", second_strength=0.6, **SMALL,
        api_name="/controlnet",
    )  # fmt: skip
    assert "records one structure photo" not in info
    recipe = restored(gallery[2]["image"])
    assert all(restored(path) == recipe for path in slider)  # the map ↔ result slider downloads carry it too
    assert restored(gallery[0]["image"]) == recipe  # and so do the maps
    settings = recipe.generate
    assert recipe.ui_tab == "controlnet" and recipe.images.structure == "astronaut.png"
    assert settings.fit == "pad" and settings.seed == 3
    assert [(c.control_type, c.resolved_detector, c.controlnet_conditioning_scale) for c in settings.controls] == [
        ("canny", "canny", 0.8),
        ("depth", "depth_anything", 0.6),
    ]
    assert settings.controls[0].detector_params["low_threshold"] == 50
    assert {c.control_guidance_end for c in settings.controls} == {0.9}
    assert same_pixels(gallery[2]["image"], run_recipe(recipe, studio).image)
    maps = client.predict(photo=handle_file(PHOTO), seed=3, **SMALL, api_name="/preview_maps")
    assert restored(maps[0]["image"]).images.structure == "astronaut.png"  # previewed maps carry theirs too


def test_a_second_control_on_another_photo_says_the_recipe_cannot_hold_it(client):
    _slider, gallery, info = client.predict(
        photo=handle_file(PHOTO), use_second=True, second_photo=handle_file(REFERENCE), **SMALL,
        api_name="/controlnet",
    )  # fmt: skip
    assert "records one structure photo" in info
    assert restored(gallery[-1]["image"]).images.structure == "astronaut.png"


def test_ip_adapter_pngs_name_the_reference_and_the_structure_photo(client, studio):
    gallery, _info = client.predict(
        prompt="a cup", seed=5, reference=handle_file(REFERENCE), scale=0.8, mode="style", use_control=True,
        photo=handle_file(PHOTO), control_control_type="depth", control_detector="depth_anything", **SMALL,
        api_name="/ip_adapter",
    )  # fmt: skip
    recipe = restored(gallery[-1]["image"])
    assert recipe.ui_tab == "ip_adapter"
    assert recipe.images.model_dump() == {"structure": "astronaut.png", "reference": "coffee.png"}
    assert recipe.generate.ip_adapter.model_dump() == {"scale": 0.8, "mode": "style"}
    assert [c.control_type for c in recipe.generate.controls] == ["depth"]
    assert same_pixels(gallery[-1]["image"], run_recipe(recipe, studio).image)


def test_compare_pngs_carry_the_comparison_and_name_their_method(client, studio):
    methods = ["text", "canny"]
    grid, _matrix, _advice = client.predict(
        prompt="an astronaut", seed=9, photo=handle_file(PHOTO), methods=methods, canny_detector="canny",
        canny__high_threshold=150, **SMALL, api_name="/compare",
    )  # fmt: skip
    recipe = restored(grid[1]["image"])
    assert recipe.mode == "compare" and recipe.compare.methods == methods
    assert recipe.images.structure == "astronaut.png" and recipe.images.reference is None
    assert recipe.compare.detector_params["canny"]["high_threshold"] == 150
    assert "Conditioning: canny" in parameters(grid[1]["image"])
    assert "Conditioning: text" in parameters(grid[0]["image"])
    entries = list(run_recipe(recipe, studio))
    assert same_pixels(grid[1]["image"], entries[1].result.image)


# -- the panel's handlers: every preset applied to its tab captures back to the same recipe ----------


def handler(demo, name: str):
    """The event function ``name`` of the recipes panel, with its input and output components."""
    return next(fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", None) == name)


def value_of(update: Any, current: Any) -> Any:
    """The value a component holds after ``update`` (a raw value, ``gr.update(...)`` or ``gr.skip()``)."""
    if isinstance(update, dict):
        return update.get("value", current) if update.get("__type__") == "update" else update
    return update


def canonical(recipe: Recipe) -> dict[str, Any]:
    """A recipe without its title and tab, every detector and parameter default written out."""

    def full(detector: str, params: dict[str, Any]) -> dict[str, Any]:
        return {**{s["name"]: s["default"] for s in REGISTRY[detector].param_specs()}, **params}

    document = recipe.model_dump(mode="json", exclude={"title", "description", "tab"})
    if recipe.mode == "generate":
        for control, model in zip(document["generate"]["controls"], recipe.generate.controls, strict=True):
            control["detector"] = model.resolved_detector
            control["detector_params"] = full(model.resolved_detector, control["detector_params"])
    else:
        params = document["compare"]["detector_params"]
        chosen = set(document["compare"]["detectors"].values()) | set(params)
        document["compare"]["detector_params"] = {
            d: full(d, params.get(d, {})) for d in chosen if REGISTRY[d].param_specs()
        }
    return document


@pytest.mark.parametrize("name", list(load_presets()))
def test_every_preset_applies_to_its_tab_and_captures_back(served_app, name):
    demo, preset = served_app.demo, load_presets()[name]
    pick, share = handler(demo, "on_pick"), handler(demo, "on_share")
    *updates, notice, _before, _undo = pick.fn(recipes__menu=f"preset:{name}", recipes__store={})
    notice = re.sub(r"\\(.)", r"\1", notice)  # the notice's Markdown escapes: a recipe's text is plain text
    assert notice.startswith(f"Loaded “{preset.title}”") and "needs" not in notice
    assert len(updates) == len(pick.outputs) - 3
    held = {c._id: value_of(u, getattr(c, "value", None)) for c, u in zip(pick.outputs, updates, strict=False)}
    assert updates[0]["selected"] == preset.ui_tab
    # "Make share link" on the page as the preset left it: the same recipe, bundled photos recognised.
    values = {n: held.get(c._id, c.value) for n, c in zip(share.input_parameter_names, share.inputs, strict=True)}
    token, _download, _notice = share.fn(**values)
    assert canonical(decode_share(token)) == canonical(preset)


def test_a_recipe_for_a_family_the_studio_does_not_serve_loads_on_its_default_and_says_so(tiny_settings, tiny_root):
    from app.engine.models import tiny_spec
    from app.studio import Studio
    from app.ui import build_app

    demo = build_app(studio=Studio(tiny_settings, tiny_spec(tiny_root)))  # SD1.5 only
    pick = handler(demo, "on_pick")
    *updates, notice, _before, _undo = pick.fn(recipes__menu="preset:sdxl-structure", recipes__store={})
    notice = re.sub(r"\\(.)", r"\1", notice)  # the notice's Markdown escapes
    assert "made on Stable Diffusion XL, which this studio does not serve" in notice
    family = next(u for c, u in zip(pick.outputs, updates, strict=False) if c is demo.shared.family)
    assert value_of(family, None) == "sd15" and demo.shared.family.visible is False  # one family: no selector


def test_presets_kept_in_the_browser_survive_a_server_restart(served_app):
    import gradio as gr

    from app.ui.recipes_panel import build_recipes_panel

    with gr.Blocks():  # what a restarted server builds: the store must decrypt what browsers already hold
        prompt = gr.Textbox()
        panel = build_recipes_panel(capture_inputs={"prompt": prompt}, capture=None, apply_outputs=[], apply=None)
    store = served_app.demo.recipes.store
    assert (panel.store.storage_key, panel.store.secret) == (store.storage_key, store.secret)


# -- in a browser: presets, save, share link, restore from a PNG -----------------------------------

in_browser = pytest.mark.skipif(
    expect is None or not CHROMIUM.exists(), reason="needs playwright and Debian's chromium at /usr/bin/chromium"
)


@pytest.fixture(scope="module")
def browser():
    """Chromium for this module; each test opens its own pages (a fresh context is a friend's browser)."""
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=30_000)  # a loaded two-core machine can take longer than the 5 s default
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser):
    """One person's browser profile: the presets they save stay in its local storage."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context, served_app):
    """A fresh page on the studio, with the recipes panel open; fails the test on any script error."""
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_studio(page, served_app.url)
    yield page
    page.close()
    assert not errors, f"errors in the page's scripts: {errors}"


def open_studio(page, url: str) -> None:
    """Open ``url`` and the recipes accordion, once the page has loaded its recipe and presets."""
    page.goto(url)
    page.wait_for_selector("#prompt textarea")
    page.get_by_text("Recipes: presets").click()
    page.wait_for_selector("#recipes-menu input")


def pick(page, label: str) -> None:
    """Choose ``label`` in the presets menu."""
    page.locator("#recipes-menu input").click()
    page.get_by_role("option", name=label).click()


def selected_tab(page) -> str:
    return page.locator("[role=tab][aria-selected=true]").inner_text().strip()


@pytest.mark.browser
@in_browser
def test_picking_a_shipped_preset_fills_the_controls(page):
    preset = load_presets()["depth-landscape"]
    pick(page, preset.title)
    expect(page.locator("#prompt textarea")).to_have_value(preset.generate.prompt)
    expect(page.locator("#seed input")).to_have_value(str(preset.generate.seed))
    expect(page.locator("#recipes-notice")).to_contain_text(f"Loaded “{preset.title}”")
    assert selected_tab(page) == "ControlNet"
    expect(page.locator("#cn-photo img")).to_have_count(1)  # the preset's bundled photo
    page.get_by_text("Sampling settings").click()
    expect(page.locator("#steps input[type=number]")).to_have_value(str(preset.generate.num_inference_steps))
    # The tab as the preset left it runs (its detector among the detector menu's choices, its photo served as is).
    set_run_size(page, 2, 64, 64)
    page.click("#cn-generate")
    page.wait_for_function("document.querySelectorAll('#cn-gallery img').length >= 2")
    assert page.locator(".toast-body").count() == 0


@pytest.mark.browser
@in_browser
def test_opening_the_presets_menu_and_clicking_away_keeps_the_edits(page):
    preset = load_presets()["depth-landscape"]
    pick(page, preset.title)
    expect(page.locator("#prompt textarea")).to_have_value(preset.generate.prompt)
    page.fill("#prompt textarea", "my own edit")
    set_number(page, "seed", 4242)
    page.locator("#recipes-menu input").click()  # open the menu, choose nothing...
    expect(page.get_by_role("option", name=preset.title)).to_be_visible()
    page.locator("#recipes-notice").click()  # ...and click elsewhere
    page.wait_for_timeout(1_500)  # long enough for a stray re-apply to land
    expect(page.locator("#prompt textarea")).to_have_value("my own edit")
    expect(page.locator("#seed input")).to_have_value("4242")


@pytest.mark.browser
@in_browser
def test_saving_a_preset_without_a_name_says_why_in_the_notice(page):
    page.fill("#recipes-name textarea, #recipes-name input", "")
    page.click("#recipes-save")
    expect(page.locator("#recipes-notice")).to_contain_text("Not saved: Name the preset")
    expect(page.locator("#recipes-menu input")).to_be_visible()  # the menu is still there, not an error badge
    assert page.locator("#recipes-menu .error, #recipes-notice .error").count() == 0


@pytest.mark.browser
@in_browser
def test_a_saved_preset_is_in_the_menu_and_stays_after_a_reload(page, served_app):
    page.fill("#prompt textarea", "my saved prompt")
    set_number(page, "seed", 777)
    page.fill("#recipes-name textarea, #recipes-name input", "my test preset")
    page.click("#recipes-save")
    expect(page.locator("#recipes-notice")).to_contain_text("Saved “my test preset”")
    expect(page.locator("#recipes-download")).to_be_visible()
    # Another page in the same browser: the menu lists it (kept in local storage), and picking it restores it.
    again = page.context.new_page()
    open_studio(again, served_app.url)
    pick(again, "★ my test preset")
    expect(again.locator("#prompt textarea")).to_have_value("my saved prompt")
    expect(again.locator("#seed input")).to_have_value("777")
    again.close()


@pytest.mark.browser
@in_browser
def test_a_share_link_opens_the_same_recipe_for_a_friend(page, browser, tmp_path):
    page.get_by_role("tab", name="ControlNet").click()
    own_photo = tmp_path / "my-photo.png"
    Image.effect_noise((80, 80), 40).convert("RGB").save(own_photo)  # not a bundled photo: the link cannot carry it
    page.locator("#cn-photo input[type=file]").set_input_files(str(own_photo))
    page.wait_for_selector("#cn-photo img")
    page.fill("#prompt textarea", "a shared lighthouse at dusk")
    set_number(page, "seed", 4321)
    page.get_by_text("Sampling settings").click()
    set_number(page, "steps", 3)
    page.click("#recipes-share")
    link = page.locator("#recipes-link textarea")
    expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/\?recipe="))
    shared = decode_share(parse_qs(urlsplit(link.input_value()).query)["recipe"][0])
    assert (shared.generate.prompt, shared.generate.seed, shared.generate.num_inference_steps) == (
        "a shared lighthouse at dusk",
        4321,
        3,
    )
    # The friend: another browser profile, nothing stored, the link alone.
    friend = browser.new_context(viewport={"width": 1400, "height": 1000})
    friend.set_default_timeout(TIMEOUT_MS)
    other = friend.new_page()
    other.goto(link.input_value())
    expect(other.locator("#prompt textarea")).to_have_value("a shared lighthouse at dusk")
    expect(other.locator("#seed input")).to_have_value("4321")
    other.get_by_text("Sampling settings").click()
    expect(other.locator("#steps input[type=number]")).to_have_value("3")
    expect(other.locator("#recipes-notice")).to_contain_text("needs a structure photo")
    assert selected_tab(other) == "ControlNet"
    ARTIFACTS.mkdir(exist_ok=True)
    other.screenshot(path=str(ARTIFACTS / "ui-recipes-shared-link.png"), full_page=True)
    friend.close()


@pytest.mark.browser
@in_browser
def test_a_shared_links_title_and_description_are_plain_text(browser, served_app):
    hostile = "![p](http://other-host/pixel.png) [Sign in again](http://other-host/phish) **now** <b>x</b> $$x$$"
    preset = next(iter(load_presets().values()))
    recipe = preset.model_copy(update={"title": "<i>T</i> [t](http://other-host/t)", "description": hostile})
    visitor = browser.new_context(viewport={"width": 1400, "height": 1000})
    visitor.set_default_timeout(TIMEOUT_MS)
    page = visitor.new_page()
    foreign: list[str] = []
    page.on("request", lambda request: foreign.append(request.url) if "other-host" in request.url else None)
    page.goto(f"{served_app.url.rstrip('/')}/?recipe={encode_share(recipe)}")
    notice = page.locator("#recipes-notice")
    expect(notice).to_contain_text(hostile)  # every character shown as typed
    expect(notice).to_contain_text("<i>T</i> [t](http://other-host/t)")
    assert notice.locator("a, img, b, i, strong, .katex").count() == 0 and not foreign
    visitor.close()


@pytest.mark.browser
@in_browser
def test_dropping_a_png_made_by_the_studio_restores_its_recipe(page, tmp_path):
    page.fill("#prompt textarea", "a kettle on a stove")
    set_number(page, "seed", 99)
    page.get_by_text("Sampling settings").click()
    set_run_size(page, 2, 64, 64)
    page.click("#text-generate")
    # The finished result (live previews come first and carry no recipe): its cost line names its seed.
    page.wait_for_function("document.querySelector('#text-info').innerText.includes('seed 99')")
    image = page.locator("#text-gallery img").first
    image.wait_for()
    made = tmp_path / "made.png"
    made.write_bytes(page.request.get(image.get_attribute("src")).body())  # the file the download button serves
    page.fill("#prompt textarea", "something else")
    set_number(page, "seed", 1)
    page.locator("#recipes-restore input[type=file]").set_input_files(str(made))
    expect(page.locator("#prompt textarea")).to_have_value("a kettle on a stove")
    expect(page.locator("#seed input")).to_have_value("99")
    expect(page.locator("#recipes-notice")).to_contain_text("Restored the recipe saved in this image")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-recipes.png"), full_page=True)


def test_delete_says_what_it_did_and_refuses_a_shipped_preset_in_words(served_app):
    delete = handler(served_app.demo, "on_delete")
    stored, _menu, notice = delete.fn("preset:compare-all", {"mine": {"x": 1}})
    assert stored == gr.skip() and "shipped presets stay" in notice  # nothing deleted, and said
    _stored, _menu, notice = delete.fn("mine:my depth", {"my depth": {}})
    assert notice.startswith("Deleted “my depth”")
