"""IP-Adapter tab: a reference image supplies the look; an optional ControlNet takes structure from another photo.

The tab's widgets are one :class:`IPAdapterInputs`; what a run asks for, what its recipe records and how a
recipe fills the widgets are module-level functions of those widgets and an event's values, so they are
tested without a browser. :func:`build_ip_adapter_tab` only lays the widgets out and wires the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.images import load_image
from app.recipes import Recipe, recipe_from_generation
from app.request import ControlStrength, IPAdapterSettings, field_bounds
from app.ui.as_code import by_method, code_view, show_code
from app.ui.controls import ControlInputs, compute_maps, control_inputs, mode_choices, served_families
from app.ui.gallery import downloadable, file_stem, result_items, result_stems, results_gallery
from app.ui.image_input import ImageInput
from app.ui.jobs import GPU_QUEUE, PROGRESS, Job, StudioHandle, check_uploads, on_gpu
from app.ui.live import generate_live, previews_on, relay
from app.ui.recipe_hooks import TabRecipe, asset_update, image_ref, tagged, try_recipe
from app.ui.runs import RUN_BUTTON_CLASS, add_stop, remember_seed, wire_run
from app.ui.shared import SharedControls, describe_cost, example_photos
from app.ui.widgets import schema_slider

TAB = "ip_adapter"


@dataclass
class IPAdapterInputs:
    """The IP-Adapter tab's widgets: the reference and its scale and mode, and the optional ControlNet."""

    shared: SharedControls
    reference: ImageInput
    scale: gr.Slider
    mode: gr.Radio
    use_control: gr.Checkbox
    photo: ImageInput
    control: ControlInputs
    fit: gr.Radio
    guidance_end: gr.Slider

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs of the tab's events (the API's parameter names)."""
        return {
            **self.shared.inputs(),
            "reference": self.reference,
            "scale": self.scale,
            "mode": self.mode,
            "use_control": self.use_control,
            "photo": self.photo,
            "fit": self.fit,
            "control_guidance_end": self.guidance_end,
            **self.control.inputs(),
        }

    def outputs(self) -> list[gr.components.Component]:
        """The widgets a recipe sets, in :func:`recipe_updates` order."""
        head = [self.reference, self.scale, self.mode, self.use_control, self.photo]
        return [*head, *self.control.outputs(), self.fit, self.guidance_end]


def request_of(tab: IPAdapterInputs, values: dict[str, Any]) -> dict[str, Any]:
    """The generation request of an event's values, without its images: what runs and what a recipe records."""
    data = tab.shared.read(values)
    if values["use_control"]:
        kind, _, _, strength = tab.control.read(values)
        end = float(values["control_guidance_end"])
        data["controls"] = [
            {"control_type": kind, "controlnet_conditioning_scale": strength, "control_guidance_end": end}
        ]
    data["ip_adapter"] = {"scale": float(values["scale"]), "mode": values["mode"]}
    return data


def recipe_of(tab: IPAdapterInputs, values: dict[str, Any], reference: Any = None) -> Recipe:
    """The recipe of an event's values (``reference``: an image reference that overrides the upload's)."""
    kind, detector, params, _ = tab.control.read(values)
    return recipe_from_generation(
        request_of(tab, values),
        detectors={kind: detector},
        detector_params={detector: params} if params else None,
        fit=values["fit"],
        tab=TAB,
        structure=image_ref(values["photo"]),
        reference=reference if reference is not None else image_ref(values["reference"]),
    )


def recipe_updates(tab: IPAdapterInputs, recipe: Recipe) -> list[Any]:
    """Widget updates that show a recipe, in :meth:`IPAdapterInputs.outputs` order."""
    settings = recipe.generate
    first = settings.controls[0] if settings.controls else None
    return [
        asset_update(recipe.images.reference),
        settings.ip_adapter.scale,
        settings.ip_adapter.mode,
        first is not None,
        asset_update(recipe.images.structure),
        *tab.control.updates(first),
        settings.fit,
        first.control_guidance_end if first is not None else gr.skip(),
    ]


def recipe_notes(recipe: Recipe) -> list[str]:
    """What of a recipe this tab cannot show, in words."""
    controls, notes = recipe.generate.controls, []
    if len(controls) > 1:
        left_out = ", ".join(c.control_type for c in controls[1:])
        notes.append(f"This tab holds one ControlNet; the recipe's {left_out} control is left out here.")
    if controls and controls[0].control_guidance_start != 0:
        notes.append("This tab starts the ControlNet at step 0; the recipe's later start is not shown here.")
    if controls and controls[0].detector_params:
        notes.append("The ControlNet's detector parameters are not shown here; it runs on its defaults.")
    return notes


def generate(tab: IPAdapterInputs, job: Job, values: dict[str, Any]) -> Iterator[tuple[list, Any]]:
    """Run the tab's generation: the gallery (reference, map, results) and the cost line (it starts with the seed),
    after live previews of the results below the reference and map."""
    data = request_of(tab, values)
    if values["reference"] is None:
        raise gr.Error("Upload a reference image first.", title="No reference")
    reference_image = load_image(values["reference"])
    items = [(reference_image, f"reference · scale {float(values['scale']):g} · {values['mode']}")]
    label = "IP-Adapter"
    if values["use_control"]:
        kind, detector, params, strength = tab.control.read(values)
        size, fit = (data["width"], data["height"]), values["fit"]
        maps, captions = compute_maps(job, [(values["photo"], kind, detector, params, strength)], *size, fit)
        data["controls"][0]["image"] = maps[0].map
        items.append((maps[0].map, captions[0]))
        label = f"{kind.capitalize()} ({detector}) + IP-Adapter"
    data["ip_adapter"]["image"] = reference_image
    live = generate_live(job, data, label, previews_on(values))
    result = yield from relay(live, lambda previews: (items + previews, gr.skip()))
    recipe = try_recipe(lambda: recipe_of(tab, values, reference_image))
    gallery = tagged(items, recipe) + tagged(result_items(result, label, data["family"]), recipe, result.seeds)
    stems = [file_stem("reference"), *(file_stem(result.method, kind="map") for _ in items[1:]), *result_stems(result)]
    yield downloadable(gallery, stems), describe_cost(result)


def _widgets(shared: SharedControls) -> IPAdapterInputs:
    reference = ImageInput(label="Reference image (the look)", elem_id="ip-reference", height=260)
    gr.Examples([[p] for p in example_photos()], inputs=[reference], label="Example references")
    scale = schema_slider(IPAdapterSettings, "scale")
    mode_field = field_bounds(IPAdapterSettings, "mode")
    mode = gr.Radio(
        mode_choices(served_families(shared)), value=mode_field["default"], label="What the reference steers",
        info=mode_field["description"], elem_id="ip-mode",
    )  # fmt: skip
    use_control = gr.Checkbox(False, label="Structure from another photo (ControlNet)", elem_id="ip-control")
    with gr.Group(visible=False) as control_group:
        photo = ImageInput(label="Structure photo", elem_id="ip-photo", height=200)
        control = control_inputs("control_", "depth", with_params=False, allow_none=True)
        fit = gr.Radio(["crop", "pad"], value="crop", label="Fit photo to size")
        end = schema_slider(ControlStrength, "control_guidance_end")
    use_control.change(
        lambda on: gr.update(visible=on), use_control, control_group, queue=False, api_visibility="private"
    )
    check_uploads(reference, photo)
    return IPAdapterInputs(shared, reference, scale, mode, use_control, photo, control, fit, end)


def build_ip_adapter_tab(studio: StudioHandle, shared: SharedControls) -> TabRecipe:
    """The IP-Adapter tab (API: ``/ip_adapter``).

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls.

    Returns:
        The tab's recipe hooks.
    """
    gr.Markdown(
        "A reference image steers *what it looks like* (style, identity, content), not *where things are*. "
        "Scale trades the reference against the prompt. Add a ControlNet for structure from one image, "
        "look from another."
    )
    with gr.Row():
        with gr.Column():
            tab = _widgets(shared)
        with gr.Column():
            with gr.Row():
                run_button = gr.Button(
                    "Generate", variant="primary", elem_id="ip-generate", elem_classes=RUN_BUTTON_CLASS
                )
                stop = gr.Button("Stop", variant="stop", elem_id="ip-stop")
            gallery = results_gallery("Reference, map and results", elem_id="ip-gallery")
            info = gr.Markdown(elem_id="ip-info")
            code = code_view("ip-code")

    def run(request: gr.Request, progress=PROGRESS, reference=None, photo=None, **values: Any):
        values.update(reference=reference, photo=photo)  # named so the API may leave them out
        with studio.job(TAB, request, progress) as job:
            yield from generate(tab, job, values)

    shared.new_seed_on(run_button)  # before the run reads the seed
    run_event = wire_run(
        run_button,
        on_gpu(run, TAB),
        tab=TAB,
        status=info,
        inputs_kwargs=shared.run_inputs(tab.inputs()),
        outputs=[gallery, info],
        api_name="ip_adapter",
        api_description="IP-Adapter generation from a reference, optionally with a ControlNet on a structure photo.",
        concurrency_id=GPU_QUEUE,
    )
    remember_seed(run_event, info, shared.last_seed)
    add_stop(stop, studio, TAB, [run_event], info)
    show_code(run_event, code, tab.inputs(), lambda values: recipe_of(tab, values), by_method)
    return TabRecipe(
        TAB,
        tab.inputs(),
        lambda values, reference=None: recipe_of(tab, values, reference),
        outputs=tab.outputs(),
        from_recipe=lambda recipe: recipe_updates(tab, recipe),
        apply_notes=recipe_notes,
        results=[(run_event, gallery)],
    )
