"""Results that outlive the page: every result kept in an outputs folder, as A1111 and ComfyUI users expect.

Locally each result PNG the studio serves (its recipe inside) is copied to ``<folder>/<YYYY-MM-DD>/`` and listed in
``<folder>/index.jsonl``, one line per image (its file, caption and time), so History lists earlier results after a
reload or a restart. The folder is ``STUDIO_OUTPUT_DIR`` (``outputs`` by default; empty: off; off by default on a
Space, where visitors share one disk). A JSON-lines index rather than SQLite: History reads only its newest lines
(the end of the file, at most :data:`MAX_TAIL_BYTES`), and an append is one ``write`` that a crash can only cut at
the end, where the reader skips a damaged line.

Nothing is written outside the folder: file names are made here (date, time, a random tag, a slug of the caption),
never taken from a request, and the index is read back only as paths of that shape inside the folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.errors import StudioError

INDEX = "index.jsonl"
MAX_TAIL_BYTES = 512 * 1024
"""Most of the index read back (the newest lines): a few thousand entries, far more than History shows."""
MAX_CAPTION_CHARS = 200
_KEPT = re.compile(r"^\d{4}-\d{2}-\d{2}/[0-9]{6}-[0-9a-f]{8}-[a-z0-9-]{0,40}\.png$")
"""The only index entries read back: a file of the shape :meth:`Outputs.keep` names."""
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ROWS = re.compile(r"^[0-9]{6}-[0-9a-f]{8}-[a-z0-9-]{0,40}\.jsonl$")


@dataclass(frozen=True)
class Outputs:
    """The outputs folder.

    Attributes:
        root: The folder; made on the first result kept.
    """

    root: Path

    def keep(self, results: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Copy served result files into the folder and list them in the index.

        Args:
            results: ``(served file, caption)`` of each result PNG, as the results gallery holds them.

        Returns:
            ``(kept file, caption)`` for each, in order.

        Raises:
            StudioError: the folder cannot be written (a full disk, no permission), saying where and why; the results
                kept before the failure stay listed.
        """
        now = datetime.now()
        folder = self.root / now.strftime("%Y-%m-%d")
        kept, lines, failed = [], [], None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for source, caption in results:
                name = f"{now:%H%M%S}-{uuid.uuid4().hex[:8]}-{_slug(caption)}.png"
                target = folder / name
                partial = target.with_suffix(".part")
                try:
                    shutil.copyfile(source, partial)
                    os.replace(partial, target)  # a reader never sees half a file
                finally:
                    partial.unlink(missing_ok=True)
                caption = caption[:MAX_CAPTION_CHARS]
                kept.append((str(target), caption))
                entry = {"file": f"{folder.name}/{name}", "caption": caption, "time": now.isoformat(timespec="seconds")}
                lines.append(json.dumps(entry, ensure_ascii=False))
        except OSError as error:
            failed = error
        # History reads the index from its end: a run's results go in backwards to come back in the run's order.
        self._append(lines[::-1])  # what was kept before a failure stays listed
        if failed is not None:
            raise StudioError(
                f"Results not kept in {self.root}: {failed.strerror or failed}. They are still shown here; download "
                "the ones you want."
            )
        return kept

    def keep_rows(self, rows: list[dict], caption: str) -> Path:
        """A comparison's rows (:func:`app.eval.runner.comparison_rows`) as ``<date>/<time>-<tag>-<caption>.jsonl``,
        the results file the Report tab opens.

        Raises:
            StudioError: the folder cannot be written, saying where and why.
        """
        now = datetime.now()
        target = self.root / f"{now:%Y-%m-%d}" / f"{now:%H%M%S}-{uuid.uuid4().hex[:8]}-{_slug(caption)}.jsonl"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            lines = [json.dumps(row, ensure_ascii=False, allow_nan=False) for row in rows]
            partial.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            os.replace(partial, target)
        except ValueError as error:  # a value JSON lines cannot hold (a row is checked when it is read back)
            raise StudioError(f"Comparison scores not kept: {error}.") from None
        except OSError as error:
            raise StudioError(f"Comparison scores not kept in {self.root}: {error.strerror or error}.") from None
        return target

    def comparisons(self, limit: int) -> list[Path]:
        """The newest ``limit`` kept comparison files, newest first (looking at the newest days only)."""
        found: list[Path] = []
        try:
            days = sorted((d for d in self.root.iterdir() if _DAY.match(d.name) and d.is_dir()), reverse=True)
            for day in days:
                found += sorted((f for f in day.iterdir() if _ROWS.match(f.name)), reverse=True)[: limit - len(found)]
                if len(found) >= limit:
                    break
        except OSError:
            pass
        return found

    def recent(self, limit: int) -> list[tuple[str, str]]:
        """The newest ``limit`` kept results whose files still exist, newest first, as ``(file, caption)``."""
        try:
            with (self.root / INDEX).open("rb") as index:
                size = index.seek(0, os.SEEK_END)
                index.seek(max(0, size - MAX_TAIL_BYTES))
                tail = index.read(MAX_TAIL_BYTES)
        except OSError:
            return []
        found: list[tuple[str, str]] = []
        for line in reversed(tail.split(b"\n")[1 if size > MAX_TAIL_BYTES else 0 :]):  # the first may be cut
            entry = _entry(line)
            if entry is None:
                continue
            path = self.root / entry[0]
            if path.is_file():
                found.append((str(path), entry[1]))
                if len(found) == limit:
                    break
        return found

    def _append(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            with (self.root / INDEX).open("a", encoding="utf-8") as index:
                index.write("".join(f"{line}\n" for line in lines))
        except OSError as error:
            raise StudioError(f"Results kept in {self.root} but not listed for History: {error.strerror}.") from None


def _slug(caption: str) -> str:
    """``ControlNet canny · seed 3`` → ``controlnet-canny-seed-3`` (lower-case letters, digits and ``-``, ≤ 40)."""
    return re.sub(r"[^a-z0-9]+", "-", caption.lower())[:40].strip("-")


def _entry(line: bytes) -> tuple[str, str] | None:
    """``(file, caption)`` of an index line, or None for a damaged line or a file of another shape."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("file"), str) or not _KEPT.match(data["file"]):
        return None
    caption = data.get("caption")
    return data["file"], caption[:MAX_CAPTION_CHARS] if isinstance(caption, str) else ""


def outputs_for(folder: Path | None) -> Outputs | None:
    """The outputs folder the settings name (``Settings.output_dir``), or None when results are not kept."""
    return Outputs(folder) if folder is not None else None
