"""ControlNet tab: a map (edges, pose skeleton, depth) made from a photo fixes the structure.

The tab's widgets are one :class:`ControlNetInputs`; what a run asks for, what its recipe records and how a
recipe fills the widgets are module-level functions of those widgets and an event's values, tested without a
browser. :func:`build_controlnet_tab` only lays the widgets out and wires the events.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.recipes import Recipe, recipe_from_generation
from app.request import ControlStrength
from app.ui.as_code import code_view, show_code
from app.ui.controls import ControlInputs, compute_maps, control_inputs
from app.ui.gallery import downloadable, file_stem, result_items, result_stems, results_gallery
from app.ui.image_input import ImageInput
from app.ui.jobs import GPU_QUEUE, PROGRESS, Job, StudioHandle, check_uploads, on_gpu, preview_gpu_seconds
from app.ui.live import generate_live, previews_on, relay
from app.ui.recipe_hooks import TabRecipe, asset_update, image_ref, same_image, tagged, try_recipe, with_notes
from app.ui.runs import RUN_BUTTON_CLASS, add_stop, remember_seed, wire_run
from app.ui.shared import SharedControls, describe_cost, example_photos
from app.ui.widgets import schema_slider

TAB = "controlnet"

Control = tuple[Any, str, str, dict, float]
"""One control as an event's values give it: (photo, control type, detector, detector parameters, strength)."""


@dataclass
class ControlNetInputs:
    """The ControlNet tab's widgets: the photo, the first control, the guidance window and an optional second."""

    shared: SharedControls
    photo: ImageInput
    first: ControlInputs
    fit: gr.Radio
    guidance_start: gr.Slider
    guidance_end: gr.Slider
    use_second: gr.Checkbox
    second_photo: ImageInput
    second: ControlInputs
    t2i_adapter: gr.Checkbox

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs of the tab's events (the API's parameter names)."""
        return {
            **self.shared.inputs(),
            "photo": self.photo,
            "fit": self.fit,
            "control_guidance_start": self.guidance_start,
            "control_guidance_end": self.guidance_end,
            "use_second": self.use_second,
            "second_photo": self.second_photo,
            "t2i_adapter": self.t2i_adapter,
            **self.first.inputs(),
            **self.second.inputs(),
        }

    def map_inputs(self) -> list[gr.components.Component]:
        """The inputs the maps are made from: a map preview is stale once one changes."""
        size = [self.shared.width, self.shared.height]
        return [self.photo, self.fit, self.use_second, self.second_photo, *size, *self.first.inputs().values(),
                *self.second.inputs().values()]  # fmt: skip

    def outputs(self) -> list[gr.components.Component]:
        """The widgets a recipe sets, in :func:`recipe_updates` order."""
        head = [self.photo, self.fit, self.guidance_start, self.guidance_end, self.use_second, self.second_photo,
                self.t2i_adapter]  # fmt: skip
        return [*head, *self.first.outputs(), *self.second.outputs()]


def controls_of(tab: ControlNetInputs, values: dict[str, Any]) -> list[Control]:
    """The chosen controls; the second one's photo defaults to the first's."""
    chosen = [(values["photo"], *tab.first.read(values))]
    if values["use_second"]:
        chosen.append((values["second_photo"] or values["photo"], *tab.second.read(values)))
    return chosen


def request_of(tab: ControlNetInputs, values: dict[str, Any]) -> dict[str, Any]:
    """The generation request of an event's values, without its maps: what runs and what a recipe records."""
    data = tab.shared.read(values)
    window = {name: float(values[name]) for name in ("control_guidance_start", "control_guidance_end")}
    adapter = bool(values.get("t2i_adapter"))  # every map through its T2I-Adapter, or none (one kind per call)
    data["controls"] = [
        {"control_type": kind, "adapter": adapter, "controlnet_conditioning_scale": strength, **window}
        for _, kind, _, _, strength in controls_of(tab, values)
    ]
    return data


def recipe_of(tab: ControlNetInputs, values: dict[str, Any], photo: Any = None) -> Recipe:
    """The recipe of an event's values (``photo``: an image reference that overrides the upload's)."""
    controls = controls_of(tab, values)
    return recipe_from_generation(
        request_of(tab, values),
        detectors={kind: detector for _, kind, detector, _, _ in controls},
        detector_params={detector: params for _, _, detector, params, _ in controls if params},
        fit=values["fit"],
        tab=TAB,
        structure=photo if photo is not None else image_ref(values["photo"]),
    )


def capture_notes(values: dict[str, Any]) -> list[str]:
    """What a recipe of these values cannot hold: a recipe holds one structure photo."""
    second_photo = values.get("second_photo") if values.get("use_second") else None
    if second_photo is not None and not same_image(second_photo, values["photo"]):
        return [
            "The recipe records one structure photo: restored, the second control's map is made from "
            "the first photo, not from its own."
        ]
    return []


def recipe_updates(tab: ControlNetInputs, recipe: Recipe) -> list[Any]:
    """Widget updates that show a recipe, in :meth:`ControlNetInputs.outputs` order."""
    controls = recipe.generate.controls
    return [
        asset_update(recipe.images.structure),
        recipe.generate.fit,
        controls[0].control_guidance_start,
        controls[0].control_guidance_end,
        len(controls) > 1,
        gr.update(value=None),  # the second control uses the recipe's one photo
        any(c.adapter for c in controls),
        *tab.first.updates(controls[0]),
        *tab.second.updates(controls[1] if len(controls) > 1 else None),
    ]


def recipe_notes(recipe: Recipe) -> list[str]:
    """What of a recipe this tab cannot show, in words."""
    controls, notes = recipe.generate.controls, []
    if recipe.generate.ip_adapter is not None:
        notes.append("This tab has no IP-Adapter: its scale and mode are not shown here.")
    if len(controls) > 2:
        notes.append(f"This tab holds two controls; the recipe's {controls[2].control_type} control is left out.")
    window = {(c.control_guidance_start, c.control_guidance_end) for c in controls}
    if len(window) > 1:
        notes.append("This tab uses one guidance window for every control; the first control's is shown.")
    if len(controls) > 1 and controls[1].detector_params:
        notes.append("The second control's detector parameters are not shown here; it runs on its defaults.")
    return notes


def preview(tab: ControlNetInputs, job: Job, values: dict[str, Any]) -> list:
    """The maps the current settings make, captioned, each carrying the recipe."""
    data = tab.shared.read(values)
    maps, captions = compute_maps(job, controls_of(tab, values), data["width"], data["height"], values["fit"])
    recipe = try_recipe(lambda: recipe_of(tab, values), warn=False)
    items = tagged([(m.map, c) for m, c in zip(maps, captions, strict=True)], recipe)
    return downloadable(items, map_stems(controls_of(tab, values)))


def generate(tab: ControlNetInputs, job: Job, values: dict[str, Any]) -> Iterator[tuple]:
    """Run the tab's generation: the map ↔ result pair, the gallery and the cost line (it starts with the seed),
    after live previews of the results beside the maps."""
    data, controls = request_of(tab, values), controls_of(tab, values)
    maps, captions = compute_maps(job, controls, data["width"], data["height"], values["fit"])
    for control, made in zip(data["controls"], maps, strict=True):
        control["image"] = made.map
    label = " + ".join(f"{kind.capitalize()} ({detector})" for _, kind, detector, _, _ in controls)
    shown = [(m.map, c) for m, c in zip(maps, captions, strict=True)]
    live = generate_live(job, data, label, previews_on(values))
    result = yield from relay(live, lambda previews: (gr.skip(), shown + previews, gr.skip()))
    recipe = try_recipe(lambda: recipe_of(tab, values))
    items = tagged([(m.map, c) for m, c in zip(maps, captions, strict=True)], recipe)
    items += tagged(result_items(result, label, data["family"]), recipe, result.seeds)
    items = downloadable(items, [*map_stems(controls), *result_stems(result)])
    pair = (items[0][0], items[len(maps)][0])  # the served files: the slider downloads them by their names
    yield pair, items, with_notes(describe_cost(result), capture_notes(values))


def map_stems(controls: list[tuple[Any, str, str, dict, float]]) -> list[str]:
    """Download names of the maps: ``canny-map``, ``depth-map``."""
    return [file_stem(kind, kind="map") for _, kind, *_ in controls]


def _widgets(shared: SharedControls) -> ControlNetInputs:
    photo = ImageInput(label="Photo (or your own map with detector 'none')", elem_id="cn-photo", height=260)
    gr.Examples([[p] for p in example_photos()], inputs=[photo], label="Example photos", cache_examples=False)
    first = control_inputs("", "canny")
    fit = gr.Radio(["crop", "pad"], value="crop", label="Fit photo to size", elem_id="cn-fit")
    with gr.Row():
        start = schema_slider(ControlStrength, "control_guidance_start")
        end = schema_slider(ControlStrength, "control_guidance_end")
    t2i_adapter = gr.Checkbox(
        False,
        label="Through T2I-Adapters instead (SDXL)",
        info="The same maps, applied by each type's T2I-Adapter: computed once, not every step. "
        "Canny, pose, depth, lineart and scribble; guidance starts at the first step.",
        elem_id="cn-t2i-adapter",
    )
    use_second = gr.Checkbox(False, label="Add a second control (multi-ControlNet)", elem_id="cn-second")
    with gr.Group(visible=False) as second_group:
        second_photo = ImageInput(label="Photo for the second control (optional: default the same photo)")
        second = control_inputs("second_", "depth", with_params=False)
    use_second.change(lambda on: gr.update(visible=on), use_second, second_group, queue=False, api_visibility="private")
    check_uploads(photo, second_photo)
    return ControlNetInputs(shared, photo, first, fit, start, end, use_second, second_photo, second, t2i_adapter)


def build_controlnet_tab(studio: StudioHandle, shared: SharedControls) -> TabRecipe:
    """The ControlNet tab (API: ``/preview_maps``, ``/controlnet``).

    Long by design: a Blocks builder lays its components out in page order and wires their events where they are
    made; what each event does lives in the module's functions.

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls.

    Returns:
        The tab's recipe hooks.
    """
    gr.Markdown(
        "A spatial map fixes structure and layout; the prompt still decides appearance. "
        "**Canny** keeps outlines and detail, **pose** only a person's body, **depth** the 3-D layout."
    )
    with gr.Row():
        with gr.Column():
            tab = _widgets(shared)
        with gr.Column():
            with gr.Row():
                preview_button = gr.Button("Preview maps", elem_id="cn-preview")
                generate_button = gr.Button(
                    "Generate", variant="primary", elem_id="cn-generate", elem_classes=RUN_BUTTON_CLASS
                )
                stop = gr.Button("Stop", variant="stop", elem_id="cn-stop")
            # The results first, in view beside the settings; the map ↔ result slider and the map preview below.
            gallery = results_gallery("Results", elem_id="cn-gallery")
            info = gr.Markdown(elem_id="cn-info")
            slider = gr.ImageSlider(label="Map ↔ result (drag)", type="pil", format="png", elem_id="cn-slider")
            maps_view = results_gallery("Maps", elem_id="cn-maps")
            code = code_view("cn-code")

    def handler(step):
        def run(request: gr.Request, progress=PROGRESS, photo=None, second_photo=None, **values: Any):
            values.update(photo=photo, second_photo=second_photo)  # named so the API may leave them out
            with studio.job(TAB, request, progress) as job:
                return step(tab, job, values)

        def stream(request: gr.Request, progress=PROGRESS, photo=None, second_photo=None, **values: Any):
            values.update(photo=photo, second_photo=second_photo)
            with studio.job(TAB, request, progress) as job:
                yield from step(tab, job, values)

        run = stream if inspect.isgeneratorfunction(step) else run
        run.__name__ = run.__qualname__ = f"run_{step.__name__}"  # the name ZeroGPU and the API docs see
        return run

    preview_run = wire_run(
        preview_button,
        on_gpu(handler(preview), TAB, seconds=preview_gpu_seconds),
        tab=TAB,
        status=info,
        busy="Making maps…",
        clear_status=False,
        stale=[maps_view],
        stale_when=tab.map_inputs(),
        inputs_kwargs=tab.inputs(),
        outputs=[maps_view],
        api_name="preview_maps",
        api_description="The control map(s) the current settings make from the photo, before generating.",
        concurrency_id=GPU_QUEUE,
    )
    shared.new_seed_on(generate_button)  # before the run reads the seed
    generate_run = wire_run(
        generate_button,
        on_gpu(handler(generate), TAB),
        tab=TAB,
        status=info,
        inputs_kwargs=shared.run_inputs(tab.inputs()),
        outputs=[slider, gallery, info],
        progress_on=gallery,
        api_name="controlnet",
        api_description="ControlNet generation (one or two controls); returns map/result pair, gallery and cost.",
        concurrency_id=GPU_QUEUE,
    )
    remember_seed(generate_run, info, shared.last_seed)
    add_stop(stop, studio, TAB, [preview_run, generate_run], info)
    show_code(generate_run, code, tab.inputs(), lambda values: recipe_of(tab, values))
    return TabRecipe(
        TAB,
        tab.inputs(),
        lambda values, photo=None: recipe_of(tab, values, photo),
        outputs=tab.outputs(),
        from_recipe=lambda recipe: recipe_updates(tab, recipe),
        capture_notes=capture_notes,
        apply_notes=recipe_notes,
        results=[(generate_run, gallery)],
    )
