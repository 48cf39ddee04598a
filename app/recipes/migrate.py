"""Schema versions: older recipe documents are migrated, never refused for their age.

``MIGRATIONS[n]`` turns a version-``n`` document into a version-``n+1`` one;
:func:`migrate` applies them in turn up to :data:`~app.recipes.schema.SCHEMA_VERSION`.
A document newer than this studio understands is refused with a message that
says so (its meaning cannot be guessed).

Version 0 is the flat layout the request models themselves serialise to, with
no ``schema_version`` key: ``Result.settings`` / ``GenerationRequest.settings_dict()``
(a single generation) or ``CompareRequest.model_dump()`` (a comparison, told apart
by its ``methods`` key). Settings saved from a result before recipes existed load
as recipes. Changing the meaning or default of a field is a schema change: bump
``SCHEMA_VERSION`` and add the step here (share links omit defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.errors import StudioError
from app.recipes.schema import SCHEMA_VERSION

Document = dict[str, Any]

_FIRST_WITH_MODE = 1
# Top-level keys a version-1 document may carry besides the settings sections.
_V1_TOP_LEVEL = ("title", "description", "images", "tab")


def _v0_to_v1(document: Document) -> Document:
    """Flat request settings → a recipe with a ``generate`` or ``compare`` section."""
    settings = dict(document)
    top = {key: settings.pop(key) for key in _V1_TOP_LEVEL if key in settings}
    mode = "compare" if "methods" in settings else "generate"
    # v0 controls carry no detector; version 1 reads a missing detector as the type's default, which made them.
    return {"schema_version": 1, **top, "mode": mode, mode: settings}


def _v1_to_v2(document: Document) -> Document:
    """Version 2 adds the model family (``family``); a version-1 recipe was made on Stable Diffusion 1.5, which is
    what a missing ``family`` means, so only the version changes. (The bump makes an older studio say that a
    recipe with a family is newer than it, instead of refusing ``family`` as an unknown field.)"""
    return {**document, "schema_version": 2}


def _v2_to_v3(document: Document) -> Document:
    """Version 3 adds a comparison's seed count (``seed_count``); a version-2 comparison ran one seed per method,
    which is what a missing ``seed_count`` means, so only the version changes."""
    return {**document, "schema_version": 3}


MIGRATIONS: dict[int, Callable[[Document], Document]] = {0: _v0_to_v1, 1: _v1_to_v2, 2: _v2_to_v3}


def document_version(document: Document) -> int:
    """The document's schema version (when the key is absent: 0 for the flat layout, else 1).

    Raises:
        StudioError: the version is not a whole number, is negative, or is newer than this studio.
    """
    if "schema_version" not in document:
        # The flat layout has no ``mode``; a hand-written document with one is read as the first version with it.
        return 0 if "mode" not in document else _FIRST_WITH_MODE
    version = document["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        shown = repr(version) if len(repr(version)) <= 40 else repr(version)[:37] + "…"
        raise StudioError(
            f"Invalid recipe — schema_version: must be a whole number from 0 to {SCHEMA_VERSION} (received {shown})"
        )
    if version < 0:
        raise StudioError(f"Invalid recipe — schema_version: must be 0 or more (received {version})")
    if version > SCHEMA_VERSION:
        raise StudioError(
            f"Invalid recipe — schema_version: received {version}, but this studio reads versions up to "
            f"{SCHEMA_VERSION}; the recipe was saved by a newer Conditioning Studio, update it to load this recipe"
        )
    return version


def migrate(document: Document) -> tuple[Document, int]:
    """Bring a parsed document up to the current schema version.

    Args:
        document: A parsed JSON object (not yet validated).

    Returns:
        The migrated document and the version it was written in.

    Raises:
        StudioError: the version is unusable (see :func:`document_version`).
    """
    original = version = document_version(document)
    while version < SCHEMA_VERSION:
        document = MIGRATIONS[version](document)
        version += 1
    return document, original
