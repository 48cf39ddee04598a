"""Calibration: seed-to-seed spreads measured from a run, margins the studio then uses for one-seed verdicts."""

from __future__ import annotations

import json
import random

import pytest

from app import calibration
from app.errors import StudioError
from app.eval.calibrate import CALIBRATION, main
from app.fit import advise
from app.fit.decision import ONE_SEED, how_sure, margins_for
from app.fit.matrix import FitMatrix


def run_folder(tmp_path, seeds=4):
    """A run of text-only and depth on 3 photos × ``seeds`` seeds: depth's paired spread about 0.02·√2."""
    rng = random.Random(5)
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"config": {"family": "sd15"}, "models": {}}))
    rows = []
    for photo in ("a.png", "b.png", "c.png"):
        for seed in range(seeds):
            shared = rng.gauss(0, 0.03)
            for method, level in (("text", 0.2), ("depth", 0.5)):
                scores = {"prompt": 0.3 + rng.gauss(0, 0.005), "depth": level + shared + rng.gauss(0, 0.02)}
                rows.append({"photo": photo, "seed": seed, "method": method, "error": None, "scores": scores})
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


@pytest.fixture
def clean_calibration(monkeypatch):
    monkeypatch.delenv(calibration.ENV, raising=False)
    calibration.active.cache_clear()
    yield monkeypatch
    calibration.active.cache_clear()


def test_a_run_with_several_seeds_calibrates_the_one_seed_margins(tmp_path, capsys, clean_calibration):
    out = run_folder(tmp_path)
    assert main([str(out)]) == 0
    written = json.loads((out / CALIBRATION).read_text())
    assert written["family"] == "sd15" and written["seeds"] == 4 and written["photos"] == 3
    assert 0.01 < written["paired_spread"]["depth"]["depth"] < 0.06
    assert written["margins"]["structure"] == pytest.approx(2 * written["paired_spread"]["depth"]["depth"], abs=1e-3)
    assert margins_for("sd15") == ONE_SEED  # not used until the operator says so
    clean_calibration.setenv(calibration.ENV, str(out / CALIBRATION))
    calibration.active.cache_clear()
    margins = margins_for("sd15")
    assert margins.structure == written["margins"]["structure"] and "measured on 3 photos × 4 seeds" in margins.source
    assert margins_for("sdxl") == ONE_SEED and "measured on" in how_sure(1, margins)
    table = FitMatrix.from_values(
        {"text": {"prompt": 0.3, "depth": 0.2}, "depth": {"prompt": 0.3, "depth": 0.2 + margins.structure + 0.001}}
    )
    table.family = "sd15"
    assert advise(table).winner == "depth"  # a gain just past the measured margin is a lead


def test_runs_and_files_that_cannot_calibrate_are_refused_plainly(tmp_path, capsys, clean_calibration):
    assert main([str(run_folder(tmp_path, seeds=1))]) == 2
    assert "no method has two or more seeds" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    for content, said in (("{not json", "not JSON"), ('{"family": "sd15", "photos": 1, "seeds": 1}', "seeds")):
        bad.write_text(content)
        clean_calibration.setenv(calibration.ENV, str(bad))
        calibration.active.cache_clear()
        with pytest.raises(StudioError, match=said):
            calibration.active()
