"""Compare tab: one prompt, one seed, one photo, one reference → every method side by side, with its measured fit.

The tab's widgets are one :class:`CompareInputs`; the request, recipe, preview and comparison are module-level
functions of those widgets and an event's values, tested without a browser. :func:`build_compare_tab` only lays
the widgets out and wires the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from PIL import Image

from app.controls import CONTROLS, DEFAULT_TYPES, adapted_types, part_name
from app.engine.families import FAMILIES
from app.errors import StudioError
from app.eval.runner import comparison_rows
from app.fit import GUIDE, method_label
from app.fit.decision import how_sure, leads, margins_for
from app.images import load_image
from app.outputs import Outputs, outputs_for
from app.preprocess import CONTROL_TYPES, DEFAULTS, detectors_for
from app.recipes import Recipe, recipe_from_compare
from app.request import CommonSettings
from app.request.compare import (
    LEFT_OUT,
    MAX_SEED_COUNT,
    CompareEntry,
    default_methods,
    parse_compare_request,
    parse_method,
    uses_ip_adapter,
)
from app.ui.as_code import comparison_code_view, show_comparison_code
from app.ui.controls import MethodSettings, method_settings, served_families
from app.ui.gallery import downloadable, file_stem, results_gallery
from app.ui.image_input import ImageInput
from app.ui.jobs import GPU_QUEUE, PROGRESS, Job, StudioHandle, check_uploads, on_gpu, preview_gpu_seconds
from app.ui.live import previews_on, while_running
from app.ui.plain import in_toast, plain
from app.ui.recipe_hooks import TabRecipe, asset_update, image_ref, tagged, try_recipe
from app.ui.runs import RUN_BUTTON_CLASS, add_stop, stopped_tiles, wire_run
from app.ui.shared import SharedControls, example_photos, placeholder, settings_caption, side_by_side
from app.ui.widgets import DetectorControls, detector_choices

if TYPE_CHECKING:
    from app.fit import FitMatrix

TAB = "compare"
METHOD_CHOICES = (
    "text",
    *CONTROL_TYPES,
    "ip_adapter",
    *(f"{kind}+ip_adapter" for kind in CONTROL_TYPES),
    *(part_name(kind, adapter=True) for kind in adapted_types()),
)
"""The methods the checkboxes offer: each alone, each control type with the IP-Adapter, then each type's map through
its T2I-Adapter (SDXL), to set beside its ControlNet on the same map and seed."""
SHARED_FIELDS = tuple(CommonSettings.model_fields)  # a comparison makes one image per method
AUTO = "auto"
"""The Compare tab's default mode: the studio's own default (batched on a GPU, exact elsewhere)."""
STOPPED_COMPARISON = (
    "**Stopped.** The methods that finished stay above; the others did not run, and nothing was scored."
)
BEST_STYLE = "background-color: #bbf7d0; color: #14532d; font-weight: 700"
CONFIRM_SEEDS = 4


class Grid:
    """The comparison grid: one row of results per seed (methods × seeds), the map or reference that drove each
    method below them.

    Every result carries the recipe of exactly that image: the comparison on that seed alone, labelled with its
    column's method.
    """

    def __init__(
        self,
        methods: list[str],
        width: int,
        height: int,
        reference: Image.Image | None,
        recipe: Recipe | None = None,
        seeds: list[int] | None = None,
    ) -> None:
        self.methods = methods
        self.seeds: list[int | None] = list(seeds) if seeds else [None]  # the request's: seed, seed+1, …
        self.seed = self.seeds[0]
        self.width, self.height = width, height
        self.reference = reference
        self.recipe = recipe
        self.rows: list[list[tuple[Image.Image, str]]] = [
            [(placeholder("pending…", width, height), f"{method_label(m)} · pending") for m in methods]
            for _ in self.seeds
        ]
        self.finished = [False] * len(methods)
        self.drivers: list[tuple[Image.Image, str]] = [self._driver_placeholder(m) for m in methods]

    @property
    def results(self) -> list[tuple[Image.Image, str]]:
        """The first seed's row."""
        return self.rows[0]

    def _driver_placeholder(self, method: str) -> tuple[Image.Image, str]:
        if method == "text":
            return placeholder("no map: prompt only", self.width, self.height), "Text-only: no map, the prompt alone"
        return placeholder("map pending…", self.width, self.height), f"{method_label(method)}: map pending"

    def preview(self, index: int, image: Image.Image, done: int, total: int) -> None:
        """Show a running method's live preview in its first seed's tile (until its entry arrives)."""
        if not self.finished[index]:
            self.rows[0][index] = (image, f"{method_label(self.methods[index])} · step {done}/{total} (preview)")

    def add(self, index: int, entry: CompareEntry, request: dict[str, Any]) -> None:
        """Fill one column with a finished entry (its image on each seed) or its error."""
        self.finished[index] = True
        label = entry.method.label
        if entry.result is not None:
            result = entry.result
            each = result.seconds / len(result.images)
            model = FAMILIES[request["family"]].short
            for row, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
                if row < len(self.rows):
                    self.rows[row][index] = (image, f"{label} · seed {seed} · {model} · {each:.1f} s")
        else:
            text = "left out" if (entry.error or "").startswith(LEFT_OUT) else "could not run"
            for row in self.rows:
                row[index] = (placeholder(text, self.width, self.height), f"{label}: {entry.error}")
        drivers = [m.map for m in entry.maps]
        captions = [f"{m.control_type} map ({m.detector})" for m in entry.maps]
        if entry.method.ip_adapter and self.reference is not None:
            drivers.append(self.reference)
            ip = request["ip_adapter"]
            captions.append(f"reference (scale {ip['scale']:g}, {ip['mode']})")
        if drivers:
            self.drivers[index] = (side_by_side(drivers), " + ".join(captions))
        elif entry.method.controls:
            self.drivers[index] = (placeholder("no map", self.width, self.height), f"{label}: no map")
        elif entry.method.ip_adapter:
            self.drivers[index] = (placeholder("no reference", self.width, self.height), f"{label}: no reference")

    def stop(self) -> None:
        """Mark every method that has not finished as stopped (its tiles and its map), as Stop's tidy-up draws it:
        a method finishing after Stop must not bring the others' pending tiles back."""
        for index, method in enumerate(self.methods):
            if self.finished[index]:
                continue
            label = method_label(method)
            for row in self.rows:
                row[index] = (placeholder("stopped", self.width, self.height), f"{label} · stopped")
            if self.drivers[index][1].endswith("map pending"):
                self.drivers[index] = (placeholder("not run", self.width, self.height), f"{label}: not run (stopped)")

    def update(self) -> list[tuple[Any, str]]:
        """The gallery value, results then drivers (the gallery has one column per method, see ``columns``).

        Finished cells are served as PNGs named after method and seed (``canny-seed42.png``, ``canny-map.png``)
        and carry the recipe; pending tiles and live previews do not.
        """
        cells = [cell for row in self.rows for cell in row] + self.drivers
        methods = self.methods * (len(self.rows) + 1)
        seeds = [seed for seed in self.seeds for _ in self.methods] + [self.seed] * len(self.methods)
        stems = [file_stem(m, seed) for seed in self.seeds for m in self.methods]
        stems += [file_stem(m, kind="map") for m in self.methods]
        final = self.finished * len(self.rows) + [True] * len(self.methods)
        return [
            downloadable(tagged([cell], self._recipe_on(seed), seeds=[seed], method=method), [stem])[0]
            if done
            else cell
            for cell, method, seed, stem, done in zip(cells, methods, seeds, stems, final, strict=True)
        ]

    def _recipe_on(self, seed: int | None) -> Recipe | None:
        """The comparison on ``seed`` alone: what restores that row's images exactly."""
        if self.recipe is None or seed is None or self.recipe.compare is None or len(self.seeds) == 1:
            return self.recipe
        return self.recipe.model_copy(
            update={"compare": self.recipe.compare.model_copy(update={"seed": seed, "seed_count": 1})}
        )


def matrix_table(matrix: FitMatrix, label: Callable[[str], str] = method_label, rows: str = "Method") -> Any:
    """The fit matrix as a table with each column's clear leaders highlighted (a pandas Styler).

    The highlighted cells are the decision's leads (:func:`app.fit.decision.leads`), the very ones the advice
    names: a score that beats text-only by less than the advice's margin, a tie all round, or a cost that is an
    equal share of one batched pass (or was not measured) is never coloured.

    Args:
        matrix: The scored matrix.
        label: Row name → shown label (sweep rows are already labels: pass ``str``).
        rows: The first column's header: what a row is (a method, or a sweep's cell).
    """
    import pandas as pd

    headers = [rows, *matrix.headers()[1:]]
    frame = pd.DataFrame(
        [[label(row[0]), *row[1:]] for row in matrix.to_rows()],
        columns=headers,
    )
    if len(matrix.methods) < 2:
        return frame
    best = leads(matrix)

    def styles(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for position, column in enumerate(matrix.columns, start=1):
            for row, method in enumerate(matrix.methods):
                if method in best.get(column.name, []):
                    css.iat[row, position] = BEST_STYLE
        return css

    return frame.style.apply(styles, axis=None)


@dataclass
class CompareInputs:
    """The Compare tab's widgets: photo, reference, methods, shared method settings, detectors and their parameters."""

    shared: SharedControls
    photo: ImageInput
    reference: ImageInput
    methods: gr.CheckboxGroup
    seed_count: gr.Slider
    settings: MethodSettings
    detectors: dict[str, gr.Dropdown]
    params: dict[str, DetectorControls]
    batching: gr.Radio

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs of the tab's events (the API's parameter names, e.g. ``canny__low_threshold``)."""
        return {
            **self.shared.inputs(SHARED_FIELDS),
            "photo": self.photo,
            "reference": self.reference,
            "methods": self.methods,
            "seed_count": self.seed_count,
            "batching": self.batching,
            **self.settings.inputs(),
            **{f"{kind}_detector": dropdown for kind, dropdown in self.detectors.items()},
            **{name: control for controls in self.params.values() for name, control in controls.inputs().items()},
        }

    def map_inputs(self) -> list[gr.components.Component]:
        """The inputs the previewed maps are made from (the selected methods say which maps)."""
        params = [control for controls in self.params.values() for control in controls.inputs().values()]
        made_from = [self.photo, self.methods, self.shared.width, self.shared.height, self.settings.inputs()["fit"]]
        return [*made_from, *self.detectors.values(), *params]

    def outputs(self) -> list[gr.components.Component]:
        """The widgets a recipe sets, in :func:`recipe_updates` order."""
        params = [control for controls in self.params.values() for control in controls.inputs().values()]
        return [
            self.photo, self.reference, self.methods, self.seed_count, self.batching, *self.settings.outputs(),
            *self.detectors.values(),
            *params,
        ]  # fmt: skip


def detector_params(tab: CompareInputs, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The parameters of each type's chosen detector (the ones shown), by detector name."""
    chosen = {values[f"{kind}_detector"]: tab.params[kind] for kind in CONTROL_TYPES}
    return {name: controls.read(values, name) for name, controls in chosen.items() if name in controls.params}


def compare_request(tab: CompareInputs, values: dict[str, Any]) -> dict[str, Any]:
    """The comparison an event's values ask for (without its images)."""
    return {
        **tab.shared.read(values, SHARED_FIELDS),
        "methods": list(values["methods"] or []),
        "seed_count": values.get("seed_count", 1),
        "batching": None if values.get("batching") in (None, AUTO) else values["batching"],
        "detectors": {kind: values[f"{kind}_detector"] for kind in CONTROL_TYPES},
        "detector_params": detector_params(tab, values),
        **tab.settings.read(values),
    }


def recipe_of(tab: CompareInputs, values: dict[str, Any], reference: Any = None) -> Recipe:
    """The recipe of an event's values (``reference``: an image reference that overrides the upload's)."""
    return recipe_from_compare(
        compare_request(tab, values),
        structure=image_ref(values["photo"]),
        reference=reference if reference is not None else image_ref(values["reference"]),
    )


def recipe_updates(tab: CompareInputs, recipe: Recipe) -> list[Any]:
    """Widget updates that show a recipe, in :meth:`CompareInputs.outputs` order."""
    saved = recipe.compare
    # A recipe may name methods the checkboxes do not offer (e.g. pose:openpose): offer them too.
    offered = list(dict.fromkeys([*METHOD_CHOICES, *saved.methods]))
    chosen = set(saved.detectors.values()) | set(saved.detector_params)
    return [
        asset_update(recipe.images.structure),
        asset_update(recipe.images.reference),
        gr.update(choices=[(method_label(m), m) for m in offered], value=list(saved.methods)),
        saved.seed_count,
        saved.batching or AUTO,
        *tab.settings.updates(saved),
        *(saved.detectors.get(kind, DEFAULTS[kind]) for kind in CONTROL_TYPES),
        *(update for controls in tab.params.values() for update in controls.updates(saved.detector_params, chosen)),
    ]


def preview_types(methods: list[str] | None) -> list[str]:
    """The control types whose maps a preview makes: those the selected methods use (in registry order), else
    those a new comparison uses (nothing selected needs a map yet)."""
    used = set()
    for text in methods or []:
        try:
            used.update(kind for kind, _ in parse_method(text).controls)
        except StudioError:  # an unknown method is refused by name when the comparison runs
            continue
    return [t for t in CONTROL_TYPES if t in used] or list(DEFAULT_TYPES)


def preview(tab: CompareInputs, job: Job, values: dict[str, Any]) -> list:
    """The maps the selected methods use, side by side and captioned (a failed detector shows why)."""
    if values["photo"] is None:
        raise gr.Error("Upload a photo first: the maps are made from it.", title="No photo")
    data = tab.shared.read(values, SHARED_FIELDS)
    types = preview_types(values.get("methods"))
    names = [values[f"{kind}_detector"] for kind in types]
    job.progress(None, desc=f"Making the {', '.join(types)} maps…")
    items = job.studio.preview_maps(
        values["photo"], names, data["width"], data["height"], values["fit"], detector_params(tab, values)
    )
    gallery = []
    for item in items.values():
        if item.error:
            gr.Warning(in_toast(item.error), title=f"{item.control_type} map")
            gallery.append((placeholder("no map", data["width"], data["height"]), f"{item.detector}: {item.error}"))
        else:
            gallery.append((item.map, f"{item.control_type} map · {item.detector} · {item.seconds:.2f} s"))
    return tagged(gallery, try_recipe(lambda: recipe_of(tab, values), warn=False))


def compare(tab: CompareInputs, job: Job, values: dict[str, Any], outputs: Outputs | None = None) -> Iterator[tuple]:
    """Stream the comparison: the grid as each method finishes, then the fit table and the advice; with ``outputs``,
    its rows are kept for the Report tab."""
    if values.get("batching") in (None, AUTO):  # the recipe records the mode that ran, so it reproduces anywhere
        values = {**values, "batching": job.studio.default_batching()}
    data = compare_request(tab, values)
    seeds = parse_compare_request(data).seeds  # refuse bad fields by name before anything is drawn at their size
    reference_image = load_image(values["reference"]) if values["reference"] is not None else None
    recipe = try_recipe(lambda: recipe_of(tab, values, reference_image))
    view = Grid(data["methods"], data["width"], data["height"], reference_image, recipe, seeds)
    shared_settings = f"Every method runs on {settings_caption(data, data['seed'])}."
    yield view.update(), None, f"Running the comparison… {shared_settings}"
    entries: list[CompareEntry] = []
    live = previews_on(values)

    def work(publish: Callable[[Any], None]) -> None:
        shown = (lambda index, image, done, total: publish((index, image, done, total))) if live else None
        run = job.studio.compare(data, values["photo"], reference_image, job.fraction, job.cancel, shown)
        for entry in run:
            publish(entry)

    for batch in while_running(work, job.cancel):
        finished = False
        for event in batch:
            if isinstance(event, CompareEntry):
                view.add(len(entries), event, data)
                entries.append(event)
                finished = True
                if event.error and not event.error.startswith(LEFT_OUT):  # a left-out method is said in its tile
                    gr.Warning(in_toast(event.error), title=event.method.label)
            else:
                view.preview(*event)
        if job.cancel.is_set():
            if not finished:
                continue  # Stop has drawn the stopped grid: a preview in flight must not draw pending tiles back
            view.stop()  # a method that finished after Stop: the others stay stopped, not pending
        yield view.update(), gr.skip(), gr.skip()
    if not any(e.result is not None for e in entries):
        yield view.update(), None, "No method could run, so there is nothing to score." + did_not_run(entries, values)
        return
    job.progress(None, desc="Scoring fit…")
    card = job.studio.score(entries, data, reference_image)
    advice_text = card.verdict.markdown + did_not_run(entries, values)
    if card.matrix.notes:
        advice_text += "\n\n" + "\n".join(f"- {note}" for note in card.matrix.notes)
    advice_text += f"\n\n{how_sure(card.matrix.seeds, margins_for(card.matrix.family))}"
    advice_text += per_seed_scores(card.matrix)
    advice_text += f"\n\n{shared_settings.replace('runs', 'ran')}"
    if outputs is not None:
        advice_text += f"\n\n{_kept(outputs, entries, card.matrix, data)}"
    yield view.update(), matrix_table(card.matrix), advice_text


def _kept(outputs: Outputs, entries: list[CompareEntry], matrix: FitMatrix, data: dict[str, Any]) -> str:
    """Keep the comparison's rows for the Report tab; the line that says where (or why not)."""
    try:
        path = outputs.keep_rows(comparison_rows(entries, matrix, data, "photo"), data["prompt"][:40] or "comparison")
    except StudioError as error:
        return f"**{plain(str(error))}**"
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    return f"Scores kept in `{plain(str(shown))}`: the Report tab reopens them after a reload."


def per_seed_scores(matrix: FitMatrix) -> str:
    """Every fit score on every seed, in a collapsed block of the advice (empty for one seed)."""
    if matrix.seeds < 2:
        return ""
    columns = [c for c in matrix.columns if c.kind != "cost"]
    head = "| Method | Seed | " + " | ".join(c.label for c in columns) + " |"
    rule = "|---|---|" + "---|" * len(columns)
    lines = []
    for method in matrix.methods:
        for row in range(matrix.seeds):
            cells = []
            for column in columns:
                sample = matrix.sample(method, column.name)
                value = sample[row] if row < len(sample) else None
                cells.append(column.format(value))
            lines.append(f"| {plain(method_label(method))} | +{row} | " + " | ".join(cells) + " |")
    table = "\n".join([head, rule, *lines])
    return f"\n\n<details><summary>Per-seed scores</summary>\n\n{table}\n\n</details>"


def did_not_run(entries: list[CompareEntry], values: dict[str, Any]) -> str:
    """The methods the verdict could not weigh, each with why, and the IP-Adapter when it was not compared for
    want of a reference (Markdown; empty when there is nothing to say)."""
    lines = [f"- **{plain(e.method.label)}**: {plain(e.error or 'did not run')}" for e in entries if e.result is None]
    if values.get("reference") is None and not any(e.method.ip_adapter for e in entries):
        lines.append("- **IP-Adapter**: not compared, it needs a reference image; add one to compare it too.")
    return "\n\nNot in this verdict:\n" + "\n".join(lines) if lines else ""


def with_ip_adapter(chosen: list[str] | None, max_methods: int) -> list[str]:
    """The selection once a reference is given: IP-Adapter joins unless an IP-Adapter method is chosen already
    (or the selection is full)."""
    chosen = list(chosen or [])
    if any(uses_ip_adapter(m) for m in chosen) or len(chosen) >= max_methods:
        return chosen
    return [*chosen, "ip_adapter"]


def without_ip_adapter(chosen: list[str] | None) -> list[str]:
    """The selection once the reference is removed: the methods that can still run."""
    return [m for m in chosen or [] if not uses_ip_adapter(m)]


def _widgets(shared: SharedControls, max_methods: int, max_seeds: int = MAX_SEED_COUNT) -> CompareInputs:
    """The Compare tab's inputs, laid out in page order."""
    return _choices(shared, *_images(), max_methods, max_seeds)


def _images() -> tuple[ImageInput, ImageInput]:
    """The photo and the reference, side by side: what a comparison is made from, first on the tab."""
    with gr.Row():
        photo = ImageInput(label="Photo (structure source)", elem_id="cmp-photo", height=220)
        reference = ImageInput(label="Reference image (optional, for IP-Adapter)", elem_id="cmp-reference", height=220)
    return photo, reference


def _choices(
    shared: SharedControls, photo: ImageInput, reference: ImageInput, max_methods: int, max_seeds: int = MAX_SEED_COUNT
) -> CompareInputs:
    """The rest of the inputs, below the results (long by design: one component after another, each with its
    label, range and id; no logic)."""
    photos = example_photos()
    methods = gr.CheckboxGroup(
        [(method_label(m), m) for m in METHOD_CHOICES],
        value=default_methods(reference=False),  # IP-Adapter joins when a reference is given
        label=f"Methods (at most {max_methods})",
        info="IP-Adapter methods need the reference image; a method whose image is missing is left out and says so. "
        "T2I-Adapter methods apply the same map as their ControlNet, on SDXL.",
        elem_id="cmp-methods",
    )
    seed_count = gr.Slider(
        1,
        max_seeds,
        value=1,
        step=1,
        label="Seeds per method",
        info="Each method on seeds seed, seed+1, …: with several, the verdict tests each lead on the same seeds and "
        "says how sure it is.",
        elem_id="cmp-seeds",
    )
    with_reference = default_methods(reference=True)
    gr.Examples(
        [
            [photos[0], photos[1], "an astronaut portrait, oil painting", with_reference],
            [photos[2], photos[0], "a cat in a spacesuit", with_reference],
        ]
        if len(photos) >= 3
        else [],
        inputs=[photo, reference, shared.prompt, methods],
        label="Examples (photo, reference, prompt, methods)",
        cache_examples=False,
    )
    # The selection follows the reference as a person gives or removes it (not as a recipe loads: it keeps its own).
    reference.upload(
        lambda chosen: with_ip_adapter(chosen, max_methods), methods, methods, queue=False, api_visibility="private"
    )
    reference.clear(lambda chosen: without_ip_adapter(chosen), methods, methods, queue=False, api_visibility="private")
    with gr.Accordion("Detectors and strengths", open=False):
        with gr.Row():
            detectors = {
                kind: gr.Dropdown(
                    detector_choices(kind, allow_none=False), value=DEFAULTS[kind], label=f"{kind} detector"
                )
                for kind in CONTROL_TYPES
            }
        # Each type's chosen detector shows its parameters, built from its schema (input names: canny__low_threshold).
        params = {kind: DetectorControls(detectors_for(kind), DEFAULTS[kind]) for kind in CONTROL_TYPES}
        settings = method_settings(served_families(shared))
        batching = gr.Radio(
            [
                ("Auto: batched on a GPU, exact elsewhere", AUTO),
                ("Batched: every method in one pass", "batched"),
                ("Exact: one run per method", "exact"),
            ],
            value=AUTO,
            label="How the methods run",
            info="Batched is faster on a GPU and matches exact runs within a few pixel levels; exact gives each "
            "method the very pixels of its solo run.",
            elem_id="cmp-batching",
        )
    for kind, controls in params.items():
        if controls.groups:
            detectors[kind].change(
                controls.visibility, detectors[kind], list(controls.groups.values()), queue=False,
                api_visibility="private",
            )  # fmt: skip
    check_uploads(photo, reference)
    return CompareInputs(shared, photo, reference, methods, seed_count, settings, detectors, params, batching)


def build_compare_tab(studio: StudioHandle, shared: SharedControls) -> TabRecipe:
    """The Compare tab (API: ``/preview_all_maps``, ``/compare``).

    Long by design: a Blocks builder lays its components out in page order and wires their events where they are
    made; what each event does lives in the module's functions.

    Args:
        studio: The process-wide studio handle.
        shared: The shared prompt, seed and sampling controls.

    Returns:
        The tab's recipe hooks.
    """
    gr.Markdown(
        "**Every method side by side on one prompt and seed.** The photo gives structure "
        f"({', '.join(spec.description for spec in CONTROLS.values())}), the optional reference the look "
        "(IP-Adapter); the table measures the fit."
    )
    # The photos, the action and the results first (in view at 1280×900); the methods and settings below them.
    photo, reference = _images()
    with gr.Row():
        preview_button = gr.Button("Preview maps", elem_id="cmp-preview")
        run_button = gr.Button("Compare", variant="primary", elem_id="cmp-run", elem_classes=RUN_BUTTON_CLASS)
        stop = gr.Button("Stop", variant="stop", elem_id="cmp-stop")
        # After a one-seed verdict: the same comparison on 4 seeds (maps and prompt encodings come from the caches).
        confirm_seeds = min(CONFIRM_SEEDS, studio.settings.max_seeds)  # a Space may allow fewer
        confirm = gr.Button(f"Confirm with {confirm_seeds} seeds", visible=False, elem_id="cmp-confirm")
    grid = results_gallery(
        "Results (top) and what drove each (below)", elem_id="cmp-grid", columns=len(default_methods(False))
    )
    maps_view = results_gallery("Maps the selected methods use", elem_id="cmp-maps", columns=3)
    matrix = gr.Dataframe(
        headers=["Method", "Fit scores and costs appear here after a comparison"],
        label="Fit: ↑ higher fits better (scores 0–1, cosines −1–1), ↓ lower costs less; a clear lead is highlighted",
        interactive=False,
        wrap=True,  # headers wrap instead of being cut ("Model we…")
        elem_id="cmp-matrix",
    )
    advice = gr.Markdown(elem_id="cmp-advice")
    outputs = outputs_for(studio.settings.output_dir)
    tab = _choices(shared, photo, reference, studio.settings.max_methods, studio.settings.max_seeds)
    code_chooser, code = comparison_code_view("cmp-code")
    with gr.Accordion("When each method fits", open=False):
        gr.Markdown(GUIDE)
    # One gallery column per method, so each result sits above what drove it (kept out of the API's values).
    tab.methods.change(
        lambda chosen: gr.update(columns=max(1, len(chosen or []))), tab.methods, grid, queue=False,
        api_visibility="private",
    )  # fmt: skip

    def run_preview(request: gr.Request, progress=PROGRESS, photo=None, reference=None, **values: Any):
        values.update(photo=photo, reference=reference)  # named so the API may leave them out
        with studio.job(TAB, request, progress) as job:
            return preview(tab, job, values)

    def run_compare(request: gr.Request, progress=PROGRESS, photo=None, reference=None, **values: Any):
        values.update(photo=photo, reference=reference)
        with studio.job(TAB, request, progress) as job:
            yield from compare(tab, job, values, outputs)

    preview_run = wire_run(
        preview_button,
        on_gpu(run_preview, TAB, seconds=preview_gpu_seconds),
        tab=TAB,
        status=advice,
        busy="Making maps…",
        clear_status=False,
        stale=[maps_view],
        stale_when=tab.map_inputs(),
        inputs_kwargs=tab.inputs(),
        outputs=[maps_view],
        api_name="preview_all_maps",
        api_description="The maps of the photo that the selected methods use, together, before generating.",
        concurrency_id=GPU_QUEUE,
    )
    shared.new_seed_on(run_button)  # before the run reads the seed
    compare_run = wire_run(
        run_button,
        on_gpu(run_compare, TAB),
        tab=TAB,
        status=advice,
        busy="Comparing…",
        inputs_kwargs=shared.run_inputs(tab.inputs()),
        outputs=[grid, matrix, advice],
        api_name="compare",
        api_description="Every selected method on the same seed; streams the grid, then the fit table and advice.",
        concurrency_id=GPU_QUEUE,
    )
    add_stop(
        stop, studio, TAB, [preview_run, compare_run], advice, message=STOPPED_COMPARISON,
        tidy=(grid, stopped_tiles),
    )  # fmt: skip
    compare_run.event.then(
        lambda seeds: gr.update(visible=seeds == 1 and confirm_seeds > 1), tab.seed_count, confirm, queue=False,
        api_visibility="private",
    )  # fmt: skip
    show_comparison_code(compare_run, code, code_chooser, tab.inputs(), lambda values: recipe_of(tab, values))
    confirm.click(lambda: (confirm_seeds, gr.update(visible=False)), None, [tab.seed_count, confirm], queue=False,
                  api_visibility="private").then(
        None, js="() => { window.studioKeepSeed = true; document.querySelector('#cmp-run').click() }"
    )  # fmt: skip
    return TabRecipe(
        TAB,
        tab.inputs(),
        lambda values, reference=None: recipe_of(tab, values, reference),
        outputs=tab.outputs(),
        from_recipe=lambda recipe: recipe_updates(tab, recipe),
        results=[(compare_run, grid)],
    )
