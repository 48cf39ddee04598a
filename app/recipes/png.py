"""Recipes in PNG text chunks: every downloaded image carries the recipe that made it.

Two ``tEXt`` chunks are written: ``conditioning-studio`` (the recipe as JSON,
exactly what a saved recipe file holds) and ``parameters`` (an A1111-style line,
so other tools show the prompt and settings). Reading (:func:`recipe_from_image`) prefers our chunk and falls
back to what other tools recorded, in PNG, JPEG or WebP files (:mod:`app.recipes.other_tools`).

Reading never decodes a pixel: :mod:`app.recipes.metadata` walks the file's chunks and EXIF by length, with every
text capped in size, compressed ones included.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.errors import StudioError
from app.images import MAX_BYTES
from app.recipes.a1111 import format_parameters
from app.recipes.codec import MAX_DOCUMENT_BYTES, parse_recipe, recipe_to_json
from app.recipes.metadata import Metadata, read_metadata
from app.recipes.other_tools import read_other_tool
from app.recipes.reading import settle
from app.recipes.schema import GenerationSettings, Recipe
from app.recipes.stealth import MAX_STEALTH_PIXELS, read_stealth

RECIPE_KEY = "conditioning-studio"
PARAMETERS_KEY = "parameters"
MAX_CHUNK_BYTES = MAX_DOCUMENT_BYTES


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
    """The text chunks named in ``keys`` (first of each), without decoding any pixel (see :mod:`.metadata`)."""
    texts = read_metadata(data).texts
    return {key: texts[key] for key in keys if key in texts}


def _received(source: bytes | bytearray | str | Path | Image.Image) -> bytes | Image.Image:
    """The file's bytes (read once, size checked), or the decoded image as it came."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise StudioError("No file was received; drop an image made by the studio (or another tool).")
        if path.stat().st_size > MAX_BYTES:
            raise StudioError(f"The file is over {MAX_BYTES // 2**20} MiB; refused.")
        return path.read_bytes()
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    raise StudioError(f"Expected image bytes, a file path or an image, received a {type(source).__name__}.")


def _metadata(source: bytes | Image.Image) -> Metadata:
    if isinstance(source, Image.Image):
        # A decoded image (e.g. from gradio): its text chunks are in ``info`` already.
        texts = {k: v for k, v in source.info.items() if isinstance(k, str) and isinstance(v, str)}
        return Metadata(source.format or "image", texts, source.size)
    return read_metadata(source)


def recipe_from_image(source: bytes | bytearray | str | Path | Image.Image) -> tuple[Recipe, str]:
    """The recipe embedded in an image by the studio, or the settings another tool recorded in it.

    Args:
        source: PNG, JPEG or WebP bytes, the path of an uploaded file, or a decoded image with its ``info``.

    Returns:
        ``(recipe, message)``; the message says where the recipe came from and, for other tools' images, what was
        read, what the image records that the studio does not restore, and what was changed to fit.

    Raises:
        StudioError: not an image of those kinds, no metadata the studio can read (saying what it did find), or an
            embedded recipe that is invalid.
    """
    source = _received(source)
    meta = _metadata(source)
    if RECIPE_KEY in meta.texts:
        text = meta.texts[RECIPE_KEY]
        if len(text.encode("utf-8")) > MAX_CHUNK_BYTES:
            raise StudioError(f"The image's {RECIPE_KEY!r} text is over {MAX_CHUNK_BYTES:,} bytes; refused.")
        recipe = parse_recipe(text)
        return recipe, f"Restored the recipe saved in this image{_titled(recipe)}."
    reading, why = read_other_tool(meta.texts)
    if reading is None and (hidden := _stealth(source, meta)):
        reading, why = read_other_tool({PARAMETERS_KEY: hidden})
        if reading is not None:
            reading.tool += " hidden in the pixels (stealth PNG info)"
    if reading is None:
        raise StudioError(_nothing_readable(meta, why))
    fields, notes = settle(reading, meta.size)
    if not fields.get("prompt") and not any(k in fields for k in (*_LABELS, "controls", "ip_adapter") if k != "prompt"):
        raise StudioError(f"The image's metadata ({reading.tool}) holds no prompt or setting this studio can read.")
    recipe = Recipe(mode="generate", generate=GenerationSettings(**fields))
    read = [_LABELS[k] for k in _LABELS if k in fields] + _conditioning_read(recipe.generate)
    message = f"Read from {reading.tool}: {', '.join(read)}."
    if reading.found:
        message += f" Not restored: {'; '.join(reading.found)}."
    return recipe, message + (f" ({'; '.join(notes)})" if notes else "")


def _conditioning_read(settings: GenerationSettings) -> list[str]:
    """``ControlNet canny (strength 0.8, 0–1)``, ``IP-Adapter (scale 0.6)``: the conditioning restored."""
    read = [
        f"ControlNet {c.control_type} (strength {c.controlnet_conditioning_scale:g}, "
        f"{c.control_guidance_start:g}–{c.control_guidance_end:g})"
        for c in settings.controls
    ]
    if settings.ip_adapter is not None:
        read.append(f"IP-Adapter (scale {settings.ip_adapter.scale:g})")
    return read


def _stealth(source: bytes | Image.Image, meta: Metadata) -> str | None:
    """A PNG's stealth text (see :mod:`.stealth`), decoding its pixels only when its header allows the size; a
    damaged payload is added to ``meta.problems``."""
    if meta.format != "PNG" or meta.size is None or meta.size[0] * meta.size[1] > MAX_STEALTH_PIXELS:
        return None
    try:
        if isinstance(source, Image.Image):
            image = source
        else:
            image = Image.open(io.BytesIO(source))
            image.load()
    except Exception:  # damaged pixels: the text chunks were all there was to read
        return None
    text, problem = read_stealth(image)
    if problem:
        meta.problems.append(problem)
    return text


recipe_from_png = recipe_from_image  # the name the studio's first readers used


def _nothing_readable(meta: Metadata, why: list[str]) -> str:
    """Why an image gives no recipe, naming what it does carry (never "no metadata" when there is some)."""
    if meta.texts:
        names = ", ".join(repr(k) for k in list(meta.texts)[:6])
        reasons = f" ({'; '.join(why[:3])})" if why else ""
        return f"This image carries metadata ({names}) but none this studio can read{reasons}."
    if meta.problems:
        return f"This image's metadata could not be read: {'; '.join(meta.problems[:3])}."
    return (
        f"This {meta.format} carries no recipe or generation settings: no text from the studio, A1111/Forge, "
        "ComfyUI, InvokeAI, NovelAI, Fooocus or SwarmUI (images re-saved by some apps or sites lose them)."
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
    "family": "model family",
}


def _titled(recipe: Recipe) -> str:
    return f" ({recipe.title})" if recipe.title else ""
