"""Advice: a short, plain-language verdict derived transparently from the fit matrix.

Every sentence quotes the numbers it rests on, and :class:`Verdict` lists them,
so a user can check the verdict against the table. A verdict leads with a one-line
headline and a ranking, then gives its reasons. The rules, in order:

1. **Nothing to compare.** No score at all: say so, no winner. One method
   only: describe its scores and suggest running text-only beside it, no winner.
   **Cannot tell apart:** when every measured fit (each score column) lies within
   :data:`TIE_TOLERANCE` across the methods, the scores say nothing about which
   fits better: the verdict says so and names no winner (rule ``indistinct``).
2. **Baseline.** Gains are measured against text-only (:data:`BASELINE`); in a
   column where text-only has no value, against that column's lowest value,
   and the sentence names that method.
3. **Structure** (edges, pose, depth). For each structure column, the best
   method is named if it beats the baseline by at least
   :data:`STRUCTURE_MARGIN`; otherwise the verdict says no method kept that
   structure clearly better than text-only.
4. **Winner.** Candidates are the methods that beat the baseline by
   :data:`STRUCTURE_MARGIN` in some structure column, ranked by their mean gain
   over the structure columns. The first candidate that *keeps the prompt*
   (prompt score at most :data:`PROMPT_TOLERANCE` below text-only's) wins and
   "fits this input". Candidates ranked above it that lost the prompt are
   named as a trade-off. If every candidate lost the prompt, there is no
   winner: the verdict names the trade-off instead.
5. **Reference.** The method that matched the reference best (by at least
   :data:`REFERENCE_MARGIN` over the baseline) is named; if it did not keep
   the structure another method kept, the verdict says it "lost" it. When no
   method kept structure (or none was measured), this method wins if it keeps
   the prompt.
6. **Nothing gained.** No method beat the baseline anywhere: text-only fits.
7. **Cost.** When the winner is not text-only and both times are known, the
   last sentence compares their times.

Ties: values within :data:`TIE_TOLERANCE` are treated as equal; tied methods are
named together, and the winner among them is the one with the higher prompt
score, then the simpler method (fewer combined parts), then row order.
Missing scores (None) are never compared or quoted: a method without a value
in a column neither gains nor loses there, and an unknown prompt score counts
as keeping the prompt (the verdict then quotes no prompt numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from app.controls import method_label
from app.fit import decision
from app.fit.decision import (
    BASELINE,
    PROMPT_TOLERANCE,
    REFERENCE_MARGIN,
    STRUCTURE_MARGIN,
    TIE_TOLERANCE,
)
from app.fit.decision import (
    EPSILON as _EPSILON,
)
from app.fit.matrix import Column, FitMatrix

__all__ = [
    "BASELINE",
    "PROMPT_TOLERANCE",
    "REFERENCE_MARGIN",
    "STRUCTURE_MARGIN",
    "TIE_TOLERANCE",
    "Rule",
    "Verdict",
    "advise",
    "method_label",
]


def _ref(method: str) -> str:
    """A method's name inside a sentence: ``text-only``, ``depth``, ``depth + IP-Adapter``."""
    if method == BASELINE:
        return "text-only"
    label = method_label(method)
    return label if label.startswith("IP-") else label[0].lower() + label[1:]


def _n(value: float) -> str:
    return f"{round(value, 2) + 0.0:.2f}"


def _names(methods: list[str]) -> str:
    labels = [method_label(m) for m in methods]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


class Rule(str, Enum):
    """Which rule of the module docstring decided a verdict (a ``str``, so it compares and serialises as its name)."""

    EMPTY = "empty"
    SINGLE = "single"
    INDISTINCT = "indistinct"
    STRUCTURE = "structure"
    TRADE_OFF = "trade_off"
    REFERENCE = "reference"
    BASELINE = "baseline"
    PROMPT = "prompt"


@dataclass
class Verdict:
    """The advice for one comparison.

    Attributes:
        sentences: The reasons, a few short sentences quoting the table.
        winner: The method that fits this input, or None when the numbers name none.
        rule: Which rule decided.
        tied: Methods tied with the winner, the winner first.
        numbers: Every number quoted, keyed ``"method/column"``.
        headline: The verdict in one line, for a person who reads nothing else.
        ranking: Methods from best to worst fit, tied methods grouped (empty when the scores cannot rank them).
    """

    sentences: list[str]
    winner: str | None
    rule: Rule
    tied: list[str] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)
    headline: str = ""
    ranking: list[list[str]] = field(default_factory=list)

    @property
    def ranking_line(self) -> str:
        """``Ranking by measured fit: 1. Depth · 2. Canny, Pose (tied) · 3. Text-only``, or "" without a ranking."""
        if len(self.ranking) < 2:
            return ""
        places = [
            f"{place}. {', '.join(method_label(m) for m in group)}{' (tied)' if len(group) > 1 else ''}"
            for place, group in enumerate(self.ranking, start=1)
        ]
        return "Ranking by measured fit: " + " · ".join(places) + "."

    @property
    def text(self) -> str:
        """Headline, ranking and reasons as one paragraph."""
        return " ".join(part for part in (self.headline, self.ranking_line, *self.sentences) if part)

    @property
    def markdown(self) -> str:
        """The headline in bold, the ranking on its own line, then the reasons."""
        parts = [f"**{self.headline}**" if self.headline else "", self.ranking_line, " ".join(self.sentences)]
        return "\n\n".join(part for part in parts if part)


class _Reader:
    """The matrix plus the numbers quoted so far."""

    def __init__(self, matrix: FitMatrix, baseline: str) -> None:
        self.matrix = matrix
        self.baseline = baseline if baseline in matrix.methods else None
        self.numbers: dict[str, float] = {}

    def get(self, method: str, column: str) -> float | None:
        return self.matrix.value(method, column)

    def quote(self, method: str, column: str) -> str:
        value = self.get(method, column)
        assert value is not None  # only present values are ever quoted
        self.numbers[f"{method}/{column}"] = value
        return _n(value)

    def base_of(self, column: str) -> str | None:
        """The method gains in ``column`` are measured against: text-only, else the lowest value."""
        return decision.base_of(self.matrix, column, self.baseline or "")

    def gain(self, method: str, column: str) -> float | None:
        return decision.gain(self.matrix, method, column, self.baseline or "")

    def keeps_prompt(self, method: str) -> bool | None:
        """True/False, or None when either prompt score is unknown."""
        return decision.keeps_prompt(self.matrix, method, self.baseline or "")

    def leads(self, column: Column) -> list[str]:
        """The column's clear leaders: the decision the table highlights."""
        return decision.column_leads(self.matrix, column, self.baseline or "")

    def versus(self, method: str, column: str) -> str:
        """``0.81 vs 0.22 text-only``: the method's value against the column's baseline."""
        base = self.base_of(column)
        if base is None or base == method:
            return self.quote(method, column)
        return f"{self.quote(method, column)} vs {self.quote(base, column)} {_ref(base)}"


def _simplicity(method: str) -> int:
    return method.count("+")  # parts beyond the first


def _rank(reader: _Reader, methods: list[str], score: dict[str, float]) -> list[str]:
    """Highest ``score`` first; ties (TIE_TOLERANCE) by higher prompt score, then simpler method, then row order."""
    order = {m: i for i, m in enumerate(reader.matrix.methods)}
    ranked = sorted(methods, key=lambda m: (-score[m], order[m]))
    # Group ties against the group's best and re-sort each group by the tie-breakers.
    result: list[str] = []
    while ranked:
        top = score[ranked[0]]
        group = [m for m in ranked if top - score[m] <= TIE_TOLERANCE + _EPSILON]
        ranked = [m for m in ranked if m not in group]
        prompt = {m: reader.get(m, "prompt") for m in group}
        group.sort(key=lambda m: (-(prompt[m] if prompt[m] is not None else float("-inf")), _simplicity(m), order[m]))
        result.extend(group)
    return result


def _tied_with(score: dict[str, float], ranked: list[str], method: str) -> list[str]:
    return [m for m in ranked if abs(score[m] - score[method]) <= TIE_TOLERANCE + _EPSILON]


def advise(matrix: FitMatrix, baseline: str = BASELINE) -> Verdict:
    """The verdict for one comparison's fit matrix (rules in the module docstring).

    Args:
        matrix: The fit matrix (costs optional).
        baseline: The method gains are measured against (default: text-only).

    Returns:
        The verdict: sentences, the winning method (or None), the rule that decided
        and every number quoted.
    """
    reader = _Reader(matrix, baseline)
    scored = [c for c in matrix.columns if c.kind != "cost" and matrix.has(c.name)]
    if not matrix.methods or not scored:
        return Verdict(
            ["No fit scores could be computed for this comparison."], None, Rule.EMPTY, headline="No verdict."
        )
    if len(matrix.methods) == 1:
        return _single(reader, matrix.methods[0], scored)
    if _indistinct(reader, scored):
        return _cannot_tell(reader, scored)
    verdict = _decide(reader, matrix)
    verdict.headline = _headline(reader, verdict)
    verdict.ranking = _ranking(reader, verdict)
    return verdict


def _decide(reader: _Reader, matrix: FitMatrix) -> Verdict:
    """The rules from *Baseline* on (module docstring): the reasons, the winner and the rule that decided."""
    sentences: list[str] = []
    structure = matrix.columns_of("structure")
    candidates = _structure_candidates(reader, matrix, structure, sentences)
    winner, rule, tied = _structure_rule(reader, candidates, structure, sentences)

    if matrix.column("reference") is not None and matrix.has("reference"):
        sentence, ref_winner = _reference_sentence(reader, winner, candidates, structure)
        sentences.append(sentence)
        if winner is None and rule == Rule.BASELINE and ref_winner is not None:
            winner, rule, tied = ref_winner, Rule.REFERENCE, [ref_winner]

    if winner is None and rule == Rule.BASELINE:
        if not structure and not matrix.has("reference"):
            return _prompt_only(reader, sentences)
        if reader.baseline is not None:
            winner, tied = reader.baseline, [reader.baseline]
            sentences.append(
                "No conditioning improved the measured fit clearly over text-only: here the photo and reference "
                "added nothing the scores can see, so text-only fits this input."
            )
        else:
            sentences.append("No method stood out clearly from the others on this input.")
    sentences.extend(_cost_sentence(reader, winner))
    return Verdict(sentences, winner, rule, tied, reader.numbers)


def _structure_candidates(
    reader: _Reader, matrix: FitMatrix, structure: list[Column], sentences: list[str]
) -> dict[str, float]:
    """The methods that clearly beat the baseline on some structure score (:func:`app.fit.decision.clear`), with
    their mean structure gain; each structure column's sentence is added to ``sentences``."""
    clear_on_some: list[str] = []
    for column in structure:
        sentences.append(_structure_sentence(reader, column))
        clear_on_some += [m for m in matrix.methods if decision.clear(matrix, m, column, reader.baseline or "")]
    candidates: dict[str, float] = {}
    for method in dict.fromkeys(clear_on_some):
        gains = [g for c in structure if (g := reader.gain(method, c.name)) is not None]
        candidates[method] = sum(gains) / len(gains)
    return candidates


def _structure_rule(
    reader: _Reader, candidates: dict[str, float], structure: list[Column], sentences: list[str]
) -> tuple[str | None, Rule, list[str]]:
    """Winner, rule and ties among the structure candidates: the best that keeps the prompt wins; when every one
    lost the prompt it is a trade-off. Its sentences are added to ``sentences``."""
    if not candidates:
        return None, Rule.BASELINE, []
    winner, rule, tied = None, Rule.BASELINE, []
    ranked = _rank(reader, list(candidates), candidates)
    keepers = [m for m in ranked if reader.keeps_prompt(m) is not False]
    lost = [m for m in ranked if reader.keeps_prompt(m) is False]
    if keepers:
        winner, rule = keepers[0], Rule.STRUCTURE
        tied = [m for m in _tied_with(candidates, ranked, winner) if m in keepers]
        sentences.append(_fits_sentence(reader, winner, tied, structure))
        above = [m for m in lost if ranked.index(m) < ranked.index(winner)]
    else:
        rule, above = Rule.TRADE_OFF, lost
    if above:
        sentences.append(
            f"{_names(above)} kept more structure but lost the prompt "
            f"({'; '.join(reader.versus(m, 'prompt') for m in above)})."
        )
    if not keepers:
        sentences.append(
            f"Every method that kept the structure lost the prompt: choose {method_label(ranked[0])} "
            "when structure matters most, text-only when the prompt does."
        )
    return winner, rule, tied


def _cost_sentence(reader: _Reader, winner: str | None) -> list[str]:
    """What the winner cost beside text-only (nothing when text-only won or a time is missing)."""
    if winner is None or winner == reader.baseline or reader.baseline is None:
        return []
    if reader.get(winner, "seconds") is None or reader.get(reader.baseline, "seconds") is None:
        return []
    return [
        f"{method_label(winner)} took {reader.quote(winner, 'seconds')} s against "
        f"{reader.quote(reader.baseline, 'seconds')} s for text-only."
    ]


def _single(reader: _Reader, method: str, scored: list[Column]) -> Verdict:
    parts = [
        f"{c.label.split(' (')[0].lower()} {reader.quote(method, c.name)}"
        for c in scored
        if reader.get(method, c.name) is not None
    ]
    sentences = [f"Only {method_label(method)} was run ({', '.join(parts)})."]
    if method != BASELINE:
        sentences.append("Run text-only beside it to see what the conditioning added.")
    else:
        sentences.append("Run a ControlNet or IP-Adapter beside it to see what conditioning adds.")
    return Verdict(sentences, None, Rule.SINGLE, [], reader.numbers, headline="One method only: nothing to compare.")


def _spread(reader: _Reader, column: Column) -> tuple[float, float] | None:
    """The lowest and highest value of a column, or None with fewer than two methods measured in it."""
    present = [v for m in reader.matrix.methods if (v := reader.get(m, column.name)) is not None]
    return (min(present), max(present)) if len(present) >= 2 else None


def _indistinct(reader: _Reader, scored: list[Column]) -> bool:
    """Whether every fit column measured for two or more methods lies within the tie tolerance."""
    spreads = [s for c in scored if (s := _spread(reader, c)) is not None]
    return bool(spreads) and all(high - low <= TIE_TOLERANCE + _EPSILON for low, high in spreads)


def _cannot_tell(reader: _Reader, scored: list[Column]) -> Verdict:
    ranges = []
    for column in scored:
        spread = _spread(reader, column)
        if spread is not None:
            low, high = spread
            name = column.label.split(" (")[0].lower()
            ranges.append(f"{name} {_n(low)}" if _n(low) == _n(high) else f"{name} {_n(low)}–{_n(high)}")
    sentences = [
        f"Every measured fit lies within {TIE_TOLERANCE:g} across the methods ({'; '.join(ranges)}), "
        "so the numbers cannot say which method fits better.",
        "Judge by the images, or try another seed or photo.",
    ]
    return Verdict(
        sentences,
        None,
        Rule.INDISTINCT,
        list(reader.matrix.methods),  # every method ties with every other
        reader.numbers,
        headline="No clear winner: the scores cannot tell these methods apart on this input.",
    )


def _headline(reader: _Reader, verdict: Verdict) -> str:
    """The verdict in one line."""
    winner = verdict.winner
    others = [m for m in verdict.tied if m != winner]
    if verdict.rule in (Rule.STRUCTURE, Rule.REFERENCE) and winner is not None:
        tie = f" (tied with {_names(others)})" if others else ""
        what = "kept the structure" if verdict.rule == Rule.STRUCTURE else "matched the reference"
        prompt = " and followed the prompt" if reader.keeps_prompt(winner) else ""
        return f"{method_label(winner)} fits this input best{tie}: it {what}{prompt}."
    if verdict.rule == Rule.TRADE_OFF:
        return "No method keeps both: here, keeping the structure cost the prompt."
    if verdict.rule == Rule.PROMPT:
        if winner is None:
            return "No clear winner on the prompt, the only fit measured."
        return f"{method_label(winner)} followed the prompt best (the only fit measured)."
    if winner == BASELINE:
        return "Text-only is enough here: no conditioning improved the measured fit."
    return "No method stood out clearly."


def _ranking(reader: _Reader, verdict: Verdict) -> list[list[str]]:
    """Methods from best to worst: the winner (and its ties) first, then by mean gain over the baseline in the
    structure and reference columns; a method that lost the prompt ranks below every one that kept it."""
    matrix = reader.matrix
    columns = [c for c in (*matrix.columns_of("structure"), matrix.column("reference")) if c and matrix.has(c.name)]

    def merit(method: str) -> float:
        if not columns:  # only the prompt was measured
            return reader.get(method, "prompt") or 0.0
        gains = [0.0 if method == reader.base_of(c.name) else reader.gain(method, c.name) for c in columns]
        present = [g for g in gains if g is not None]
        return sum(present) / len(present) if present else 0.0

    first = list(verdict.tied or ([verdict.winner] if verdict.winner else []))
    rest = [m for m in matrix.methods if m not in first]
    score = {m: merit(m) for m in rest}
    groups: list[list[str]] = [first] if first else []
    for lost in (False, True):
        pool = sorted((m for m in rest if (reader.keeps_prompt(m) is False) == lost), key=lambda m: -score[m])
        while pool:
            group = [m for m in pool if score[pool[0]] - score[m] <= TIE_TOLERANCE + _EPSILON]
            pool = [m for m in pool if m not in group]
            groups.append(group)
    return groups


def _structure_sentence(reader: _Reader, column: Column) -> str:
    present = {m: v for m in reader.matrix.methods if (v := reader.get(m, column.name)) is not None}
    base = reader.base_of(column.name)
    leaders = reader.leads(column)
    if not leaders:
        if base is None or len(present) < 2:
            return f"Only one method has a {column.name} score, so {column.keeps} cannot be compared."
        others = [m for m in present if m != base]
        runner = max(others, key=lambda m: present[m])
        if present[runner] - present[base] <= TIE_TOLERANCE + _EPSILON:  # no "closest" among ties
            return f"No method kept {column.keeps} better than {_ref(base)} (all within {TIE_TOLERANCE:g} of it)."
        return (
            f"No method kept {column.keeps} clearly better than {_ref(base)} "
            f"(closest: {method_label(runner)}, {reader.versus(runner, column.name)})."
        )
    if len(leaders) == 1:
        return f"{method_label(leaders[0])} kept {column.keeps} best ({reader.versus(leaders[0], column.name)})."
    values = ", ".join(reader.quote(m, column.name) for m in leaders)
    baseline = f" vs {reader.quote(base, column.name)} {_ref(base)}" if base is not None else ""
    return f"{_names(leaders)} kept {column.keeps} equally well ({values}{baseline})."


def _fits_sentence(reader: _Reader, winner: str, tied: list[str], structure: list[Column]) -> str:
    keeps = reader.keeps_prompt(winner)
    if keeps is None:
        prompt = "(its prompt fit could not be compared)"
    else:
        prompt = (
            f"while following the prompt as well as text-only "
            f"({reader.quote(winner, 'prompt')} vs {reader.quote(reader.baseline, 'prompt')})"
        )
    others = [m for m in tied if m != winner]
    label = method_label(winner)
    if others:
        return (
            f"{label} and {_names(others)} are tied on structure; {label} kept it {prompt}: "
            f"{_ref(winner)} fits this input."
        )
    return f"{label} kept the structure {prompt}: {_ref(winner)} fits this input."


def _reference_sentence(
    reader: _Reader, winner: str | None, candidates: dict[str, float], structure: list[Column]
) -> tuple[str, str | None]:
    present = {m: v for m in reader.matrix.methods if (v := reader.get(m, "reference")) is not None}
    leaders = reader.leads(reader.matrix.column("reference"))
    if not leaders:
        return "No method matched the reference clearly better than text-only.", None
    leaders = _rank(reader, leaders, {m: present[m] for m in leaders})
    if winner in leaders:  # the structure winner also matched the reference: say so, naming any tie
        others = [m for m in leaders if m != winner]
        tie = f", tied with {_names(others)}" if others else ""
        return (
            f"{method_label(winner)} also matched the reference best ({reader.versus(winner, 'reference')}){tie}.",
            None,
        )
    best_ref = leaders[0]
    matched = f"{_names(leaders)} matched the reference best ({reader.versus(best_ref, 'reference')})"
    if winner is not None and structure and best_ref not in candidates:
        # The structure the winner kept, in the column where the winner gained most.
        column = max(
            structure, key=lambda c: reader.gain(winner, c.name) if reader.gain(winner, c.name) is not None else -1
        )
        lost = reader.get(best_ref, column.name)
        detail = (
            f" ({reader.quote(best_ref, column.name)} vs {reader.quote(winner, column.name)} {_ref(winner)})"
            if lost is not None
            else ""
        )
        return f"{matched} but lost {column.keeps}{detail}.", None
    if winner is not None:
        return f"{matched} and kept structure too.", None
    # No structure winner: the reference decides, if the prompt survived.
    keeps = reader.keeps_prompt(best_ref)
    if keeps is False:
        return f"{matched} but lost the prompt ({reader.versus(best_ref, 'prompt')}).", None
    if keeps is None:
        return f"{matched}: {_ref(best_ref)} fits this input.", best_ref
    return (
        f"{matched} while following the prompt as well as text-only "
        f"({reader.quote(best_ref, 'prompt')} vs {reader.quote(reader.baseline, 'prompt')}): "
        f"{_ref(best_ref)} fits this input."
    ), best_ref


def _prompt_only(reader: _Reader, sentences: list[str]) -> Verdict:
    """Only the prompt was measured: name who followed it best, and say that is all that was measured."""
    present = {m: v for m in reader.matrix.methods if (v := reader.get(m, "prompt")) is not None}
    ranked = _rank(reader, list(present), present)
    winner = ranked[0]
    leaders = reader.leads(reader.matrix.column("prompt"))
    tied = leaders if len(leaders) == 1 else [m for m in ranked if present[winner] - present[m] <= PROMPT_TOLERANCE]
    if len(tied) > 1:
        tied.sort(key=reader.matrix.methods.index)  # no winner: name them in row order
        values = ", ".join(reader.quote(m, "prompt") for m in tied)
        sentences.append(f"{_names(tied)} followed the prompt equally well ({values}); only prompt fit was measured.")
        return Verdict(sentences, None, Rule.PROMPT, tied, reader.numbers)
    sentences.append(
        f"{method_label(winner)} followed the prompt best ({reader.versus(winner, 'prompt')}); "
        "only prompt fit was measured."
    )
    return Verdict(sentences, winner, Rule.PROMPT, [winner], reader.numbers)
