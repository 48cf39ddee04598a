"""The fit matrix: methods × scores (plus time and memory), best per column, and the table the UI shows.

:func:`score_results` fills it: every applicable score for **every** result,
not only the score of a result's own method, so that text-only's depth score
is the baseline showing what depth ControlNet added.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from app.errors import StudioError
from app.fit.base import FitContext, Scorer
from app.fit.registry import SCORERS, default_scorers

MIB = 1024 * 1024


@dataclass(frozen=True)
class Column:
    """One column of the matrix.

    Attributes:
        name: Key (``prompt``, ``edges``, ``pose``, ``depth``, ``reference``, ``seconds``, ``peak_memory``).
        label: Table header.
        description: One sentence for a tooltip or legend.
        kind: ``prompt``, ``structure``, ``reference`` or ``cost``.
        higher_is_better: False for cost columns, where the lowest is best.
        keeps: What a high score means was kept, for the advice ("the layout").
        bounds: The range a score of this column lies in (a scorer's documented range); None for costs.
    """

    name: str
    label: str
    description: str
    kind: str
    higher_is_better: bool = True
    keeps: str = ""
    bounds: tuple[float, float] | None = None

    @classmethod
    def for_scorer(cls, scorer: Scorer | type[Scorer]) -> Column:
        """The column of a scorer."""
        return cls(scorer.name, scorer.label, scorer.description, scorer.kind, keeps=scorer.keeps, bounds=scorer.bounds)

    def format(self, value: float | None, decimals: int = 2) -> str:
        """A cell as text: scores with ``decimals`` places, seconds, memory in MiB/GiB, ``–`` when missing."""
        if value is None:
            return "–"
        if self.name == "seconds":
            return f"{value:.2f} s"
        if self.name in ("peak_memory", "model_memory"):
            return f"{value / 1024 / MIB:.2f} GiB" if value >= 1024 * MIB else f"{value / MIB:.0f} MiB"
        return f"{round(value, decimals) + 0.0:.{decimals}f}"  # + 0.0 turns -0.00 into 0.00


COST_COLUMNS = (
    Column("seconds", "Time", "Wall time of the generation, model loading excluded.", "cost", False),
    Column("peak_memory", "Peak memory", "Peak memory of the generation (see its kind).", "cost", False),
    Column(
        "model_memory",
        "Model weights",
        "Memory of the weights the method runs: base model plus its ControlNets and IP-Adapter.",
        "cost",
        False,
    ),
)


def known_columns() -> dict[str, Column]:
    """Every column a matrix may have, by name, in display order."""
    columns = {name: Column.for_scorer(cls) for name, cls in SCORERS.items()}
    columns.update({c.name: c for c in COST_COLUMNS})
    return columns


@dataclass
class FitMatrix:
    """Scores and costs of each method of one comparison.

    Attributes:
        methods: Row names in display order (``text``, ``depth``, ``depth+ip_adapter``, ...).
        columns: Score columns, then cost columns.
        values: ``values[method][column]``: a float, or None where the score is missing.
        notes: Plain-language remarks, e.g. why a column is empty.
        scoring_seconds: Time the fit scoring took per method.
        memory_kind: How peak memory was measured (``cuda_peak_allocated``, ``rss_peak_delta``, ...).
        samples: Per-seed scores behind the means, ``samples[method][column]`` in seed order (None where a score
            was undefined for that seed); empty for one seed per method.
    """

    methods: list[str]
    columns: list[Column]
    values: dict[str, dict[str, float | None]]
    notes: list[str] = field(default_factory=list)
    scoring_seconds: dict[str, float] = field(default_factory=dict)
    memory_kind: str | None = None
    samples: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    family: str | None = None  # the model family that made the results (its calibration, if any, sets the margins)

    @property
    def seeds(self) -> int:
        """How many seeds each mean rests on (1 without samples)."""
        return max((len(v) for row in self.samples.values() for v in row.values()), default=1)

    def sample(self, method: str, column: str) -> list[float | None]:
        """``method``'s per-seed scores in ``column`` (its one value for a one-seed matrix)."""
        if method in self.samples and column in self.samples[method]:
            return list(self.samples[method][column])
        return [self.value(method, column)]

    @classmethod
    def from_samples(cls, samples: Mapping[str, Mapping[str, Sequence[float | None]]]) -> FitMatrix:
        """A matrix from per-seed scores, e.g. ``{"text": {"depth": [0.2, 0.25, 0.22]}, ...}`` (seed order):
        each value is the mean of its present samples.

        Raises:
            StudioError: as :meth:`from_values`.
        """
        means = {
            method: {c: (sum(p) / len(p) if (p := [v for v in vs if v is not None]) else None) for c, vs in row.items()}
            for method, row in samples.items()
        }
        matrix = cls.from_values(means)
        matrix.samples = {m: {c: list(vs) for c, vs in row.items()} for m, row in samples.items()}
        return matrix

    def interval(self, method: str, column: str, confidence: float = 0.95) -> tuple[float, float, int] | None:
        """The mean of ``method``'s per-seed scores in ``column``, the half-width of its ``confidence`` interval
        (Student's t over the seeds) and the number of seeds; None with fewer than two present samples."""
        present = [v for v in self.sample(method, column) if v is not None]
        if len(present) < 2:
            return None
        from scipy import stats

        mean = sum(present) / len(present)
        spread = statistics.stdev(present)
        half = float(stats.t.ppf(0.5 + confidence / 2, len(present) - 1)) * spread / math.sqrt(len(present))
        return mean, half, len(present)

    @classmethod
    def from_values(cls, values: Mapping[str, Mapping[str, float | None]], notes: Sequence[str] = ()) -> FitMatrix:
        """A matrix from plain numbers, e.g. ``{"text": {"prompt": 0.32, "depth": 0.22}, ...}``.

        Columns are every known column that appears in any row, in display order;
        a row lacking a column holds None there.

        Raises:
            StudioError: A column name is unknown or a value is not a finite number or None.
        """
        known = known_columns()
        names = {name for row in values.values() for name in row}
        unknown = sorted(names - set(known))
        if unknown:
            raise StudioError(f"fit columns {unknown} are not allowed; use {', '.join(known)}.")
        columns = [c for name, c in known.items() if name in names]
        table: dict[str, dict[str, float | None]] = {}
        for method, row in values.items():
            table[method] = {}
            for column in columns:
                value = row.get(column.name)
                if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value)):
                    raise StudioError(
                        f"fit value {method}/{column.name} must be a finite number or None, received {value!r}."
                    )
                table[method][column.name] = None if value is None else float(value)
        return cls(list(values), columns, table, list(notes))

    # -- reading ----------------------------------------------------------------------------------
    def has(self, column: str) -> bool:
        """Whether the column exists and holds at least one value."""
        return any(self.values[m].get(column) is not None for m in self.methods)

    def value(self, method: str, column: str) -> float | None:
        """One cell (None when missing or unknown)."""
        return self.values.get(method, {}).get(column)

    def column(self, name: str) -> Column | None:
        """The column called ``name``, if the matrix has it."""
        return next((c for c in self.columns if c.name == name), None)

    def columns_of(self, kind: str) -> list[Column]:
        """Columns of one kind (``prompt``, ``structure``, ``reference``, ``cost``) that hold a value."""
        return [c for c in self.columns if c.kind == kind and self.has(c.name)]

    def best_per_column(self, decimals: int = 2) -> dict[str, list[str]]:
        """The best method(s) of each column: highest score, lowest cost.

        Values that read the same as the best at the table's precision are all
        best, so a tie the user sees is highlighted as a tie; missing values are
        ignored; a column with no value has no best (an empty list).

        Args:
            decimals: Display precision of scores (as in :meth:`to_rows`).
        """
        best: dict[str, list[str]] = {}
        for column in self.columns:
            present = [(m, v) for m in self.methods if (v := self.values[m].get(column.name)) is not None]
            if not present:
                best[column.name] = []
                continue
            values = [v for _, v in present]
            top = max(values) if column.higher_is_better else min(values)
            shown = column.format(top, decimals)
            best[column.name] = [m for m, v in present if column.format(v, decimals) == shown]
        return best

    # -- showing ----------------------------------------------------------------------------------
    def headers(self) -> list[str]:
        """Table headers: ``Method`` then each column's label with its direction (↑ higher fits better, ↓ lower
        costs less), so the table reads without the guide."""
        return ["Method", *(f"{c.label} {'↑' if c.higher_is_better else '↓'}" for c in self.columns)]

    def to_rows(self, decimals: int = 2) -> list[list[str]]:
        """One row of formatted cells per method (no highlighting; see :meth:`best_per_column`); a score over
        several seeds reads ``mean ± half-width of its 95 % interval``."""
        return [[method, *(self._cell(method, c, decimals) for c in self.columns)] for method in self.methods]

    def _cell(self, method: str, column: Column, decimals: int) -> str:
        text = column.format(self.values[method][column.name], decimals)
        spread = self.interval(method, column.name) if column.kind != "cost" else None
        return f"{text} ± {spread[1]:.{decimals}f}" if spread is not None else text

    def to_markdown(self, decimals: int = 2) -> str:
        """The matrix as a Markdown table with the best of each column in bold."""
        best = self.best_per_column(decimals)
        lines = ["| " + " | ".join(self.headers()) + " |", "|" + "---|" * (len(self.columns) + 1)]
        for method, row in zip(self.methods, self.to_rows(decimals), strict=True):
            cells = [
                f"**{text}**" if method in best[c.name] and len(self.methods) > 1 else text
                for c, text in zip(self.columns, row[1:], strict=True)
            ]
            lines.append("| " + " | ".join([method, *cells]) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (for the API and saved comparisons)."""
        return {
            "methods": list(self.methods),
            "columns": [
                {"name": c.name, "label": c.label, "kind": c.kind, "higher_is_better": c.higher_is_better}
                for c in self.columns
            ],
            "values": {m: dict(self.values[m]) for m in self.methods},
            "best": self.best_per_column(),
            "notes": list(self.notes),
            "memory_kind": self.memory_kind,
        }


def _images_of(item: Any) -> list[Image.Image]:
    if isinstance(item, Image.Image):
        return [item]
    images = getattr(item, "images", item)
    if isinstance(images, Sequence) and images and all(isinstance(i, Image.Image) for i in images):
        return list(images)
    raise StudioError(
        f"a result to score must be a PIL image, a list of them or a Result, received {type(item).__name__}."
    )


def score_results(
    results: Mapping[str, Any],
    ctx: FitContext,
    *,
    scorers: Sequence[Scorer] | None = None,
    costs: Mapping[str, tuple[float, int]] | None = None,
) -> FitMatrix:
    """Every applicable score for every result, plus their costs.

    Args:
        results: By method name, in display order: a PIL image, a list of images
            (scores are their mean) or an :class:`app.engine.result.Result` (its images,
            ``seconds`` and ``peak_memory_bytes`` are used).
        ctx: What the outputs are scored against (see :meth:`FitContext.from_maps`).
        scorers: Scorers to run (default: every registered one); those that do not
            apply to ``ctx`` get no column.
        costs: ``(seconds, peak memory bytes)`` by method, overriding a Result's.

    Returns:
        The matrix. A scorer that fails with a :class:`StudioError` (say, a model
        that cannot load) leaves its column empty for the rest of the run, with
        the message in ``notes``; the other scores are still computed.

    Raises:
        StudioError: A result is not an image, a list of images or a Result.
    """

    active = [s for s in (scorers if scorers is not None else default_scorers()) if s.applies(ctx)]
    values, samples, failed, timings = _scores(results, ctx, active)
    columns = [Column.for_scorer(s) for s in active]
    cost_rows, memory_kinds = _cost_rows(results, costs)
    if cost_rows:
        with_models = any(row[2] is not None for row in cost_rows.values())
        columns.extend(c for c in COST_COLUMNS if with_models or c.name != "model_memory")
        for method in values:
            seconds, peak, model = cost_rows.get(method, (None, None, None))
            values[method]["seconds"], values[method]["peak_memory"] = seconds, peak
            if with_models:
                values[method]["model_memory"] = model
    notes = list(failed.values())
    if cost_rows and not any(row[1] is not None for row in cost_rows.values()):
        notes.append("Peak memory is measured on CUDA only; it is not measured on the CPU.")
    return FitMatrix(
        methods=list(results),
        columns=columns,
        values=values,
        notes=notes,
        samples=samples,
        scoring_seconds=timings,
        memory_kind=memory_kinds.pop() if len(memory_kinds) == 1 else None,
    )


def _scores(results: Mapping[str, Any], ctx: FitContext, active: list[Scorer]) -> tuple[dict, dict, dict, dict]:
    """Every active score of every result: mean values, per-seed samples (several images), scorers that failed
    (left empty from then on, with why) and the seconds scoring took per method."""
    images = {method: _images_of(item) for method, item in results.items()}
    values: dict[str, dict[str, float | None]] = {method: {} for method in results}
    samples: dict[str, dict[str, list[float | None]]] = {}
    failed: dict[str, str] = {}
    timings: dict[str, float] = {}
    for method, outputs in images.items():
        started = time.perf_counter()
        for scorer in active:
            if scorer.name in failed:
                values[method][scorer.name] = None
                continue
            try:
                per_image = [scorer.score(image, ctx) for image in outputs]
            except StudioError as exc:
                failed[scorer.name] = f"{scorer.label} was not computed: {exc}"
                per_image = []
            scores = [s for s in per_image if s is not None]
            values[method][scorer.name] = sum(scores) / len(scores) if scores else None
            if len(outputs) > 1:  # one image per seed: the samples the decision pairs by seed
                samples.setdefault(method, {})[scorer.name] = per_image
        timings[method] = time.perf_counter() - started
    return values, samples, failed, timings


def _cost_rows(
    results: Mapping[str, Any], costs: Mapping[str, tuple[float, int]] | None
) -> tuple[dict[str, tuple[float | None, float | None, float | None]], set]:
    """(seconds, peak memory, model bytes) by method, from ``costs`` or each Result, and the memory kinds measured."""
    cost_rows: dict[str, tuple[float | None, float | None, float | None]] = {}
    memory_kinds = set()
    for method, item in results.items():
        model = getattr(item, "model_bytes", None) or None
        if costs and method in costs:
            seconds, peak = costs[method]
        elif hasattr(item, "seconds") and hasattr(item, "peak_memory_bytes"):
            seconds = item.seconds
            peak = getattr(item, "measured_peak_memory", item.peak_memory_bytes)
            memory_kinds.add(getattr(item, "memory_kind", None))
        else:
            continue
        cost_rows[method] = tuple(None if v is None else float(v) for v in (seconds, peak, model))
    memory_kinds.discard(None)
    return cost_rows, memory_kinds
