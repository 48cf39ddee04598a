"""The one decision behind every verdict: which method leads which fit, clearly, against text-only.

The Compare tab's highlighted cells and its advice (headline, ranking, reasons), the Sweep table and the evaluation
report's wins all read it, so no cell is highlighted that the advice calls unclear and no win is counted that the
advice would not call one. The rules, per column:

- **structure / reference fit**: a method *leads* when it is among the column's best (within the tie tolerance of
  the top) and beats the column's baseline (text-only, else the column's lowest value) by the column's margin:
  the advice's "kept the layout best" / "matched the reference best";
- **prompt fit**: a method leads when it is ahead of every other method by more than the prompt tolerance (the drop
  within which the advice still says a method "followed the prompt as well as text-only");
- **cost**: the cheapest leads when it was measured and costs at most :data:`COST_LEAD` of every other method (an
  equal share of one batched pass, or a memory that was not measured, leads nothing).

With one seed per method the margins are the fixed constants of :data:`ONE_SEED`, and they say so
(:attr:`Margins.source`). With several seeds a structure or reference gain is *clear* when a test on the seeds says
so instead of a constant (:func:`paired_tests`): every method started from the same noise on each seed, so each
method's scores are paired with text-only's seed by seed; the seed-to-seed spread is measured from the residuals of
all methods in that fit (a methods × seeds layout, each method's and each seed's level removed), and a one-sided
t-test asks whether the mean paired gain is above zero. Each method is tested on the fits its conditioning
targets (canny → edges, pose → pose, depth → depth, IP-Adapter → reference), Holm-corrected across those tests
at :data:`ALPHA`, so that with no true difference a winner is named in under 5 % of comparisons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.controls import CONTROLS, adapter_part
from app.fit.matrix import Column, FitMatrix

BASELINE = "text"
"""The method every other is measured against: what the prompt alone does."""

PROMPT_TOLERANCE = 0.02
"""How far (CLIP cosine) a method's prompt score may fall below text-only's and still "follow the prompt
as well". Set with CLIP ViT-B/32, whose scores of matching pairs sit around 0.25–0.35 and move by about
0.01–0.02 between seeds of one prompt, so smaller drops are noise. The scorer now defaults to ViT-L/14
(safetensors on its main branch), whose cosines fall in a similar range; the tolerance has not been
re-measured on it with real weights."""

STRUCTURE_MARGIN = 0.05
"""How much a structure score (edge F1, PCK, Spearman; all 0–1 for useful outputs) must beat the baseline's
to count as "kept the structure". Text-only outputs already score 0.1–0.3 by chance; 0.05 is meant to sit above
the seed-to-seed spread of these scores on one input (not yet measured on real weights)."""

REFERENCE_MARGIN = 0.05
"""How much the reference score (CLIP image cosine) must beat the baseline's to count as "matched the reference".
Unrelated images already score about 0.4–0.6 under CLIP, so only clear gains count."""

TIE_TOLERANCE = 0.01
"""Scores closer than this are a tie (below the table's two-decimal precision and the seed noise)."""

COST_LEAD = 0.9
"""A cost leads only when it is at most this share of every other method's (10 % cheaper at least)."""

EPSILON = 1e-9  # so that 0.86 - 0.85 (0.010000000000000009 in floats) is still a tie

ALPHA = 0.04
"""Family-wise error rate of a several-seed decision: the chance of naming a lead where there is none. Holm's
bound is tight when the tests are nearly independent (about α itself, measured 5.2 % at α = 0.05 over 8,000
simulated tests), so 4 % keeps a comparison's false-winner rate under 5 %; its cost in power is small (a gain of
twice the seed spread on 4 seeds is found 88 % of the time instead of 91 %, tests/test_fit_decision.py)."""

OWN_FIT = {**{name: spec.scorer for name, spec in CONTROLS.items()}, "ip_adapter": "reference"}
"""The fit each part of a method targets: what a several-seed decision tests it on."""


@dataclass(frozen=True)
class Margins:
    """How large a difference must be to count, and where those numbers come from."""

    prompt: float = PROMPT_TOLERANCE
    structure: float = STRUCTURE_MARGIN
    reference: float = REFERENCE_MARGIN
    tie: float = TIE_TOLERANCE
    source: str = "fixed margins set by hand, not yet measured on real weights"

    def gain_for(self, column: Column) -> float | None:
        """The gain over the baseline that counts as clear in ``column``; None for prompt and cost columns."""
        return {"structure": self.structure, "reference": self.reference}.get(column.kind)


ONE_SEED = Margins()
"""The margins of a one-seed comparison: the constants above."""


def margins_for(family: str | None) -> Margins:
    """The one-seed margins of ``family``: measured ones where ``STUDIO_CALIBRATION`` calibrates it
    (:mod:`app.calibration`), else the hand-set constants."""
    from app.calibration import for_family

    calibration = for_family(family)
    if calibration is None:
        return ONE_SEED
    measured = calibration.margins
    return Margins(
        prompt=measured.prompt,
        structure=measured.structure,
        reference=measured.reference,
        source=f"measured on {calibration.photos} photos × {calibration.seeds} seeds of {calibration.family} "
        "(STUDIO_CALIBRATION)",
    )


def how_sure(seeds: int, margins: Margins = ONE_SEED, unit: str = "seeds") -> str:
    """One sentence on how far a comparison's verdict can be trusted, for the advice's end (``unit``: what a pair
    is, "seeds" for one photo, "photo × seed pairs" for an evaluation)."""
    if seeds <= 1:
        return (
            "How sure: this verdict rests on one seed, one sample per method; a lead must beat text-only by "
            f"{margins.structure:g} (structure), {margins.reference:g} (reference) or keep the prompt within "
            f"{margins.prompt:g}, {margins.source}. Another seed can change it."
        )
    return (
        f"How sure: every method ran on the same {seeds} {unit}; a lead is a gain over text-only that a one-sided "
        f"paired t-test finds on those seeds (seed spread measured across the methods, Holm-corrected across each "
        f"method's own fit, at most {ALPHA:.0%} false leads). Scores read mean ± half-width of their 95 % interval."
    )


def own_fits(method: str) -> list[str]:
    """The fit columns ``method``'s parts target (``depth+ip_adapter`` → depth, reference; ``canny@t2i`` → edges:
    a T2I-Adapter is judged by its type's fit, as its ControlNet is)."""
    kinds = [adapter_part(part)[0].partition(":")[0] for part in method.split("+")]
    return [fit for kind in kinds if (fit := OWN_FIT.get(kind))]


@dataclass(frozen=True)
class PairedTest:
    """One method against the baseline in one fit, over the seeds they share."""

    method: str
    column: str
    gain: float
    seeds: int
    p_value: float
    clear: bool = False


def paired_tests(
    matrix: FitMatrix, baseline: str = BASELINE, alpha: float = ALPHA
) -> dict[tuple[str, str], PairedTest]:
    """Each method's test on its own fits against ``baseline`` (module docstring), Holm-corrected; empty for a
    one-seed matrix or without the baseline."""
    from scipy import stats

    if matrix.seeds < 2 or baseline not in matrix.methods:
        return {}
    found: list[PairedTest] = []
    for column in matrix.columns:
        if column.kind not in ("structure", "reference"):
            continue
        spread, df = _pooled_spread([matrix.sample(m, column.name) for m in matrix.methods])
        base = matrix.sample(baseline, column.name)
        for method in matrix.methods:
            if method == baseline or column.name not in own_fits(method):
                continue
            mine = matrix.sample(method, column.name)
            diffs = [m - b for m, b in zip(mine, base, strict=False) if m is not None and b is not None]
            if len(diffs) < 2 or df < 1:
                continue
            gain = sum(diffs) / len(diffs)
            if spread <= EPSILON:
                p_value = 0.0 if gain > EPSILON else 1.0
            else:
                p_value = float(stats.t.sf(gain / (spread * math.sqrt(2.0 / len(diffs))), df))
            found.append(PairedTest(method, column.name, gain, len(diffs), p_value))
    # Holm: the k-th smallest p-value (from 0) against alpha / (m - k), stopping at the first that fails.
    ordered = sorted(found, key=lambda test: test.p_value)
    decided: dict[tuple[str, str], PairedTest] = {}
    passing = True
    for rank, test in enumerate(ordered):
        passing = passing and test.p_value <= alpha / (len(ordered) - rank) and test.gain > 0
        decided[(test.method, test.column)] = PairedTest(**{**test.__dict__, "clear": passing})
    return decided


def _pooled_spread(samples: list[list[float | None]]) -> tuple[float, int]:
    """The seed-to-seed spread of a fit's scores with each method's and each seed's own level removed (the
    residual of a methods × seeds layout, over the seeds every method was scored on), and its degrees of freedom.
    Every method shares the same noise, so a method's few seeds borrow the others' to measure it."""
    rows = [s for s in samples if any(v is not None for v in s)]
    width = min((len(s) for s in rows), default=0)
    seeds = [i for i in range(width) if all(s[i] is not None for s in rows)]
    methods, count = len(rows), len(seeds)
    df = (methods - 1) * (count - 1)
    if df < 1:
        return 0.0, 0
    table = [[s[i] for i in seeds] for s in rows]
    grand = sum(map(sum, table)) / (methods * count)
    method_means = [sum(r) / count for r in table]
    seed_means = [sum(r[j] for r in table) / methods for j in range(count)]
    residual = sum(
        (table[m][j] - method_means[m] - seed_means[j] + grand) ** 2 for m in range(methods) for j in range(count)
    )
    return math.sqrt(residual / df), df


def clear(
    matrix: FitMatrix, method: str, column: Column, baseline: str = BASELINE, margins: Margins | None = None
) -> bool:
    """Whether ``method`` kept ``column`` clearly better than the baseline: by the margin on one seed, by the
    paired test on several (only its own fits are tested then)."""
    if matrix.seeds >= 2 and baseline in matrix.methods:
        test = paired_tests(matrix, baseline).get((method, column.name))
        return test is not None and test.clear
    value = gain(matrix, method, column.name, baseline)
    margin = (margins or margins_for(matrix.family)).gain_for(column)
    return value is not None and margin is not None and value >= margin - EPSILON


def base_of(matrix: FitMatrix, column: str, baseline: str = BASELINE) -> str | None:
    """The method gains in ``column`` are measured against: ``baseline``, else the column's lowest value."""
    if baseline in matrix.methods and matrix.value(baseline, column) is not None:
        return baseline
    present = [m for m in matrix.methods if matrix.value(m, column) is not None]
    return min(present, key=lambda m: matrix.value(m, column)) if present else None


def gain(matrix: FitMatrix, method: str, column: str, baseline: str = BASELINE) -> float | None:
    """``method``'s score in ``column`` minus its baseline's; None where either is missing or it is the baseline."""
    base = base_of(matrix, column, baseline)
    value = matrix.value(method, column)
    if base is None or value is None or method == base:
        return None
    return value - matrix.value(base, column)


def keeps_prompt(
    matrix: FitMatrix, method: str, baseline: str = BASELINE, margins: Margins | None = None
) -> bool | None:
    """Whether ``method`` followed the prompt as well as the baseline (within the prompt tolerance); None when
    either prompt score is unknown or ``method`` is the baseline."""
    if baseline not in matrix.methods or method == baseline:
        return None
    mine, base = matrix.value(method, "prompt"), matrix.value(baseline, "prompt")
    if mine is None or base is None:
        return None
    return prompt_kept(mine, base, margins or margins_for(matrix.family))


def prompt_kept(mine: float, base: float, margins: Margins = ONE_SEED) -> bool:
    """One pair of prompt scores: whether ``mine`` fell no more than the prompt tolerance below ``base``."""
    return mine >= base - margins.prompt - EPSILON


def clear_gain(value: float, base: float, column: Column, margins: Margins = ONE_SEED) -> bool:
    """One pair of scores in a structure or reference column: whether ``value`` beats ``base`` by the margin."""
    margin = margins.gain_for(column)
    return margin is not None and value - base >= margin - EPSILON


def wins(mine: dict[str, float], base: dict[str, float], column: Column, margins: Margins = ONE_SEED) -> bool | None:
    """Whether a method beat the baseline on one (photo, seed) in ``column`` as the advice would say it did: by the
    column's margin, while keeping the prompt. None where either score is missing."""
    if column.name not in mine or column.name not in base:
        return None
    kept = "prompt" not in base or "prompt" not in mine or prompt_kept(mine["prompt"], base["prompt"], margins)
    return kept and clear_gain(mine[column.name], base[column.name], column, margins)


def column_leads(
    matrix: FitMatrix, column: Column, baseline: str = BASELINE, margins: Margins | None = None
) -> list[str]:
    """The methods that lead ``column`` clearly (rules in the module docstring), in row order; [] for none."""
    present = {m: v for m in matrix.methods if (v := matrix.value(m, column.name)) is not None}
    if len(present) < 2:
        return []
    margins = margins or margins_for(matrix.family)
    if column.kind == "cost":
        positive = {m: v for m, v in present.items() if v > 0}
        if len(positive) < len(present):
            return []  # not measured for every method (e.g. 0 B of memory on a CPU): nothing to rank
        cheapest = min(positive, key=positive.get)
        others = [v for m, v in positive.items() if m != cheapest]
        return [cheapest] if all(positive[cheapest] <= COST_LEAD * v for v in others) else []
    top = max(present.values())
    best = [m for m, v in present.items() if top - v <= margins.tie + EPSILON]
    if column.kind == "prompt":
        rest = [v for m, v in present.items() if m not in best]
        return best if rest and all(min(present[m] for m in best) - v > margins.prompt + EPSILON for v in rest) else []
    if margins.gain_for(column) is None:
        return []
    base = base_of(matrix, column.name, baseline)
    clearly = [m for m in present if m != base and clear(matrix, m, column, baseline, margins)]
    if not clearly:
        return []
    top = max(present[m] for m in clearly)  # the best of the clear gains, and those tied with it
    return [m for m in clearly if top - present[m] <= margins.tie + EPSILON]


def leads(matrix: FitMatrix, baseline: str = BASELINE, margins: Margins | None = None) -> dict[str, list[str]]:
    """Every column's clear leaders (:func:`column_leads`): what a table highlights."""
    return {column.name: column_leads(matrix, column, baseline, margins) for column in matrix.columns}
