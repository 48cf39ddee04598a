"""What every tab shares: the shared controls (prompt, seed, size, model family…) and how results are shown.

Events pass their inputs by name (``inputs_kwargs``), so handlers receive one
dict of values instead of a long positional list, and API clients call each
endpoint with named parameters that match the request fields.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import gradio as gr
from PIL import Image, ImageDraw

from app.engine.families import FAMILIES, FAMILY_NAMES
from app.recipes.assets import ASSETS_DIR
from app.request import MAX_SEED, CommonSettings, GenerationRequest, field_bounds, whole_number
from app.samplers import SCHEDULER_LABELS, scheduler_choices
from app.settings import Settings
from app.ui.live import live_previews_checkbox
from app.ui.widgets import schema_slider

if TYPE_CHECKING:  # importing the studio pulls in torch: keep it off the path that serves the page
    from app.engine.result import Result


# The tiny family draws noise at any size: small defaults keep the offline demo snappy on a CPU.
TINY_DEFAULTS = {"width": 256, "height": 256, "num_inference_steps": 10}


# -- the shared controls --------------------------------------------------------------------------

NEW_SEED_JS = """(fresh, seed) => {
  // "Confirm with 4 seeds" reruns the comparison on the seed it confirms: it sets this flag before its click.
  if (window.studioKeepSeed) { window.studioKeepSeed = false; return seed; }
  return fresh ? Math.floor(Math.random() * 4294967296) : seed;
}"""
"""Browser-side: the seed a run button's click leaves in the seed field (a new 32-bit one, as A1111 draws)."""

REQUEST_FIELDS = (*CommonSettings.model_fields, "num_images_per_prompt")
"""The shared controls' request fields: the schema's common settings plus images per run."""


@dataclass
class SharedControls:
    """The controls every tab uses: prompt, seed and sampling settings.

    Read them with :meth:`inputs` (named event inputs) and :meth:`read`
    (values → request fields); set them with :meth:`updates`, e.g. from a
    saved recipe.
    """

    family: gr.Radio
    prompt: gr.Textbox
    negative_prompt: gr.Textbox
    seed: gr.Number
    randomize: gr.Button
    reuse_last: gr.Button
    last_seed: gr.State
    new_seed: gr.Checkbox
    num_inference_steps: gr.Slider
    guidance_scale: gr.Slider
    width: gr.Slider
    height: gr.Slider
    scheduler: gr.Dropdown
    num_images_per_prompt: gr.Slider
    live_previews: gr.Checkbox

    def run_inputs(self, inputs: dict[str, gr.components.Component]) -> dict[str, gr.components.Component]:
        """A run event's named inputs: the tab's request inputs and the live-preview switch (not part of recipes)."""
        return {**inputs, "live_previews": self.live_previews}

    def inputs(self, names: tuple[str, ...] = REQUEST_FIELDS) -> dict[str, gr.components.Component]:
        """The request-field controls by field name, for ``inputs_kwargs``."""
        return {name: getattr(self, name) for name in names}

    def read(self, values: dict[str, Any], names: tuple[str, ...] = REQUEST_FIELDS) -> dict[str, Any]:
        """Request fields from an event's values, typed as the schema wants them (sliders send floats)."""
        out: dict[str, Any] = {}
        for name in names:
            value = values.get(name)
            if name in ("seed", "num_inference_steps", "width", "height", "num_images_per_prompt"):
                value = whole_number(value)
            elif name == "guidance_scale":
                value = float(value) if isinstance(value, (int, float)) else value
            elif name in ("prompt", "negative_prompt"):
                value = value or ""
            elif name == "family":
                value = value or None  # an API call that leaves it out runs on the default family
            out[name] = value
        return {k: v for k, v in out.items() if v is not None}

    def outputs(self) -> list[gr.components.Component]:
        """The request-field controls in :data:`REQUEST_FIELDS` order, then "New seed each run", for :meth:`updates`."""
        return [*(getattr(self, name) for name in REQUEST_FIELDS), self.new_seed]

    def updates(self, data: dict[str, Any]) -> list[Any]:
        """Updates that set the controls named in ``data`` (others unchanged), in :meth:`outputs` order. A seed set
        from a recipe is kept: "New seed each run" goes off, so the next run reproduces the recipe."""
        fields = [gr.update(value=data[name]) if name in data else gr.skip() for name in REQUEST_FIELDS]
        return [*fields, gr.update(value=False) if "seed" in data else gr.skip()]

    def new_seed_on(self, button: gr.Button) -> None:
        """A click on a run button draws a new seed into the seed field first when "New seed each run" is on, so the
        run, its caption, its PNG recipe and "Reuse last seed" all hold the seed that ran (A1111's seed −1)."""
        button.click(None, inputs=[self.new_seed, self.seed], outputs=self.seed, js=NEW_SEED_JS, queue=False,
                     api_visibility="private", show_progress="hidden")  # fmt: skip


def family_choices(families: Iterable[str]) -> list[tuple[str, str]]:
    """``(label, name)`` of the served model families, e.g. ``("Stable Diffusion XL · 1024²", "sdxl")``; a gated
    family says so (``FLUX.1 [dev] · 1024² · gated, non-commercial``)."""
    gated = lambda f: " · gated, non-commercial" if FAMILIES[f].licence else ""  # noqa: E731
    return [(f"{FAMILIES[f].label} · {FAMILIES[f].default_size}²{gated(f)}", f) for f in families]


def family_size(family: str, width: Any, height: Any) -> tuple[Any, Any]:
    """Width and height after the person picks ``family``: its native size when the size was another family's
    native size (the default they never changed), else the size they chose."""
    natives = {FAMILIES[f].default_size for f in FAMILIES if f != family}
    if family in FAMILIES and whole_number(width) == whole_number(height) and whole_number(width) in natives:
        size = FAMILIES[family].default_size
        return gr.update(value=size), gr.update(value=size)
    return gr.skip(), gr.skip()


def family_guidance(family: str, guidance: Any, scheduler: Any) -> tuple[Any, Any]:
    """Guidance and sampler after the person picks ``family``: its own guidance when the slider held another family's
    default (FLUX.1's distilled 3.5 against classifier-free 7), and FLUX's Euler when the sampler was the default it
    does not use; a value the person chose stays."""
    if family not in FAMILIES:
        return gr.skip(), gr.skip()
    schema_guidance = CommonSettings.model_fields["guidance_scale"].default
    defaults = {schema_guidance} | {f.default_guidance for f in FAMILIES.values() if f.default_guidance is not None}
    own = FAMILIES[family].default_guidance or schema_guidance
    new_guidance = gr.update(value=own) if guidance in defaults and guidance != own else gr.skip()
    default_sampler = CommonSettings.model_fields["scheduler"].default
    flux_default = FAMILIES[family].own_sampler and scheduler == default_sampler
    new_sampler = gr.update(value="euler") if flux_default else gr.skip()
    return new_guidance, new_sampler


def build_shared_controls(settings: Settings, families: tuple[str, ...] | None = None) -> SharedControls:
    """The shared controls, ranges from the request schema and the operator's caps.

    Long by design: a Blocks builder lays its components out in page order and wires their events where they are
    made; what each event does lives in the module's functions.

    Args:
        settings: The operator's caps.
        families: The model families served, the default first (default: the settings'). With more than one,
            a selector above the prompt picks the family every tab runs on.
    """
    demo = TINY_DEFAULTS if settings.model_source == "tiny" else {}
    families = families or settings.model_families
    family = gr.Radio(
        family_choices(families),
        value=families[0],
        label="Model",
        info="Every tab runs on this model family; each loads on first use. "
        + (
            "This demo's tiny random models draw at its small size on either family."
            if demo
            else "SDXL follows prompts and layouts better and draws at 1024², SD1.5 is faster at 512²."
        )
        + "".join(f" {FAMILIES[f].licence}" for f in families if FAMILIES[f].licence),
        visible=len(families) > 1,
        elem_id="family",
    )
    if not demo:  # the native size of the default family (the tiny demo keeps its small size everywhere)
        demo = {"width": FAMILIES[families[0]].default_size, "height": FAMILIES[families[0]].default_size}
    with gr.Group():
        prompt = gr.Textbox(
            "",
            label="Prompt",
            lines=2,
            placeholder="e.g. a watercolour portrait of an astronaut, soft light",
            info=field_bounds(CommonSettings, "prompt")["description"],
            elem_id="prompt",
        )
        negative_prompt = gr.Textbox(
            "", label="Negative prompt", placeholder="e.g. blurry, low quality", elem_id="negative"
        )
    with gr.Row():
        seed = gr.Number(
            value=field_bounds(CommonSettings, "seed")["default"],
            minimum=0,
            maximum=MAX_SEED,
            precision=None,  # gradio would round a fraction and fail on NaN: the schema refuses both by name
            step=1,
            label="Seed",
            info="Same seed, same starting noise: every method starts from it.",
            elem_id="seed",
            scale=3,
        )
        with gr.Column(scale=1, min_width=160):  # stacked, button-sized: a stretched row made them 110 px tall
            new_seed = gr.Checkbox(True, label="New seed each run", elem_id="seed-new")
            randomize = gr.Button("Random seed", size="sm", elem_id="seed-random")
            reuse_last = gr.Button("Reuse last seed", size="sm", elem_id="seed-reuse")
        last_seed = gr.State(None)
    with gr.Accordion("Sampling settings", open=False):
        with gr.Row():
            steps = schema_slider(
                CommonSettings,
                "num_inference_steps",
                cap=settings.max_steps,
                value=demo.get("num_inference_steps"),
                elem_id="steps",
            )
            guidance = schema_slider(CommonSettings, "guidance_scale", step=0.5)
        with gr.Row():
            width = schema_slider(
                CommonSettings, "width", cap=settings.max_side, value=demo.get("width"), elem_id="width"
            )
            height = schema_slider(
                CommonSettings, "height", cap=settings.max_side, value=demo.get("height"), elem_id="height"
            )
        with gr.Row():
            scheduler = gr.Dropdown(
                choices=scheduler_choices(),
                value=field_bounds(CommonSettings, "scheduler")["default"],
                label="Sampler",
                info=field_bounds(CommonSettings, "scheduler")["description"],
            )
            images = schema_slider(
                GenerationRequest, "num_images_per_prompt", cap=settings.max_images, elem_id="images"
            )
        live_previews = live_previews_checkbox(settings.previews)
    shared = SharedControls(
        family,
        prompt,
        negative_prompt,
        seed,
        randomize,
        reuse_last,
        last_seed,
        new_seed,
        steps,
        guidance,
        width,
        height,
        scheduler,
        images,
        live_previews,
    )
    # Cheap, per-browser events skip the GPU queue. ``input``: only a person's pick resizes, never a recipe's.
    if settings.model_source != "tiny":
        family.input(family_size, inputs=[family, width, height], outputs=[width, height], queue=False,
                     api_visibility="private")  # fmt: skip
    family.input(family_guidance, inputs=[family, guidance, scheduler], outputs=[guidance, scheduler], queue=False,
                 api_visibility="private")  # fmt: skip
    randomize.click(lambda: random.randint(0, MAX_SEED), outputs=seed, queue=False, api_visibility="private")
    # Reusing a seed, or typing one, means that seed: the next run keeps it.
    reuse_last.click(
        lambda last, current: (current if last is None else last, False),
        inputs=[last_seed, seed],
        outputs=[seed, new_seed],
        queue=False,
        api_visibility="private",
    )
    seed.input(None, outputs=new_seed, js="() => false", queue=False, api_visibility="private")
    return shared


assert {f.name for f in fields(SharedControls)} >= set(REQUEST_FIELDS)


# -- showing results ------------------------------------------------------------------------------


def settings_caption(settings: dict[str, Any], seed: int, last_seed: int | None = None) -> str:
    """``seed 42 · 25 steps · CFG 7 · DPM++ 2M Karras · 512×512`` (``seeds 42–44 · …`` up to ``last_seed``), after
    ``SDXL · `` for a family other than SD1.5 (the default, left unsaid)."""
    scheduler = SCHEDULER_LABELS.get(settings.get("scheduler", ""), settings.get("scheduler", ""))
    seeds = f"seeds {seed}–{last_seed}" if last_seed not in (None, seed) else f"seed {seed}"
    family = settings.get("family")
    model = f"{FAMILIES[family].short} · " if family in FAMILIES and family != FAMILY_NAMES[0] else ""
    distilled = family in FAMILIES and FAMILIES[family].distilled_guidance  # FLUX: guidance, not CFG; its own Euler
    guidance = f"{'guidance' if distilled else 'CFG'} {settings.get('guidance_scale'):g}"
    scheduler = "flow-matching Euler" if distilled else scheduler
    return (
        f"{model}{seeds} · {settings.get('num_inference_steps')} steps · {guidance} · "
        f"{scheduler} · {settings.get('width')}×{settings.get('height')}"
    )


def describe_cost(result: Result) -> str:
    """The settings the images share, time (and model loading), peak memory and the core's notes, in Markdown."""
    peak = result.measured_peak_memory
    memory = f"peak memory {peak / 2**20:.0f} MiB" if peak is not None else "peak memory not measured on the CPU"
    loading = f" (+{result.load_seconds:.1f} s loading models)" if result.load_seconds >= 0.05 else ""
    settings = settings_caption(result.settings, result.seeds[0], result.seeds[-1])
    text = f"{settings}  \n**{result.seconds:.1f} s**{loading} · {memory}"
    if result.notes:
        text += "\n\n" + "\n".join(f"- {note}" for note in result.notes)
    return text


EXAMPLE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")


def example_photos(*names: str) -> list[str]:
    """Paths of the example photos under ``assets/`` that exist (default: :data:`EXAMPLE_PHOTOS`)."""
    return [str(ASSETS_DIR / n) for n in names or EXAMPLE_PHOTOS if (ASSETS_DIR / n).is_file()]


def placeholder(text: str, width: int, height: int) -> Image.Image:
    """A grey tile with a short text, standing in for a map a method does not have or a pending result."""
    tile = Image.new("RGB", (width, height), (228, 228, 231))
    draw = ImageDraw.Draw(tile)
    box = draw.textbbox((0, 0), text)
    draw.text(((width - box[2]) / 2, (height - box[3]) / 2), text, fill=(82, 82, 91))
    return tile


def side_by_side(images: list[Image.Image]) -> Image.Image:
    """Images placed left to right at a common height (e.g. a depth map and a reference)."""
    if len(images) == 1:
        return images[0]
    height = min(i.height for i in images)
    scaled = [i.resize((max(1, round(i.width * height / i.height)), height)) for i in images]
    canvas = Image.new("RGB", (sum(i.width for i in scaled), height), (255, 255, 255))
    x = 0
    for image in scaled:
        canvas.paste(image.convert("RGB"), (x, 0))
        x += image.width
    return canvas
