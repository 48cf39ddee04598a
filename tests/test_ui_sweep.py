"""The Sweep tab (``/sweep``) and the Compare tab's detector parameters, through the HTTP API and in a browser."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app.errors import StudioError
from app.grid import LABEL_HEIGHT
from app.ui.sweep_tab import ALL_SCORES, default_values, parse_values, plot_update, sweep_gpu_seconds
from tests.test_ui_browser import page, screenshot, upload  # noqa: F401 - fixture
from tests.ui_fixtures import CHROMIUM, PHOTO

TINY = {"width": 64, "height": 64, "num_inference_steps": 2}


# -- parsing and estimates, no server -----------------------------------------------------------


def test_values_are_split_and_typed_and_methods_stay_text():
    assert parse_values("controlnet_conditioning_scale", "0, 0.5,1 ;1.5\n") == [0, 0.5, 1, 1.5]
    assert parse_values("seed", "7, 8") == [7, 8]
    assert parse_values("method", "depth, depth:midas , canny+ip_adapter") == [
        "depth",
        "depth:midas",
        "canny+ip_adapter",
    ]
    assert parse_values("guidance_scale", "7, lots") == [7, "lots"]  # the core names what is wrong with it
    assert parse_values("seed", " , ") == []


def test_each_axis_prefills_a_range_the_core_accepts(studio):
    from app.request.sweep import AXIS_LABELS, TYPE_AXES, parse_sweep

    for axis in AXIS_LABELS:  # every axis, the per-type strength and detector ones included
        values = parse_values(axis, default_values(axis, seed=41))
        assert (1 if axis in TYPE_AXES else 2) <= len(values) <= 4, axis
        method = f"{TYPE_AXES[axis]}+ip_adapter" if axis in TYPE_AXES else "depth+ip_adapter"
        parse_sweep({"base": {"methods": [method]}, "x": {"name": axis, "values": values}})
    assert default_values("softedge_detector") == "hed, pidinet"
    assert default_values("seed", 41) == "41, 42, 43"
    assert default_values("none") == ""


def test_the_plot_and_its_legend_follow_score_to_plot():
    rows = [
        {"x": x, "series": f"{score} · {y}", "score": f"{score} (its measure)", "value": 0.5}
        for score in ("Prompt", "Depth") for y in ("1", "2") for x in ("0", "1")
    ]  # fmt: skip
    prompt_only = plot_update(rows, "Prompt (its measure)", ["0", "1"], "Strength", "score · Seed")
    assert set(prompt_only["value"]["series"]) == {"Prompt · 1", "Prompt · 2"}
    # gradio's line plot keeps old legend entries unless told which to show
    assert prompt_only["colors_in_legend"] == ["Prompt · 1", "Prompt · 2"]
    assert prompt_only["color_title"] == "score · Seed"
    assert len(plot_update(rows, ALL_SCORES, ["0", "1"], "Strength")["colors_in_legend"]) == 4


def test_gpu_time_counts_cells_and_their_steps():
    one = {"x_axis": "seed", "x_values": "1", "num_inference_steps": 20, "width": 512, "height": 512}
    six = {**one, "x_values": "1, 2, 3", "y_axis": "method", "y_values": "depth, canny"}
    more_steps = {**six, "y_axis": "num_inference_steps", "y_values": "10, 50"}
    assert sweep_gpu_seconds(one) < sweep_gpu_seconds(six) < sweep_gpu_seconds(more_steps)
    assert sweep_gpu_seconds({**one, "x_values": "nonsense, ,"}) >= sweep_gpu_seconds(one)  # never fails


def test_a_value_over_the_studio_cap_is_refused_before_any_cell_runs(studio, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("a cell ran")

    monkeypatch.setattr(studio, "generate", never)
    over = studio.settings.max_steps + 1
    with pytest.raises(StudioError, match=f"Steps · num_inference_steps: received {over}"):
        studio.sweep({"base": {"methods": ["text"]}, "x": {"name": "num_inference_steps", "values": [1, over]}})


# -- through the API ---------------------------------------------------------------------------


def test_sweep_is_named_and_runs_on_the_gpu_queue(served_app):
    named = {fn.api_name: fn for fn in served_app.demo.fns.values() if fn.api_name}
    assert named["sweep"].concurrency_id == "gpu" and named["sweep"].queue


def test_two_by_three_sweep_returns_a_labelled_grid_plot_and_table(client):
    grid, plot, score, matrix, notes = client.predict(
        prompt="an astronaut",
        photo=handle_file(PHOTO),
        method="depth",
        x_axis="controlnet_conditioning_scale",
        x_values="0, 0.5, 1",
        y_axis="method",
        y_values="depth, canny",
        **TINY,
        api_name="/sweep",
    )
    width, height = Image.open(grid).size
    assert grid.endswith("/sweep-controlnet-conditioning-scale-by-method.png")  # named by its axes
    assert LABEL_HEIGHT <= height - 2 * 64 <= 3 * 12 + 8  # two rows under the column labels, wrapped (not cut)
    assert 3 * 64 < width <= 4 * 64  # three columns right of the row labels (at most a cell wide)
    expected = ["0", "0.5", "1"]  # ticks are values: the axis title names the setting
    assert plot["sort"] == expected and plot["x_title"] == "ControlNet strength"
    rows = [dict(zip(plot["value"]["columns"], row, strict=True)) for row in plot["value"]["data"]]
    assert sorted({r["x"] for r in rows}) == expected
    assert {r["series"].split(" · ")[1] for r in rows} == {"Depth (depth_anything)", "Canny (canny)"}
    assert all(isinstance(r["value"], float) for r in rows)
    assert score["choices"][0][0] == ALL_SCORES and len(score["choices"]) > 1
    assert len(matrix["data"]) == 6 and matrix["data"][0][0] == "Depth (depth_anything) · ControlNet strength 0"
    assert matrix["headers"][0] == "Cell"  # a row is a cell of the sweep, not a method
    assert notes.startswith("6 cells")


def test_the_grid_fills_cell_by_cell_before_the_table_and_plot(client):
    job = client.submit(
        prompt="an astronaut",
        photo=handle_file(PHOTO),
        method="depth",
        x_axis="controlnet_conditioning_scale",
        x_values="0, 0.5, 1",
        **TINY,
        api_name="/sweep",
    )
    final = job.result()
    streamed = [notes for _, _, _, _, notes in job.outputs()[:-1]]
    assert streamed and all(n.startswith("Cells done: ") and n.endswith(" of 3…") for n in streamed)
    first_grid = job.outputs()[0][0]
    assert Image.open(first_grid).size == Image.open(final[0]).size  # the whole grid, cells still to run left empty
    assert final[4].startswith("3 cells")


def test_a_partial_grid_draws_the_cells_not_run_yet_empty(studio, photo):
    from app.request.sweep import parse_sweep, sweep_grid

    request = {
        "base": {"prompt": "x", "num_inference_steps": 2, "width": 64, "height": 64, "methods": ["depth"]},
        "x": {"name": "controlnet_conditioning_scale", "values": [0.0, 1.0]},
        "y": {"name": "seed", "values": [1, 2]},
    }
    seen = []
    result = studio.sweep(request, photo, on_cell=seen.append)
    assert [c.label for c in seen] == [c.label for c in result.cells]  # each cell as it finished, in order
    partial = sweep_grid(parse_sweep(request), seen[:1])
    assert partial.size == result.grid.size
    empty = np.asarray(partial)[-32, -32]  # the last cell, not run yet: the grid's grey
    assert not np.array_equal(np.asarray(partial), np.asarray(result.grid)) and len(set(empty.tolist())) == 1


def test_out_of_bounds_value_names_the_axis_and_value_and_the_next_sweep_works(client):
    with pytest.raises(AppError, match=r"axis controlnet_conditioning_scale value 3\b.*less than or equal to 2"):
        client.predict(
            photo=handle_file(PHOTO), x_axis="controlnet_conditioning_scale", x_values="0, 3", **TINY,
            api_name="/sweep",
        )  # fmt: skip
    with pytest.raises(AppError, match="axis method value 'depth:canny'"):
        client.predict(photo=handle_file(PHOTO), x_axis="method", x_values="depth, depth:canny", **TINY,
                       api_name="/sweep")  # fmt: skip
    grid, plot, *_ = client.predict(
        method="text", x_axis="seed", x_values="1, 2", y_axis="none", **TINY, api_name="/sweep"
    )
    assert Image.open(grid).size == (2 * 64, LABEL_HEIGHT + 64)  # one unlabelled row
    assert plot["sort"] == ["1", "2"]


def test_two_units_strengths_sweep_against_each_other_through_the_api(client):
    """Canny strength × Depth strength on canny+depth: four cells labelled by both units; a unit absent from the
    method is refused by name."""
    _grid, plot, _score, matrix, notes = client.predict(
        photo=handle_file(PHOTO), method="canny+depth", x_axis="canny_strength", x_values="0, 1",
        y_axis="depth_strength", y_values="0, 1.5", **TINY, api_name="/sweep",
    )  # fmt: skip
    assert notes.startswith("4 cells") and plot["x_title"] == "Canny strength"
    assert [row[0] for row in matrix["data"]] == [
        "Depth strength 0 · Canny strength 0", "Depth strength 0 · Canny strength 1",
        "Depth strength 1.5 · Canny strength 0", "Depth strength 1.5 · Canny strength 1",
    ]  # fmt: skip
    with pytest.raises(AppError, match="the method 'depth' has no canny control"):
        client.predict(photo=handle_file(PHOTO), method="depth", x_axis="canny_strength", x_values="0, 1", **TINY,
                       api_name="/sweep")  # fmt: skip


def test_compare_passes_detector_parameters_to_the_core(client):
    def canny_map(**params) -> np.ndarray:
        grid, _matrix, _advice = client.predict(
            prompt="an astronaut", photo=handle_file(PHOTO), methods=["canny"], **params, **TINY,
            api_name="/compare",
        )  # fmt: skip
        assert grid[1]["caption"].startswith("canny map")  # results on top, the map that drove each below
        return np.asarray(Image.open(grid[1]["image"]).convert("L"))

    default = canny_map()
    loose = canny_map(canny__low_threshold=10, canny__high_threshold=30)
    assert (loose > 0).sum() > (default > 0).sum()  # lower thresholds keep more edges
    with pytest.raises(AppError, match="900 is greater than maximum value 255"):  # slider range = schema bounds
        client.predict(photo=handle_file(PHOTO), methods=["canny"], canny__low_threshold=900, **TINY,
                       api_name="/compare")  # fmt: skip


# -- in a browser ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_sweep_tab_shows_the_grid_and_the_plot(page):  # noqa: F811 - the fixture imported above
    for slider in ("width", "height"):
        box = page.locator(f"#{slider} input[type=number]")
        box.fill("64")
        box.press("Tab")
    page.get_by_role("tab", name="Sweep").click()
    upload(page, "#sw-photo", PHOTO)
    page.wait_for_selector("#sw-photo img")
    page.fill("#sw-x-values textarea", "0, 1")
    page.click("#sw-y-axis input")
    page.get_by_role("option", name="Method").click()
    page.wait_for_function("document.querySelector('#sw-y-values textarea').value.includes('depth:midas')")
    page.fill("#sw-y-values textarea", "depth, canny")
    page.click("#sw-run")
    page.wait_for_selector("#sw-grid img")
    page.wait_for_function("document.querySelector('#sw-notes').innerText.includes('4 cells')")
    page.wait_for_selector("#sw-plot canvas, #sw-plot svg")
    assert "ControlNet strength 1" in page.inner_text("#sw-matrix")
    screenshot(page, "ui-sweep.png")
    # "Score to plot": the lines and the legend both follow it.
    legend = "[...document.querySelectorAll('#sw-plot svg .role-legend-label text')].map(e => e.textContent)"
    page.wait_for_function(f"{legend}.some(s => !s.startsWith('Prompt'))")
    page.click("#sw-score input")
    page.get_by_role("option", name="Prompt (CLIP)").click()
    page.wait_for_function(
        f"(() => {{ const t = {legend}; return t.length === 2 && t.every(s => s.startsWith('Prompt')) }})()"
    )


def test_grid_labels_wrap_instead_of_being_cut_at_small_cells():
    from PIL import ImageDraw

    from app.grid import _font, _wrap, labelled_grid

    cells = [[Image.new("RGB", (64, 64), (200, 0, 0))] * 3] * 2
    columns = ["ControlNet strength 0.5", "IP-Adapter scale", "Depth + IP-Adapter"]
    grid = labelled_grid(cells, columns, ["ControlNet canny + IP-Adapter", "Text-only"])
    assert grid.size[1] > LABEL_HEIGHT + 2 * 64  # the label band grew to hold two lines
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = _wrap(measure, "ControlNet strength 0.5", 56, _font(9), 3)
    assert " ".join(lines) == "ControlNet strength 0.5" and not any("…" in line for line in lines)
    assert _wrap(measure, "x " * 200, 56, _font(9), 3)[-1].endswith("…")  # only past the last line is cut
