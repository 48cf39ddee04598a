"""The studio in a real browser: Debian's Chromium driven by Playwright, on the tiny family.

The tests run in file order on one page, as a person would use it: text tab,
ControlNet tab (bad uploads included), then a comparison. Screenshots go to
``artifacts/`` (git-ignored); with ``UPDATE_SCREENSHOT=1`` the comparison
screenshot also replaces ``docs/screenshot.png`` (the README's).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.ui_fixtures import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHOTO,
    REFERENCE,
    open_studio,
    set_number,
    set_run_size,
)

# The README's screenshot: under docs/, since every file directly in assets/ is a bundled photo for recipes.
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"
FIRST, SECOND = 3, 8  # steps between which the Stop test times the bar
PREVIEW_STEP = "Number((document.querySelector('#text-gallery').innerText.match(/step (\\d+)\\/100/) || [0, 0])[1])"
"""The step the Text tab's live preview shows (0 before the first)."""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def page(served_app):
    """One browser page on the served app, with small fast settings entered once."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = open_studio(browser, served_app.url, {"width": 1400, "height": 1000}, (96, 96), errors)
        yield page
        browser.close()
    assert not errors, f"errors in the page's scripts: {errors}"


def screenshot(page, name: str) -> Path:
    """A full-page screenshot under artifacts/, once every image on the page has loaded (a lazy one still loading
    shows its alt text)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager' })")
    # An artifact, not an assertion: a picture that never loads (playwright's TimeoutError) must not fail the test.
    with contextlib.suppress(Exception):
        page.wait_for_function(
            "[...document.images].filter(img => img.offsetParent).every(img => img.complete && img.naturalWidth)",
            timeout=15_000,
        )
    page.screenshot(path=str(path), full_page=True)
    return path


def toast_text(page) -> str:
    """The text of the error toasts now shown, after closing them."""
    page.wait_for_selector(".toast-body")
    text = " ".join(page.locator(".toast-body").all_inner_texts())
    for close in page.locator(".toast-close").all():
        close.click()
    page.wait_for_function("document.querySelectorAll('.toast-body').length === 0")
    return text


def upload(page, component: str, path: Path) -> None:
    """Upload a file into an image component, removing the image it holds first."""
    remove = page.locator(f"{component} button[aria-label='Remove Image']")
    if remove.count():
        remove.first.click()
    page.locator(f"{component} input[type=file]").set_input_files(str(path))


def test_text_tab_generates(page):
    page.click("#text-generate")
    page.wait_for_selector("#text-gallery img")  # a live preview, then the result
    page.wait_for_function("document.querySelector('#text-info').innerText.includes('peak memory')")
    assert page.locator("#text-gallery img").count() >= 1
    assert "peak memory" in page.inner_text("#text-info")
    screenshot(page, "ui-text.png")
    # Results are outputs: nothing can be dropped into them or deleted from them.
    gallery = page.locator("#text-gallery")
    assert gallery.locator("input[type=file]").count() == 0
    assert gallery.get_by_label("Delete image").count() == 0


def test_the_model_selector_runs_the_tabs_on_sdxl_and_back(page):
    """One selector above the tabs: SDXL's result says so; back on SD1.5 the next run is SD1.5's again."""
    selector = page.locator("#family")
    assert selector.is_visible() and "Stable Diffusion XL" in selector.inner_text()
    selector.get_by_text("Stable Diffusion XL").click()
    page.click("#text-generate")
    page.wait_for_function("document.querySelector('#text-info').innerText.includes('SDXL · seed')")
    assert page.locator("#text-gallery img").count() >= 1
    selector.get_by_text("Stable Diffusion 1.5").click()
    page.click("#text-generate")
    page.wait_for_function(
        "(t => t.includes('peak memory') && !t.includes('SDXL'))(document.querySelector('#text-info').innerText)"
    )


def test_stop_ends_a_running_generation_and_the_next_one_works(page):
    """Stop mid-run: the page says so, the run leaves no image, and a short run right after is not held up by it."""
    page.get_by_role("tab", name="Text").click()
    try:
        _stop_a_long_run_then_run_a_short_one(page)
    finally:  # the module's small settings, whatever happened: a failure here must not slow every test after it
        set_run_size(page, 2, 96, 96)


def _stop_a_long_run_then_run_a_short_one(page) -> None:
    set_run_size(page, 100, 512, 512)  # 100 steps: tens of seconds on a CPU
    page.click("#text-generate")
    # The bar's pace before Stop says how long the rest of the run would take if Stop did nothing. A loaded page
    # may show previews a few steps apart (the latest of a batch), so read the step shown, not an exact one.
    page.wait_for_function(f"{PREVIEW_STEP} >= {FIRST}")
    first, started = page.evaluate(PREVIEW_STEP), time.perf_counter()
    page.wait_for_function(f"{PREVIEW_STEP} >= {SECOND}")
    second = page.evaluate(PREVIEW_STEP)
    rest = (100 - second) * (time.perf_counter() - started) / max(1, second - first)

    page.click("#text-stop")
    stopped = time.perf_counter()
    # The page says so on the tab's status line.
    page.wait_for_function("document.querySelector('#text-info').innerText.includes('Stopped.')")
    set_run_size(page, 2, 64, 64)
    page.click("#text-generate")
    page.wait_for_function(
        "document.querySelector('#text-info').innerText.includes('2 steps')"
        " && document.querySelector('#text-info').innerText.includes('64×64')"
    )
    took = time.perf_counter() - stopped
    # The stopped run's bar is gone. (Under load gradio can draw a progress message that was on its way when the
    # run was cancelled after it marked the run done, so the bar is checked once the next run has finished.)
    page.wait_for_function("!document.querySelector('#text-gallery').innerText.includes('/100')")
    shown = page.inner_text("#text-info")
    assert "100 steps" not in shown and "512×512" not in shown, shown
    assert page.locator("#text-gallery img").count() >= 1
    # The stopped run holds the models' lock until it stops: had it run on, the short run would wait for it.
    assert took < rest / 2, f"the run after Stop took {took:.1f} s; the stopped run had about {rest:.1f} s left"
    assert page.locator(".toast-body").all_inner_texts() == []


def test_controlnet_tab_previews_maps_and_generates(page):
    page.get_by_role("tab", name="ControlNet").click()
    upload(page, "#cn-photo", PHOTO)
    page.wait_for_selector("#cn-photo img")
    page.click("#cn-preview")
    page.wait_for_selector("#cn-maps img")
    page.click("#cn-generate")
    # Live previews fill the gallery first; the map ↔ result slider comes with the finished result.
    page.wait_for_selector("#cn-slider img")
    page.wait_for_function("document.querySelector('#cn-info').innerText.includes('seed')")
    assert page.locator("#cn-gallery img").count() >= 2  # the map beside the result
    assert page.locator("#cn-slider img").count() >= 1
    screenshot(page, "ui-controlnet.png")
    # A map belongs to the inputs that made it: a new detector setting empties the preview (the result stays).
    page.locator("#cn-fit label", has_text="pad").click()
    page.wait_for_function("document.querySelectorAll('#cn-maps img').length === 0")
    assert page.locator("#cn-slider img").count() >= 1
    page.locator("#cn-fit label", has_text="crop").click()


def test_bad_uploads_show_an_error_and_the_next_generation_works(page, tmp_path):
    page.get_by_role("tab", name="ControlNet").click()
    not_an_image = tmp_path / "holiday.png"
    not_an_image.write_text("this is not an image")
    upload(page, "#cn-photo", not_an_image)
    assert "not an image" in toast_text(page)  # said at upload, before anything runs...
    page.wait_for_function("document.querySelectorAll('#cn-photo img').length === 0")  # ...and the upload is cleared

    too_small = tmp_path / "icon.png"
    Image.new("RGB", (8, 8), "red").save(too_small)
    upload(page, "#cn-photo", too_small)
    assert "8×8 px" in toast_text(page)
    page.wait_for_function("document.querySelectorAll('#cn-photo img').length === 0")

    oversize = tmp_path / "huge.png"
    oversize.write_bytes(b"\0" * (21 * 1024 * 1024))  # over launch(max_file_size="20mb")
    upload(page, "#cn-photo", oversize)
    assert "maximum allowed size" in toast_text(page)

    upload(page, "#cn-photo", PHOTO)
    page.wait_for_selector("#cn-photo img")
    page.click("#cn-generate")
    page.wait_for_function("document.querySelectorAll('#cn-gallery img').length >= 2")
    assert page.locator(".toast-body").all_inner_texts() == []


def test_compare_with_a_photo_and_no_reference_runs_and_says_why_ip_adapter_is_not_in_it(page):
    page.get_by_role("tab", name="Compare").click()
    remove = page.locator("#cmp-reference button[aria-label='Remove Image']")
    if remove.count():
        remove.first.click()
    upload(page, "#cmp-photo", PHOTO)
    page.wait_for_selector("#cmp-photo img")
    checked = page.locator("#cmp-methods input:checked")
    assert checked.count() == 4  # IP-Adapter is not pre-selected without a reference
    page.click("#cmp-run")
    page.wait_for_function("document.querySelector('#cmp-advice').innerText.includes('ran on seed')")
    grid, advice = page.inner_text("#cmp-grid"), page.inner_text("#cmp-advice")
    assert grid.count(" · seed ") == 4 and "could not run" not in grid and "left out" not in grid
    assert "IP-Adapter: not compared, it needs a reference image" in advice
    # One seed: the verdict says so and offers to confirm on 4 seeds, which reruns with the maps already made.
    assert "rests on one seed" in advice
    page.click("#cmp-confirm")
    page.wait_for_function("document.querySelector('#cmp-advice').innerText.includes('same 4 seeds')")
    grid = page.inner_text("#cmp-grid")
    assert grid.count(" · seed ") == 4 * 4 and page.locator("#cmp-seeds input[type=number]").input_value() == "4"
    assert not page.locator("#cmp-confirm").is_visible()
    set_number(page, "cmp-seeds", 1)
    upload(page, "#cmp-reference", REFERENCE)
    expect_checked = "document.querySelectorAll('#cmp-methods input:checked').length === 5"
    page.wait_for_function(expect_checked)  # giving a reference brings the IP-Adapter in


def test_compare_tab_runs_a_comparison(page):
    page.get_by_role("tab", name="Compare").click()
    upload(page, "#cmp-photo", PHOTO)
    upload(page, "#cmp-reference", REFERENCE)
    page.wait_for_selector("#cmp-reference img")
    hidden = "getComputedStyle(document.querySelector('#cmp-maps')).display"
    assert page.evaluate(hidden) == "none"  # no empty box among the results before maps are made
    page.click("#cmp-preview")
    page.wait_for_function("document.querySelectorAll('#cmp-maps img').length >= 3")
    assert page.evaluate(hidden) != "none"
    page.click("#cmp-run")
    methods = 5  # the default selection: text, canny, pose, depth, IP-Adapter
    page.wait_for_function(
        f"document.querySelectorAll('#cmp-grid img').length >= {2 * methods}"
        " && document.querySelector('#cmp-advice').innerText.trim().length > 0"
        " && !document.querySelector('#cmp-advice').innerText.includes('Running')"
        # the table and the advice arrive in one message but render in separate frames
        " && document.querySelector('#cmp-matrix').innerText.includes('IP-Adapter')"
    )
    path = screenshot(page, "ui-compare.png")
    table = page.inner_text("#cmp-matrix")
    assert all(label in table for label in ("Text-only", "Canny", "Pose", "Depth", "IP-Adapter")), table
    # Any method of the comparison, taken elsewhere: picked canny gives a ControlNet script.
    page.get_by_text("Reproduce a method with diffusers (Python) or ComfyUI").click()
    page.wait_for_function("(document.querySelector('#cmp-code')?.innerText || '').includes('StableDiffusionPipeline')")
    page.click("#cmp-code-method input")
    page.get_by_role("option", name="canny", exact=True).click()
    page.wait_for_function("(document.querySelector('#cmp-code')?.innerText || '').includes('ControlNetModel')")
    if os.environ.get("UPDATE_SCREENSHOT"):  # 256 colours: a third of the size, same look
        with Image.open(path) as shot:
            shot.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(SCREENSHOT, optimize=True)


def contrast(foreground: str, background: tuple[int, int, int] = (255, 255, 255)) -> float:
    """WCAG contrast ratio of a CSS ``rgb(...)`` colour on ``background``."""
    import re

    def luminance(rgb) -> float:
        channels = [c / 255 for c in rgb]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    rgb = [int(v) for v in re.findall(r"\d+", foreground)[:3]]
    light, dark = sorted((luminance(rgb), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


TEXT_ON_ITS_BACKGROUND = """(selector) => {
  // The text colour of the element and the first opaque background behind it, with the element's opacity.
  const element = document.querySelector(selector);
  const [node, pseudo] = selector.endsWith('textarea') ? [element, '::placeholder'] : [element, null];
  let behind = node, background = 'rgb(255, 255, 255)';
  while (behind) {
    const fill = getComputedStyle(behind).backgroundColor;
    if (fill && !fill.endsWith(', 0)') && fill !== 'transparent') { background = fill; break; }
    behind = behind.parentElement;
  }
  return [getComputedStyle(node, pseudo).color, background, getComputedStyle(node).opacity];
}"""


def test_every_text_reaches_wcag_aa_contrast(page):
    """Label pills, placeholders, the run button (ready and busy), the selected radio and tab: 4.5:1 or more."""
    checked = ["#prompt [data-testid=block-info]", "#prompt textarea", "#text-generate",
               "[role=tab][aria-selected=true]", "#family label.selected", "#text-generate"]  # fmt: skip
    for number, selector in enumerate(checked):
        if number == len(checked) - 1:  # the run button while its run is on (gradio disables it)
            page.evaluate("() => { document.querySelector('#text-generate').disabled = true; }")
        colour, background, opacity = page.evaluate(TEXT_ON_ITS_BACKGROUND, selector)
        ratio = contrast(colour, tuple(int(v) for v in re.findall(r"\d+", background)[:3]))
        assert ratio >= 4.5 and opacity == "1", (selector, colour, background, opacity, ratio)
    page.evaluate("() => { document.querySelector('#text-generate').disabled = false; }")


def test_keyboard_focus_shows_and_empty_outputs_are_no_tab_stops(page):
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#family input").first.focus()
    page.keyboard.press("ArrowRight")  # keyboard focus: :focus-visible
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement.closest('label'));"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)] })()"
    )
    assert ring[0] == "solid" and ring[1] >= 2, ring
    page.keyboard.press("ArrowLeft")  # back to the family it was on
    empty_outputs = []  # tab stops inside a results gallery that holds no image yet
    for _ in range(60):
        page.keyboard.press("Tab")
        empty_outputs.append(
            page.evaluate(
                "(() => { const g = document.activeElement.closest('.results');"
                " return g && !g.querySelector('img') ? g.id : null })()"
            )
        )
    assert not any(empty_outputs), empty_outputs


def test_seed_buttons_are_button_sized_and_help_text_is_readable(page):
    for button in ("#seed-random", "#seed-reuse"):
        assert page.locator(button).bounding_box()["height"] <= 48, button
    for component, words in (("#seed", "Same seed"), ("#prompt", "What to draw")):
        colour = page.locator(component).get_by_text(words).evaluate("e => getComputedStyle(e).color")
        assert contrast(colour) >= 4.5, (component, colour)
