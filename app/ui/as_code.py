"""Take it elsewhere: a generation tab's last result as a runnable diffusers script and as a ComfyUI workflow.

The script (:func:`app.recipes.as_code.diffusers_script`) and the workflow
(:func:`app.recipes.comfyui.comfyui_workflow`) read the maps and the reference from the files the tab's gallery
downloads (``canny-map.png``, ``reference.png``). Both are written after each successful run from the run's own
inputs (the seed field holds the seed that ran), by a private event, so the tab's API returns what it always
returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import gradio as gr

from app.errors import StudioError
from app.recipes import Recipe
from app.recipes.as_code import diffusers_script
from app.recipes.comfyui import comfyui_workflow
from app.recipes.convert import generation_from_compare
from app.recipes.schema import GenerationSettings
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


def code_view(elem_id: str) -> tuple[gr.Code, gr.Code]:
    """The collapsed views of the script and the workflow, placed under a tab's results."""
    with gr.Accordion("Reproduce with diffusers (Python) or ComfyUI", open=False):
        return _views(elem_id)


def comparison_code_view(elem_id: str) -> tuple[gr.Dropdown, tuple[gr.Code, gr.Code]]:
    """The Compare tab's views: a method to take elsewhere, its script and its workflow."""
    with gr.Accordion("Reproduce a method with diffusers (Python) or ComfyUI", open=False):
        chooser = gr.Dropdown([], label="Method", elem_id=f"{elem_id}-method")
        return chooser, _views(elem_id)


def _views(elem_id: str) -> tuple[gr.Code, gr.Code]:
    gr.Markdown(
        "The last result as a script for your own diffusers setup: save the map and reference images from the "
        "gallery beside it (their download names), run it, get the same image (float32 exactly). Or as a "
        "ComfyUI workflow (API format, core nodes and ComfyUI_IPAdapter_plus): put those images in ComfyUI's "
        "input folder and set the model file names to yours; ComfyUI draws its own noise, so expect the same "
        "recipe, not the same pixels."
    )
    script = gr.Code(language="python", interactive=False, label="diffusers script", elem_id=elem_id)
    workflow = gr.Code(
        language="json", interactive=False, label="ComfyUI workflow (API format)", elem_id=f"{elem_id}-comfyui"
    )
    return script, workflow


def exports(settings: GenerationSettings, maps: list[str]) -> tuple[str, str]:
    """The diffusers script and the ComfyUI workflow (JSON text) of one image of ``settings``."""
    name = file_stem(settings.method, settings.seed)
    workflow = comfyui_workflow(settings, map_files=maps, output_prefix=name)
    return diffusers_script(settings, map_files=maps, output_file=f"{name}.png"), json.dumps(workflow, indent=1)


def show_code(
    run: Run,
    view: tuple[gr.Code, gr.Code],
    inputs: dict[str, Any],
    to_recipe: Callable[[dict[str, Any]], Recipe],
    map_stem: MapStem = by_type,
) -> None:
    """After each successful run, put its script and workflow in ``view``."""

    def script(**values: Any) -> Any:
        try:
            recipe = to_recipe(values)
        except (StudioError, KeyError, ValueError):  # nothing recordable (e.g. no photo yet): keep the last ones
            return gr.skip(), gr.skip()
        settings = recipe.generate
        return exports(settings, [f"{map_stem(recipe, c.control_type)}.png" for c in settings.controls])

    run.event.success(script, inputs_kwargs=inputs, outputs=list(view), **PRIVATE)


def comparison_maps(settings: GenerationSettings, method: str) -> list[str]:
    """The map files of one method in the Compare grid's downloads: the method's map (``canny-map.png``), or each
    type's when a method fuses several."""
    if len(settings.controls) == 1:
        return [f"{file_stem(method, kind='map')}.png"]
    return [f"{file_stem(c.control_type, kind='map')}.png" for c in settings.controls]


def show_comparison_code(
    run: Run,
    view: tuple[gr.Code, gr.Code],
    chooser: gr.Dropdown,
    inputs: dict[str, Any],
    to_recipe: Callable[[dict[str, Any]], Recipe],
) -> None:
    """After each comparison, offer each of its methods as a script and a workflow (``chooser`` picks the method)."""

    def for_method(method: str | None, values: dict[str, Any]) -> tuple[Any, Any]:
        try:
            compare = to_recipe(values).compare
            settings = generation_from_compare(compare, method or compare.parsed_methods()[0].name)
        except (StudioError, KeyError, ValueError, IndexError):
            return gr.skip(), gr.skip()
        return exports(settings, comparison_maps(settings, settings.method))

    def after_run(**values: Any) -> tuple[Any, ...]:
        try:
            methods = [m.name for m in to_recipe(values).compare.parsed_methods()]
        except (StudioError, KeyError, ValueError):
            return gr.skip(), gr.skip(), gr.skip()
        return gr.update(choices=methods, value=methods[0]), *for_method(methods[0], values)

    def picked(compare_method: str | None = None, **values: Any) -> tuple[Any, Any]:
        return for_method(compare_method, values)

    run.event.success(after_run, inputs_kwargs=inputs, outputs=[chooser, *view], **PRIVATE)
    chooser.input(picked, inputs_kwargs={**inputs, "compare_method": chooser}, outputs=list(view), **PRIVATE)
