"""The bundled photos a recipe may reference, by file name only.

A recipe never holds a path or a URL: an image is either supplied by the
user in the studio or named as one of the files in ``assets/`` (their licences
are in ``assets/LICENSES.md``). A name is accepted only if it matches
:data:`ASSET_NAME_PATTERN` (no separators, no dots but the extension) *and* is
a file actually present in the folder, so no document can reach any other file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from PIL import Image

from app.errors import StudioError
from app.images import content_hash, load_image

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
ASSET_NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,40}\.(png|jpg|jpeg|webp)$")


@lru_cache(maxsize=1)
def list_assets() -> tuple[str, ...]:
    """The names of the bundled photos, sorted (read once per process)."""
    if not ASSETS_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in ASSETS_DIR.iterdir() if p.is_file() and ASSET_NAME_PATTERN.match(p.name)))


def check_asset_name(name: str) -> str:
    """Return ``name`` if it names a bundled photo.

    Raises:
        ValueError: saying what was received and which names are allowed (pydantic turns it into a field error).
    """
    allowed = ", ".join(list_assets()) or "none bundled"
    if not isinstance(name, str) or not ASSET_NAME_PATTERN.match(name):
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "…"
        raise ValueError(
            f"{shown} is not a bundled photo name; recipes reference images only by the name of a file in "
            f"assets/ ({allowed}), never by a path or URL; supply your own image in the studio instead"
        )
    if name not in list_assets():
        raise ValueError(f"{name!r} is not among the bundled photos ({allowed})")
    return name


def load_asset(name: str) -> Image.Image:
    """The bundled photo ``name`` as an RGB image (decoded through :func:`app.images.load_image`).

    Raises:
        StudioError: ``name`` is not a bundled photo.
    """
    try:
        check_asset_name(name)
    except ValueError as error:
        raise StudioError(str(error)) from None
    return _load_cached(name).copy()


@lru_cache(maxsize=8)
def _load_cached(name: str) -> Image.Image:
    return load_image(ASSETS_DIR / name)


@lru_cache(maxsize=1)
def _asset_hashes() -> dict[str, str]:
    return {content_hash(_load_cached(name)): name for name in list_assets()}


def find_asset(image: Image.Image | None) -> str | None:
    """The bundled photo with exactly these pixels, if any (so the UI need not track where an image came from).

    Args:
        image: An image the user supplied (e.g. one of the bundled examples, clicked in the UI).

    Returns:
        The asset's name, or None when the image is not a bundled photo.
    """
    if image is None:
        return None
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return _asset_hashes().get(content_hash(rgb))
