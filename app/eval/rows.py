"""The results file: one JSON row per (photo, seed, method), written so that a run can stop anywhere and resume.

Each process appends to its own shard (``rows-rank0.jsonl``, ``rows-rank1.jsonl``, ...), all rows of one item in one
write, flushed, so an interrupted run leaves whole items plus at most one torn line, which the next run drops. The
main process merges the shards into ``rows.jsonl``, sorted by photo, seed and method order, so a run on one process
and a run on several give the same file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.errors import StudioError
from app.request.generation import MAX_SEED

ROWS = "rows.jsonl"
RUN_FILE = "run.json"
SKIPPED = "skipped.jsonl"
SHARD = "rows-rank{rank}.jsonl"
COST_FIELDS = ("seconds", "peak_memory_bytes", "memory_kind", "model_bytes")
"""Fields that measure this run's machine; everything else in a row is the same on a rerun on the same device type."""


def read_run_file(out: Path) -> dict:
    """The ``run.json`` of a results folder (the settings every item of the run shares).

    Raises:
        StudioError: it cannot be read, is not JSON, or is not the object ``python -m app.eval`` writes.
    """
    path = Path(out) / RUN_FILE
    try:
        found = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise StudioError(f"{path}: cannot read it ({error.strerror or error}).") from None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a number too long, nesting too deep
        raise StudioError(f"{path}: not the JSON python -m app.eval writes.") from None
    if not isinstance(found, dict):
        raise StudioError(f"{path}: expected an object with 'config' and 'models', received a {type(found).__name__}.")
    for key in ("config", "models"):
        if not isinstance(found.get(key, {}), dict):
            raise StudioError(f"{path}: '{key}' should be an object, received a {type(found[key]).__name__}.")
    return found


def shard_path(out: Path, rank: int) -> Path:
    return Path(out) / SHARD.format(rank=rank)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of one file; a torn last line (an interrupted write) and malformed lines are dropped."""
    return read_rows_file(path).rows


def read_rows_file(path: Path) -> ParsedRows:
    """The rows of one file and what was wrong with the other lines (none when the file is missing).

    Raises:
        StudioError: the file cannot be read, or is not UTF-8 text.
    """
    path = Path(path)
    if not path.is_file():
        return ParsedRows([], [], [])
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise StudioError(f"{path}: cannot read it ({error.strerror or error}).") from None
    except UnicodeDecodeError as error:
        raise StudioError(f"{path}: not UTF-8 text (byte {error.start}); a results file is JSON lines.") from None
    return parse_rows(text)


@dataclass(frozen=True)
class ParsedRows:
    """A results file's well-formed rows (with the line each is on), and a (line number, reason) for every line
    that is not one."""

    rows: list[dict[str, Any]]
    problems: list[tuple[int, str]]
    lines: list[int] = field(default_factory=list)

    @property
    def bad(self) -> int:
        return len(self.problems)


def split_lines(text: str) -> list[str]:
    """A JSON-lines text's lines: split at "\\n" only (and a "\\r" before it), never at the other characters
    ``str.splitlines`` breaks at (U+2028, U+0085, ...), which JSON allows inside a string."""
    lines = text.split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def dump_row(row: dict[str, Any]) -> str:
    """One row as one JSON line (no newline): U+0085, U+2028 and U+2029 are escaped too, so that tools which
    split lines at them (``str.splitlines``, some editors) still see one row per line."""
    text = json.dumps(row, ensure_ascii=False, sort_keys=True)
    return text.translate(_LINE_BREAKS_ESCAPED)


_LINE_BREAKS_ESCAPED = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


def parse_rows(text: str) -> ParsedRows:
    """The well-formed rows of a results file's text, and what was wrong with the other lines.

    A results file is untrusted when uploaded: a row needs a photo name, a whole seed, a method name, scores inside
    their fits' documented ranges and costs a machine can have; text it holds must be valid Unicode. Anything else
    is a malformed line, counted and left out, whatever it holds (huge numbers, deep nesting, lone surrogates).
    """
    rows, problems, lines = [], [], []
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        reason = None
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            reason = f"not JSON ({error.msg})"
        except RecursionError:
            reason = "not JSON (nested too deeply)"
        except ValueError:  # Python reads no integer of more than 4300 digits
            reason = "holds an integer too long to read (over 4300 digits)"
        else:
            reason = row_problem(row)
        if reason is None:
            rows.append(row)
            lines.append(number)
        else:
            problems.append((number, reason))
    return ParsedRows(rows, problems, lines)


def row_problem(row: Any) -> str | None:
    """Why ``row`` is not a well-formed result row, in one line; None when it is one."""
    if not isinstance(row, dict):
        return f"a row is a JSON object, received {type(row).__name__}"
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate)"
    try:
        ResultRow.model_validate(row)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return None


MAX_SECONDS = 7 * 24 * 3600.0
"""A week: no single result takes longer; a larger time is not a measurement."""
MAX_BYTES = float(2**50)
"""A pebibyte: more memory than any machine that runs the studio has."""
BOUND_SLACK = 1e-3
"""Rounding room at a score's bounds (a cosine of 1.0000001)."""

Finite = Annotated[float, Field(allow_inf_nan=False)]


class ResultRow(BaseModel):
    """What a results row must hold to be read (fields this version does not read are kept as they are)."""

    model_config = ConfigDict(extra="allow", strict=True, protected_namespaces=())

    photo: str = Field(min_length=1, max_length=255)
    seed: int = Field(ge=0, le=MAX_SEED)
    method: str = Field(min_length=1, max_length=80)
    scores: dict[str, Finite | None] | None = None
    anchors: dict[str, Finite | None] | None = None
    seconds: Finite | None = Field(None, ge=0.0, le=MAX_SECONDS)
    peak_memory_bytes: Finite | None = Field(None, ge=0.0, le=MAX_BYTES)
    model_bytes: Finite | None = Field(None, ge=0.0, le=MAX_BYTES)
    error: str | None = None
    image: str | None = None
    batching: str | None = None

    @model_validator(mode="after")
    def _inside_documented_ranges(self) -> ResultRow:
        for field_name, ranges in (("scores", _score_bounds()), ("anchors", _anchor_bounds())):
            for name, value in (getattr(self, field_name) or {}).items():
                low, high = ranges.get(name, (-math.inf, math.inf))
                if value is not None and not low - BOUND_SLACK <= value <= high + BOUND_SLACK:
                    raise ValueError(f"{field_name}.{name} is {value:g}, outside its range {low:g} to {high:g}")
        return self


def _score_bounds() -> dict[str, tuple[float, float]]:
    from app.fit.matrix import known_columns  # the fit package loads models' code: only when a row is read

    return {name: column.bounds for name, column in known_columns().items() if column.bounds is not None}


def _anchor_bounds() -> dict[str, tuple[float, float]]:
    from app.fit.anchors import ANCHORS

    return {anchor.name: anchor.bounds for anchor in ANCHORS}


def finite(value: Any) -> bool:
    """A real number (not a bool), neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def all_rows(out: Path) -> list[dict[str, Any]]:
    """Every row written to ``out`` so far: the merged file and any shards, each (photo, seed, method) once; a
    shard's row (a retried item) replaces the merged file's."""
    files = [Path(out) / ROWS, *sorted(Path(out).glob(SHARD.format(rank="*")))]
    seen: dict[tuple, dict[str, Any]] = {}
    for path in files:
        for row in read_rows(path):
            seen[(row["photo"], row["seed"], row["method"])] = row
    return list(seen.values())


def done_keys(out: Path) -> set[tuple[str, int]]:
    """The (photo, seed) items whose rows are written (an item's rows are written together), but those with a row
    a rerun may get past (``retry``: a model that did not load, memory), which run again."""
    rows = all_rows(out)
    again = {(row["photo"], row["seed"]) for row in rows if row.get("retry") is True}
    return {(row["photo"], row["seed"]) for row in rows} - again


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append one item's rows in one write, flushed to disk; a torn line left by a crash is cut first."""
    path = Path(path)
    _cut_torn_line(path)
    text = "".join(dump_row(row) + "\n" for row in rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def merge(out: Path, methods: list[str]) -> list[dict[str, Any]]:
    """Merge every shard into ``rows.jsonl`` (photo, seed, then method in the run's order); shards are removed."""
    order = {name: index for index, name in enumerate(methods)}
    rows = sorted(all_rows(out), key=lambda r: (r["photo"], r["seed"], order.get(r["method"], len(order))))
    write_rows(Path(out) / ROWS, rows)
    for shard in Path(out).glob(SHARD.format(rank="*")):
        shard.unlink()
    return rows


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace ``path`` with ``rows``, one JSON object per line, atomically (a reader never sees half a file)."""
    staging = Path(path).with_suffix(".jsonl.tmp")
    staging.write_text("".join(dump_row(row) + "\n" for row in rows), "utf-8")
    os.replace(staging, path)


def _cut_torn_line(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
