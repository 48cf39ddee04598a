"""Reproduce with diffusers: a generation tab's last result as a runnable Python script, one click to copy.

The script (:func:`app.recipes.as_code.diffusers_script`) reads the maps and the reference from the files the
tab's gallery downloads (``canny-map.png``, ``reference.png``) and saves the image under its gallery name. It is
written after each successful run from the run's own inputs (the seed field holds the seed that ran), by a
private event, so the tab's API returns what it always returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from app.errors import StudioError
from app.recipes import Recipe
from app.recipes.as_code import diffusers_script
from app.ui.gallery import file_stem
from app.ui.runs import PRIVATE, Run

MapStem = Callable[[Recipe, str], str]
"""The download name (without ``.png``) of a control type's map in a tab's gallery."""


def by_type(recipe: Recipe, control_type: str) -> str:
    """``canny-map``: the ControlNet tab names each map by its type."""
    return file_stem(control_type, kind="map")


def by_method(recipe: Recipe, control_type: str) -> str:
    """``canny-ip-adapter-map``: the IP-Adapter tab names its map by the method."""
    return file_stem(recipe.generate.method, kind="map")


def code_view(elem_id: str) -> gr.Code:
    """The collapsed script view, placed under a tab's results."""
    with gr.Accordion("Reproduce with diffusers (Python)", open=False):
        gr.Markdown(
            "The last result as a script for your own diffusers setup: save the map and reference images from the "
            "gallery beside it (their download names), run it, get the same image (float32 exactly)."
        )
        return gr.Code(language="python", interactive=False, label="Script", elem_id=elem_id)


def show_code(
    run: Run,
    view: gr.Code,
    inputs: dict[str, Any],
    to_recipe: Callable[[dict[str, Any]], Recipe],
    map_stem: MapStem = by_type,
) -> None:
    """After each successful run, put its script in ``view``."""

    def script(**values: Any) -> Any:
        try:
            recipe = to_recipe(values)
        except (StudioError, KeyError, ValueError):  # nothing recordable (e.g. no photo yet): keep the last script
            return gr.skip()
        settings = recipe.generate
        return diffusers_script(
            settings,
            map_files=[f"{map_stem(recipe, c.control_type)}.png" for c in settings.controls],
            output_file=f"{file_stem(settings.method, settings.seed)}.png",
        )

    run.event.success(script, inputs_kwargs=inputs, outputs=view, **PRIVATE)
