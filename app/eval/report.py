"""The HTML report of a run: one self-contained file (inline CSS, SVG plots, embedded thumbnails), no scripts.

    python -m app.eval.report runs/NAME          # writes runs/NAME/report.html

It shows the verdict (the Compare tab's advice read from the methods' mean scores), a table per method (mean score,
win rate over text-only, time and memory per image), every score's distribution per method (a box over the
individual results), and each method's best and worst result when the run saved its images.
"""

from __future__ import annotations

import base64
import html
import io
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from app.engine.families import FAMILIES
from app.errors import StudioError, clipped
from app.eval.rows import ROWS, RUN_FILE, read_rows_file, read_run_file
from app.eval.summary import MethodSummary, Summary, summarise
from app.fit import method_label
from app.fit.anchors import ANCHORS
from app.fit.decision import OWN_FIT, how_sure
from app.fit.matrix import Column
from app.images import load_image
from app.request.compare import parse_method

REPORT = "report.html"
THUMBNAIL = 160
THUMBNAIL_MAX_PIXELS = 4096 * 4096
"""A saved result larger than this is not one the run wrote: it is left out, never decoded."""
MAX_ERRORS = 20
LINE = "_line"
"""Key of a row's line in the results file, for messages about it (added by :func:`write_report`)."""

SCOPE = "eval-report"
"""The class every rule of :data:`CSS` is scoped to, so the report's styles stay inside it on the studio's page."""
CSS = """
body.eval-report { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
.eval-report { color: #111827; }
.eval-report h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } .eval-report h2 { font-size: 1.2rem; margin-top: 2rem; }
.eval-report .meta { color: #4b5563; }
.eval-report .verdict { background: #f0fdf4; border-left: 4px solid #16a34a; padding: 0.6rem 1rem; }
.eval-report .verdict.none { background: #fffbeb; border-left-color: #d97706; }
.eval-report .wide { overflow-x: auto; } .eval-report table { border-collapse: collapse; margin: 0.5rem 0; }
.eval-report th, .eval-report td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px; }
.eval-report th { text-align: left; background: #f9fafb; }
.eval-report td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.eval-report .plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(480px, 100%), 1fr)); }
.eval-report svg { max-width: 100%; height: auto; }
.eval-report figure { margin: 0 0 1rem; } .eval-report figcaption { color: #374151; font-size: 0.9rem; }
.eval-report .cases { display: flex; flex-wrap: wrap; gap: 1rem; }
.eval-report .case { width: 160px; font-size: 0.8rem; color: #374151; }
.eval-report .case img { width: 160px; height: auto; display: block; border: 1px solid #e5e7eb; }
"""


def render(summary: Summary, rows: list[dict[str, Any]], out: Path | None = None, title: str = "") -> str:
    """The report as one HTML document (``out``: the run's folder, to read its run.json and saved images)."""
    return page(fragment(summary, rows, out, title), title)


def page(body: str, title: str) -> str:
    """A report's content (:func:`fragment`) as one HTML document with its styles."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title or 'Conditioning Studio evaluation')}</title><style>{CSS}</style></head>"
        f"<body class='{SCOPE}'>{body}</body></html>"
    )


def fragment(
    summary: Summary,
    rows: list[dict[str, Any]],
    out: Path | None = None,
    title: str = "",
    problems: list[str] | None = None,
) -> str:
    """The report's content, to embed in a page that loads :data:`CSS` (the studio's Report tab).

    ``problems`` (optional) collects, one line each, what in ``out`` could not be read (a ``run.json`` that is not
    the run's, an image that is not one); the report leaves those parts out.
    """
    problems = problems if problems is not None else []
    modes = sorted({r["batching"] for r in rows if isinstance(r.get("batching"), str)})
    config = _run_config(out, " / ".join(modes), problems)
    scored = any(m.scores for m in summary.methods)
    parts = [
        f"<h1>{html.escape(title or 'Which conditioning fits this set of photos?')}</h1>",
        f"<p class='meta'>{summary.photos} photo(s) × {summary.seeds} seed(s), {len(rows)} results. {config}</p>",
        "<h2>Verdict</h2>",
        f"<div class='verdict{'' if scored else ' none'}'>{_markdownish(summary.verdict.markdown)}"
        f"{_how_sure(summary) if scored else _no_scores_reason(summary)}</div>",
        "<h2>Per method</h2>",
        _table(summary),
    ]
    failed = _failures(summary)
    if failed:
        parts += ["<h2>What failed</h2>", failed]
    plots = [_plot(summary, column) for column in summary.columns]
    if any(plots):
        parts += ["<h2>How each fit is spread</h2><div class='plots'>", *plots, "</div>"]
    anchors = _anchors(summary)
    if anchors:
        parts += ["<h2>Beside published results</h2>", anchors]
    cases = _cases(summary, rows, out, problems)
    if cases:
        parts += ["<h2>Best and worst result of each method</h2>", cases]
    return "\n".join(parts)


def write_report(out: Path, title: str = "") -> tuple[Path, list[str]]:
    """Read ``out/rows.jsonl``, write ``out/report.html`` from its well-formed rows.

    Returns:
        The report's path, and one line for everything left out of it (a malformed row, naming its line; a
        ``run.json`` or an image that could not be read).

    Raises:
        StudioError: the results file cannot be read at all, or the report cannot be written.
    """
    source = Path(out) / ROWS
    parsed = read_rows_file(source)
    problems = [f"{source} line {number}: {reason}; left out" for number, reason in parsed.problems]
    rows = [{**row, LINE: number} for row, number in zip(parsed.rows, parsed.lines, strict=True)]
    body = fragment(summarise(rows), rows, Path(out), title, problems)
    target = Path(out) / REPORT
    try:
        target.write_text(page(body, title), encoding="utf-8")
    except OSError as error:
        raise StudioError(f"{target}: cannot write the report ({error.strerror or error}).") from None
    return target, problems


# -- parts -------------------------------------------------------------------------------------------------------


def _run_config(out: Path | None, batching: str, problems: list[str]) -> str:
    if out is None or not (Path(out) / RUN_FILE).is_file():
        return ""
    try:
        run = read_run_file(out)
    except StudioError as error:
        problems.append(f"{error} The report leaves the run's settings out.")
        return ""
    config, models = run.get("config", {}), run.get("models", {})
    family = config.get("family")
    family = FAMILIES[family].label if isinstance(family, str) and family in FAMILIES else "Stable Diffusion 1.5"
    fields = [config.get(k) for k in ("width", "height", "num_inference_steps", "guidance_scale")]
    fields += [models.get("family"), models.get("dtype"), batching or config.get("batching") or "default"]
    width, height, steps, cfg, source, dtype, mode = (_short(value) for value in fields)
    return html.escape(
        f"{family}, {width}×{height}, {steps} steps, CFG {cfg}, {source} models in {dtype}, {mode} batching."
    )


def _short(value: Any) -> str:
    """A run.json value as a few words of text (the file is read, not trusted)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return "?"
    if isinstance(value, int) and abs(value) >= 10**12:
        return "?"
    return clipped(str(value), 40)


def _how_sure(summary: Summary) -> str:
    """How far the verdict can be trusted: the same decision as the Compare tab's, on the run's pairs."""
    pairs = summary.matrix.seeds
    return f"<p class='meta'>{html.escape(how_sure(pairs, unit='photo × seed pairs' if pairs > 1 else 'seeds'))}</p>"


def _no_scores_reason(summary: Summary) -> str:
    """Why there is no verdict: the most common reason the rows failed."""
    errors = summary.errors()
    if not errors:
        return ""
    reason, count, _ = errors[0]
    total = sum(m.rows for m in summary.methods)
    return f"<p>Most often ({count} of {total} results): {html.escape(clipped(reason, 300))}</p>"


def _failures(summary: Summary) -> str:
    """Every reason rows failed, most frequent first (at most :data:`MAX_ERRORS` kinds), with the methods."""
    errors = summary.errors()
    if not errors:
        return ""
    body = "".join(
        f"<tr><td>{html.escape(clipped(reason, 600))}</td><td class='num'>{count}</td>"
        f"<td>{html.escape(clipped(', '.join(method_label(m) for m in methods), 200))}</td></tr>"
        for reason, count, methods in errors[:MAX_ERRORS]
    )
    more = f"<p class='meta'>And {len(errors) - MAX_ERRORS} other reasons.</p>" if len(errors) > MAX_ERRORS else ""
    head = "<tr><th>Why</th><th>Results</th><th>Methods</th></tr>"
    return f"<div class='wide'><table data-errors><thead>{head}</thead><tbody>{body}</tbody></table></div>{more}"


def _markdownish(text: str) -> str:
    """The verdict's Markdown as HTML: paragraphs and **bold**, nothing else is used there."""
    out = []
    for paragraph in (p.strip() for p in text.split("\n\n") if p.strip()):
        escaped = html.escape(paragraph)
        pieces = escaped.split("**")
        escaped = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(pieces))
        out.append(f"<p>{escaped.replace(chr(10), '<br>')}</p>")
    return "".join(out)


def _table(summary: Summary) -> str:
    wins = [c for c in summary.columns if c.kind in ("structure", "reference")]
    head = ["Method", "Results", *(f"{c.label} ↑ (mean)" for c in summary.columns)]
    head += ["Beats text-only on its own fit", "Time / image", "Peak memory"]
    body = []
    for m in summary.methods:
        cells = [html.escape(method_label(m.method)), f"{m.rows - m.failed} of {m.rows}"]
        cells += [_mean(summary, m, c) for c in summary.columns]
        won = [f"{html.escape(c.name)} {_rate(m, c.name)}" for c in wins if c.name in _own_scores(m.method)]
        cells.append("<br>".join(won) or "–")
        cells += [_seconds(m.seconds), _memory(m.peak_memory)]
        tds = [f"<td>{cells[0]}</td>", *(f"<td class='num'>{c}</td>" for c in cells[1:])]
        body.append("<tr>" + "".join(tds) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"<div class='wide'><table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _anchors(summary: Summary) -> str:
    """Our mean of each published metric per method, beside the paper's figure, with how each was computed."""
    present = [a for a in ANCHORS if any(m.anchors.get(a.name) for m in summary.methods)]
    if not present:
        return ""
    methods = [m for m in summary.methods if m.anchors]
    header = ["Metric", "Paper", "Published", *(f"{method_label(m.method)} (ours)" for m in methods)]
    body = []
    for anchor in present:
        arrow = "↑" if anchor.higher_is_better else "↓"
        cells = [f"{html.escape(anchor.label)} {arrow}", html.escape(anchor.paper), f"{anchor.published:g}"]
        for m in methods:
            values = m.anchors.get(anchor.name)
            cells.append(f"{statistics.fmean(values):.3f}" if values else "–")
        tds = [f"<td>{cells[0]}</td>", f"<td>{cells[1]}</td>", *(f"<td class='num'>{c}</td>" for c in cells[2:])]
        body.append("<tr>" + "".join(tds) + "</tr>")
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    notes = "".join(
        f"<li><b>{html.escape(a.label)}</b>: {html.escape(a.protocol)} <i>Differs here:</i> "
        f"{html.escape(a.differences)}</li>"
        for a in present
    )
    return (
        f"<div class='wide'><table data-anchors><thead><tr>{heads}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"</div><ul class='meta'>{notes}</ul><p class='meta'>Published figures come from other datasets, prompts, "
        "step counts and guidance: read them as a scale, not a ranking.</p>"
    )


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _mean(summary: Summary, method: MethodSummary, column: Column) -> str:
    """A method's mean score over the run, with the half-width of its 95 % interval where there are two or more."""
    spread = summary.matrix.interval(method.method, column.name) if method.method in summary.matrix.methods else None
    mean = method.mean(column.name)
    return _number(mean) if spread is None or mean is None else f"{mean:.3f} ± {spread[1]:.3f}"


def _rate(method: MethodSummary, score: str) -> str:
    won, compared = method.wins.get(score, (0, 0))
    if not compared:
        return "–"
    low, high = method.win_interval(score)
    return f"{won / compared:.0%} ({won}/{compared}; 95 % CI {low:.0%}–{high:.0%})"


def _seconds(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s" if values else "–"


def _memory(values: list[float]) -> str:
    """The median peak memory; "–" where it was not measured (a CPU run reports no peak)."""
    return f"{statistics.median(values) / 2**20:.0f} MiB" if values and statistics.median(values) > 0 else "–"


def _plot(summary: Summary, column: Column) -> str:
    """A box (quartiles, median) over the individual results of each method, on one axis: an inline SVG."""
    methods = [m for m in summary.methods if m.scores.get(column.name)]
    values = [v for m in methods for v in m.scores[column.name]]
    if not values:
        return ""
    low, high = min(0.0, math.floor(min(values) * 4) / 4), max(1.0, math.ceil(max(values) * 4) / 4)
    width, row, left, right = 480, 28, 150, 20
    height = row * len(methods) + 36

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (width - left - right)

    shapes = []
    for index, m in enumerate(methods):
        y = 10 + index * row + row / 2
        data = sorted(m.scores[column.name])
        q1, median, q3 = _quartiles(data)
        name = html.escape(method_label(m.method))
        shapes.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end' font-size='12'>{name}</text>")
        shapes.append(f"<line x1='{x(data[0]):.1f}' x2='{x(data[-1]):.1f}' y1='{y}' y2='{y}' stroke='#9ca3af'/>")
        shapes.append(
            f"<rect x='{x(q1):.1f}' y='{y - 8}' width='{max(1.0, x(q3) - x(q1)):.1f}' height='16' "
            "fill='#c7d2fe' stroke='#4f46e5'/>"
        )
        mid = f"{x(median):.1f}"
        shapes.append(f"<line x1='{mid}' x2='{mid}' y1='{y - 8}' y2='{y + 8}' stroke='#312e81' stroke-width='2'/>")
        shapes += [f"<circle cx='{x(v):.1f}' cy='{y}' r='2.5' fill='#111827' fill-opacity='0.55'/>" for v in data]
    axis_y = 10 + row * len(methods) + 4
    ticks = _ticks(low, high)
    shapes.append(f"<line x1='{left}' x2='{width - right}' y1='{axis_y}' y2='{axis_y}' stroke='#6b7280'/>")
    shapes += [
        f"<text x='{x(t):.1f}' y='{axis_y + 16}' text-anchor='middle' font-size='11'>{t:g}</text>" for t in ticks
    ]
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' aria-label='{html.escape(column.label)} per method'>{''.join(shapes)}</svg>"
    )
    caption = f"{column.label} ↑ — {column.description}"
    return f"<figure data-score='{column.name}'>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _ticks(low: float, high: float, most: int = 11) -> list[float]:
    """Axis labels from ``low`` to ``high`` at the first round step (0.25, 0.5, 1, 2.5, 5, 10, ...) that needs no
    more than ``most`` of them, whatever the range."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return [low]
    step = 0.25
    for exponent in range(-1, 400):
        step = next((m * 10.0**exponent for m in (2.5, 5.0, 10.0) if span / (m * 10.0**exponent) <= most - 1), 0.0)
        if step:
            break
    first = math.ceil(low / step) * step
    return [first + step * i for i in range(min(most, int((high - first) / step + 1e-9) + 1))]


def _quartiles(data: list[float]) -> tuple[float, float, float]:
    if len(data) < 2:
        return data[0], data[0], data[0]
    q1, median, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q1, median, q3


def _own_scores(method: str) -> list[str]:
    """The fits that say whether ``method`` did its job (its controls' structure fits, the reference fit for the
    IP-Adapter, the prompt fit for text-only); none for a method name this studio does not know."""
    try:
        parsed = parse_method(method)
    except StudioError:
        return []
    own = [OWN_FIT[kind] for kind, _ in parsed.controls] + [OWN_FIT["ip_adapter"]] * parsed.ip_adapter
    return own or ["prompt"]


def _own_score(method: str) -> str | None:
    """The first of :func:`_own_scores`, which picks a method's best and worst case."""
    return next(iter(_own_scores(method)), None)


def _cases(summary: Summary, rows: list[dict[str, Any]], out: Path | None, problems: list[str]) -> str:
    if out is None:
        return ""
    blocks = []
    for m in summary.methods:
        score = _own_score(m.method)
        if score is None:
            continue
        scored = [
            r for r in rows
            if r["method"] == m.method and isinstance((r.get("scores") or {}).get(score), float)
            and _inside(out, r.get("image"))
        ]  # fmt: skip
        if not scored:
            continue
        scored.sort(key=lambda r: r["scores"][score])
        picks = [("best", scored[-1])] + ([("worst", scored[0])] if len(scored) > 1 else [])
        for kind, row in picks:
            value = row["scores"][score]
            caption = f"{method_label(m.method)} · {kind} {score} {value:.3f} · {row['photo']} seed {row['seed']}"
            try:
                thumbnail = _thumbnail(Path(out) / row["image"])
            except StudioError as error:
                where = f"{Path(out) / ROWS} line {row[LINE]}" if LINE in row else str(Path(out) / ROWS)
                problems.append(f"{where}: image {row['image']!r} left out of the report: {error}")
                continue
            blocks.append(
                f"<div class='case'><img alt='{html.escape(caption)}' src='{thumbnail}'>{html.escape(caption)}</div>"
            )
    return f"<div class='cases'>{''.join(blocks)}</div>" if blocks else ""


def _inside(out: Path, image: Any) -> bool:
    """Whether a row's image is a file inside the run's folder (rows never make the report read elsewhere)."""
    if not isinstance(image, str) or not image or len(image) > 1024:
        return False
    try:
        path = (Path(out) / image).resolve()
        return path.is_relative_to(Path(out).resolve()) and path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        return False


def _thumbnail(path: Path) -> str:
    """A saved result as a small inline JPEG, read as any upload is (size, pixel and format checks first).

    Raises:
        StudioError: the file is not a usable image, or larger than a result the run wrote.
    """
    image = load_image(path, max_pixels=THUMBNAIL_MAX_PIXELS, min_side=1)
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    """Write a run folder's report; 0 when every row and file was read, 2 when something was left out (each said
    in one line naming its file and line) or nothing could be reported."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / ROWS).is_file():
        print("usage: python -m app.eval.report RUN_FOLDER   (a folder holding rows.jsonl)", file=sys.stderr)
        return 2
    try:
        path, problems = write_report(Path(args[0]))
    except StudioError as error:
        print(f"No report: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    print(path)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
