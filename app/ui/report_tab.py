"""Report tab: open the results file of ``python -m app.eval`` and read it as its HTML report shows it.

The file is untrusted (anyone can upload one): lines that are not well-formed rows are counted and left out, every
text is escaped, and nothing in it names a file the studio reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from app.eval.report import fragment, page
from app.eval.rows import parse_rows
from app.eval.summary import summarise
from app.outputs import Outputs, outputs_for
from app.ui.downloads import cached_file
from app.ui.jobs import StudioHandle, studio_errors
from app.ui.plain import in_toast, plain
from app.ui.runs import PRIVATE
from app.ui.shared import SharedControls

TAB = "report"
MAX_ROWS = 200_000


def open_results(path: str | None) -> tuple[str, str | None, str]:
    """The report of an uploaded results file: the page's view, the one-file HTML report, a status line.

    Raises:
        gr.Error: the file holds no result rows, saying what a row looks like.
    """
    if path is None:
        return "", None, ""
    name = Path(path).name
    shown = in_toast(name)  # a toast renders HTML; the name is the uploader's
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise gr.Error(
            f"{shown} is not a text file; open the rows.jsonl an evaluation wrote.", title="Not results"
        ) from None
    parsed = parse_rows(text)
    rows, bad = parsed.rows, parsed.bad
    if not rows:
        raise gr.Error(
            f"{shown} holds no result rows ({bad} line(s) that are not rows). A row is one JSON object per line with "
            'at least "photo", "seed" and "method", as python -m app.eval writes them.',
            title="No results",
        )
    if len(rows) > MAX_ROWS:
        raise gr.Error(f"{shown} holds {len(rows)} rows; this page reads at most {MAX_ROWS}.", title="Too many rows")
    summary = summarise(rows)
    title = f"Evaluation: {name}"
    body = fragment(summary, rows, title=title)
    report = cached_file(page(body, title).encode("utf-8"), "report.html")
    status = f"{len(rows)} results from {plain(name)}" + (f"; {_left_out(parsed.problems)}" if bad else ".")
    view = f"<div class='eval-report'>{body}</div>"
    return view, report, status


def _left_out(problems: list[tuple[int, str]], shown: int = 3) -> str:
    """The lines that are not rows, for the status line: how many, and why for the first few (plain text)."""
    reasons = "; ".join(f"line {number}: {reason}" for number, reason in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"{len(problems)} line(s) that are not rows were left out ({plain(reasons + more)})."


def build_report_tab(studio: StudioHandle, shared: SharedControls) -> None:
    """The Report tab (API: ``/report``)."""
    gr.Markdown(
        "**A whole folder, not one photo.** Run `python -m app.eval PHOTOS --prompt … --out runs/NAME` (see the "
        "README), then open its `rows.jsonl` here: the verdict, each method's fit across every photo and seed, its "
        "wins over text-only and its cost. Best and worst cases are in the `report.html` the command writes."
    )
    upload = gr.File(label="Results file (rows.jsonl)", file_types=[".jsonl"], elem_id="report-file")
    status = gr.Markdown(elem_id="report-status")
    view = gr.HTML(elem_id="report-view")
    download = gr.File(label="This report as one HTML file", elem_id="report-download", interactive=False)

    def report(path: Any = None) -> tuple[str, str | None, str]:
        with studio_errors():
            return open_results(path)

    upload.upload(
        report,  # its name is the MCP tool's
        inputs=upload,
        outputs=[view, download, status],
        api_name="report",
        api_description="The report (HTML) of an evaluation's results file: verdict, fit per method, wins, cost.",
        concurrency_id="reports",
        concurrency_limit=4,
    )
    upload.clear(lambda: ("", None, ""), outputs=[view, download, status], queue=False, api_visibility="private")
    if (outputs := outputs_for(studio.settings.output_dir)) is not None:
        _kept_comparisons(outputs, report, [view, download, status])


MAX_KEPT_SHOWN = 50


def _kept_comparisons(outputs: Outputs, report: Any, shown: list[Any]) -> None:
    """A menu of the comparisons kept in the outputs folder (newest first, refreshed when the tab opens): picking
    one opens its rows as an uploaded file would be."""
    kept = gr.Dropdown(
        label=f"Or a comparison made here (kept in {outputs.root}, newest first)",
        choices=[],
        value=None,
        elem_id="report-kept",
    )

    def listed() -> Any:
        return gr.update(choices=[(_label(path), str(path)) for path in outputs.comparisons(MAX_KEPT_SHOWN)])

    def opened(choice: str | None) -> tuple[str, str | None, str]:
        allowed = {str(path) for path in outputs.comparisons(MAX_KEPT_SHOWN)}
        if choice not in allowed:  # a stale or forged choice names no file
            return "", None, "Pick one of the kept comparisons."
        return report(choice)

    kept.focus(listed, outputs=kept, **PRIVATE)
    gr.on([kept.input], opened, inputs=kept, outputs=shown, **PRIVATE)


def _label(path: Path) -> str:
    """``2026-12-05 14:03:12 · a red fox`` for ``2026-12-05/140312-<tag>-a-red-fox.jsonl``."""
    clock, _, rest = path.stem.partition("-")
    caption = rest.partition("-")[2].replace("-", " ")
    return f"{path.parent.name} {clock[:2]}:{clock[2:4]}:{clock[4:]} · {caption}"
