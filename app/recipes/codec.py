"""Recipe ⇄ text: JSON documents and share-link tokens, parsed as untrusted input.

Every way in (a JSON file, a browser-stored dict, a share token, a PNG chunk)
ends in :func:`parse_recipe`, which checks, in order:

1. the raw size (:data:`MAX_DOCUMENT_BYTES`) before any parsing;
2. the nesting depth of ``{``/``[`` (:data:`MAX_DEPTH`), before ``json.loads`` can recurse;
3. JSON syntax, refusing duplicate keys; ``NaN``/``Infinity`` and overflowing
   numbers parse to non-finite floats that the schema then refuses *by field name*;
4. the schema version (migrating older documents);
5. the schema itself, in strict mode (no ``"7"`` for 7, no ``true`` for 1).

Each failure raises :class:`~app.errors.StudioError` naming the field and why.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from app.errors import StudioError
from app.recipes.migrate import migrate
from app.recipes.schema import SCHEMA_VERSION, Recipe
from app.request import validated

MAX_DOCUMENT_BYTES = 64 * 1024
# A recipe nests 5 levels at most (recipe → generate → controls → control → detector_params).
MAX_DEPTH = 8
# Integers longer than this are no setting of ours; parsing them would only cost time.
MAX_INT_DIGITS = 24
# Share tokens: a full recipe compresses to well under 2 KB; 8 KB fits every server's URL limit.
MAX_SHARE_CHARS = 8 * 1024
SHARE_PARAM = "recipe"

_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _parse_int(text: str) -> int | float:
    # An absurdly long integer becomes inf, which the schema refuses under the field's own name.
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else float("inf")


def _check_depth(text: str) -> None:
    # One linear pass (the text is already capped at 64 KB), skipping brackets inside strings.
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise StudioError(
                    f"Invalid recipe — the document nests more than {MAX_DEPTH} levels of {{}} / []; "
                    "a recipe is a shallow JSON object"
                )
        elif char in "]}":
            depth -= 1


def load_document(text: str | bytes) -> dict[str, Any]:
    """Parse untrusted JSON text into a dict, with the size, depth and syntax checks (no schema yet).

    Raises:
        StudioError: too large, too deep, not JSON, duplicate keys, or not a JSON object.
    """
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > MAX_DOCUMENT_BYTES:
        raise StudioError(
            f"Invalid recipe — the document is {size:,} bytes; at most {MAX_DOCUMENT_BYTES:,} bytes are allowed"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise StudioError(f"Invalid recipe — the document is not UTF-8 text ({error.reason})") from None
    _check_depth(text)
    try:
        document = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=float,  # NaN, Infinity → non-finite floats, refused by the schema with the field's name
            parse_int=_parse_int,
        )
    except _DuplicateKey as error:
        raise StudioError(f"Invalid recipe — the key {str(error)!r} appears twice in one object") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise StudioError(f"Invalid recipe — not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise StudioError(f"Invalid recipe — a recipe is a JSON object {{...}}, received a {type(document).__name__}")
    return document


def parse_recipe(source: str | bytes | Mapping[str, Any] | Recipe) -> Recipe:
    """Validate an untrusted recipe document into a :class:`Recipe`.

    Args:
        source: JSON text or bytes, an already-parsed dict (e.g. from browser storage: still untrusted,
            so it is re-serialised and checked the same way), or a Recipe (returned as is).

    Returns:
        The recipe, migrated to the current schema version.

    Raises:
        StudioError: naming the field, what was received and what is allowed.
    """
    if isinstance(source, Recipe):
        return source
    if isinstance(source, Mapping):
        try:
            source = json.dumps(source, allow_nan=True)
        except (TypeError, ValueError, RecursionError) as error:
            raise StudioError(f"Invalid recipe — not a JSON document: {error}") from None
    elif not isinstance(source, (str, bytes, bytearray)):
        raise StudioError(f"Invalid recipe — expected JSON text or an object, received a {type(source).__name__}")
    document, version = migrate(load_document(bytes(source) if isinstance(source, bytearray) else source))
    migrated = f" (schema version {version}, migrated to {SCHEMA_VERSION})" if version != SCHEMA_VERSION else ""
    return validated(Recipe, document, f"Invalid recipe{migrated} — ", strict=True)


def recipe_to_dict(recipe: Recipe, *, compact: bool = False) -> dict[str, Any]:
    """The recipe as plain JSON data.

    Args:
        recipe: The recipe.
        compact: Leave out every value equal to its default (share links); ``schema_version`` always stays.
    """
    data = recipe.model_dump(mode="json", exclude_defaults=compact, exclude_none=True)
    section = data.get(recipe.mode, {})
    if "family" in section:  # a missing size reads as the family's native one: keep a size equal to SD1.5's
        for name in ("width", "height"):
            section.setdefault(name, getattr(recipe.settings, name))
    return {"schema_version": SCHEMA_VERSION, **data}


def recipe_to_json(recipe: Recipe, *, indent: int | None = 2) -> str:
    """The recipe as a JSON document (every field written out, so it reads and diffs well)."""
    return json.dumps(recipe_to_dict(recipe), indent=indent, ensure_ascii=False, allow_nan=False)


def encode_share(recipe: Recipe) -> str:
    """A compact URL-safe token: JSON without defaults → zlib → base64url without padding."""
    text = json.dumps(recipe_to_dict(recipe, compact=True), separators=(",", ":"), ensure_ascii=False)
    token = base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")
    if len(token) > MAX_SHARE_CHARS:
        raise StudioError(
            f"this recipe encodes to {len(token):,} characters, longer than a share link allows "
            f"({MAX_SHARE_CHARS:,}); save it as a JSON file instead (a shorter prompt also helps)"
        )
    return token


def decode_share(token: str) -> Recipe:
    """The recipe in a share token, checked like any untrusted document.

    Decompression stops at :data:`MAX_DOCUMENT_BYTES`, so a small token cannot expand into a huge one.

    Raises:
        StudioError: the token is too long, not base64url, not zlib data, expands too far, or not a valid recipe.
    """
    token = (token or "").strip()
    if not token:
        raise StudioError("Invalid share link — the recipe parameter is empty")
    if len(token) > MAX_SHARE_CHARS:
        raise StudioError(
            f"Invalid share link — the recipe parameter is {len(token):,} characters; at most {MAX_SHARE_CHARS:,}"
        )
    if not _BASE64URL.match(token):
        raise StudioError("Invalid share link — the recipe parameter must be base64url text (A–Z, a–z, 0–9, -, _)")
    try:
        compressed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise StudioError("Invalid share link — the recipe parameter is not valid base64url") from None
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(compressed, MAX_DOCUMENT_BYTES + 1)
    except zlib.error:
        raise StudioError("Invalid share link — the recipe parameter is not a compressed recipe") from None
    if len(text) > MAX_DOCUMENT_BYTES or inflater.unconsumed_tail:
        raise StudioError(f"Invalid share link — the recipe expands to more than {MAX_DOCUMENT_BYTES:,} bytes; refused")
    if not inflater.eof:
        raise StudioError("Invalid share link — the recipe parameter is truncated; copy the whole link")
    return parse_recipe(text)


def share_url(base_url: str, recipe: Recipe) -> str:
    """``base_url`` with ``?recipe=<token>`` set (other query parameters kept, any old recipe replaced)."""
    parts = urlsplit(base_url)
    query = [(k, v) for k, vs in parse_qs(parts.query, keep_blank_values=True).items() for v in vs if k != SHARE_PARAM]
    query.append((SHARE_PARAM, encode_share(recipe)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def share_token(url_or_params: str | Mapping[str, Any]) -> str | None:
    """The share token in a URL or in query parameters (e.g. ``gr.Request.query_params``); None if absent."""
    if isinstance(url_or_params, Mapping):
        value = url_or_params.get(SHARE_PARAM)
        return str(value) if value else None
    values = parse_qs(urlsplit(url_or_params).query).get(SHARE_PARAM)
    return values[0] if values else None
