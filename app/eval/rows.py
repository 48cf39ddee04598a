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
from pathlib import Path
from typing import Any

ROWS = "rows.jsonl"
SKIPPED = "skipped.jsonl"
SHARD = "rows-rank{rank}.jsonl"
COST_FIELDS = ("seconds", "peak_memory_bytes", "memory_kind", "model_bytes")
"""Fields that measure this run's machine; everything else in a row is the same on a rerun on the same device type."""


def shard_path(out: Path, rank: int) -> Path:
    return Path(out) / SHARD.format(rank=rank)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of one file; a torn last line (an interrupted write) is dropped."""
    if not Path(path).is_file():
        return []
    return parse_rows(Path(path).read_text(encoding="utf-8"))[0]


def parse_rows(text: str) -> tuple[list[dict[str, Any]], int]:
    """The well-formed rows of a results file's text, and how many lines were not (a results file is untrusted
    when uploaded: a row needs a photo name, a whole seed, a method name, and finite scores if any)."""
    rows, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: a hostile line nested thousands deep
            bad += 1
            continue
        if _well_formed(row):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def _well_formed(row: Any) -> bool:
    if not isinstance(row, dict):
        return False
    photo, seed, method, scores = row.get("photo"), row.get("seed"), row.get("method"), row.get("scores") or {}
    return (
        isinstance(photo, str)
        and isinstance(seed, int)
        and not isinstance(seed, bool)
        and isinstance(method, str)
        and 0 < len(method) <= 80
        and isinstance(scores, dict)
        and all(isinstance(k, str) and (v is None or finite(v)) for k, v in scores.items())
    )


def finite(value: Any) -> bool:
    """A real number (not a bool), neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def all_rows(out: Path) -> list[dict[str, Any]]:
    """Every row written to ``out`` so far: the merged file and any shards, each (photo, seed, method) once."""
    files = [Path(out) / ROWS, *sorted(Path(out).glob(SHARD.format(rank="*")))]
    seen: dict[tuple, dict[str, Any]] = {}
    for path in files:
        for row in read_rows(path):
            seen.setdefault((row["photo"], row["seed"], row["method"]), row)
    return list(seen.values())


def done_keys(out: Path) -> set[tuple[str, int]]:
    """The (photo, seed) items whose rows are written (an item's rows are written together)."""
    return {(row["photo"], row["seed"]) for row in all_rows(out)}


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append one item's rows in one write, flushed to disk; a torn line left by a crash is cut first."""
    path = Path(path)
    _cut_torn_line(path)
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
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
    staging.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), "utf-8")
    os.replace(staging, path)


def _cut_torn_line(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
