"""Text-to-image tab: the prompt alone decides layout, style and content."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.ui.shared import (
    GPU_QUEUE,
    PROGRESS,
    SharedControls,
    StudioHandle,
    add_stop,
    describe_cost,
    on_gpu,
    result_gallery,
)

TAB = "text"


def build_text_tab(studio: StudioHandle, shared: SharedControls) -> None:
    """The text-to-image tab (API: ``/text_to_image``).

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls.
    """
    gr.Markdown("Plain text-to-image: the baseline every other method is measured against.")
    with gr.Row():
        generate = gr.Button("Generate", variant="primary", elem_id="text-generate")
        stop = gr.Button("Stop", variant="stop", elem_id="text-stop")
    gallery = gr.Gallery(label="Results", columns=2, height="auto", format="png", elem_id="text-gallery")
    info = gr.Markdown(elem_id="text-info")

    def run(request: gr.Request, progress=PROGRESS, **values: Any):
        with studio.job(TAB, request, progress) as job:
            data = shared.read(values)
            result = job.studio.generate(data, progress=job.steps("Text only"), cancel=job.cancel)
        return result_gallery(result, "Text only"), describe_cost(result), result.seeds[0]

    event = generate.click(
        on_gpu(run),
        inputs_kwargs=shared.inputs(),
        outputs=[gallery, info, shared.last_seed],
        api_name="text_to_image",
        api_description="Text-to-image on the shared settings; returns the images captioned with seed and settings.",
        concurrency_id=GPU_QUEUE,
    )
    add_stop(stop, studio, TAB, [event])
    gr.Examples(
        examples=[
            ["a watercolour portrait of an astronaut, soft morning light"],
            ["a ginger cat asleep on a windowsill, film photo"],
            ["a cup of coffee on a wooden table, top view, studio lighting"],
        ],
        inputs=[shared.prompt],
        label="Example prompts",
    )
