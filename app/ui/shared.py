"""What every tab shares: the studio handle, the shared controls and the plumbing from events to the core.

Events pass their inputs by name (``inputs_kwargs``), so handlers receive one
dict of values instead of a long positional list, and API clients call each
endpoint with named parameters that match the request fields.
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from PIL import Image, ImageDraw
from pydantic import BaseModel

from app.engine.families import FAMILIES
from app.errors import Cancelled, StudioError
from app.images import load_image
from app.preprocess import REGISTRY, detectors_for
from app.request import MAX_SEED, CommonSettings, GenerationRequest, field_bounds, whole_number
from app.samplers import SCHEDULER_LABELS, scheduler_choices
from app.serving.zerogpu import MIN_SECONDS, count_of, estimate_gpu_seconds, gpu_task
from app.settings import Settings
from app.ui.cancel import JobCancel, JobKey, gradio_event_alive, raise_flag, watch_for_cancel
from app.ui.live import live_previews_checkbox
from app.ui.plain import in_toast

if TYPE_CHECKING:  # importing the studio pulls in torch: keep it off the path that serves the page
    from app.engine.result import Result
    from app.studio import Studio

logger = logging.getLogger(__name__)

STOPPED_TITLE = "Stopped"
"""The title of the message a stopped job raises (the Stop button has already said so in the page)."""

GPU_QUEUE = "gpu"
"""The one ``concurrency_id`` every generating event shares: one job on the accelerator at a time."""

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
"""Example photos (licences in ``assets/LICENSES.md``)."""

PROGRESS = gr.Progress()
"""Default of every handler's ``progress`` parameter: it only marks the parameter, gradio makes a tracker per call."""

MAX_UPLOAD = "20mb"
"""Largest upload ``launch(max_file_size=...)`` accepts; bigger files are refused in the browser."""

# The tiny family draws noise at any size: small defaults keep the offline demo snappy on a CPU.
TINY_DEFAULTS = {"width": 256, "height": 256, "num_inference_steps": 10}


# -- the studio, built lazily ---------------------------------------------------------------------


@dataclass
class Job:
    """One running generation: the studio, its cancel event and its progress bar."""

    studio: Studio
    cancel: threading.Event
    progress: gr.Progress

    def steps(self, label: str) -> Callable[[int, int], None]:
        """A ``studio.generate`` progress callback that moves the bar step by step."""

        def report(done: int, total: int) -> None:
            self.progress((done, total), desc=f"{label}: step {done}/{total}", unit="steps")

        return report

    def fraction(self, fraction: float, label: str) -> None:
        """A ``studio.compare`` progress callback: overall fraction and the running method."""
        self.progress(min(max(fraction, 0.0), 1.0), desc=label)


class StudioHandle:
    """The process-wide :class:`~app.studio.Studio` as the UI sees it.

    The studio (and torch with it) is built on first use or in a background
    thread after the page is served, so the page never waits for models.
    Each running job gets its own cancel event, found by (session, tab), so a
    Stop button stops its own tab's job and a new job never clears an old one's
    event before that job has seen it.
    """

    def __init__(self, settings: Settings, studio: Studio | None = None) -> None:
        self.settings = settings
        self._studio = studio
        self._build_lock = threading.Lock()
        self._jobs: dict[tuple[str, str], threading.Event] = {}
        self._jobs_lock = threading.Lock()
        self.warm = False  # a generation has finished: models are in memory

    def get(self) -> Studio:
        """The studio, built on first call (thread-safe).

        Raises:
            StudioError: the settings name models that cannot be prepared.
        """
        with self._build_lock:
            if self._studio is None:
                from app.studio import Studio

                self._studio = Studio(self.settings)
            return self._studio

    def prepare_in_background(self) -> threading.Thread:
        """Import torch and build the studio in a daemon thread (no model weights are loaded)."""

        def prepare() -> None:
            try:
                self.get()
            except Exception:  # the first event reports it to the user
                logger.exception("preparing the studio failed")

        thread = threading.Thread(target=prepare, name="studio-prepare", daemon=True)
        thread.start()
        return thread

    @contextmanager
    def job(self, tab: str, request: gr.Request | None, progress: gr.Progress) -> Iterator[Job]:
        """Run one job: a fresh cancel event, a visible "loading" step, core errors as ``gr.Error``.

        Args:
            tab: Which tab runs it (its Stop button stops it).
            request: The Gradio request (its session identifies the user).
            progress: The event's progress bar.
        """
        key = job_key(tab, request)
        cancel = JobCancel(key, gradio_event_alive())
        with self._jobs_lock:
            self._jobs[key] = cancel
        try:
            with studio_errors():
                progress(0, desc="Starting…" if self.warm else "Loading models (first use)…")
                yield Job(self.get(), cancel, progress)
                self.warm = True
        finally:
            with self._jobs_lock:
                if self._jobs.get(key) is cancel:
                    del self._jobs[key]
                    cancel.close()

    def stop(self, tab: str, request: gr.Request | None) -> bool:
        """Ask the session's running job on ``tab`` to stop at its next step; False if none runs.

        The job may run in this process or, on ZeroGPU, in a worker process this one is waiting for.
        """
        key = job_key(tab, request)
        with self._jobs_lock:
            event = self._jobs.get(key)
        if event is not None:
            event.set()
            return True
        with _GPU_CALLS_LOCK:
            waiting = key in _GPU_CALLS
        if waiting:
            raise_flag(key)
        return waiting


def job_key(tab: str, request: gr.Request | None) -> JobKey:
    """Which job: the session's (one per browser tab or API client) on ``tab``."""
    return (getattr(request, "session_hash", None) or "", tab)


_GPU_CALLS: set[JobKey] = set()
_GPU_CALLS_LOCK = threading.Lock()
"""Jobs this process waits for while a ZeroGPU worker runs them, so Stop knows to raise their flag."""


@contextmanager
def _gpu_call(key: JobKey) -> Iterator[None]:
    with _GPU_CALLS_LOCK:
        _GPU_CALLS.add(key)
    try:
        with watch_for_cancel(key):
            yield
    finally:
        with _GPU_CALLS_LOCK:
            _GPU_CALLS.discard(key)


def gpu_seconds_for(values: dict[str, Any]) -> int:
    """GPU seconds an event's job needs, from its named inputs (steps, size, images, methods)."""
    raw = values.get("family")  # raw input, not yet validated: anything at all
    family = raw if isinstance(raw, str) and raw in FAMILIES else "sd15"
    methods = values.get("methods")
    return estimate_gpu_seconds(
        steps=count_of(values.get("num_inference_steps"), 25),
        methods=len(methods) if isinstance(methods, (list, tuple)) and methods else 1,
        width=count_of(values.get("width"), FAMILIES[family].default_size),
        height=count_of(values.get("height"), FAMILIES[family].default_size),
        # A comparison makes one image per method and seed; a generation, its images per prompt.
        images=count_of(values.get("seed_count"), 1) if methods else count_of(values.get("num_images_per_prompt"), 1),
        # ZeroGPU runs on CUDA, where a comparison that does not ask for exact runs is batched.
        batched=bool(methods) and values.get("batching") != "exact",
        family=family,
    )


def preview_gpu_seconds(values: dict[str, Any]) -> int:
    """GPU seconds a map preview needs: detectors only (they run on the GPU with the diffusion models)."""
    return MIN_SECONDS


def on_gpu(
    handler: Callable[..., Any], tab: str, seconds: Callable[[dict[str, Any]], int] = gpu_seconds_for
) -> Callable:
    """Run a generating handler inside ``spaces.GPU`` on ZeroGPU, asking for the time its inputs need.

    Elsewhere the handler is returned unchanged. On ZeroGPU, an abort (the job outran its GPU time)
    reaches the user as a plain message saying what to reduce, and the job on ``tab`` stays stoppable:
    Stop and gradio's cancel reach the worker process through the job's flag (:mod:`app.ui.cancel`).
    """

    wrapped = gpu_task(lambda *args, **values: seconds(values))(handler)
    if wrapped is handler:
        return handler

    def explain(error: Exception) -> gr.Error:
        return gr.Error(
            f"ZeroGPU stopped this job: {in_toast(str(error)[:200])}. Try fewer steps, a smaller size or fewer "
            "methods.",
            title="GPU time ran out",
        )

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(*args: Any, **values: Any) -> Iterator[Any]:
            try:
                with _gpu_call(job_key(tab, request_in(args, values))):
                    yield from wrapped(*args, **values)
            except gr.Error:
                raise
            except Exception as error:
                raise explain(error) from None

        return stream

    @functools.wraps(handler)
    def call(*args: Any, **values: Any) -> Any:
        try:
            with _gpu_call(job_key(tab, request_in(args, values))):
                return wrapped(*args, **values)
        except gr.Error:
            raise
        except Exception as error:
            raise explain(error) from None

    return call


def request_in(args: tuple, values: dict[str, Any]) -> gr.Request | None:
    """The gradio request among a handler's arguments (positional or named), or None."""
    return next((a for a in (*args, *values.values()) if isinstance(a, gr.Request)), None)


@contextmanager
def studio_errors() -> Iterator[None]:
    """Show core errors as ``gr.Error`` messages in the page, never as a stack trace."""
    try:
        yield
    except gr.Error:
        raise
    except Cancelled as error:
        raise gr.Error(in_toast(error), title=STOPPED_TITLE) from None
    except StudioError as error:
        raise gr.Error(in_toast(error), title="Cannot run this") from None
    except Exception as error:
        logger.exception("unexpected error in a studio event")
        raise gr.Error(
            f"Unexpected {type(error).__name__}: {in_toast(str(error)[:300])} (details are in the server log).",
            title="Something went wrong",
        ) from None


def check_uploads(*images: gr.Image) -> None:
    """Check each image as it is uploaded: one that is not a usable image (not an image, too small, a
    decompression bomb) is cleared at once with the reason in a warning, instead of at the next Generate."""

    def check(value: Any) -> Any:
        if value is None:
            return gr.skip()
        try:
            load_image(value)
        except StudioError as error:
            gr.Warning(in_toast(error), title="Not a usable image")
            return None
        return gr.skip()

    for image in images:
        # Queued (so the warning shows) on its own unlimited queue: never behind a generation.
        image.upload(
            check, inputs=image, outputs=image, concurrency_id="uploads", concurrency_limit=None,
            api_visibility="private",
        )  # fmt: skip


# -- sliders from the schema ----------------------------------------------------------------------


def schema_slider(
    model: type[BaseModel],
    name: str,
    label: str,
    *,
    cap: float | None = None,
    step: float | None = None,
    value: float | None = None,
    **kwargs: Any,
) -> gr.Slider:
    """A slider whose range, default and help text come from a pydantic field's bounds.

    Args:
        model: The request model that validates the value.
        name: The field name.
        label: The slider label.
        cap: An operator cap (from settings) that lowers the maximum.
        step: Step when the field has no ``multiple_of``.
        value: Initial value instead of the field default (clamped to the range).
        **kwargs: Passed to ``gr.Slider``.
    """
    bounds = field_bounds(model, name)
    minimum = bounds.get("ge", bounds.get("gt", 0))
    maximum = bounds.get("le", bounds.get("lt", 1))
    if cap is not None:
        maximum = max(minimum, min(maximum, cap))
    default = bounds["default"] if value is None else value
    integer = isinstance(bounds["default"], int) and not isinstance(bounds["default"], bool)
    step = bounds.get("multiple_of") or step or (1 if integer else 0.05)
    return gr.Slider(
        minimum,
        maximum,
        value=min(max(default, minimum), maximum),
        step=step,
        label=label,
        info=bounds.get("description"),
        **kwargs,
    )


def spec_component(spec: dict[str, Any], label_prefix: str = "") -> gr.components.Component:
    """The control for one detector parameter spec (see ``Detector.param_specs()``)."""
    label = label_prefix + spec["name"].replace("_", " ").capitalize()
    info = spec.get("description") or None
    if spec["type"] == "bool":
        return gr.Checkbox(value=bool(spec["default"]), label=label, info=info)
    if spec["type"] in ("int", "float") and spec["minimum"] is not None and spec["maximum"] is not None:
        return gr.Slider(
            spec["minimum"], spec["maximum"], value=spec["default"], step=spec["step"], label=label, info=info
        )
    if spec["type"] in ("int", "float"):
        return gr.Number(value=spec["default"], label=label, info=info, precision=0 if spec["type"] == "int" else None)
    return gr.Textbox(value=str(spec["default"]), label=label, info=info)


class DetectorControls:
    """Every detector's parameter controls, built from its schema; only the chosen detector's are shown.

    Attributes:
        groups: Detector name → the group holding its controls.
        params: Detector name → parameter name → control.
    """

    def __init__(self, detectors: list[str], selected: str, prefix: str = "") -> None:

        self.prefix = prefix
        self.groups: dict[str, gr.Group] = {}
        self.params: dict[str, dict[str, gr.components.Component]] = {}
        for name in detectors:
            specs = REGISTRY[name].param_specs()
            if not specs:
                continue
            with gr.Group(visible=name == selected) as group:
                self.params[name] = {spec["name"]: spec_component(spec, f"{name}: ") for spec in specs}
            self.groups[name] = group

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs for ``inputs_kwargs``, e.g. ``canny__low_threshold``."""
        return {
            f"{self.prefix}{detector}__{param}": component
            for detector, params in self.params.items()
            for param, component in params.items()
        }

    def read(self, values: dict[str, Any], detector: str) -> dict[str, Any]:
        """The chosen detector's parameters from an event's values (integers stay integers)."""
        specs = {s["name"]: s for s in REGISTRY[detector].param_specs()} if detector in REGISTRY else {}
        out = {}
        for param in self.params.get(detector, {}):
            value = values.get(f"{self.prefix}{detector}__{param}")
            if specs.get(param, {}).get("type") == "int":
                value = whole_number(value)
            out[param] = value
        return out

    def updates(self, chosen: Mapping[str, Mapping[str, Any]], detectors: Iterable[str]) -> list[Any]:
        """Updates that show the parameters of ``detectors`` (others unchanged), in :meth:`inputs` order.

        Args:
            chosen: Detector → the parameters a recipe sets; a parameter it leaves out is the detector's default.
            detectors: The detectors whose controls are set.
        """
        detectors = set(detectors)
        out: list[Any] = []
        for name, params in self.params.items():
            defaults = {spec["name"]: spec["default"] for spec in REGISTRY[name].param_specs()}
            given = chosen.get(name) or {}
            out += [given.get(p, defaults[p]) if name in detectors else gr.skip() for p in params]
        return out

    def visibility(self, detector: str) -> list[Any]:
        """Updates showing only ``detector``'s group, in :attr:`groups` order."""
        return [gr.update(visible=name == detector) for name in self.groups]


def detector_choices(control_type: str, allow_none: bool = True) -> list[tuple[str, str]]:
    """``(label, name)`` of the detectors for a control type, the default first (``none`` = your own map)."""
    names = [n for n in detectors_for(control_type) if allow_none or n != "none"]
    return [("none (upload your own map)" if n == "none" else f"{n} — {REGISTRY[n].label}", n) for n in names]


# -- the shared controls --------------------------------------------------------------------------

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
        """The request-field controls in :data:`REQUEST_FIELDS` order, for :meth:`updates`."""
        return [getattr(self, name) for name in REQUEST_FIELDS]

    def updates(self, data: dict[str, Any]) -> list[Any]:
        """Updates that set the controls named in ``data`` (others unchanged), in :meth:`outputs` order."""
        return [gr.update(value=data[name]) if name in data else gr.skip() for name in REQUEST_FIELDS]


def family_choices(families: Iterable[str]) -> list[tuple[str, str]]:
    """``(label, name)`` of the served model families, e.g. ``("Stable Diffusion XL · 1024²", "sdxl")``."""
    return [(f"{FAMILIES[f].label} · {FAMILIES[f].default_size}²", f) for f in families]


def family_size(family: str, width: Any, height: Any) -> tuple[Any, Any]:
    """Width and height after the person picks ``family``: its native size when the size was another family's
    native size (the default they never changed), else the size they chose."""
    natives = {FAMILIES[f].default_size for f in FAMILIES if f != family}
    if family in FAMILIES and whole_number(width) == whole_number(height) and whole_number(width) in natives:
        size = FAMILIES[family].default_size
        return gr.update(value=size), gr.update(value=size)
    return gr.skip(), gr.skip()


def build_shared_controls(settings: Settings, families: tuple[str, ...] | None = None) -> SharedControls:
    """The shared controls, ranges from the request schema and the operator's caps.

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
        info="Every tab runs on this model family; each loads on first use. SDXL follows prompts and layouts "
        "better and draws at 1024², SD1.5 is faster at 512².",
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
            placeholder="a watercolour portrait of an astronaut, soft light",
            info=field_bounds(CommonSettings, "prompt")["description"],
            elem_id="prompt",
        )
        negative_prompt = gr.Textbox("", label="Negative prompt", placeholder="blurry, low quality", elem_id="negative")
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
            randomize = gr.Button("Random seed", size="sm", elem_id="seed-random")
            reuse_last = gr.Button("Reuse last seed", size="sm", elem_id="seed-reuse")
        last_seed = gr.State(None)
    with gr.Accordion("Sampling settings", open=False):
        with gr.Row():
            steps = schema_slider(
                CommonSettings,
                "num_inference_steps",
                "Steps",
                cap=settings.max_steps,
                value=demo.get("num_inference_steps"),
                elem_id="steps",
            )
            guidance = schema_slider(CommonSettings, "guidance_scale", "Guidance scale (CFG)", step=0.5)
        with gr.Row():
            width = schema_slider(
                CommonSettings, "width", "Width", cap=settings.max_side, value=demo.get("width"), elem_id="width"
            )
            height = schema_slider(
                CommonSettings, "height", "Height", cap=settings.max_side, value=demo.get("height"), elem_id="height"
            )
        with gr.Row():
            scheduler = gr.Dropdown(
                choices=scheduler_choices(),
                value=field_bounds(CommonSettings, "scheduler")["default"],
                label="Sampler",
                info=field_bounds(CommonSettings, "scheduler")["description"],
            )
            images = schema_slider(
                GenerationRequest, "num_images_per_prompt", "Images per run", cap=settings.max_images, elem_id="images"
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
    randomize.click(lambda: random.randint(0, MAX_SEED), outputs=seed, queue=False, api_visibility="private")
    reuse_last.click(
        lambda last, current: current if last is None else last,
        inputs=[last_seed, seed],
        outputs=seed,
        queue=False,
        api_visibility="private",
    )
    return shared


assert {f.name for f in fields(SharedControls)} >= set(REQUEST_FIELDS)


# -- showing results ------------------------------------------------------------------------------


def settings_caption(settings: dict[str, Any], seed: int, last_seed: int | None = None) -> str:
    """``seed 42 · 25 steps · CFG 7 · DPM++ 2M Karras · 512×512`` (``seeds 42–44 · …`` up to ``last_seed``), after
    ``SDXL · `` for a family other than SD1.5 (the default, left unsaid)."""
    scheduler = SCHEDULER_LABELS.get(settings.get("scheduler", ""), settings.get("scheduler", ""))
    seeds = f"seeds {seed}–{last_seed}" if last_seed not in (None, seed) else f"seed {seed}"
    family = settings.get("family")
    model = f"{FAMILIES[family].short} · " if family in FAMILIES and family != "sd15" else ""
    return (
        f"{model}{seeds} · {settings.get('num_inference_steps')} steps · CFG {settings.get('guidance_scale'):g} · "
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
