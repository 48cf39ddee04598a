"""What an evaluation runs on: photos, their prompts and references, and the seeds, as a list of work items.

Inputs are checked before any model loads: a missing folder, an unreadable prompts file or a photo without a
prompt is said plainly. A photo that is not a usable image is not an input error: the run reports and skips it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from app.errors import StudioError, clipped
from app.eval.rows import split_lines
from app.request.generation import MAX_SEED

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MAX_SEEDS = 64
MAX_PROMPTS_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Item:
    """One comparison to run: a photo (by its name in the run), its prompt, its reference, one seed."""

    photo: str
    path: Path
    prompt: str
    reference: Path | None
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        """What identifies the item's rows in a results file (a rerun skips items whose rows are there)."""
        return (self.photo, self.seed)


def find_photos(sources: list[str | Path]) -> list[Path]:
    """The photo files named, and those in the folders named (sorted by name, not recursive).

    Raises:
        StudioError: a path that does not exist, or no photo at all.
    """
    photos: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            photos += sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        elif source.is_file():
            photos.append(source)
        else:
            raise StudioError(f"Photos: {str(source)!r} is neither a file nor a folder.")
    if not photos:
        allowed = ", ".join(PHOTO_SUFFIXES)
        raise StudioError(f"Photos: no image files in {', '.join(map(str, sources))} (looked for {allowed}).")
    names = [safe_name(p) for p in photos]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise StudioError(f"Photos: two photos share the name {twice[0]!r}; rows name photos by file name.")
    return photos


def safe_name(path: Path) -> str:
    """A file's name as rows and messages show it: a name that is not UTF-8 (bytes a file system allows) gets
    U+FFFD where its bad bytes are, so that no row holds text no file can."""
    return os.fsencode(path.name).decode("utf-8", "replace")


def read_prompts(path: Path) -> dict[str, dict[str, str]]:
    """Per-photo prompts (and optional references) from a JSONL file: ``{"photo": "a.png", "prompt": "...",
    "reference": "b.png"}`` per line.

    Raises:
        StudioError: a line that is not such an object, naming the line.
    """
    try:
        if Path(path).stat().st_size > MAX_PROMPTS_BYTES:
            raise StudioError(f"Prompts: {str(path)!r} is over {MAX_PROMPTS_BYTES // 2**20} MiB; split the run.")
        data = Path(path).read_bytes()
    except OSError as error:
        raise StudioError(f"Prompts: cannot read {str(path)!r}: {error.strerror or error}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StudioError(
            f"Prompts: {path} is not UTF-8 text (byte {error.start} is {data[error.start]:#04x}); save it as UTF-8."
        ) from None
    prompts: dict[str, dict[str, str]] = {}
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise StudioError(f"Prompts: line {number} of {path} is not JSON ({error.msg}).") from None
        except (ValueError, RecursionError) as error:  # Python reads no integer of over 4300 digits
            reason = "nested too deeply" if isinstance(error, RecursionError) else "an integer of over 4300 digits"
            raise StudioError(f"Prompts: line {number} of {path} is not JSON ({reason}).") from None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("photo"), str)
            or not isinstance(entry.get("prompt"), str)
        ):
            raise StudioError(
                f"Prompts: line {number} of {path} must be an object with a 'photo' file name and a 'prompt' text, "
                f"received {line[:80]!r}."
            )
        extra = sorted(set(entry) - {"photo", "prompt", "reference"})
        if extra or not isinstance(entry.get("reference", ""), str):
            raise StudioError(
                f"Prompts: line {number} of {path}: allowed keys are photo, prompt and reference (a file name), "
                f"received {', '.join(map(repr, extra))[:200] or 'a reference that is not a file name'}."
            )
        if not all(is_unicode(value) for value in entry.values()):
            raise StudioError(
                f"Prompts: line {number} of {path} holds text that is not valid Unicode (a lone surrogate such as "
                "\\ud800)."
            )
        prompts[Path(entry["photo"]).name] = entry
    return prompts


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` or ``0-3`` (inclusive) into distinct seeds, in order.

    Raises:
        StudioError: anything else, or more than :data:`MAX_SEEDS` seeds.
    """
    seeds: list[int] = []
    allowed = f"give 1–{MAX_SEEDS} seeds from 0 to {MAX_SEED}"
    shown = clipped(text, 80)
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, dash, high = part.partition("-")
        try:
            first, last = (int(low), int(high)) if dash else (int(part), int(part))
        except ValueError:  # not a number (an integer of over 4300 digits included)
            raise StudioError(f"Seeds: {shown!r} is not a list like 0,1,2 or a range like 0-3.") from None
        if not 0 <= first <= last <= MAX_SEED or last - first >= MAX_SEEDS:
            raise StudioError(f"Seeds: {shown!r} holds {part[:40]!r}; {allowed}.")
        seeds += range(first, last + 1)  # at most MAX_SEEDS per part, whatever the numbers
        if len(seeds) > MAX_SEEDS * 4:
            break
    seeds = list(dict.fromkeys(seeds))
    if not seeds or len(seeds) > MAX_SEEDS:
        raise StudioError(f"Seeds: {shown!r} gives {len(seeds)} seeds or more; {allowed}.")
    return seeds


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (JSON's ``\\ud800`` escape and a command line's undecodable
    bytes give strings holding lone surrogates, which no file or page can hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plan(
    photos: list[Path],
    seeds: list[int],
    prompt: str | None = None,
    prompts: dict[str, dict[str, str]] | None = None,
    references: Path | None = None,
) -> tuple[list[Item], dict[str, str]]:
    """Every (photo, seed) item, photo-major; and the photos left out, with why.

    A photo's prompt is its line in ``prompts`` or else ``prompt``. Its reference is the file its prompt line
    names (in the ``references`` folder), or the file with its own name there, or ``references`` itself when
    that is one file; a photo with none runs with the reference left out (its IP-Adapter methods say so).
    """
    items, left_out = [], {}
    for path in photos:
        name = safe_name(path)
        entry = (prompts or {}).get(name, {})
        text = entry.get("prompt", prompt)
        if text is None:
            left_out[name] = "no prompt for this photo in the prompts file (and no --prompt for all)"
            continue
        if not is_unicode(text):
            left_out[name] = "its prompt holds text that is not valid Unicode (e.g. bytes a terminal could not decode)"
            continue
        reference = _reference_for(path.name, entry.get("reference"), references)
        items += [Item(name, path, text, reference, seed) for seed in seeds]
    return items, left_out


def _reference_for(photo: str, named: str | None, references: Path | None) -> Path | None:
    if references is None:
        return None
    if references.is_file():
        return references
    candidate = references / Path(named or photo).name
    return candidate if candidate.is_file() else None
