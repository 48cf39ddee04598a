"""Shipped presets: one recipe per JSON file in ``presets/``, each teaching when a method fits."""

from __future__ import annotations

from pathlib import Path

from app.errors import StudioError
from app.recipes.codec import MAX_DOCUMENT_BYTES, parse_recipe
from app.recipes.schema import Recipe

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"


def _rank(recipe: Recipe) -> int:
    """Menu order: text, single ControlNet, IP-Adapter, combinations, comparisons."""
    if recipe.mode == "compare":
        return 4
    settings = recipe.generate
    if settings.controls and settings.ip_adapter is not None:
        return 3
    return 1 if settings.controls else 2 if settings.ip_adapter is not None else 0


def load_presets(folder: str | Path | None = None) -> dict[str, Recipe]:
    """Every ``*.json`` preset in ``folder`` (default ``presets/``), validated, keyed by file stem, in menu order.

    Presets are checked exactly like user documents (size, depth, schema), and each must carry a title
    and a one-line description of what it shows.

    Raises:
        StudioError: naming the file and what is wrong with it.
    """
    folder = Path(folder) if folder is not None else PRESETS_DIR
    presets: dict[str, Recipe] = {}
    for path in sorted(folder.glob("*.json")):
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise StudioError(f"preset {path.name}: {path.stat().st_size:,} bytes, over {MAX_DOCUMENT_BYTES:,}")
        try:
            recipe = parse_recipe(path.read_bytes())
        except StudioError as error:
            raise StudioError(f"preset {path.name}: {error}") from None
        if not recipe.title or not recipe.description:
            raise StudioError(f"preset {path.name}: needs a title and a one-line description of what it shows")
        presets[path.stem] = recipe
    return dict(sorted(presets.items(), key=lambda item: (_rank(item[1]), item[0])))
