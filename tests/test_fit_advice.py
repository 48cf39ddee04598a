"""Advice rules and the fit matrix on hand-made matrices: expected verdicts, ties, missing scores."""

from __future__ import annotations

import pytest

from app.controls import CONTROL_TYPES
from app.errors import StudioError
from app.fit import GUIDE, GUIDE_ENTRIES, FitMatrix, advise, method_label


def matrix(**rows):
    return FitMatrix.from_values(rows)


# -- the matrix ------------------------------------------------------------------------------------


def test_best_per_column_highest_score_lowest_cost_none_ignored():
    m = matrix(
        text={"prompt": 0.32, "depth": 0.22, "seconds": 2.0, "peak_memory": 3e9},
        depth={"prompt": 0.31, "depth": 0.81, "seconds": 2.6, "peak_memory": None},
        ip_adapter={"prompt": None, "depth": None, "seconds": 2.3, "peak_memory": 3.2e9},
    )
    best = m.best_per_column()
    assert best == {"prompt": ["text"], "depth": ["depth"], "seconds": ["text"], "peak_memory": ["text"]}


def test_best_per_column_ties_at_display_precision_are_all_best():
    m = matrix(text={"edges": 0.404}, canny={"edges": 0.811}, depth={"edges": 0.8099})
    assert m.best_per_column()["edges"] == ["canny", "depth"]  # both read 0.81
    assert m.best_per_column(decimals=3)["edges"] == ["canny"]
    table = m.to_markdown()
    assert "| canny | **0.81** |" in table and "| depth | **0.81** |" in table and "| text | 0.40 |" in table


def test_empty_column_has_no_best_and_shows_dashes():
    m = matrix(text={"prompt": None, "depth": 0.2}, depth={"prompt": None, "depth": 0.7})
    assert m.best_per_column()["prompt"] == []
    assert not m.has("prompt") and m.has("depth")
    assert m.to_rows() == [["text", "–", "0.20"], ["depth", "–", "0.70"]]


def test_matrix_columns_follow_display_order_and_format_costs():
    m = matrix(text={"peak_memory": 512 * 1024**2, "seconds": 1.234, "reference": 0.5, "prompt": 0.3})
    assert [c.name for c in m.columns] == ["prompt", "reference", "seconds", "peak_memory"]
    assert m.headers() == ["Method", "Prompt (CLIP) ↑", f"{m.columns[1].label} ↑", "Time ↓", "Peak memory ↓"]
    assert m.to_rows() == [["text", "0.30", "0.50", "1.23 s", "512 MiB"]]
    assert m.to_dict()["best"]["prompt"] == ["text"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ({"text": {"sharpness": 1.0}}, "sharpness"),
        ({"text": {"prompt": float("nan")}}, "finite"),
        ({"text": {"prompt": "high"}}, "finite"),
    ],
)
def test_from_values_refuses_unknown_columns_and_bad_values(rows, expected):
    with pytest.raises(StudioError, match=expected):
        FitMatrix.from_values(rows)


# -- the advice ------------------------------------------------------------------------------------


def test_issue_example_depth_fits_and_ip_adapter_loses_the_layout():
    m = matrix(
        text={"prompt": 0.32, "depth": 0.22, "reference": 0.55, "seconds": 2.0},
        depth={"prompt": 0.31, "depth": 0.81, "reference": 0.56, "seconds": 2.6},
        ip_adapter={"prompt": 0.29, "depth": 0.20, "reference": 0.84, "seconds": 2.3},
    )
    verdict = advise(m)
    assert verdict.winner == "depth" and verdict.rule == "structure"
    assert verdict.sentences[0] == "Depth kept the layout best (0.81 vs 0.22 text-only)."
    assert "following the prompt as well as text-only (0.31 vs 0.32): depth fits this input." in verdict.text
    assert "IP-Adapter matched the reference best (0.84 vs 0.55 text-only) but lost the layout" in verdict.text
    assert "Depth took 2.60 s against 2.00 s for text-only." in verdict.text
    # Every quoted number is listed and comes from the matrix.
    assert verdict.numbers["depth/depth"] == 0.81 and verdict.numbers["text/depth"] == 0.22
    for key, value in verdict.numbers.items():
        method, column = key.split("/")
        assert m.value(method, column) == value


def test_structure_winner_that_lost_the_prompt_gives_way_to_one_that_kept_it():
    m = matrix(
        text={"prompt": 0.32, "edges": 0.20, "depth": 0.20},
        canny={"prompt": 0.24, "edges": 0.90, "depth": 0.70},
        depth={"prompt": 0.31, "edges": 0.35, "depth": 0.80},
    )
    verdict = advise(m)
    assert verdict.winner == "depth"
    assert "Canny kept the outlines best (0.90 vs 0.20 text-only)." in verdict.sentences
    assert "Canny kept more structure but lost the prompt (0.24 vs 0.32 text-only)." in verdict.sentences


def test_every_structure_method_lost_the_prompt_is_a_trade_off_without_winner():
    m = matrix(text={"prompt": 0.32, "edges": 0.2}, canny={"prompt": 0.22, "edges": 0.9})
    verdict = advise(m)
    assert verdict.winner is None and verdict.rule == "trade_off"
    assert "choose Canny when structure matters most, text-only when the prompt does" in verdict.text


def test_prompt_drop_within_tolerance_still_counts_as_following_the_prompt():
    m = matrix(text={"prompt": 0.320, "pose": 0.10}, pose={"prompt": 0.301, "pose": 0.90})
    assert advise(m).winner == "pose"
    m = matrix(text={"prompt": 0.320, "pose": 0.10}, pose={"prompt": 0.299, "pose": 0.90})
    assert advise(m).winner is None


def test_tie_on_structure_goes_to_the_higher_prompt_then_the_simpler_method():
    m = matrix(
        text={"prompt": 0.30, "depth": 0.20},
        depth={"prompt": 0.30, "depth": 0.800},
        **{"depth+ip_adapter": {"prompt": 0.30, "depth": 0.805}},
    )
    verdict = advise(m)
    assert verdict.winner == "depth" and verdict.tied == ["depth", "depth+ip_adapter"]
    assert "Depth and Depth + IP-Adapter kept the layout equally well" in verdict.text
    m = matrix(
        text={"prompt": 0.30, "depth": 0.20},
        depth={"prompt": 0.29, "depth": 0.80},
        **{"depth+ip_adapter": {"prompt": 0.31, "depth": 0.80}},
    )
    assert advise(m).winner == "depth+ip_adapter"


def test_missing_scores_are_never_quoted_and_unknown_prompt_counts_as_kept():
    m = matrix(
        text={"prompt": None, "depth": 0.20, "edges": None},
        depth={"prompt": None, "depth": 0.75, "edges": None},
        canny={"prompt": None, "depth": None, "edges": 0.9},
    )
    verdict = advise(m)
    assert verdict.winner == "depth"
    assert "prompt fit could not be compared" in verdict.text
    assert all(v is not None for v in verdict.numbers.values())
    # Edges exist only for canny: no text-only baseline there, so the sentence says it cannot compare.
    assert "cannot be compared" in verdict.text


def test_structure_compared_against_the_lowest_when_text_only_is_missing():
    m = matrix(canny={"prompt": 0.3, "edges": 0.8}, depth={"prompt": 0.3, "edges": 0.3})
    verdict = advise(m)
    assert verdict.sentences[0] == "Canny kept the outlines best (0.80 vs 0.30 depth)."
    assert verdict.winner == "canny"


def test_nothing_gained_means_text_only_fits():
    m = matrix(text={"prompt": 0.32, "depth": 0.40}, depth={"prompt": 0.31, "depth": 0.43})
    verdict = advise(m)
    assert verdict.winner == "text" and verdict.rule == "baseline"
    assert "No method kept the layout clearly better than text-only (closest: Depth, 0.43 vs 0.40 text-only)." in (
        verdict.sentences
    )


def test_reference_decides_when_no_structure_was_measured():
    m = matrix(text={"prompt": 0.32, "reference": 0.50}, ip_adapter={"prompt": 0.31, "reference": 0.80})
    verdict = advise(m)
    assert verdict.winner == "ip_adapter" and verdict.rule == "reference"
    assert verdict.text.endswith("IP-Adapter fits this input.")
    m = matrix(text={"prompt": 0.32, "reference": 0.50}, ip_adapter={"prompt": 0.20, "reference": 0.80})
    verdict = advise(m)
    assert verdict.winner == "text" and "lost the prompt (0.20 vs 0.32 text-only)" in verdict.text


def test_combination_that_wins_structure_and_reference_is_named_once():
    m = matrix(
        text={"prompt": 0.32, "depth": 0.2, "reference": 0.5},
        ip_adapter={"prompt": 0.31, "depth": 0.2, "reference": 0.85},
        **{"depth+ip_adapter": {"prompt": 0.31, "depth": 0.8, "reference": 0.86}},
    )
    verdict = advise(m)
    assert verdict.winner == "depth+ip_adapter"
    assert verdict.sentences[-1] == (
        "Depth + IP-Adapter also matched the reference best (0.86 vs 0.50 text-only), tied with IP-Adapter."
    )


def test_single_method_and_empty_matrices():
    verdict = advise(matrix(depth={"prompt": 0.3, "depth": None}))
    assert verdict.winner is None and verdict.rule == "single"
    assert verdict.sentences == [
        "Only Depth was run (prompt 0.30).",
        "Run text-only beside it to see what the conditioning added.",
    ]
    for empty in (matrix(text={"prompt": None}, depth={"depth": None}), FitMatrix.from_values({})):
        verdict = advise(empty)
        assert verdict.winner is None and verdict.rule == "empty" and verdict.numbers == {}


def test_prompt_only_matrix_names_the_best_prompt_or_a_tie():
    verdict = advise(matrix(text={"prompt": 0.32}, ip_adapter={"prompt": 0.25}))
    assert verdict.winner == "text" and verdict.rule == "prompt"
    verdict = advise(matrix(text={"prompt": 0.32}, canny={"prompt": 0.325}))
    assert verdict.winner is None and verdict.tied == ["text", "canny"]


def test_method_labels_and_guide():
    assert method_label("depth:midas+ip_adapter") == "Depth (midas) + IP-Adapter"
    assert method_label("text") == "Text-only"
    # Every registered type in rank order (test_controls pins that order) between text-only and the image prompt.
    assert [e.method for e in GUIDE_ENTRIES] == ["text", *CONTROL_TYPES, "ip_adapter", "t2i_adapter", "combo"]
    assert "3-D layout" in GUIDE and "text-only" in GUIDE


def test_leads_are_the_advices_clear_leads_and_nothing_else():
    from app.fit.decision import leads

    tied = matrix(**{name: {"prompt": 0.0, "seconds": 1.0} for name in ("text", "canny", "pose", "depth")})
    assert leads(tied) == {"prompt": [], "seconds": []}  # a tie all round (an equal share of one pass): nothing
    close = matrix(text={"prompt": 0.305}, canny={"prompt": 0.30}, depth={"prompt": 0.10})
    assert leads(close)["prompt"] == ["text", "canny"]  # tied at the top, both clearly above the rest
    clear = matrix(text={"depth": 0.22, "seconds": 2.0}, depth={"depth": 0.81, "seconds": 2.6})
    assert leads(clear) == {"depth": ["depth"], "seconds": ["text"]}
    assert leads(matrix(text={"depth": 0.5})) == {"depth": []}  # one value leads nothing
    # The issue's contradiction: a small gain over text-only (0.29 vs 0.26) is no lead, in table and advice alike.
    small = matrix(text={"prompt": 0.3, "depth": 0.26}, pose={"prompt": 0.3, "depth": 0.29})
    assert leads(small)["depth"] == [] and "No method kept the layout" in advise(small).text
    unmeasured = matrix(text={"peak_memory": 0.0}, depth={"peak_memory": 5e8})
    assert leads(unmeasured)["peak_memory"] == []  # "0 MiB" on a CPU is not a measurement


def test_highlighted_cells_equal_the_leads_the_advice_names_over_many_random_tables():
    import random

    from app.fit.decision import leads

    rng = random.Random(7)
    columns = ("prompt", "edges", "pose", "depth", "reference")
    for _ in range(300):
        methods = rng.sample(["text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter"], rng.randint(2, 5))
        rows = {m: {c: round(rng.uniform(0.2, 0.4) if c == "prompt" else rng.uniform(0, 1), 2) for c in columns}
                for m in methods}  # fmt: skip
        table = matrix(**rows)
        verdict = advise(table)
        for column in ("edges", "pose", "depth", "reference"):
            leaders = leads(table)[column]
            for leader in leaders:  # every highlighted cell is named in the advice as keeping that fit best
                assert method_label(leader) in verdict.text, (rows, column, verdict.text)
            if not leaders and verdict.rule != "indistinct":
                keeps = {"edges": "the outlines", "pose": "the pose", "depth": "the layout"}.get(column)
                said = f"No method kept {keeps}" if keeps else "No method matched the reference clearly"
                assert said in verdict.text, (rows, column, verdict.text)


def test_the_fit_table_colours_a_clear_lead_and_not_a_tie():
    from app.ui.compare_tab import BEST_STYLE, matrix_table

    m = matrix(
        text={"prompt": 0.0, "depth": 0.22}, canny={"prompt": 0.0, "depth": 0.30}, depth={"prompt": 0.0, "depth": 0.81}
    )
    css = matrix_table(m, label=str)._compute().ctx  # cell (row, column) -> [(property, value), ...]
    coloured = {(row, col) for (row, col), props in css.items() if props}
    depth_column = 1 + [c.name for c in m.columns].index("depth")
    assert coloured == {(m.methods.index("depth"), depth_column)}
    assert BEST_STYLE.split(";")[0].split(":")[1].strip() in str(css[(m.methods.index("depth"), depth_column)])


def test_scores_that_cannot_tell_methods_apart_name_no_winner_and_no_closest():
    """The issue's case: every score tied (tiny weights, a photo given) must not name a "closest" or a winner."""
    tied = {"prompt": 0.0, "edges": 0.55, "pose": 0.10, "depth": 0.26, "reference": 0.4, "seconds": 1.0}
    verdict = advise(matrix(**{m: dict(tied) for m in ("text", "canny", "pose", "depth", "ip_adapter")}))
    assert verdict.winner is None and verdict.rule == "indistinct" and verdict.ranking == []
    assert verdict.headline == "No clear winner: the scores cannot tell these methods apart on this input."
    assert "closest" not in verdict.text and "fits this input." not in verdict.text
    assert "edges 0.55" in verdict.text and "within 0.01" in verdict.text
    # Costs do not count: a faster method is not a better fit.
    near = matrix(text={"prompt": 0.300, "edges": 0.20, "seconds": 1.0}, canny={"prompt": 0.305, "edges": 0.205})
    assert advise(near).rule == "indistinct"


def test_a_clear_verdict_leads_with_a_headline_and_a_ranking():
    m = matrix(
        text={"prompt": 0.32, "depth": 0.22, "edges": 0.20},
        depth={"prompt": 0.31, "depth": 0.81, "edges": 0.40},
        canny={"prompt": 0.315, "depth": 0.60, "edges": 0.90},
        pose={"prompt": 0.20, "depth": 0.70, "edges": 0.50},
    )
    verdict = advise(m)
    assert verdict.winner == "canny"
    assert verdict.headline == "Canny fits this input best: it kept the structure and followed the prompt."
    # Canny first (the winner), then depth, then text-only; pose lost the prompt, so it ranks last.
    assert verdict.ranking == [["canny"], ["depth"], ["text"], ["pose"]]
    assert verdict.ranking_line == "Ranking by measured fit: 1. Canny · 2. Depth · 3. Text-only · 4. Pose."
    assert verdict.markdown.startswith(f"**{verdict.headline}**\n\n{verdict.ranking_line}\n\n")
    assert verdict.text.startswith(verdict.headline)


def test_no_closest_method_among_ties_in_one_column():
    m = matrix(text={"prompt": 0.32, "depth": 0.40, "edges": 0.2}, depth={"prompt": 0.31, "depth": 0.405, "edges": 0.9})
    verdict = advise(m)
    assert "No method kept the layout better than text-only (all within 0.01 of it)." in verdict.sentences


def test_nothing_gained_says_so_in_plain_words():
    m = matrix(text={"prompt": 0.32, "depth": 0.40}, depth={"prompt": 0.31, "depth": 0.43})
    verdict = advise(m)
    assert verdict.headline == "Text-only is enough here: no conditioning improved the measured fit."
    assert verdict.ranking == [["text"], ["depth"]]
