"""Result galleries: whole images, captions people can read, downloads named after what made them.

Gradio names every image it serves ``image.png``; a person who saves three results then has three files of the
same name and no idea which method made which. Each image here is written once, as a PNG (its recipe in the text
chunks), under a name like ``canny-seed42.png``, and the gallery serves that file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import gradio as gr
from gradio.processing_utils import save_pil_to_cache
from gradio.utils import get_upload_folder
from PIL import Image

from app.engine.families import FAMILIES

if TYPE_CHECKING:
    from app.engine.result import Result

RESULTS_CLASS = "results"
"""Marks result galleries: the page's CSS shows their images whole, captions below (see ``app.ui.CSS``)."""

GALLERY_CSS = f"""
/* Result galleries: whole images (no square crop), the caption below the image, wrapped and fully opaque. */
.{RESULTS_CLASS} .thumbnail-item {{
  aspect-ratio: auto !important; height: auto !important; display: flex; flex-direction: column;
}}
.{RESULTS_CLASS} .grid-wrap {{ max-height: none !important; height: auto !important; }}
/* Once it holds images a gallery is as tall as they are (gradio keeps 450 px, which left a blank band under maps). */
.{RESULTS_CLASS} .grid-wrap:has(img) {{ min-height: 0 !important; }}
.{RESULTS_CLASS} .thumbnail-item img {{
  /* at most half the viewport: a single result stays in view beside the settings */
  object-fit: contain !important; width: 100%; height: auto !important; max-height: 50vh;
}}
.{RESULTS_CLASS} .caption-label {{
  position: static !important; max-width: 100% !important; white-space: normal !important; opacity: 1 !important;
  border: 0 !important; border-radius: 0 !important; overflow: visible !important;
}}
"""


def results_gallery(label: str, elem_id: str | None = None, columns: int = 2, **kwargs: Any) -> gr.Gallery:
    """A gallery for results and maps: whole images in ``columns`` columns, readable captions, PNG downloads.

    An output, as in the tools people know: read-only (no upload box, no delete) with download and full-screen
    buttons. As an event input it gives the served files' paths (what the history and Stop's tidy-up need).
    """
    kwargs.setdefault("type", "filepath")
    kwargs.setdefault("interactive", False)
    kwargs.setdefault("buttons", ["download", "fullscreen"])
    return gr.Gallery(
        label=label,
        columns=columns,
        height="auto",
        object_fit="contain",
        format="png",
        elem_id=elem_id,
        elem_classes=RESULTS_CLASS,
        **kwargs,
    )


def file_stem(method: str, seed: int | None = None, kind: str = "") -> str:
    """A download's file name without extension: ``canny-seed42``, ``depth-ip-adapter-seed7``, ``pose-map``."""
    words = re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-") or "image"
    if kind:
        words += f"-{kind}"
    return f"{words}-seed{seed}" if seed is not None else words


def downloadable(items: Iterable[tuple[Any, str | None]], stems: Sequence[str]) -> list[tuple[Any, str | None]]:
    """Gallery items whose images are served as PNG files named ``stems`` (recipe text chunks kept).

    Items that are not PIL images (a path already served) pass unchanged.
    """
    out = []
    for (image, caption), stem in zip(items, stems, strict=True):
        if isinstance(image, Image.Image):
            image = save_pil_to_cache(image, get_upload_folder(), name=stem, format="png")
        out.append((image, caption))
    return out


def result_items(result: Result, label: str, family: str | None = None) -> list[tuple[str, str]]:
    """Gallery items of a result, captioned ``Canny · seed 42 · SD1.5`` (served as :func:`result_stems` names
    them): the model is named, so History tells SD1.5 and SDXL results apart.

    The settings every image shares are in the tab's cost line (:func:`app.ui.shared.describe_cost`).
    """
    model = f" · {FAMILIES[family].short}" if family in FAMILIES else ""
    return [(image, f"{label} · seed {seed}{model}") for image, seed in zip(result.images, result.seeds, strict=True)]


def result_stems(result: Result) -> list[str]:
    """The file names of a result's images."""
    return [file_stem(result.method, seed) for seed in result.seeds]
