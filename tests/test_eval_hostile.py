"""Untrusted files around ``python -m app.eval``: results files, run folders, prompts files and output folders.

Whatever a file holds, work and output stay bounded by its size, every problem is one plain line naming the file and
line, the rows that are fine are still reported, and no computed row is ever lost.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from app.eval.cli import main
from app.eval.report import _ticks, render
from app.eval.report import main as report_main
from app.eval.rows import ROWS, append_rows, dump_row, parse_rows, read_rows
from app.eval.summary import summarise

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character ``str.splitlines`` breaks at."""
ARGS = ["--seeds", "0", "--width", "64", "--height", "64", "--steps", "2"]


def row(**fields) -> dict:
    return {"photo": "a.png", "seed": 0, "method": "text", "error": None, "scores": {"prompt": 0.3}, **fields}


def png_bomb() -> bytes:
    """A valid PNG header claiming 100,000 × 100,000 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_every_unicode_line_break_in_a_row_is_written_and_read_back(tmp_path):
    path = tmp_path / ROWS
    rows = [row(seed=index, prompt=f"a{char}b", photo=f"p{char}.png") for index, char in enumerate(LINE_BREAKS)]
    append_rows(path, rows[:5])
    append_rows(path, rows[5:])
    assert read_rows(path) == rows
    # One row per line for every reader, even one that splits where str.splitlines does.
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(rows)
    assert all("\u2028" not in dump_row(r) and "\n" not in dump_row(r) for r in rows)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"photo": "a.png", "seed": ' + "9" * 5000 + ', "method": "text"}', "4300 digits"),
        (json.dumps(row(scores={"prompt": 1e308})), "outside its range -1 to 1"),
        (json.dumps(row(scores={"edges": 1e5})), "outside its range 0 to 1"),
        (json.dumps(row(anchors={"depth_rmse": 256.0})), "outside its range 0 to 255"),
        (json.dumps(row(method="\ud800")), "not valid Unicode"),
        (json.dumps(row(seconds=1e308)), "seconds"),
        (json.dumps(row(peak_memory_bytes=-1)), "peak_memory_bytes"),
        (json.dumps(row(seed=-1)), "seed"),
        (json.dumps(row(seed=True)), "seed"),
        ('{"photo": "a.png", "seed": 0, "method": "text", "scores": {"prompt": Infinity}}', "finite"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_a_hostile_line_is_a_malformed_row_counted_and_left_out(line, reason):
    parsed = parse_rows("\n".join([json.dumps(row()), line, json.dumps(row(seed=1))]))
    assert [r["seed"] for r in parsed.rows] == [0, 1] and parsed.lines == [1, 3]
    assert len(parsed.problems) == 1 and parsed.problems[0][0] == 2 and reason in parsed.problems[0][1]


def test_the_report_size_follows_the_number_of_rows_not_their_values():
    assert all(len(_ticks(low, high)) <= 11 for low, high in [(0, 1), (-1, 1), (0, 255), (0, 1e5), (0, 1e300)])
    extreme = [row(seed=s, method=m, scores={"prompt": v, "depth": -v}) for s, v in enumerate((-1, 1)) for m in "ab"]
    size = len(render(summarise(extreme), extreme))
    assert size < 30_000, size


def test_the_report_command_leaves_out_what_it_cannot_read_and_says_where(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "bomb.png").write_bytes(png_bomb())
    lines = [
        json.dumps(row(method="canny", scores={"prompt": 0.3, "edges": 0.9}, image="rows.jsonl")),
        json.dumps(row(method="canny", seed=1, scores={"prompt": 0.3, "edges": 0.1}, image="bomb.png")),
        json.dumps(row(seed=1)),
        '{"photo": "a.png", "seed": ' + "9" * 5000 + ', "method": "text"}',
        json.dumps(row(scores={"prompt": 1e308, "edges": 1e308})),
    ]
    (out / ROWS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for run_json, said in (("{not json", "not the JSON"), ('{"config": [1, 2]}', "'config' should be an object")):
        (out / "run.json").write_text(run_json)
        assert report_main([str(out)]) == 2
        captured = capsys.readouterr()
        problems = captured.err.strip().splitlines()
        assert "Traceback" not in captured.err and captured.out.strip().endswith("report.html")
        assert any(f"{ROWS} line 4:" in p and "4300 digits" in p for p in problems)
        assert any(f"{ROWS} line 5:" in p and "outside its range" in p for p in problems)
        assert any(f"{ROWS} line 1:" in p and "'rows.jsonl'" in p and "not an image" in p for p in problems)
        assert any(f"{ROWS} line 2:" in p and "'bomb.png'" in p and "too large" in p for p in problems)
        assert any("run.json" in p and said in p for p in problems)
        report = (out / "report.html").read_text(encoding="utf-8")
        assert "3 results" in report and "Canny" in report  # the rows that are fine are reported
    (out / ROWS).write_bytes(b"\xff\xfe not utf-8\n")
    assert report_main([str(out)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_an_uploaded_report_is_written_where_gradio_prunes_its_cache(tmp_path):
    from gradio.utils import get_upload_folder

    from app.ui.report_tab import open_results

    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(row(seed=s)) for s in range(3)) + "\n")
    first, second = open_results(str(path))[1], open_results(str(path))[1]
    assert first == second and Path(first).is_relative_to(Path(get_upload_folder()).resolve())


def test_prompts_files_and_output_folders_that_cannot_be_used_are_refused_plainly(tmp_path, photos, capsys):
    common = [str(photos), *ARGS, "--out"]
    prompts = tmp_path / "prompts.jsonl"
    cases = [
        ('{"photo": "coffee.png", "prompt": "caf\xe9"}\n'.encode("latin-1"), "not UTF-8 text"),
        (('{"photo": "coffee.png", "prompt": "x", "n": ' + "1" * 5000 + "}\n").encode(), "4300 digits"),
        (b'{"photo": "coffee.png", "prompt": "\\ud800"}\n', "not valid Unicode"),
    ]
    for content, said in cases:
        prompts.write_bytes(content)
        assert main([str(photos), "--prompts", str(prompts), *ARGS, "--out", str(tmp_path / "p")]) == 2
        err = capsys.readouterr().err
        assert "line 1" in err or "not UTF-8" in err
        assert said in err and "Traceback" not in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, said in ((busy, "holds 1 other file(s) (notes.txt)"), (a_file / "sub", "cannot be written")):
        assert main([*common[:-1], "--prompt", "x", "--out", str(out)]) == 2
        assert said in capsys.readouterr().err
    assert (busy / "notes.txt").read_text() == "mine" and sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    assert main([*common[:-1], "--prompt", "x", "--seeds", "0-99999999999", "--out", str(tmp_path / "s")]) == 2
    assert "give 1–64 seeds" in capsys.readouterr().err


def test_a_prompt_with_a_line_separator_keeps_its_rows(tmp_path, photos, tiny_env, capsys):
    out = tmp_path / "run"
    prompt = "a lighthouse\u2028at night\x85\u2029"
    common = [str(photos / "coffee.png"), "--prompt", prompt, "--methods", "text,ip_adapter", *ARGS, "--out", str(out)]
    assert main(common) == 0
    text, ip = read_rows(out / ROWS)
    assert (text["photo"], text["prompt"], text["error"], ip["prompt"]) == ("coffee.png", prompt, None, prompt)
    assert ip["error"].startswith("Left out: IP-Adapter needs a reference image") and ip["retry"] is False
    # Read back whole, and the left-out method is not rerun (no reference is no reference next time too).
    assert main(common) == 0 and "1 already written; 0 to run" in capsys.readouterr().err


def test_failed_rows_are_counted_and_retried_and_a_run_without_scores_fails(
    tmp_path, photos, tiny_env, capsys, monkeypatch
):
    out = tmp_path / "run"
    common = [str(photos / "coffee.png"), "--prompt", "x", "--methods", "text", *ARGS, "--seeds", "0,1"]
    assert main([*common, "--out", str(out)]) == 0
    rows = read_rows(out / ROWS)
    failed = [{**r, "scores": {}, "error": "Could not load the base model", "retry": True} for r in rows[1:]]
    (out / ROWS).write_text("".join(json.dumps(r) + "\n" for r in rows[:1] + failed))
    capsys.readouterr()
    assert main([*common, "--out", str(out)]) == 0
    assert "1 already written; 1 to run" in capsys.readouterr().err  # the failed item ran again
    again = read_rows(out / ROWS)
    assert [(r["seed"], r["error"], bool(r["scores"])) for r in again] == [(0, None, True), (1, None, True)]

    # Every row failed (real weights that are not on this machine): said, counted, and not exit 0.
    monkeypatch.setenv("STUDIO_MODELS", "real")
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "empty-cache"))
    assert main([*common, "--out", str(tmp_path / "real")]) == 1
    err = capsys.readouterr().err
    assert "2 failed (most often, 2×: Could not load" in err and "No row produced a fit score" in err
    report = (tmp_path / "real" / "report.html").read_text(encoding="utf-8")
    assert "What failed" in report and "Could not load" in report and "verdict none" in report
