"""``python -m app.eval.calibrate RUN_DIR``: how much each fit moves from seed to seed, and the one-seed margins it
gives, from an evaluation run with several seeds per photo; writes ``RUN_DIR/calibration.json``.

For every fit and method it measures, over the photos, the seed-to-seed standard deviation of the method's score
(``spread``) and of its paired difference to text-only on the same seed (``paired_spread``), each pooled across
photos (the root of the mean variance). The margins are twice the median paired spread of the methods on the fits
they target (structure, reference) and of every method's prompt fit: a one-seed gain that large is unlikely to be
seed noise. ``STUDIO_CALIBRATION=RUN_DIR/calibration.json`` makes the studio use them for that family.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from app.engine.families import FAMILY_NAMES
from app.errors import StudioError
from app.eval.rows import ROWS, read_rows_file, read_run_file
from app.fit.decision import BASELINE, ONE_SEED, own_fits
from app.fit.matrix import known_columns

CALIBRATION = "calibration.json"
MARGIN_IN_SPREADS = 2.0
"""A one-seed margin is this many paired seed-to-seed spreads."""


def calibrate(out: Path) -> dict[str, Any]:
    """The calibration of a run folder (see the module docstring).

    Raises:
        StudioError: the folder holds no run, or fewer than two seeds of one photo for any method.
    """
    out = Path(out)
    rows = read_rows_file(out / ROWS).rows
    family = read_run_file(out).get("config", {}).get("family") or FAMILY_NAMES[0]
    kinds = {name: column.kind for name, column in known_columns().items() if column.kind != "cost"}
    # scores[fit][method][photo][seed]
    scores: dict[str, dict[str, dict[str, dict[int, float]]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        if row.get("error"):
            continue
        for fit, value in (row.get("scores") or {}).items():
            if fit in kinds and value is not None:
                scores[fit][row["method"]].setdefault(row["photo"], {})[row["seed"]] = float(value)
    spread: dict[str, dict[str, float]] = defaultdict(dict)
    paired: dict[str, dict[str, float]] = defaultdict(dict)
    for fit, by_method in sorted(scores.items()):
        baseline = by_method.get(BASELINE, {})
        for method, by_photo in sorted(by_method.items()):
            if (value := _pooled([list(seeds.values()) for seeds in by_photo.values()])) is not None:
                spread[fit][method] = round(value, 5)
            if method == BASELINE:
                continue
            differences = [
                [seeds[s] - baseline[photo][s] for s in seeds if s in baseline.get(photo, {})]
                for photo, seeds in by_photo.items()
            ]
            if (value := _pooled(differences)) is not None:
                paired[fit][method] = round(value, 5)
    if not spread:
        raise StudioError(
            f"{out}: no method has two or more seeds of one photo; run python -m app.eval with --seeds 0-3 (or more)."
        )
    photos = [by_photo for by_method in scores.values() for by_photo in by_method.values()]
    return {
        "family": family,
        "run": str(out),
        "photos": len({photo for by_photo in photos for photo in by_photo}),
        "seeds": max(len(seeds) for by_photo in photos for seeds in by_photo.values()),
        "spread": dict(spread),
        "paired_spread": dict(paired),
        "margins": _margins(paired, kinds),
        "how": __doc__.split("\n\n")[1].replace("\n", " "),
    }


def _pooled(groups: list[list[float]]) -> float | None:
    """The root of the mean within-group variance (each group: one photo's seeds; groups of one seed say nothing)."""
    variances = [statistics.variance(group) for group in groups if len(group) >= 2]
    return math.sqrt(statistics.fmean(variances)) if variances else None


def _margins(paired: dict[str, dict[str, float]], kinds: dict[str, str]) -> dict[str, float]:
    """Twice the median paired spread per kind: methods on their own fits; every method for the prompt."""
    found: dict[str, list[float]] = defaultdict(list)
    for fit, by_method in paired.items():
        for method, value in by_method.items():
            if kinds[fit] == "prompt" or fit in own_fits(method):
                found[kinds[fit]].append(value)
    # The hand-set margins stay where the run measured nothing.
    defaults = {"structure": ONE_SEED.structure, "reference": ONE_SEED.reference, "prompt": ONE_SEED.prompt}
    return {
        kind: round(min(1.0, max(1e-3, MARGIN_IN_SPREADS * statistics.median(found[kind]))), 4)
        if found.get(kind)
        else default
        for kind, default in defaults.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Write a run folder's calibration; 0 when written, 2 when the folder cannot give one (said in one line)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / ROWS).is_file():
        print("usage: python -m app.eval.calibrate RUN_FOLDER   (a run of python -m app.eval with several seeds)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        calibration = calibrate(Path(args[0]))
        target = Path(args[0]) / CALIBRATION
        target.write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
    except StudioError as error:
        print(f"No calibration: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"No calibration: cannot write {args[0]}/{CALIBRATION} ({error.strerror or error}).", file=sys.stderr)
        return 2
    print(target)
    print(f"margins: {calibration['margins']} (set STUDIO_CALIBRATION={target} to use them)")
    return 0


__all__ = ["CALIBRATION", "calibrate", "main"]

if __name__ == "__main__":
    sys.exit(main())
