"""``python -m app.eval``: three bundled photos × three methods × two seeds on the tiny family, one process and two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.errors import StudioError
from app.eval.cli import main
from app.eval.inputs import find_photos, parse_seeds, plan, read_prompts
from app.eval.rows import COST_FIELDS, ROWS, SHARD, read_rows
from tests.conftest import EVAL_PHOTOS as PHOTOS

METHODS = "text,canny,ip_adapter"
ARGS = ["--methods", METHODS, "--seeds", "0,1", "--width", "64", "--height", "64", "--steps", "2"]


def machine_free(rows: list[dict]) -> list[dict]:
    """Rows without what measures the machine (time, memory)."""
    return [{k: v for k, v in row.items() if k not in COST_FIELDS} for row in rows]


# -- inputs, no models -------------------------------------------------------------------------------------------


def test_inputs_are_checked_before_any_model_loads(tmp_path, photos):
    assert [p.name for p in find_photos([photos])] == list(PHOTOS)
    with pytest.raises(StudioError, match="neither a file nor a folder"):
        find_photos([tmp_path / "nowhere"])
    with pytest.raises(StudioError, match="no image files"):
        find_photos([tmp_path / "photos" / ".."])  # a folder without images at its top level
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("3-5,3") == [3, 4, 5]
    for bad in ("", "a", "-1", "0-100"):
        with pytest.raises(StudioError, match="Seeds"):
            parse_seeds(bad)
    lines = tmp_path / "prompts.jsonl"
    lines.write_text('{"photo": "chelsea.png", "prompt": "a tiger", "reference": "coffee.png"}\n\n[1, 2]\n')
    with pytest.raises(StudioError, match="line 3"):
        read_prompts(lines)
    lines.write_text('{"photo": "chelsea.png", "prompt": "a tiger", "reference": "coffee.png"}\n')
    items, left_out = plan(find_photos([photos]), [0], prompts=read_prompts(lines), references=photos)
    assert [(i.photo, i.prompt, i.reference.name) for i in items] == [("chelsea.png", "a tiger", "coffee.png")]
    assert set(left_out) == {"astronaut.png", "coffee.png"} and "no prompt" in left_out["coffee.png"]
    items, _ = plan(find_photos([photos]), [0, 1], prompt="x", references=photos / "coffee.png")
    assert [(i.photo, i.seed) for i in items][:3] == [("astronaut.png", 0), ("astronaut.png", 1), ("chelsea.png", 0)]
    assert {i.reference.name for i in items} == {"coffee.png"}


def test_each_family_gets_its_own_guidance_and_the_image_prompt_is_an_option(tmp_path, photos):
    """FLUX.1's distilled guidance (3.5) unless --guidance says otherwise; the image prompt's scale and mode as
    options (a family without the mode leaves its image-prompt methods out with the reason, as Compare does)."""
    from app.eval.cli import parse_args, prepare

    def config(*options: str):
        return prepare(parse_args([str(photos / "coffee.png"), "--prompt", "x", "--out", str(tmp_path), *options]))[0]

    assert config("--family", "flux").guidance_scale == 3.5
    assert config("--family", "sd15").guidance_scale == 7.0
    assert config("--family", "flux", "--guidance", "2").guidance_scale == 2.0
    redux = config("--family", "flux", "--ip-mode", "redux", "--ip-scale", "0.4")
    items, _ = plan(find_photos([photos / "coffee.png"]), [0], prompt="x")
    assert redux.request(items[0])["ip_adapter"] == {"scale": 0.4, "mode": "redux"}
    assert "ip_adapter" not in config("--family", "sd15").describe()  # a folder made before the options still matches
    with pytest.raises(SystemExit):  # argparse names the modes there are
        config("--ip-mode", "pixels")


# -- a run on the tiny family --------------------------------------------------------------------------------------


def test_rows_are_complete_scored_and_deterministic_and_a_broken_photo_is_skipped(tmp_path, photos, tiny_env, capsys):
    (photos / "broken.png").write_bytes(b"not a png at all")
    first, second = tmp_path / "first", tmp_path / "second"
    common = [str(photos), "--prompt", "an oil painting", "--references", str(photos / "chelsea.png"), *ARGS]
    assert main([*common, "--out", str(first), "--save-images"]) == 0
    assert "skipped broken.png" in capsys.readouterr().err
    rows = read_rows(first / ROWS)
    assert [(r["photo"], r["seed"], r["method"]) for r in rows] == [
        (photo, seed, method) for photo in PHOTOS for seed in (0, 1) for method in METHODS.split(",")
    ]
    for row in rows:
        assert row["error"] is None and row["batching"] == "exact" and row["seconds"] > 0
        assert {"prompt", "edges", "reference"} <= set(row["scores"]), row["scores"]
        assert {"canny_f1", "clip_i", "clip_t"} <= set(row["anchors"]), row["anchors"]  # published protocols
        assert (first / row["image"]).is_file() and row["recipe"]["compare"].get("seed", 0) == row["seed"]
    skipped = [json.loads(line) for line in (first / "skipped.jsonl").read_text().splitlines()]
    assert [s["photo"] for s in skipped] == ["broken.png"] and "not" in skipped[0]["reason"].lower()
    assert main([*common, "--out", str(first)]) == 0  # a rerun: nothing left to run, the skip said once
    assert len((first / "skipped.jsonl").read_text().splitlines()) == 1
    assert main([*common, "--out", str(second)]) == 0
    again = read_rows(second / ROWS)
    assert machine_free([{**r, "image": None} for r in rows]) == machine_free(again)


def test_an_interrupted_run_resumes_without_duplicates(tmp_path, photos, tiny_env, capsys):
    out = tmp_path / "run"
    common = [str(photos), "--prompt", "a watercolour", *ARGS, "--methods", "text,canny", "--out", str(out)]
    assert main(common) == 0
    complete = read_rows(out / ROWS)
    # As if stopped after two items: the merged file is gone, one shard holds two items and a torn line.
    kept = [r for r in complete if (r["photo"], r["seed"]) in {("astronaut.png", 0), ("astronaut.png", 1)}]
    (out / ROWS).unlink()
    shard = out / SHARD.format(rank=0)
    shard.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"photo": "chelsea.png", "se')
    capsys.readouterr()
    assert main(common) == 0
    assert "2 already written; 4 to run" in capsys.readouterr().err
    resumed = read_rows(out / ROWS)
    assert machine_free(resumed) == machine_free(complete) and not shard.exists()
    assert main(common) == 0 and "0 to run" in capsys.readouterr().err  # nothing left: nothing runs


def test_a_rerun_with_other_settings_or_bad_options_is_refused_plainly(tmp_path, photos, tiny_env, capsys):
    out = tmp_path / "run"
    assert main([str(photos / "coffee.png"), "--prompt", "x", *ARGS, "--methods", "text", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main([str(photos / "coffee.png"), "--prompt", "x", *ARGS, "--methods", "canny", "--out", str(out)]) == 2
    assert "holds a run with other settings" in capsys.readouterr().err
    assert main([str(photos), "--prompt", "x", *ARGS, "--width", "65", "--out", str(tmp_path / "b")]) == 2
    assert "multiple of 8" in capsys.readouterr().err
    assert main([str(photos), "--prompt", "x", *ARGS, "--methods", "text,blur", "--out", str(tmp_path / "c")]) == 2
    assert "'blur'" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_with_accelerate_give_the_rows_of_one(tmp_path, photos, tiny_env):
    common = [str(photos), "--prompt", "an oil painting", "--references", str(photos / "chelsea.png"), *ARGS]
    single, double = tmp_path / "one", tmp_path / "two"
    assert main([*common, "--out", str(single)]) == 0
    # accelerate's --cpu starts one process without an MPI hostfile; --multi_gpu on a machine without a GPU starts
    # two CPU processes in a gloo group (the studio is pinned to the CPU by STUDIO_DEVICE anyway).
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "app.eval"]
    env = {**os.environ, **tiny_env, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [*launch, *common, "--out", str(double)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "on 2 process(es)" in done.stderr
    assert machine_free(read_rows(double / ROWS)) == machine_free(read_rows(single / ROWS))


# -- the report ----------------------------------------------------------------------------------------------------


def synthetic_rows() -> list[dict]:
    """Two photos × two seeds: depth beats text-only on depth fit and keeps the prompt; canny loses the prompt."""
    rows = []
    for photo in ("a.png", "b.png"):
        for seed in (0, 1):
            bump = 0.01 * seed
            rows += [
                {"photo": photo, "seed": seed, "method": "text", "error": None, "seconds": 1.0,
                 "scores": {"prompt": 0.30 + bump, "edges": 0.10, "depth": 0.20}},
                {"photo": photo, "seed": seed, "method": "depth", "error": None, "seconds": 1.4,
                 "scores": {"prompt": 0.30 + bump, "edges": 0.15, "depth": 0.60 + bump}},
                {"photo": photo, "seed": seed, "method": "canny", "error": None, "seconds": 1.5,
                 "scores": {"prompt": 0.20, "edges": 0.50, "depth": 0.40}},
                {"photo": photo, "seed": seed, "method": "pose", "error": "no person found", "scores": {}},
            ]  # fmt: skip
    return rows


def test_the_summary_counts_wins_over_text_only_only_where_the_prompt_is_kept():
    from app.eval.summary import summarise

    summary = summarise(synthetic_rows())
    depth, canny, pose = (summary.method(m) for m in ("depth", "canny", "pose"))
    assert depth.wins["depth"] == (4, 4) and depth.win_rate("depth") == 1.0
    assert canny.wins["edges"] == (0, 4)  # higher edge fit, but its prompt fit fell by 0.10 (> the tolerance)
    assert pose.failed == 4 and pose.rows == 4 and not pose.scores
    assert summary.photos == 2 and summary.seeds == 2
    assert summary.verdict.winner == "depth" and summary.verdict.markdown
    # The same statistics as the Compare tab: the decision paired by (photo, seed), Wilson intervals for win rates.
    assert summary.matrix.seeds == 4 and summary.matrix.interval("depth", "depth")[2] == 4
    low, high = depth.win_interval("depth")
    assert 0.0 <= low < 1.0 == high and canny.win_interval("edges")[0] == 0.0
    from app.eval.report import render

    page = render(summary, synthetic_rows())
    assert "95 % CI" in page and " ± " in page and "same 4 photo × seed pairs" in page


def test_an_uploaded_results_file_is_untrusted(tmp_path):
    from app.eval.rows import parse_rows
    from app.ui.report_tab import open_results

    lines = [json.dumps(r) for r in synthetic_rows()]
    lines += ["not json", json.dumps({"photo": ["x"], "seed": 0, "method": "text"})]
    lines += [json.dumps({"photo": "<script>alert(1)</script>.png", "seed": 9, "method": "text<b>",
                          "scores": {"prompt": 0.5}})]  # fmt: skip
    lines += ['{"photo": "c.png", "seed": 1, "method": "text", "scores": {"prompt": NaN}}', "[" * 100_000]
    parsed = parse_rows("\n".join(lines))
    assert len(parsed.rows) == 17 and parsed.bad == 4
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines))
    view, report, status = open_results(str(path))
    assert "<script>" not in view and "&lt;script&gt;" not in view  # photo names are not shown, method escaped
    assert "text&lt;b&gt;" in view and "4 line(s) that are not rows" in status
    assert Path(report).read_text().startswith("<!doctype html>")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("nothing here\n")
    with pytest.raises(Exception, match="holds no result rows"):
        open_results(str(empty))
