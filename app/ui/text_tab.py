"""Text-to-image tab: the prompt alone decides layout, style and content."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.recipes import Recipe, recipe_from_generation
from app.ui.as_code import code_view, show_code
from app.ui.gallery import downloadable, result_items, result_stems, results_gallery
from app.ui.jobs import GPU_QUEUE, PROGRESS, StudioHandle, on_gpu
from app.ui.live import generate_live, previews_on, relay
from app.ui.recipe_hooks import TabRecipe, tagged, try_recipe
from app.ui.runs import RUN_BUTTON_CLASS, add_stop, remember_seed, wire_run
from app.ui.shared import SharedControls, describe_cost

TAB = "text"


def build_text_tab(studio: StudioHandle, shared: SharedControls) -> TabRecipe:
    """The text-to-image tab (API: ``/text_to_image``).

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls.

    Returns:
        The tab's recipe hooks (it has no widgets of its own: a text recipe is the shared controls).
    """
    gr.Markdown("Plain text-to-image: the baseline every other method is measured against.")
    with gr.Row():
        generate = gr.Button("Generate", variant="primary", elem_id="text-generate", elem_classes=RUN_BUTTON_CLASS)
        stop = gr.Button("Stop", variant="stop", elem_id="text-stop")
    gallery = results_gallery("Results", elem_id="text-gallery")
    info = gr.Markdown(elem_id="text-info")
    code = code_view("text-code")

    def to_recipe(values: dict[str, Any]) -> Recipe:
        return recipe_from_generation(shared.read(values), tab=TAB)

    def run(request: gr.Request, progress=PROGRESS, **values: Any):
        with studio.job(TAB, request, progress) as job:
            data = shared.read(values)
            live = generate_live(job, data, "Text-only", previews_on(values))
            result = yield from relay(live, lambda previews: (previews, gr.skip()))
        recipe = try_recipe(lambda: to_recipe(values))
        gallery = tagged(result_items(result, "Text-only", data["family"]), recipe, result.seeds)
        yield downloadable(gallery, result_stems(result)), describe_cost(result)

    shared.new_seed_on(generate)  # before the run reads the seed
    run_event = wire_run(
        generate,
        on_gpu(run, TAB),
        tab=TAB,
        status=info,
        inputs_kwargs=shared.run_inputs(shared.inputs()),
        outputs=[gallery, info],
        api_name="text_to_image",
        api_description="Text-to-image on the shared settings; returns the images captioned with seed and settings.",
        concurrency_id=GPU_QUEUE,
    )
    remember_seed(run_event, info, shared.last_seed)
    show_code(run_event, code, shared.inputs(), to_recipe)
    add_stop(stop, studio, TAB, [run_event], info)
    gr.Examples(
        examples=[
            ["a watercolour portrait of an astronaut, soft morning light"],
            ["a ginger cat asleep on a windowsill, film photo"],
            ["a cup of coffee on a wooden table, top view, studio lighting"],
        ],
        inputs=[shared.prompt],
        label="Example prompts",
    )
    return TabRecipe(
        TAB, shared.inputs(), to_recipe, outputs=[], from_recipe=lambda recipe: [], results=[(run_event, gallery)]
    )
