"""What a results file says, per method: score distributions, wins over text-only, cost, and a verdict.

The verdict is the Compare tab's advice (:func:`app.fit.advise`) read from the methods' mean scores, so a folder and
a single photo are judged by the same rules. A *win* over text-only, on a structure or reference fit, is a (photo,
seed) where the advice would say the method kept that fit clearly better (:func:`app.fit.decision.wins`: by the
fit's margin) while its prompt fit stays within the advice's prompt tolerance of text-only's.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.eval.rows import finite
from app.fit import FitMatrix, Verdict, advise, decision
from app.fit.decision import BASELINE
from app.fit.matrix import Column, known_columns


@dataclass
class MethodSummary:
    """One method across the run."""

    method: str
    rows: int = 0
    failed: int = 0
    scores: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    peak_memory: list[float] = field(default_factory=list)
    wins: dict[str, tuple[int, int]] = field(default_factory=dict)  # score -> (wins, (photo, seed) pairs compared)
    anchors: dict[str, list[float]] = field(default_factory=dict)  # published protocols (app.fit.anchors)
    errors: Counter[str] = field(default_factory=Counter)  # why its failed rows failed, with how often

    def mean(self, score: str) -> float | None:
        values = self.scores.get(score)
        return statistics.fmean(values) if values else None

    def win_rate(self, score: str) -> float | None:
        won, compared = self.wins.get(score, (0, 0))
        return won / compared if compared else None

    def win_interval(self, score: str, confidence: float = 0.95) -> tuple[float, float] | None:
        """Wilson's interval of the win rate (it stays inside 0–1 and is honest for few results)."""
        won, compared = self.wins.get(score, (0, 0))
        if not compared:
            return None
        from scipy.stats import binomtest

        interval = binomtest(won, compared).proportion_ci(confidence_level=confidence, method="wilson")
        return float(interval.low), float(interval.high)


@dataclass
class Summary:
    """The run, per method, with the columns it measured, and the verdict: the Compare tab's decision on the
    methods' scores paired by (photo, seed) (``matrix``: means, the pairs, their intervals)."""

    methods: list[MethodSummary]
    columns: list[Column]
    verdict: Verdict
    photos: int
    seeds: int
    matrix: FitMatrix = field(default_factory=lambda: FitMatrix([], [], {}))

    def method(self, name: str) -> MethodSummary | None:
        return next((m for m in self.methods if m.method == name), None)

    def errors(self) -> list[tuple[str, int, list[str]]]:
        """Every reason a row failed: the reason, how many rows, and the methods, most frequent first."""
        counts: Counter[str] = Counter()
        methods: dict[str, list[str]] = {}
        for m in self.methods:
            for reason, count in m.errors.items():
                counts[reason] += count
                methods.setdefault(reason, []).append(m.method)
        return [(reason, count, methods[reason]) for reason, count in counts.most_common()]


def summarise(rows: Iterable[dict[str, Any]]) -> Summary:
    """Summarise a run's rows (as :func:`app.eval.rows.read_rows` returns them)."""
    rows = list(rows)
    by_method: dict[str, MethodSummary] = {}
    table: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    for row in rows:
        summary = by_method.setdefault(row["method"], MethodSummary(row["method"]))
        summary.rows += 1
        scores = {k: v for k, v in (row.get("scores") or {}).items() if isinstance(v, (int, float))}
        if row.get("error") or not scores:
            summary.failed += 1
            summary.errors[str(row.get("error") or "no fit score could be computed")] += 1
            continue
        for name, value in scores.items():
            summary.scores.setdefault(name, []).append(float(value))
        anchors = row.get("anchors") if isinstance(row.get("anchors"), dict) else {}
        for name, value in anchors.items():
            if isinstance(name, str) and finite(value):
                summary.anchors.setdefault(name, []).append(float(value))
        if finite(row.get("seconds")):
            summary.seconds.append(float(row["seconds"]))
        if finite(row.get("peak_memory_bytes")):
            summary.peak_memory.append(float(row["peak_memory_bytes"]))
        table.setdefault((row["photo"], row["seed"]), {})[row["method"]] = scores
    known = known_columns()
    names = {name for m in by_method.values() for name in m.scores}
    columns = [c for name, c in known.items() if name in names]
    for summary in by_method.values():
        summary.wins = _wins(summary.method, table, [c for c in columns if c.kind in ("structure", "reference")])
    means = {
        m.method: {
            **{c.name: m.mean(c.name) for c in columns},
            "seconds": statistics.fmean(m.seconds) if m.seconds else None,
            "peak_memory": statistics.fmean(m.peak_memory) if m.peak_memory else None,
        }
        for m in by_method.values()
        if m.scores
    }
    matrix = FitMatrix.from_values(means) if means else FitMatrix([], [], {})
    # Every (photo, seed) is one pair of outputs from the same noise: the decision tests leads on those pairs.
    keys = sorted(table)
    matrix.samples = {
        method: {c.name: [table[key].get(method, {}).get(c.name) for key in keys] for c in columns} for method in means
    }
    verdict = advise(matrix)
    return Summary(
        list(by_method.values()),
        columns,
        verdict,
        matrix=matrix,
        photos=len({row["photo"] for row in rows}),
        seeds=len({row["seed"] for row in rows}),
    )


def _wins(
    method: str, table: dict[tuple[str, int], dict[str, dict[str, float]]], columns: list[Column]
) -> dict[str, tuple[int, int]]:
    if method == BASELINE:
        return {}
    wins: dict[str, tuple[int, int]] = {}
    for column in columns:
        won = compared = 0
        for scores in table.values():
            won_here = decision.wins(scores.get(method, {}), scores.get(BASELINE, {}), column)  # as the advice would
            if won_here is not None:  # None: either score is missing
                compared += 1
                won += won_here
        if compared:
            wins[column.name] = (won, compared)
    return wins
