"""The Gradio studio: shared controls above its tabs, each tab one module with the same ``build_*`` signature.

Public API::

    from app.ui import build_app, launch_options

    demo = build_app(settings=settings)          # the studio itself is built lazily
    demo.launch(**launch_options(settings))       # theme, css, upload cap, error display

Only this package (and ``app.py``) imports gradio. It runs everything through
:class:`~app.studio.Studio` and builds its controls from the core's schemas and registries: the request,
comparison and sweep models, the detector registry, the fit labels and guide, the recipe codecs, the
settings and the ZeroGPU helpers. The core never imports this package.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.middleware import Middleware

from app.engine.families import FAMILIES
from app.errors import StudioError
from app.eval.report import CSS as REPORT_CSS
from app.outputs import outputs_for
from app.recipes.assets import ASSETS_DIR
from app.request import CommonSettings
from app.serving.status import model_banner
from app.serving.zerogpu import on_zerogpu
from app.settings import Settings, get_settings
from app.ui.compare_tab import build_compare_tab
from app.ui.controlnet_tab import build_controlnet_tab
from app.ui.edge import EdgeGuard, allow_long_request_lines
from app.ui.gallery import GALLERY_CSS
from app.ui.history import SendTarget, build_history
from app.ui.ip_adapter_tab import build_ip_adapter_tab
from app.ui.jobs import GPU_QUEUE, MAX_UPLOAD, StudioHandle
from app.ui.recipe_hooks import TabRecipe
from app.ui.recipes_panel import RecipesPanel, build_recipes_panel, shared_values
from app.ui.report_tab import build_report_tab
from app.ui.runs import PAGE_JS
from app.ui.shared import SharedControls, build_shared_controls
from app.ui.sweep_tab import build_sweep_tab
from app.ui.text_tab import build_text_tab

if TYPE_CHECKING:
    from app.recipes import Recipe
    from app.studio import Studio

logger = logging.getLogger(__name__)

TITLE = "Conditioning Studio"

TABS = (
    ("Text to image", build_text_tab),
    ("ControlNet", build_controlnet_tab),
    ("IP-Adapter", build_ip_adapter_tab),
    ("Compare", build_compare_tab),
    ("Sweep", build_sweep_tab),
    ("Report", build_report_tab),
)
"""(title, builder) of each tab; every builder is ``build_x_tab(studio, shared)``, returning its recipe hooks
(:class:`~app.ui.recipe_hooks.TabRecipe`) or None for a tab without recipes. The tab id is the builder's
middle name (``text``, ``controlnet``, ``ip_adapter``, ``compare``), as in ``Recipe.ui_tab``."""

CSS = (
    """
/* Help text under labels: gray-600 on white is about 7:1 (gradio's default grey is about 2.5:1). */
.gradio-container { --block-info-text-color: #4b5563; }
#banner { border-left: 4px solid #f59e0b; padding: 0.25rem 0.75rem; background: #fffbeb; }
#banner * { color: #78350f !important; }
footer { display: none !important; }
/* A run button while its run is on ("Generating…") stays readable: gradio fades a disabled button to half opacity
   (white on indigo at 3:1); it keeps its darker busy colour at full opacity instead (7.9:1). */
.run-button[disabled] { opacity: 1 !important; filter: none !important; cursor: progress !important; }
/* Keyboard focus is plain to see on radios, checkboxes and buttons (gradio's ring is a faint 1 px shadow). */
label:has(input:focus-visible), button:focus-visible, [role=tab]:focus-visible {
  outline: 2px solid #4f46e5 !important; outline-offset: 2px;
}
/* Compare's map previews take no room until "Preview maps" fills them (an empty 240 px box sat in the results). */
#cmp-maps:not(:has(img)) { display: none !important; }
/* A placeholder is an example, not a value: in italics as well as grey. */
textarea::placeholder, input::placeholder { font-style: italic; }
"""
    + GALLERY_CSS
    + REPORT_CSS
)


def build_app(studio: Studio | None = None, settings: Settings | None = None) -> gr.Blocks:
    """The whole studio as a queued ``gr.Blocks``; nothing heavy is loaded until the first event.

    Args:
        studio: A ready studio to serve (tests pass one); default: built on first use from ``settings``.
        settings: The operator settings; default: the studio's, else :func:`~app.settings.get_settings`.

    Returns:
        The Blocks app, queue configured (``max_size`` from ``settings.queue_size``); launch it with
        :func:`launch_options`. ``demo.studio`` is the :class:`~app.ui.jobs.StudioHandle`,
        ``demo.shared`` the :class:`~app.ui.shared.SharedControls` and ``demo.recipes`` the
        :class:`~app.ui.recipes_panel.RecipesPanel`.
    """
    settings = settings or (studio.settings if studio is not None else get_settings())
    if settings.torch_compile and studio is None and on_zerogpu():
        # ZeroGPU's workers are short-lived processes where torch.compile is not allowed.
        logger.warning("STUDIO_COMPILE=1 is ignored on ZeroGPU, whose GPU workers may not run torch.compile.")
        settings = replace(settings, torch_compile=False)
    handle = StudioHandle(settings, studio)
    # Every image a run returns is cached to disk for download: on a long-running server, drop files
    # older than a day, checking hourly, so the cache does not grow without bound.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            f"# {TITLE}\nOne prompt, one seed: see what each way of conditioning Stable Diffusion (1.5 or XL) does. "
            "Start with **Compare**: every method side by side on your photo, measured, with a verdict."
        )
        banner = model_banner(settings)
        if banner:
            gr.Markdown(banner, elem_id="banner")
        recipes_slot = gr.Column()  # filled below: the panel's events need the tabs' widgets
        active = gr.State("text")  # the open tab, whose widgets "save" and "share" capture
        hooks: dict[str, TabRecipe] = {}
        # Settings beside output, as in A1111, Fooocus and InvokeAI: the prompt and sampling on the left, each
        # tab's run button and results on the right, in view at 1280×900 (a phone stacks the two).
        with gr.Row(equal_height=False, elem_id="workspace"):
            with gr.Column(scale=2, min_width=340, elem_id="shared-column"):
                shared = build_shared_controls(settings, studio.families if studio is not None else None)
            # overflow "wrap": a phone sees every tab, no "⋯" menu
            with (
                gr.Column(scale=3, min_width=360, elem_id="tab-column"),
                gr.Tabs(overflow_behavior="wrap", elem_id="tabs") as tabs,
            ):
                for title, build in TABS:
                    tab_id = build.__name__.removeprefix("build_").removesuffix("_tab")
                    with gr.Tab(title, id=tab_id) as tab:
                        made = build(handle, shared)
                    tab.select(lambda tab_id=tab_id: tab_id, outputs=active, queue=False, api_visibility="private")
                    if isinstance(made, TabRecipe):
                        hooks[tab_id] = made
        with recipes_slot:
            families = studio.families if studio is not None else settings.model_families
            panel = mount_recipes(demo, tabs, active, shared, hooks, families)
        build_history(
            [result for hook in hooks.values() for result in hook.results],
            tabs,
            active,
            panel,
            [
                SendTarget("ControlNet", "controlnet", hooks["controlnet"].inputs["photo"]),
                SendTarget("IP-Adapter (reference)", "ip_adapter", hooks["ip_adapter"].inputs["reference"]),
                SendTarget("Compare (photo)", "compare", hooks["compare"].inputs["photo"]),
            ],
            outputs_for(settings.output_dir),
            demo,
        )
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=1)
    demo.studio = handle  # type: ignore[attr-defined]
    demo.shared = shared  # type: ignore[attr-defined]
    demo.recipes = panel  # type: ignore[attr-defined]
    return demo


def mount_recipes(
    demo: gr.Blocks,
    tabs: gr.Tabs,
    active: gr.State,
    shared: SharedControls,
    hooks: dict[str, TabRecipe],
    families: Sequence[str] = ("sd15",),
) -> RecipesPanel:
    """The recipes panel, capturing the open tab's recipe and applying a recipe to the tab it belongs to.

    Long by design: a Blocks builder lays its components out in page order and wires their events where they are
    made; what each event does lives in the module's functions.

    Tabs share input names (``photo``, ``fit``, ...), so each tab's own inputs travel as ``<tab>__<name>``.
    A recipe for a model family this studio does not serve loads on the default family, and says so.
    """
    shared_inputs = shared.inputs()
    capture_inputs: dict[str, Any] = {**shared_inputs, "recipes__active": active}
    for tab_id, hook in hooks.items():
        capture_inputs.update({f"{tab_id}__{k}": c for k, c in hook.inputs.items() if k not in shared_inputs})

    def tab_values(values: dict[str, Any]) -> tuple[TabRecipe, dict[str, Any]]:
        tab_id = values.get("recipes__active")
        if tab_id not in hooks:
            raise StudioError(f"The open tab keeps no recipe; open one of {', '.join(hooks)} first.")
        prefix = f"{tab_id}__"
        own = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
        return hooks[tab_id], {**{k: values[k] for k in shared_inputs}, **own}

    def capture(values: dict[str, Any]) -> Recipe:
        hook, own = tab_values(values)
        return hook.to_recipe(own)

    def capture_notes(values: dict[str, Any]) -> list[str]:
        hook, own = tab_values(values)
        return hook.capture_notes(own)

    def apply(recipe: Recipe) -> Sequence[Any]:
        target = recipe.ui_tab
        values = shared_values(recipe)
        if values["family"] not in families:
            values.update(on_served_family(values, families[0]))
            recipe = with_served_mode(recipe, families[0])
        updates: list[Any] = [gr.update(selected=target), target, *shared.updates(values)]
        for tab_id, hook in hooks.items():
            updates += hook.from_recipe(recipe) if tab_id == target else hook.skips()
        return updates

    def apply_notes(recipe: Recipe) -> list[str]:
        hook = hooks.get(recipe.ui_tab)
        notes = hook.apply_notes(recipe) if hook else []
        made_on = recipe.settings.family
        if made_on not in families:
            notes.insert(0, unserved_family_note(made_on, families, recipe))
        return notes

    return build_recipes_panel(
        capture_inputs=capture_inputs,
        capture=capture,
        apply_outputs=[tabs, active, *shared.outputs(), *(c for hook in hooks.values() for c in hook.outputs)],
        apply=apply,
        demo=demo,
        capture_notes=capture_notes,
        apply_notes=apply_notes,
    )


def on_served_family(values: dict[str, Any], family: str) -> dict[str, Any]:
    """The settings that change when a recipe made on an unserved family loads on ``family``: the family, and the
    guidance when one family's is distilled (FLUX's 3.5) and the other's classifier-free (7), which do not mean the
    same number."""
    made_on, target = FAMILIES[values["family"]], FAMILIES[family]
    changed: dict[str, Any] = {"family": family}
    if made_on.distilled_guidance != target.distilled_guidance:
        changed["guidance_scale"] = target.default_guidance or CommonSettings.model_fields["guidance_scale"].default
    return changed


def with_served_mode(recipe: Recipe, family: str) -> Recipe:
    """``recipe`` with an image-prompt mode ``family`` takes: ``full`` for one it does not (FLUX's redux on SD1.5,
    InstantStyle's style on FLUX), which the page could not even show as a choice."""
    settings = recipe.settings
    image_prompt = settings.ip_adapter
    if image_prompt is None or image_prompt.mode in FAMILIES[family].ip_modes():
        return recipe
    full = settings.model_copy(update={"ip_adapter": image_prompt.model_copy(update={"mode": "full"})})
    return recipe.model_copy(update={recipe.mode: full})


def unserved_family_note(family: str, families: Sequence[str], recipe: Recipe | None = None) -> str:
    """What loading a recipe made on a family this studio does not serve says."""
    served = " and ".join(FAMILIES[f].label for f in families)
    note = (
        f"This recipe was made on {FAMILIES[family].label}, which this studio does not serve (it serves {served}); "
        f"its settings are loaded on {FAMILIES[families[0]].label}, so its images will differ"
    )
    guidance = on_served_family({"family": family}, families[0]).get("guidance_scale")
    if guidance is not None:
        note += f"; its guidance scale means something else there, so {guidance:g} (that family's default) is set"
    image_prompt = recipe.settings.ip_adapter if recipe is not None else None
    if image_prompt is not None and image_prompt.mode not in FAMILIES[families[0]].ip_modes():
        short = FAMILIES[families[0]].short
        note += f"; its image-prompt mode {image_prompt.mode} is not one {short} has, so full is set"
    return note


def theme() -> gr.themes.Base:
    """Gradio's Soft theme with every text at WCAG AA contrast (4.5:1) or better; Soft's own labels, placeholders,
    slider limits and white-on-indigo buttons measured 2.5–4.5:1 in Chromium."""
    return gr.themes.Soft().set(
        block_label_text_color="*primary_700",  # label pills: indigo-700 on indigo-100
        block_title_text_color="*primary_700",
        input_placeholder_color="*neutral_500",
        body_text_color_subdued="*neutral_600",  # slider min/max
        button_primary_background_fill="*primary_600",  # white text on it
        button_primary_background_fill_hover="*primary_700",
        checkbox_label_background_fill_selected="*primary_600",  # the selected radio pill's white text
        color_accent="*primary_600",  # the selected tab's name
    )


def launch_options(settings: Settings | None = None) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch``: theme and css (gradio 6 takes them at launch), upload cap, errors,
    the MCP server (``STUDIO_MCP=0`` turns it off), and the HTTP edge's checks (:mod:`app.ui.edge`)."""
    settings = settings or get_settings()
    allow_long_request_lines()  # the server gradio starts answers a too-long URL with 414, not a reset
    return {
        "app_kwargs": {"middleware": [Middleware(EdgeGuard)]},
        "mcp_server": settings.mcp_server,
        "max_file_size": MAX_UPLOAD,
        "show_error": True,
        "css": CSS,
        "js": PAGE_JS,
        "theme": theme(),
        # Kept results are served to History from their folder.
        "allowed_paths": [str(ASSETS_DIR), *([str(settings.output_dir)] if settings.output_dir is not None else [])],
    }


__all__ = ["GPU_QUEUE", "TABS", "build_app", "launch_options"]
