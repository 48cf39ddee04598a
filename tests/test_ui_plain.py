"""Untrusted text on the page: Markdown shows it as typed, toasts (rendered as HTML) never turn it into a tag."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from app.errors import StudioError
from app.ui.jobs import studio_errors
from app.ui.plain import in_toast, plain

HOSTILE = "![p](http://other-host/p.png) [Sign in](http://other-host/phish) <img src=x> **b** `c` # h & $$x$$ www.x.io"


def test_plain_leaves_no_markdown_or_html_syntax_unescaped():
    escaped = plain(HOSTILE + "\n- item\u2028")
    # Every ASCII punctuation mark is backslash-escaped (CommonMark renders "\X" as X), and lines are joined.
    assert re.search(r"(?<!\\)[!\[\]()<>*`#&$_]", escaped.replace("\\\\", "")) is None
    assert "\n" not in escaped and "\u2028" not in escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == (HOSTILE + " - item ")


def test_core_errors_reach_the_toast_escaped():
    with pytest.raises(gr.Error) as raised, studio_errors():
        raise StudioError(f"received {HOSTILE!r}")
    assert "<img" not in raised.value.message and "&lt;img src=x&gt;" in raised.value.message
    assert in_toast("a 'quoted' value") == "a 'quoted' value"  # quotes stay readable for API clients


def test_the_report_status_names_left_out_lines_as_plain_text(tmp_path):
    from app.ui.report_tab import open_results

    path = tmp_path / "rows.jsonl"
    good = '{"photo": "a.png", "seed": 0, "method": "text", "scores": {"prompt": 0.3}}'
    path.write_text("\n".join([good, '{"photo": "a", "seed": 0, "method": "t", "scores": {"[x](http://h)": "no"}}']))
    _, _, status = open_results(str(path))
    assert status.startswith("1 results from rows\\.jsonl; 1 line(s) that are not rows were left out (line 2")
    assert "](" not in status and "\\[x\\]\\(http\\:" in status
