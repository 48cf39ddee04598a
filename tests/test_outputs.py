"""The outputs folder: results kept with their recipe, listed back newest first, never written outside the folder."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from app.errors import StudioError
from app.outputs import INDEX, Outputs
from app.recipes import Recipe, png_with_recipe, recipe_from_image
from app.settings import Settings


def served(tmp_path, name: str, prompt: str) -> str:
    """A result file as gradio serves it: a PNG with its recipe."""
    recipe = Recipe(mode="generate", generate={"prompt": prompt})
    path = tmp_path / "served" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(png_with_recipe(Image.new("RGB", (8, 8)), recipe))
    return str(path)


def test_kept_results_come_back_newest_first_with_their_recipe(tmp_path):
    outputs = Outputs(tmp_path / "outputs")
    first = outputs.keep([(served(tmp_path, "a.png", "a red fox"), "Text-only · seed 1")])
    outputs.keep([(served(tmp_path, "b.png", "a grey wolf"), "Canny · seed 2"), (served(tmp_path, "c.png", "x"), "")])
    recent = Outputs(tmp_path / "outputs").recent(10)  # a restart: a new object on the same folder
    assert [caption for _, caption in recent] == ["Canny · seed 2", "", "Text-only · seed 1"]  # a run in its order
    assert recent[-1][0] == first[0][0] and all(p.startswith(str(tmp_path / "outputs")) for p, _ in recent)
    assert recipe_from_image(recent[0][0])[0].generate.prompt == "a grey wolf"
    assert Outputs(tmp_path / "outputs").recent(2) == recent[:2]


def test_the_index_is_read_as_data_inside_the_folder_only(tmp_path):
    outputs = Outputs(tmp_path / "outputs")
    outputs.keep([(served(tmp_path, "a.png", "kept"), "Text-only · seed 1")])
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    hostile = [
        {"file": "../secret.png", "caption": "escape"},
        {"file": str(secret), "caption": "absolute"},
        {"file": "2026-01-01/000000-00000000-x.png", "caption": "gone"},  # the right shape, no such file
        "not an object",
    ]
    with (tmp_path / "outputs" / INDEX).open("a") as index:
        index.write("".join(json.dumps(line) + "\n" for line in hostile) + "{cut sho")
    assert [caption for _, caption in outputs.recent(10)] == ["Text-only · seed 1"]


def test_a_folder_that_cannot_be_written_says_so_and_keeps_nothing_half_written(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(StudioError, match=r"Results not kept in .*a-file.*still shown"):
        Outputs(blocked).keep([(served(tmp_path, "a.png", "x"), "Text-only · seed 1")])
    assert Outputs(blocked).recent(5) == []


def test_the_folder_is_on_locally_off_on_a_space_and_off_when_empty(monkeypatch):
    monkeypatch.delenv("STUDIO_OUTPUT_DIR", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert str(Settings.from_env().output_dir) == "outputs"
    monkeypatch.setenv("SPACE_ID", "someone/studio")
    assert Settings.from_env().output_dir is None
    monkeypatch.setenv("STUDIO_OUTPUT_DIR", "/data/outputs")  # a Space with persistent storage opts in
    assert str(Settings.from_env().output_dir) == "/data/outputs"
    monkeypatch.setenv("STUDIO_OUTPUT_DIR", " ")
    assert Settings.from_env().output_dir is None


def test_a_comparisons_rows_are_results_the_report_reads_one_per_method_and_seed(tmp_path):
    from types import SimpleNamespace

    from app.eval.rows import parse_rows
    from app.eval.runner import comparison_rows
    from app.eval.summary import summarise
    from app.fit.matrix import FitMatrix
    from app.request.compare import CompareEntry, parse_method

    matrix = FitMatrix.from_samples({"text": {"prompt": [0.30, 0.32], "edges": [0.20, 0.22]},
                                     "canny": {"prompt": [0.28, 0.29], "edges": [0.61, 0.58]}})  # fmt: skip
    cost = SimpleNamespace(seconds=1.25, measured_peak_memory=2**20, memory_kind="rss_peak_delta", model_bytes=2**30)
    entries = [
        CompareEntry(parse_method("text"), cost),
        CompareEntry(parse_method("canny"), cost),
        CompareEntry(parse_method("pose"), None, error="No person was found in the photo."),
    ]
    request = {"prompt": "a lighthouse", "seed": 7, "seed_count": 2, "methods": ["text", "canny", "pose"]}
    rows = comparison_rows(entries, matrix, request, "photo")
    assert [(r["method"], r["seed"]) for r in rows] == [(m, s) for m in ("text", "canny", "pose") for s in (7, 8)]
    assert rows[3]["scores"]["edges"] == 0.58 and rows[4]["error"].startswith("No person")
    path = Outputs(tmp_path).keep_rows(rows, "a lighthouse")
    parsed = parse_rows(path.read_text())
    assert len(parsed.rows) == 6 and not parsed.problems
    assert {m.method for m in summarise(parsed.rows).methods} == {"text", "canny", "pose"}
    assert Outputs(tmp_path).comparisons(5) == [path]
