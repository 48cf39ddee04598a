"""A first-time visitor in Chromium at 1280×900 (and on a phone): feedback where they click, readable failures,
a Stop that keeps what finished, whole results, a verdict they can read, history, keyboard. Tiny family.

The tests run in file order on one page, as one visitor would.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.ui_fixtures import CHROMIUM, PHOTO, REFERENCE, open_studio, set_number, set_run_size

expect = pytest.importorskip("playwright.sync_api").expect  # waits for the page, unlike a one-off read

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]

ERROR_BADGES = "[...document.querySelectorAll('#{id} [data-testid=status-tracker] .error')].length"


@pytest.fixture(scope="module")
def page(browser, served_app):
    errors: list[str] = []
    page = open_studio(browser, served_app.url, {"width": 1280, "height": 900}, (64, 96), errors)
    yield page
    page.close()
    assert not errors, f"errors in the page's scripts: {errors}"


WATCH_PREVIEWS = """() => {
  // Record every live-preview caption the comparison grid shows, however briefly.
  window.previewCaptions = [];
  new MutationObserver(() => {
    for (const line of (document.querySelector('#cmp-grid')?.innerText || '').split('\\n')) {
      if (line.includes('(preview)') && !window.previewCaptions.includes(line.trim())) {
        window.previewCaptions.push(line.trim());
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


WATCH_BUTTON = """() => {
  // Record the Text tab's run button: its text and whether it was disabled, at every change.
  window.buttonStates = [];
  const button = document.querySelector('#text-generate');
  const record = () => window.buttonStates.push({text: button.innerText, disabled: button.disabled});
  new MutationObserver(record).observe(button, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def close_toasts(page) -> list[str]:
    """The toasts' texts, after closing them all."""
    texts = page.locator(".toast-body").all_inner_texts()
    for close in page.locator(".toast-close").all():
        close.click()
    page.wait_for_function("document.querySelectorAll('.toast-body').length === 0")
    return texts


def test_the_run_button_answers_where_it_was_clicked(page):
    """At 1280×900 the progress bar may be below the fold: the button itself says a run started, then comes back."""
    set_number(page, "steps", 40)
    button = page.locator("#text-generate")
    expect(button).to_be_enabled()
    page.evaluate("window.scrollTo(0, 0)")
    box = button.bounding_box()  # before the click: a click would scroll it into view
    assert box is not None and box["y"] + box["height"] <= 900, box  # in view on arrival, beside the prompt
    # Record what the button said while the run went on, however briefly (a loaded machine may deliver the
    # run's start and end close together).
    page.evaluate(WATCH_BUTTON)
    page.click("#text-generate")
    page.wait_for_function("window.buttonStates.some(s => s.text.includes('Generating'))")
    states = page.evaluate("window.buttonStates")
    assert any(s["disabled"] for s in states if "Generating" in s["text"]), states  # no double submit
    expect(button).to_have_text("Generate", timeout=120_000)  # 40 steps on a loaded CPU take more than 5 s
    expect(button).to_be_enabled()
    assert page.evaluate("window.scrollY") == 0  # the click scrolled nothing
    result = page.locator("#text-gallery img").first.bounding_box()
    assert result is not None and result["y"] + result["height"] <= 900, result  # the result in view too
    set_number(page, "steps", 2)


def test_a_single_result_shows_whole_with_its_caption_and_a_named_download(page):
    image = page.locator("#text-gallery img").first
    page.wait_for_function(
        "(() => { const i = document.querySelector('#text-gallery img'); return i && i.complete && i.naturalWidth })()"
    )
    natural = page.evaluate("(() => { const i = document.querySelector('#text-gallery img');"
                            " return [i.naturalWidth, i.naturalHeight] })()")  # fmt: skip
    box = image.bounding_box()
    assert natural == [64, 96]
    # The whole image: scaled to fit its box (never cropped to a square or a band), the box not clipped.
    fit, clipped = page.evaluate(
        "(() => { const i = document.querySelector('#text-gallery img'); const t = i.closest('.thumbnail-item');"
        " return [getComputedStyle(i).objectFit, t.scrollHeight > t.clientHeight + 1] })()"
    )
    assert fit == "contain" and not clipped
    gallery = page.locator("#text-gallery").bounding_box()
    assert box["y"] >= gallery["y"] and box["y"] + box["height"] <= gallery["y"] + gallery["height"] + 1
    caption = page.locator("#text-gallery .caption-label").first
    assert re.fullmatch(r"Text-only · seed \d+ · SD1\.5", caption.inner_text())
    assert page.evaluate(
        "(() => { const c = document.querySelector('#text-gallery .caption-label'); "
        "return c.scrollWidth <= c.clientWidth })()"
    )  # not cut off
    assert re.search(r"/text-seed\d+\.png$", image.get_attribute("src"))
    assert "40 steps · CFG 7" in page.inner_text("#text-info")  # the shared settings, once, in the cost line


def test_a_failure_is_said_in_the_tab_and_leaves_no_bare_error_badge(page):
    page.get_by_role("tab", name="ControlNet").click()
    page.click("#cn-generate")
    page.wait_for_function("document.querySelector('#cn-info').innerText.includes('No photo')")
    assert "Upload a photo" in page.inner_text("#cn-info")
    close_toasts(page)
    for output in ("cn-gallery", "cn-slider", "cn-info"):
        assert page.evaluate(ERROR_BADGES.format(id=output)) == 0, output
    expect(page.locator("#cn-generate")).to_have_text("Generate")
    expect(page.locator("#cn-generate")).to_be_enabled()
    # The note belongs to the inputs that made it: changing one of them clears it.
    assert "stale" not in page.inner_text("#cn-info")  # the note's marker is not shown
    page.locator("#cn-fit label", has_text="pad").click()
    page.wait_for_function("document.querySelector('#cn-info').innerText.trim() === ''")
    page.locator("#cn-fit label", has_text="crop").click()


def test_stop_on_compare_keeps_what_finished_and_says_so(page):
    try:
        _stop_a_long_comparison(page)
    finally:  # the module's small settings, whatever happened: a failure here must not slow every test after it
        set_run_size(page, 2, 64, 96)


def _stop_a_long_comparison(page) -> None:
    page.get_by_role("tab", name="Compare").click()
    page.locator("#cmp-photo input[type=file]").set_input_files(str(PHOTO))
    page.locator("#cmp-reference input[type=file]").set_input_files(str(REFERENCE))
    page.wait_for_selector("#cmp-photo img")
    page.wait_for_selector("#cmp-reference img")
    # Long enough (4 methods × 100 steps at 320² after text-only) that a loaded machine cannot finish before Stop.
    set_run_size(page, 100, 320, 320)
    page.evaluate(WATCH_PREVIEWS)
    page.click("#cmp-run")
    expect(page.locator("#cmp-run")).to_have_text("Comparing…")  # waits: the page updates after the click
    # Text-only has finished when its caption says its seed; stop while the next method runs (its preview shows).
    page.wait_for_function(
        "(() => { const t = document.querySelector('#cmp-grid').innerText;"
        " return t.includes('Text-only · seed') && t.includes('(preview)') })()"
    )
    # Before it finished, its tile showed it taking shape: live previews every few of its 100 steps.
    previews = page.evaluate("window.previewCaptions")
    assert [c for c in previews if re.fullmatch(r"Text-only · step \d+/100 \(preview\)", c)], previews
    page.click("#cmp-stop")
    page.wait_for_function("document.querySelector('#cmp-grid').innerText.includes('· stopped')")
    expect(page.locator("#cmp-run")).to_have_text("Compare")  # the run is over: neither a late preview nor the
    time.sleep(1)  # stopped stream's end may put the pending tiles back
    grid = page.inner_text("#cmp-grid")
    assert "Text-only · seed" in grid and "pending" not in grid
    page.wait_for_function("document.querySelector('#cmp-advice').innerText.trim().startsWith('Stopped.')")
    assert "finished stay" in page.inner_text("#cmp-advice")
    assert not [t for t in page.locator(".toast-body").all_inner_texts() if "Cancelled" in t]
    expect(page.locator("#cmp-run")).to_have_text("Compare")
    expect(page.locator("#cmp-run")).to_be_enabled()


def test_ctrl_enter_runs_the_open_tab_and_the_verdict_reads_for_a_person(page):
    """The advice leads with a one-line verdict (and a ranking when the scores can rank), in words, not fields."""
    page.focus("#prompt textarea")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('#cmp-advice').innerText.includes('ran on seed')")
    advice = page.inner_text("#cmp-advice")
    assert "ip_adapter" not in advice and "controlnet_conditioning_scale" not in advice
    assert not re.search(r"closest: [^,]+, (\d\.\d\d) vs \1 ", advice), advice  # never a "closest" among ties
    headline, *rest = [line for line in advice.strip().splitlines() if line.strip()]
    assert len(headline) < 120 and headline.endswith("."), advice  # one line a person reads first
    if not headline.startswith("No clear winner"):
        assert rest[0].startswith("Ranking by measured fit: 1. "), advice
    headers = page.locator("#cmp-matrix th").all_inner_texts()
    assert any("↑" in h for h in headers) and any("↓" in h for h in headers)


PAGE_PROMPT = "a watercolour portrait of an astronaut"  # what open_studio types: every browser page's runs have it


def restore_a_page_run(page, edit: str | None = None) -> None:
    """Restore the newest History result a browser page made (its prompt is the page's).

    History also remembers what other files' API clients ran on the shared app (its outputs folder), with their own
    prompts: a restore of one of those is a restore too, just not of a result this can recognise. ``edit`` is typed
    into the prompt before each restore (what Undo must bring back)."""
    from playwright.sync_api import TimeoutError as PageTimeout

    thumbnails = page.locator("#history-gallery .thumbnail-item")
    for index in range(thumbnails.count()):
        if edit is not None:
            page.fill("#prompt textarea", edit)
        thumbnails.nth(index).click()
        page.click("#history-restore")
        try:
            page.wait_for_function(f"document.querySelector('#prompt textarea').value === {PAGE_PROMPT!r}",
                                   timeout=15_000)  # fmt: skip
            return
        except PageTimeout:
            continue
    raise AssertionError("History holds no result this page made")


def test_history_restores_a_result_with_undo_and_sends_it_to_another_tab(page):
    page.get_by_text("History: results kept in").click()
    page.wait_for_selector("#history-gallery img")
    captions = page.locator("#history-gallery .caption-label").all_inner_texts()
    assert captions and all(" · seed " in c for c in captions)  # results only, no maps or stopped tiles
    restore_a_page_run(page, edit="an edit I want back")
    page.click("#recipes-undo")
    page.wait_for_function("document.querySelector('#prompt textarea').value === 'an edit I want back'")
    page.click("#history-send-ip_adapter")
    page.wait_for_selector("#ip-reference img")
    assert page.get_by_role("tab", name="IP-Adapter").get_attribute("aria-selected") == "true"


def test_history_outlives_the_page_when_results_are_kept(page, browser, served_app):
    """A new page (a reload, a restart) starts its History from the outputs folder, newest first."""
    before = page.locator("#history-gallery .caption-label").all_inner_texts()
    again = browser.new_page(viewport={"width": 1280, "height": 900})
    again.goto(served_app.url)
    again.get_by_text("History: results kept in").click()
    again.wait_for_selector("#history-gallery img")
    assert again.locator("#history-gallery .caption-label").all_inner_texts() == before
    restore_a_page_run(again)
    again.close()


def test_the_report_tab_reopens_a_kept_comparison(page):
    assert "Scores kept in" in page.inner_text("#cmp-advice")
    page.get_by_role("tab", name="Report").click()
    page.click("#report-kept input")
    page.locator("#report-kept ~ * [role=option], [role=listbox] [role=option]").first.click()
    page.wait_for_function("document.querySelector('#report-status').innerText.includes('results from')")
    assert page.locator("#report-view table").count() > 0
    page.get_by_role("tab", name="Text to image").click()


def test_on_a_phone_every_tab_is_in_sight(browser, served_app):
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(served_app.url)
    phone.wait_for_selector("[role=tab]")
    tabs = phone.locator("[role=tab]")
    names = [t.inner_text() for t in tabs.all() if t.is_visible()]
    assert names == ["Text to image", "ControlNet", "IP-Adapter", "Compare", "Sweep", "Report"]
    assert phone.locator(".overflow-menu button:visible").count() == 0
    phone.close()


CAPTION_HAS_FIELD_SEED = (
    "(() => { const c = document.querySelector('#text-gallery .caption-label');"
    " const s = document.querySelector('#seed input[type=number]').value;"
    " return !!c && c.innerText.includes('seed ' + s + ' ·') })()"
)


def test_generate_again_draws_a_new_seed_and_the_field_shows_the_one_that_ran(page):
    """A1111's seed −1: each run gets a new seed, shown where the seed is set; reusing or typing one keeps it."""
    page.get_by_role("tab", name="Text to image").click()
    set_number(page, "steps", 2)
    page.locator("#seed-new input").check()  # the default, whatever the tests before did
    seeds = []
    for _ in range(2):
        before = page.locator("#seed input[type=number]").input_value()
        page.click("#text-generate")
        page.wait_for_function(f"document.querySelector('#seed input[type=number]').value !== '{before}'")
        page.wait_for_function(CAPTION_HAS_FIELD_SEED, timeout=120_000)
        seeds.append(page.locator("#seed input[type=number]").input_value())
    assert seeds[0] != seeds[1]
    page.click("#seed-reuse")
    expect(page.locator("#seed-new input")).not_to_be_checked()
    page.click("#text-generate")
    expect(page.locator("#text-generate")).to_have_text("Generate", timeout=120_000)
    page.wait_for_function(CAPTION_HAS_FIELD_SEED, timeout=120_000)
    assert page.locator("#seed input[type=number]").input_value() == seeds[1]  # the same seed ran again
    page.locator("#seed-new input").check()
    # The last result as a diffusers script, with the seed that ran.
    page.get_by_text("Reproduce with diffusers (Python) or ComfyUI").first.click()
    page.wait_for_function(
        f"(document.querySelector('#text-code')?.innerText || '').includes('manual_seed({seeds[1]})')"
    )
    assert "StableDiffusionPipeline" in page.inner_text("#text-code")
    assert '"CheckpointLoaderSimple"' in page.inner_text("#text-code-comfyui")  # and as a ComfyUI workflow


EVERY_VISIBLE_IMAGE_HAS_ALT = (
    "[...document.querySelectorAll('img')].filter(i => i.offsetParent !== null)"
    ".every(i => (i.getAttribute('alt') || '').trim().length > 0)"
)


def test_every_visible_image_says_what_it_is(page):
    page.get_by_role("tab", name="ControlNet").click()  # example thumbnails and an upload target
    page.wait_for_function(EVERY_VISIBLE_IMAGE_HAS_ALT)
    page.get_by_role("tab", name="Text to image").click()
    page.click("#text-generate")
    # A result is described by its caption (live previews first, by theirs).
    page.wait_for_function(
        "(document.querySelector('#text-gallery img')?.getAttribute('alt') || '').includes('seed')",
        timeout=120_000,
    )
    page.wait_for_function(EVERY_VISIBLE_IMAGE_HAS_ALT)
