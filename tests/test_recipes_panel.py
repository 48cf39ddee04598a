"""The recipes panel: it builds inside any Blocks, and its handlers treat every input as untrusted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import pytest

from app.errors import StudioError
from app.recipes import Recipe, encode_share, load_presets, parse_recipe, recipe_to_dict
from app.ui.recipes_panel import (
    MAX_USER_PRESETS,
    build_recipes_panel,
    delete_preset,
    find_preset,
    loaded_notice,
    menu_choices,
    read_uploaded_json,
    recipe_from_query,
    save_preset,
    shared_values,
    user_presets,
)

RECIPE = Recipe(mode="generate", title="mine", generate={"prompt": "a cat", "seed": 5})


def test_panel_builds_with_app_supplied_capture_and_apply():
    with gr.Blocks() as demo:
        prompt = gr.Textbox()
        seed = gr.Number()
        panel = build_recipes_panel(
            capture_inputs={"prompt": prompt, "seed": seed},
            capture=lambda v: Recipe(mode="generate", generate={"prompt": v["prompt"], "seed": int(v["seed"])}),
            apply_outputs=[prompt, seed],
            apply=lambda r: [r.settings.prompt, r.settings.seed],
            demo=demo,
        )
    assert isinstance(panel.store, gr.BrowserState)
    assert len(panel.menu.choices) == len(load_presets())


def test_menu_lists_shipped_then_valid_user_presets_only():
    store = {
        "mine": recipe_to_dict(RECIPE),
        "hostile": {"mode": "generate", "generate": {}, "model": "org/x"},
        "nan": '{"mode": "generate", "generate": {"seed": NaN}}',
        "x" * 500: recipe_to_dict(RECIPE),
    }
    choices = menu_choices(store)
    assert [label for label, _ in choices][-1] == "★ mine"
    assert len(choices) == len(load_presets()) + 1
    assert find_preset("mine:mine", store) == RECIPE
    assert find_preset("preset:compare-all", store).mode == "compare"
    with pytest.raises(StudioError, match="no preset"):
        find_preset("mine:hostile", store)
    assert user_presets("not a dict") == {} and user_presets(None) == {}


def test_save_and_delete_user_presets():
    store, path = save_preset("  my   depth\n", {}, RECIPE)
    assert list(store) == ["my depth"]
    assert parse_recipe(Path(path).read_text(encoding="utf-8")) == RECIPE
    assert path.endswith("my-depth.json")
    untitled, _ = save_preset("named", store, RECIPE.model_copy(update={"title": ""}))
    assert parse_recipe(untitled["named"]).title == "named"
    assert delete_preset("mine:my depth", untitled).keys() == {"named"}
    assert delete_preset("preset:compare-all", untitled) == untitled
    with pytest.raises(StudioError, match="Name the preset"):
        save_preset("   ", {}, RECIPE)
    full = {f"p{i}": recipe_to_dict(RECIPE) for i in range(MAX_USER_PRESETS)}
    with pytest.raises(StudioError, match="presets already"):
        save_preset("one more", full, RECIPE)


def test_uploaded_json_and_share_query_are_untrusted(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(recipe_to_dict(RECIPE)))
    assert read_uploaded_json(str(good)) == RECIPE
    big = tmp_path / "big.json"
    big.write_text(" " * 70_000)
    with pytest.raises(StudioError, match="at most 65,536 bytes"):
        read_uploaded_json(str(big))
    with pytest.raises(StudioError, match="No file"):
        read_uploaded_json(None)
    assert recipe_from_query({"recipe": encode_share(RECIPE), "__theme": "dark"}) == RECIPE
    assert recipe_from_query({}) is None and recipe_from_query(None) is None
    with pytest.raises(StudioError, match="share link"):
        recipe_from_query({"recipe": "not-a-recipe"})


def test_notice_escapes_text_and_asks_for_missing_images():
    recipe = Recipe(
        mode="generate",
        title="<img src=x onerror=alert(1)>",
        generate={"prompt": "x", "controls": [{"control_type": "pose"}]},
    )
    notice = loaded_notice(recipe, "the shared link")
    assert "\\<img src\\=x" in notice and "<" not in notice.replace("\\<", "")  # escaped: shown as typed, no tag
    assert "needs a structure photo" in notice
    assert "needs" not in loaded_notice(load_presets()["pose-portrait"], "the presets")
    # A photo already in the tab the recipe opens stays there when it loads: it is not asked for again.
    assert "needs" not in loaded_notice(recipe, "the image", on_screen={"controlnet__photo": "/tmp/photo.png"})
    assert "needs a structure photo" in loaded_notice(recipe, "the image", on_screen={"compare__photo": "/tmp/p.png"})


def test_shared_values_match_the_shared_controls():
    values = shared_values(load_presets()["depth-landscape"])
    assert values["width"] == 768 and values["num_images_per_prompt"] == 1
    assert "num_images_per_prompt" not in shared_values(load_presets()["compare-all"])


@pytest.mark.browser
@pytest.mark.slow
def test_share_link_round_trip_in_a_browser():
    """Open a ?recipe= link: the recipe is applied with its notice; "Make share link" gives a link that restores."""
    import socket

    from tests.ui_fixtures import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with gr.Blocks() as demo:
        prompt = gr.Textbox(elem_id="p")
        seed = gr.Number(elem_id="s")
        build_recipes_panel(
            capture_inputs={"prompt": prompt, "seed": seed},
            capture=lambda v: Recipe(mode="generate", generate={"prompt": v["prompt"] or "", "seed": int(v["seed"])}),
            apply_outputs=[prompt, seed],
            apply=lambda r: [r.settings.prompt, r.settings.seed],
            demo=demo,
        )
    shared = Recipe(
        mode="generate", title="shared", generate={"prompt": "a cat", "controls": [{"control_type": "pose"}]}
    )
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?recipe={encode_share(shared)}")
            sync_api.expect(page.locator("#p textarea")).to_have_value("a cat", timeout=20_000)
            sync_api.expect(page.locator("#recipes-notice")).to_contain_text("needs a structure photo")
            page.locator("#p textarea").fill("edited")
            page.get_by_text("Recipes: presets").click()
            page.locator("#recipes-share").click()
            sync_api.expect(page.locator("#recipes-link textarea")).to_have_value(
                re.compile(rf"^http://127\.0\.0\.1:{port}/\?recipe="), timeout=20_000
            )
            page.goto(page.locator("#recipes-link textarea").input_value())
            sync_api.expect(page.locator("#p textarea")).to_have_value("edited", timeout=20_000)
            page.goto(f"http://127.0.0.1:{port}/?recipe=AAAA")
            sync_api.expect(page.locator("#recipes-notice")).to_contain_text("could not be loaded", timeout=20_000)
            browser.close()
    finally:
        demo.close()


def test_json_downloads_are_reused_per_content_not_left_behind_per_click():
    from app.ui.recipes_panel import write_json

    first, second = list(load_presets().values())[:2]
    path = write_json(first, "My preset")
    assert path.endswith("my-preset.json") and parse_recipe(Path(path).read_text()) == first
    assert write_json(first, "My preset") == path  # same content, same file
    assert write_json(second, "My preset") != path
