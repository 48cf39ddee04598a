"""Sweep tab: one method, one or two settings varied along the axes of a labelled grid, with the fit of every cell.

A method axis takes method strings, so method and detector pairs (``depth``,
``depth:midas``) are swept like any number. Values are typed as text and only
split and typed here; the core (:func:`app.request.sweep.parse_sweep`) checks every
cell before anything runs, so its message is the one the user sees.

The tab's widgets are one :class:`SweepInputs`; the request and the run are module-level functions of those
widgets and an event's values, tested without a browser. :func:`build_sweep_tab` only lays out and wires.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.processing_utils import save_pil_to_cache
from gradio.utils import get_upload_folder
from PIL import Image

from app.controls import DEFAULT_TYPES, adapted_types, part_name
from app.engine.families import DEFAULT_FAMILIES, FAMILIES
from app.fit import method_label
from app.images import load_image
from app.preprocess import CONTROL_TYPES, DEFAULTS, detectors_for
from app.request.sweep import (
    AXIS_LABELS,
    DETECTOR_AXES,
    MAX_AXIS_VALUES,
    MAX_CELLS,
    UNIT_AXES,
    SweepCell,
    SweepRequest,
    SweepResult,
    parse_sweep,
    sweep_grid,
)
from app.serving.zerogpu import count_of, estimate_gpu_seconds
from app.ui.compare_tab import SHARED_FIELDS, matrix_table
from app.ui.controls import MethodSettings, method_settings, served_families
from app.ui.gallery import file_stem
from app.ui.image_input import ImageInput
from app.ui.jobs import GPU_QUEUE, PROGRESS, Job, StudioHandle, check_uploads, on_gpu
from app.ui.live import relay, while_running
from app.ui.plain import in_toast
from app.ui.runs import RUN_BUTTON_CLASS, add_stop, wire_run
from app.ui.shared import SharedControls, example_photos

TAB = "sweep"
NO_AXIS = "none"
ALL_SCORES = "All scores"
MAX_VALUES_CHARS = 400  # eight method strings fit; a pasted essay does not reach the parser

# A typical range per axis, prefilled when the axis is picked ("{seed}" is the current seed).
DEFAULT_VALUES = {
    "method": "depth, depth:midas, canny",
    "controlnet_conditioning_scale": "0, 0.5, 1, 1.5",
    "control_guidance_end": "0.25, 0.5, 0.75, 1",
    "ip_adapter_scale": "0, 0.3, 0.6, 1",
    "ip_adapter_mode": "",  # the family's own modes (default_values)
    "guidance_scale": "3, 5, 7.5, 10",
    "num_inference_steps": "5, 10, 20",
    "seed": "{seed}, {seed1}, {seed2}",
    **dict.fromkeys(UNIT_AXES, "0, 0.5, 1"),
    # Every detector of the type (not "none": the photo is no map), e.g. "hed, pidinet".
    **{axis: ", ".join(d for d in detectors_for(kind) if d != "none") for axis, kind in DETECTOR_AXES.items()},
}


def method_choices() -> list[str]:
    """Method strings for the base method: each type with its default and every other detector, and combos."""
    methods = ["text"]
    for kind in CONTROL_TYPES:
        methods.append(kind)
        methods += [f"{kind}:{name}" for name in detectors_for(kind) if name not in (DEFAULTS[kind], "none")]
    combos = [m for m in methods if m != "text"]
    # Two default types together, whose units the per-type strength axes set against each other.
    pairs = [f"{a}+{b}" for i, a in enumerate(DEFAULT_TYPES) for b in DEFAULT_TYPES[i + 1 :]]
    adapters = [part_name(kind, adapter=True) for kind in adapted_types()]
    return [*methods, *pairs, "ip_adapter", *(f"{m}+ip_adapter" for m in combos), *adapters]


def axis_choices(optional: bool = False) -> list[tuple[str, str]]:
    """``(label, name)`` of every sweepable setting (plus "none" for the optional Y axis)."""
    choices = [(label, name) for name, label in AXIS_LABELS.items()]
    return [("none (one row)", NO_AXIS), *choices] if optional else choices


def default_values(axis: str | None, seed: Any = 0, family: str | None = None) -> str:
    """The typical range prefilled for ``axis`` (empty for no axis); image-prompt modes are ``family``'s own."""
    if not axis or axis == NO_AXIS:
        return ""
    if axis == "ip_adapter_mode":
        return ", ".join(FAMILIES[family if family in FAMILIES else DEFAULT_FAMILIES[0]].ip_modes())
    seed = count_of(seed, 0)
    return DEFAULT_VALUES.get(axis, "").format(seed=seed, seed1=seed + 1, seed2=seed + 2)


def parse_values(axis: str | None, text: str | None) -> list[str | int | float]:
    """Split ``text`` on commas (or semicolons, new lines) into axis values.

    Method and detector values stay strings; numbers become int or float. Anything that is not a
    number is passed on unchanged, so the core refuses it with the axis and value named.
    """
    tokens = [t.strip() for t in re.split(r"[,;\n]", text or "") if t.strip()]
    if axis in ("method", "ip_adapter_mode") or axis in DETECTOR_AXES:
        return tokens
    return [_number(token) for token in tokens]


def _number(token: str) -> str | int | float:
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token


def sweep_gpu_seconds(values: dict[str, Any]) -> int:
    """GPU seconds a sweep needs: every cell is one generation (``methods`` = cells), at its most steps."""
    x_axis, y_axis = values.get("x_axis"), values.get("y_axis")
    axes = {x_axis: parse_values(x_axis, values.get("x_values"))}
    if y_axis and y_axis != NO_AXIS:
        axes[y_axis] = parse_values(y_axis, values.get("y_values"))
    cells = math.prod(max(1, len(v)) for v in axes.values())
    steps = max([count_of(v, 0) for v in axes.get("num_inference_steps", [])], default=0)
    return estimate_gpu_seconds(
        steps=steps or count_of(values.get("num_inference_steps"), 25),
        methods=min(cells, MAX_CELLS),
        width=count_of(values.get("width"), 512),
        height=count_of(values.get("height"), 512),
    )


def plot_update(
    rows: list[dict[str, Any]], score: str | None, x_labels: list[str], x_title: str, color_title: str = "score"
) -> Any:
    """The line plot's value: one line per series (score, and Y value when there is a Y axis), only the chosen
    score's. The legend is set with the data: gradio's line plot keeps its old legend entries otherwise."""
    import pandas as pd

    chosen = [r for r in rows if score in (None, ALL_SCORES) or r["score"] == score]
    frame = pd.DataFrame(chosen, columns=["x", "series", "score", "value"])
    series = list(dict.fromkeys(r["series"] for r in chosen))
    return gr.update(
        value=frame, sort=x_labels, x_title=x_title, color_title=color_title, colors_in_legend=series or None
    )


def grid_file(grid: Image.Image, request: SweepRequest) -> str:
    """The finished grid served as a PNG named by its axes (``sweep-controlnet-conditioning-scale-by-method.png``),
    not gradio's ``image.png``."""
    axes = [request.x.name] + ([request.y.name] if request.y is not None else [])
    return save_pil_to_cache(grid, get_upload_folder(), name=file_stem("sweep " + " by ".join(axes)), format="png")


@dataclass
class SweepInputs:
    """The Sweep tab's widgets: photo, reference, base method, the two axes and the base method settings."""

    shared: SharedControls
    photo: ImageInput
    reference: ImageInput
    method: gr.Dropdown
    x_axis: gr.Dropdown
    x_values: gr.Textbox
    y_axis: gr.Dropdown
    y_values: gr.Textbox
    settings: MethodSettings

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs of the tab's event (the API's parameter names)."""
        return {
            **self.shared.inputs(SHARED_FIELDS),
            "photo": self.photo,
            "reference": self.reference,
            "method": self.method,
            "x_axis": self.x_axis,
            "x_values": self.x_values,
            "y_axis": self.y_axis,
            "y_values": self.y_values,
            **self.settings.inputs(),
        }


def sweep_request(tab: SweepInputs, values: dict[str, Any]) -> dict[str, Any]:
    """The sweep an event's values ask for (without its images); the core validates every cell."""
    y = values.get("y_axis")
    return {
        "base": {
            **tab.shared.read(values, SHARED_FIELDS),
            "methods": [str(values.get("method") or "").strip()],
            **tab.settings.read(values),
        },
        "x": {"name": values["x_axis"], "values": parse_values(values["x_axis"], values["x_values"])},
        "y": None if not y or y == NO_AXIS else {"name": y, "values": parse_values(y, values["y_values"])},
    }


def sweep(tab: SweepInputs, job: Job, values: dict[str, Any]) -> Iterator[tuple]:
    """Run the sweep: the grid as its cells finish, then the grid, the plot, the score menu, the fit table, a
    summary line and the plot's state. A stopped sweep keeps the cells that finished on screen."""
    reference = values["reference"]
    reference_image = load_image(reference) if reference is not None else None
    data = sweep_request(tab, values)
    planned = parse_sweep(data)
    total = len(planned.x.values) * (len(planned.y.values) if planned.y else 1)
    done: list[SweepCell] = []

    def work(publish: Callable[[Any], None]) -> SweepResult:
        return job.studio.sweep(data, values["photo"], reference_image, job.fraction, job.cancel, on_cell=publish)

    def partial(cells: list[SweepCell]) -> tuple:
        done.extend(cells)
        note = f"Cells done: {len(done)} of {total}…"
        return sweep_grid(planned, done) or gr.skip(), gr.skip(), gr.skip(), gr.skip(), note, gr.skip()

    result = yield from relay(while_running(work, job.cancel), partial)
    failed = [cell for cell in result.cells if cell.entry.result is None]
    for cell in failed:
        gr.Warning(in_toast(cell.entry.error or "could not run"), title=cell.label)
    if result.grid is None or result.scorecard is None:
        raise gr.Error("No cell could run, so there is no grid to show: " + in_toast(failed[0].entry.error or ""),
                       title="Nothing ran")  # fmt: skip
    x = result.request.x
    x_labels = [x.tick(value) for value in x.values]
    y = result.request.y
    color_title = f"score · {AXIS_LABELS[y.name]}" if y is not None else "score"
    state = {"rows": result.plot_rows(), "x_labels": x_labels, "x_title": AXIS_LABELS[x.name], "color": color_title}
    scores = list(dict.fromkeys(r["score"] for r in state["rows"]))
    card = result.scorecard
    text = f"{len(result.cells)} cells, {len(failed)} could not run." if failed else f"{len(result.cells)} cells."
    if card.matrix.notes:
        text += "\n\n" + "\n".join(f"- {note}" for note in card.matrix.notes)
    yield (
        grid_file(result.grid, result.request),
        plot_update(state["rows"], ALL_SCORES, x_labels, state["x_title"], color_title),
        gr.update(choices=[ALL_SCORES, *scores], value=ALL_SCORES),
        matrix_table(card.matrix, label=str, rows="Cell"),
        text,
        state,
    )


def _widgets(shared: SharedControls) -> SweepInputs:
    with gr.Row():
        photo = ImageInput(label="Structure photo (for ControlNet methods)", elem_id="sw-photo", height=200)
        reference = ImageInput(label="Reference image (optional, for IP-Adapter)", elem_id="sw-reference", height=200)
    photos = example_photos()
    gr.Examples(
        [[photos[0], photos[1]]] if len(photos) >= 2 else [],
        inputs=[photo, reference],
        label="Example (photo, reference)",
        cache_examples=False,
    )
    method = gr.Dropdown(
        [(method_label(m), m) for m in method_choices()],
        value="depth",
        allow_custom_value=True,  # any method string the core parses, e.g. depth:midas+ip_adapter
        label="Base method",
        info="Swept unless an axis is Method; type:detector picks a detector, + adds the IP-Adapter.",
        elem_id="sw-method",
    )
    with gr.Row():
        x_axis = gr.Dropdown(
            axis_choices(), value="controlnet_conditioning_scale", label="X axis (columns)", elem_id="sw-x-axis"
        )
        x_values = gr.Textbox(
            default_values("controlnet_conditioning_scale"), label="X values", info="Comma-separated.",
            max_length=MAX_VALUES_CHARS, elem_id="sw-x-values",
        )  # fmt: skip
    with gr.Row():
        y_axis = gr.Dropdown(axis_choices(optional=True), value=NO_AXIS, label="Y axis (rows)", elem_id="sw-y-axis")
        y_values = gr.Textbox(
            "", label="Y values", info="Comma-separated; empty for one row.", max_length=MAX_VALUES_CHARS,
            elem_id="sw-y-values",
        )  # fmt: skip
    with gr.Accordion("Base settings (every cell starts from them)", open=False):
        settings = method_settings(served_families(shared))
    # Picking an axis prefills a typical range (cheap, per browser: off the queue and out of the API).
    x_axis.change(default_values, [x_axis, shared.seed, shared.family], x_values, queue=False, api_visibility="private")
    y_axis.change(default_values, [y_axis, shared.seed, shared.family], y_values, queue=False, api_visibility="private")
    check_uploads(photo, reference)
    return SweepInputs(shared, photo, reference, method, x_axis, x_values, y_axis, y_values, settings)


def build_sweep_tab(studio: StudioHandle, shared: SharedControls) -> None:
    """The Sweep tab (API: ``/sweep``).

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls (every cell starts from them).
    """
    gr.Markdown(
        "**One method, one or two settings varied: see where structure fit saturates or the prompt gets lost.** "
        f"Pick an X axis (columns) and optionally a Y axis (rows), type their values separated by commas "
        f"(at most {MAX_AXIS_VALUES} per axis, {MAX_CELLS} cells). A method axis takes method strings, "
        "e.g. `depth, depth:midas, canny`. A type's strength axis (Canny strength × Depth strength) sets one "
        "ControlNet of a combined method such as canny+depth against the other; a type's detector axis against a "
        "method axis (`depth, depth@t2i`) is the preprocessor × model plot. Every cell uses the same seed unless "
        "seed is an axis."
    )
    tab = _widgets(shared)
    with gr.Row():
        run_button = gr.Button("Run sweep", variant="primary", elem_id="sw-run", elem_classes=RUN_BUTTON_CLASS)
        stop = gr.Button("Stop", variant="stop", elem_id="sw-stop")
    grid = gr.Image(
        label="Grid (download for full size)", type="pil", format="png", interactive=False,
        buttons=["download", "fullscreen"], elem_id="sw-grid",
    )  # fmt: skip
    with gr.Row():
        score = gr.Dropdown([ALL_SCORES], value=ALL_SCORES, label="Score to plot", scale=1, elem_id="sw-score")
    plot = gr.LinePlot(
        x="x", y="value", color="series", x_title="X axis", y_title="fit score", color_title="score",
        label="Fit along the X axis", elem_id="sw-plot",
    )  # fmt: skip
    matrix = gr.Dataframe(label="Fit of every cell (a clear lead per column highlighted)", interactive=False,
                          wrap=True, elem_id="sw-matrix")  # fmt: skip
    notes = gr.Markdown(elem_id="sw-notes")
    plotted = gr.State({"rows": [], "x_labels": [], "x_title": ""})
    score.change(
        lambda chosen, state: plot_update(
            state["rows"], chosen, state["x_labels"], state["x_title"], state.get("color", "score")
        ),
        [score, plotted], plot, queue=False, api_visibility="private",
    )  # fmt: skip

    def run_sweep(request: gr.Request, progress=PROGRESS, photo=None, reference=None, **values: Any):
        values.update(photo=photo, reference=reference)  # named so the API may leave them out
        with studio.job(TAB, request, progress) as job:
            yield from sweep(tab, job, values)

    shared.new_seed_on(run_button)  # before the run reads the seed
    sweep_run = wire_run(
        run_button,
        on_gpu(run_sweep, TAB, seconds=sweep_gpu_seconds),
        tab=TAB,
        status=notes,
        busy="Sweeping…",
        inputs_kwargs=tab.inputs(),
        outputs=[grid, plot, score, matrix, notes, plotted],
        api_name="sweep",
        api_description="An X/Y sweep of one method: the labelled grid, each fit score along X, and the fit table.",
        concurrency_id=GPU_QUEUE,
    )
    add_stop(stop, studio, TAB, [sweep_run], notes)
