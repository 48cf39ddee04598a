"""Recipes in PNG text chunks: every downloaded image carries the recipe that made it.

Two ``tEXt`` chunks are written: ``conditioning-studio`` (the recipe as JSON,
exactly what a saved recipe file holds) and ``parameters`` (an A1111-style line,
so other tools show the prompt and settings). Reading prefers our chunk and falls
back to a best-effort reading of ``parameters`` written by other tools.

Reading walks the PNG chunk list itself instead of decoding the image: no pixel
is decompressed (no decompression bomb), chunks we do not read are skipped by
length, and the chunks we do read are capped in size, compressed ones included.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.errors import StudioError
from app.images import MAX_BYTES
from app.recipes.a1111 import format_parameters, parse_parameters
from app.recipes.codec import MAX_DOCUMENT_BYTES, parse_recipe, recipe_to_json
from app.recipes.schema import GenerationSettings, Recipe

RECIPE_KEY = "conditioning-studio"
PARAMETERS_KEY = "parameters"
MAX_CHUNK_BYTES = MAX_DOCUMENT_BYTES
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def recipe_text_chunks(recipe: Recipe, *, seed: int | None = None, method: str | None = None) -> dict[str, str]:
    """The text chunks of one image: ``{"conditioning-studio": json, "parameters": a1111 line}``.

    Args:
        recipe: The recipe that produced the image.
        seed: The image's own seed (image i of a batch has ``seed + i``), for the A1111 line.
        method: The method of this image in a comparison, for the A1111 line.
    """
    return {
        RECIPE_KEY: recipe_to_json(recipe, indent=None),
        PARAMETERS_KEY: format_parameters(recipe, seed=seed, method=method),
    }


def attach_recipe(
    image: Image.Image, recipe: Recipe, *, seed: int | None = None, method: str | None = None
) -> Image.Image:
    """A copy of ``image`` whose ``info`` holds the recipe chunks.

    Gradio copies string ``info`` entries into the PNG it serves (``format="png"`` on the
    output component), so images returned this way download with their recipe.
    """
    tagged = image.copy()
    tagged.info.update(recipe_text_chunks(recipe, seed=seed, method=method))
    return tagged


def png_with_recipe(image: Image.Image, recipe: Recipe, *, seed: int | None = None, method: str | None = None) -> bytes:
    """The image encoded as PNG with the recipe chunks written before the pixel data."""
    info = PngInfo()
    for key, value in recipe_text_chunks(recipe, seed=seed, method=method).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_text_chunks(data: bytes, keys: tuple[str, ...] = (RECIPE_KEY, PARAMETERS_KEY)) -> dict[str, str]:
    """The text chunks named in ``keys`` (first of each), without decoding any pixel.

    Raises:
        StudioError: not a PNG, a damaged chunk list, or one of ``keys`` over :data:`MAX_CHUNK_BYTES`.
    """
    if not data.startswith(_SIGNATURE):
        raise StudioError("This file is not a PNG; recipes are read from PNG images (or JSON recipe files).")
    wanted = {key.encode("latin-1") for key in keys}
    found: dict[str, str] = {}
    offset = len(_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        start, end = offset + 8, offset + 8 + length
        if end + 4 > len(data):
            raise StudioError("This PNG is truncated or damaged (a chunk runs past the end of the file).")
        if kind == b"IEND":
            break
        if kind in _TEXT_CHUNKS:
            keyword = data[start : min(end, start + 80)].split(b"\0", 1)[0]
            if keyword in wanted and keyword.decode("latin-1") not in found:
                name = keyword.decode("latin-1")
                if length > MAX_CHUNK_BYTES:
                    raise StudioError(
                        f"The PNG's {name!r} text chunk is {length:,} bytes; at most {MAX_CHUNK_BYTES:,} are read."
                    )
                if zlib.crc32(data[offset + 4 : end]) != struct.unpack(">I", data[end : end + 4])[0]:
                    raise StudioError(f"The PNG's {name!r} text chunk is damaged (checksum mismatch).")
                found[name] = _chunk_text(kind, data[start:end], name)
        offset = end + 4
    return found


def _chunk_text(kind: bytes, body: bytes, name: str) -> str:
    _, _, rest = body.partition(b"\0")
    if kind == b"tEXt":
        return rest.decode("latin-1")
    if kind == b"zTXt":
        return _inflate(rest[1:], name).decode("latin-1")
    compressed, method = rest[0:1] == b"\x01", rest[1:2]  # iTXt: flag, method, language\0, keyword\0, text
    _, _, rest = rest[2:].partition(b"\0")
    _, _, text = rest.partition(b"\0")
    if compressed and method != b"\x00":
        raise StudioError(f"The PNG's {name!r} text chunk uses an unknown compression method.")
    try:
        return (_inflate(text, name) if compressed else text).decode("utf-8")
    except UnicodeDecodeError:
        raise StudioError(f"The PNG's {name!r} text chunk is not UTF-8 text.") from None


def _inflate(data: bytes, name: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_CHUNK_BYTES + 1)
    except zlib.error:
        raise StudioError(f"The PNG's {name!r} text chunk is not valid compressed data.") from None
    if len(text) > MAX_CHUNK_BYTES or inflater.unconsumed_tail:
        raise StudioError(f"The PNG's {name!r} text chunk expands past {MAX_CHUNK_BYTES:,} bytes; refused.")
    return text


def _png_bytes(source: bytes | bytearray | str | Path | Image.Image) -> bytes | dict[str, str]:
    if isinstance(source, Image.Image):
        # A decoded image (e.g. from gradio): its text chunks are in ``info`` already.
        return {k: v for k, v in source.info.items() if isinstance(k, str) and isinstance(v, str)}
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise StudioError("No file was received; drop a PNG made by the studio (or another tool).")
        if path.stat().st_size > MAX_BYTES:
            raise StudioError(f"The file is over {MAX_BYTES // 2**20} MiB; refused.")
        return path.read_bytes()
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_BYTES:
            raise StudioError(f"The file is over {MAX_BYTES // 2**20} MiB; refused.")
        return bytes(source)
    raise StudioError(f"Expected PNG bytes, a file path or an image, received a {type(source).__name__}.")


def recipe_from_png(source: bytes | bytearray | str | Path | Image.Image) -> tuple[Recipe, str]:
    """The recipe embedded in a PNG, or one read best-effort from an A1111 ``parameters`` chunk.

    Args:
        source: PNG bytes, the path of an uploaded file, or a decoded image with its ``info``.

    Returns:
        ``(recipe, message)``; the message says where the recipe came from and, for other tools'
        images, which fields were read and what was ignored.

    Raises:
        StudioError: not a PNG, no recipe or parameters in it, or an embedded recipe that is invalid.
    """
    raw = _png_bytes(source)
    chunks = raw if isinstance(raw, dict) else read_text_chunks(raw)
    if RECIPE_KEY in chunks:
        text = chunks[RECIPE_KEY]
        if len(text.encode("utf-8")) > MAX_CHUNK_BYTES:
            raise StudioError(f"The image's {RECIPE_KEY!r} text is over {MAX_CHUNK_BYTES:,} bytes; refused.")
        recipe = parse_recipe(text)
        return recipe, f"Restored the recipe saved in this image{_titled(recipe)}."
    if PARAMETERS_KEY in chunks:
        fields, notes = parse_parameters(chunks[PARAMETERS_KEY])
        if not fields:
            raise StudioError("The image's 'parameters' text holds no prompt or setting this studio can read.")
        recipe = Recipe(mode="generate", tab="text", generate=GenerationSettings(**fields))
        read = ", ".join(_LABELS[k] for k in _LABELS if k in fields)
        message = f"Read {read} from the image's A1111-style parameters; conditioning was not restored"
        return recipe, message + (f" ({'; '.join(notes)})." if notes else ".")
    raise StudioError(
        "This PNG carries no recipe: no 'conditioning-studio' or 'parameters' text chunk "
        "(images re-saved by some apps or sites lose them)."
    )


_LABELS = {
    "prompt": "prompt",
    "negative_prompt": "negative prompt",
    "num_inference_steps": "steps",
    "scheduler": "sampler",
    "guidance_scale": "CFG scale",
    "seed": "seed",
    "width": "width",
    "height": "height",
}


def _titled(recipe: Recipe) -> str:
    return f" ({recipe.title})" if recipe.title else ""
