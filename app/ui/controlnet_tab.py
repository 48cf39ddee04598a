"""ControlNet tab: a map (edges, pose skeleton, depth) made from a photo fixes the structure."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.request import ControlStrength
from app.ui.controls import compute_maps, control_inputs
from app.ui.image_input import ImageInput
from app.ui.shared import (
    GPU_QUEUE,
    PROGRESS,
    SharedControls,
    StudioHandle,
    add_stop,
    describe_cost,
    example_photos,
    on_gpu,
    result_gallery,
    schema_slider,
)

TAB = "controlnet"


def build_controlnet_tab(studio: StudioHandle, shared: SharedControls) -> None:
    """The ControlNet tab (API: ``/preview_maps``, ``/controlnet``).

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls.
    """
    gr.Markdown(
        "A spatial map fixes structure and layout; the prompt still decides appearance. "
        "**Canny** keeps outlines and detail, **pose** only a person's body, **depth** the 3-D layout."
    )
    with gr.Row():
        with gr.Column():
            photo = ImageInput(label="Photo (or your own map with detector 'none')", elem_id="cn-photo", height=260)
            gr.Examples([[p] for p in example_photos()], inputs=[photo], label="Example photos", cache_examples=False)
            first = control_inputs("", "canny")
            fit = gr.Radio(["crop", "pad"], value="crop", label="Fit photo to size", elem_id="cn-fit")
            with gr.Row():
                start = schema_slider(ControlStrength, "control_guidance_start", "Guidance start")
                end = schema_slider(ControlStrength, "control_guidance_end", "Guidance end")
            use_second = gr.Checkbox(False, label="Add a second control (multi-ControlNet)", elem_id="cn-second")
            with gr.Group(visible=False) as second_group:
                second_photo = ImageInput(label="Photo for the second control (optional: default the same photo)")
                second = control_inputs("second_", "depth", with_params=False)
            use_second.change(
                lambda on: gr.update(visible=on), use_second, second_group, queue=False, api_visibility="private"
            )
        with gr.Column():
            with gr.Row():
                preview = gr.Button("Preview maps", elem_id="cn-preview")
                generate = gr.Button("Generate", variant="primary", elem_id="cn-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="cn-stop")
            maps_view = gr.Gallery(label="Maps", columns=2, height="auto", format="png", elem_id="cn-maps")
            slider = gr.ImageSlider(label="Map ↔ result (drag)", type="pil", elem_id="cn-slider")
            gallery = gr.Gallery(label="Results", columns=2, height="auto", format="png", elem_id="cn-gallery")
            info = gr.Markdown(elem_id="cn-info")

    inputs = {
        **shared.inputs(),
        "photo": photo,
        "fit": fit,
        "control_guidance_start": start,
        "control_guidance_end": end,
        "use_second": use_second,
        "second_photo": second_photo,
        **first.inputs(),
        **second.inputs(),
    }

    def controls_of(values: dict[str, Any]) -> list[tuple[Any, str, str, dict, float]]:
        chosen = [(values["photo"], *first.read(values))]
        if values["use_second"]:
            chosen.append((values["second_photo"] or values["photo"], *second.read(values)))
        return chosen

    def run_preview(
        request: gr.Request,
        progress=PROGRESS,
        photo=None,
        second_photo=None,
        **values: Any,
    ):
        values.update(photo=photo, second_photo=second_photo)  # named so the API may leave them out
        with studio.job(TAB, request, progress) as job:
            data = shared.read(values)
            maps, captions = compute_maps(job, controls_of(values), data["width"], data["height"], values["fit"])
        return [(m.map, c) for m, c in zip(maps, captions, strict=True)]

    def run_generate(
        request: gr.Request,
        progress=PROGRESS,
        photo=None,
        second_photo=None,
        **values: Any,
    ):
        values.update(photo=photo, second_photo=second_photo)
        with studio.job(TAB, request, progress) as job:
            data = shared.read(values)
            controls = controls_of(values)
            maps, captions = compute_maps(job, controls, data["width"], data["height"], values["fit"])
            data["controls"] = [
                {
                    "control_type": kind,
                    "controlnet_conditioning_scale": strength,
                    "control_guidance_start": float(values["control_guidance_start"]),
                    "control_guidance_end": float(values["control_guidance_end"]),
                    "image": m.map,
                }
                for (_, kind, _, _, strength), m in zip(controls, maps, strict=True)
            ]
            label = " + ".join(f"{kind.capitalize()} ({detector})" for _, kind, detector, _, _ in controls)
            result = job.studio.generate(data, progress=job.steps(label), cancel=job.cancel)
        items = [(m.map, c) for m, c in zip(maps, captions, strict=True)] + result_gallery(result, label)
        return (maps[0].map, result.image), items, describe_cost(result), result.seeds[0]

    preview_event = preview.click(
        run_preview,
        inputs_kwargs=inputs,
        outputs=maps_view,
        api_name="preview_maps",
        api_description="The control map(s) the current settings make from the photo, before generating.",
        concurrency_id=GPU_QUEUE,
    )
    generate_event = generate.click(
        on_gpu(run_generate),
        inputs_kwargs=inputs,
        outputs=[slider, gallery, info, shared.last_seed],
        api_name="controlnet",
        api_description="ControlNet generation (one or two controls); returns map/result pair, gallery and cost.",
        concurrency_id=GPU_QUEUE,
    )
    add_stop(stop, studio, TAB, [preview_event, generate_event])
