"""The evaluation report in Chromium: the one-file report a run writes, and the studio's Report tab."""

from __future__ import annotations

import pytest

from app.eval.cli import main
from app.eval.rows import ROWS
from tests.conftest import EVAL_PHOTOS
from tests.test_eval import ARGS
from tests.ui_fixtures import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture
def run_folder(tmp_path, photos, tiny_env):
    out = tmp_path / "run"
    common = [str(photos), "--prompt", "an oil painting", "--references", str(photos / "chelsea.png"), *ARGS]
    assert main([*common, "--out", str(out), "--save-images"]) == 0
    return out


def test_the_report_file_renders_its_verdict_table_plots_and_cases(browser, run_folder):
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((run_folder / "report.html").as_uri())
    assert page.locator("h2", has_text="Verdict").count() == 1
    assert page.locator(".verdict").inner_text().strip()
    assert page.locator("table:not([data-anchors]) tbody tr").count() == 3  # text, canny, IP-Adapter
    plots = page.locator("figure[data-score] svg")
    assert plots.count() >= 3 and all(box["width"] > 300 for box in (p.bounding_box() for p in plots.all()))
    assert page.locator("figure[data-score] rect").count() >= 9  # a box per method per score
    anchors = page.locator("table[data-anchors]").inner_text()
    assert "34.65" in anchors and "0.828" in anchors and "Canny F1" in anchors  # beside the published figures
    images = page.locator(".case img")
    assert images.count() == 6  # best and worst of each method, embedded
    assert all(page.evaluate("(img) => img.naturalWidth > 0", handle) for handle in images.element_handles())
    page.close()
    assert not errors


def test_the_report_tab_reads_an_uploaded_results_file(browser, served_app, run_folder):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(served_app.url)
    page.get_by_role("tab", name="Report").click()
    page.locator("#report-file input[type=file]").set_input_files(str(run_folder / ROWS))
    page.wait_for_selector("#report-view figure[data-score] svg")
    assert f"{len(EVAL_PHOTOS) * 2 * 3} results" in page.inner_text("#report-status")
    assert page.locator("#report-view .verdict").inner_text().strip()
    assert page.locator("#report-download a").count() >= 1
    page.close()
