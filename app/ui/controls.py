"""One ControlNet's controls (type, detector with its schema-built parameters, strength), used by several tabs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.engine.families import FAMILIES
from app.errors import StudioError, clipped
from app.preprocess import CONTROL_TYPES, DEFAULTS, REGISTRY
from app.recipes import RecipeControl
from app.request import ControlStrength, IPAdapterSettings, field_bounds
from app.ui.jobs import Job
from app.ui.widgets import DetectorControls, detector_choices, schema_slider

MODES = {"full": "Full", "style": "Style only", "layout": "Layout only", "redux": "Redux"}
"""How the reference steers: the IP-Adapter in every block, only InstantStyle's style or layout blocks, or FLUX.1
Redux's image tokens beside the prompt's."""


def mode_choices(families: Sequence[str]) -> list[tuple[str, str]]:
    """The image-prompt modes some served family takes; a mode not every one takes names those that do."""
    choices = []
    for mode, label in MODES.items():
        having = [FAMILIES[f].short for f in families if mode in FAMILIES[f].ip_modes()]
        if having:
            choices.append((label if len(having) == len(families) else f"{label} ({', '.join(having)})", mode))
    return choices


def served_families(shared) -> list[str]:
    """The families the page's Model selector offers."""
    return [value for _, value in shared.family.choices]


@dataclass
class ControlInputs:
    """The controls of one ControlNet on a tab; ``prefix`` keeps its event input names apart."""

    prefix: str
    control_type: gr.Radio
    detector: gr.Dropdown
    params: DetectorControls | None
    strength: gr.Slider
    allow_none: bool = True

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs for ``inputs_kwargs``."""
        named = {
            f"{self.prefix}control_type": self.control_type,
            f"{self.prefix}detector": self.detector,
            f"{self.prefix}strength": self.strength,
        }
        if self.params is not None:
            named.update(self.params.inputs())
        return named

    def read(self, values: dict[str, Any]) -> tuple[str, str, dict[str, Any], float]:
        """(control type, detector, detector parameters, strength) from an event's values."""
        detector = values[f"{self.prefix}detector"]
        params = self.params.read(values, detector) if self.params is not None else {}
        return values[f"{self.prefix}control_type"], detector, params, float(values[f"{self.prefix}strength"])

    def outputs(self) -> list[gr.components.Component]:
        """The controls :meth:`updates` sets, in order: type, detector, strength, then every detector parameter."""
        params = list(self.params.inputs().values()) if self.params is not None else []
        return [self.control_type, self.detector, self.strength, *params]

    def updates(self, control: RecipeControl | None) -> list[Any]:
        """Updates that show a recipe's control (its detector's parameters included), in :meth:`outputs` order.

        Args:
            control: The control to show; None leaves every control unchanged.
        """
        if control is None:
            return [gr.skip() for _ in self.outputs()]
        detector = control.resolved_detector
        # The detector's choices follow its type: set both, or the value may not be among the old choices.
        updates = [
            control.control_type,
            gr.update(choices=detector_choices(control.control_type, self.allow_none), value=detector),
            control.controlnet_conditioning_scale,
        ]
        if self.params is not None:
            updates += self.params.updates({detector: control.detector_params}, [detector])
        return updates


def control_inputs(prefix: str, control_type: str, with_params: bool = True, allow_none: bool = True) -> ControlInputs:
    """Control type, detector (its parameters built from its schema) and strength, wired to update each other.

    Args:
        prefix: Event input name prefix (e.g. ``second_``).
        control_type: The initially selected control type.
        with_params: Build the detector parameter controls (else detectors run on their defaults).
        allow_none: Offer the ``none`` detector (the photo is already a map).
    """
    with gr.Row():
        kind = gr.Radio(list(CONTROL_TYPES), value=control_type, label="Control type", elem_id=f"{prefix}control-type")
        detector = gr.Dropdown(
            detector_choices(control_type, allow_none),
            value=DEFAULTS[control_type],
            label="Detector",
            info="Makes the map from the photo; 'none' uses the upload as the map itself.",
            elem_id=f"{prefix}detector",
            # The choices follow the control type in the page; API clients may name any detector, and the
            # core refuses one that does not make this type's maps.
            allow_custom_value=True,
        )
    params = DetectorControls(list(REGISTRY), DEFAULTS[control_type], prefix) if with_params else None
    strength = schema_slider(ControlStrength, "controlnet_conditioning_scale", "Strength")

    def on_type(kind_value: str) -> Any:
        return gr.update(choices=detector_choices(kind_value, allow_none), value=DEFAULTS[kind_value])

    # ``input``, not ``change``: a recipe sets type and detector together, and must not have its detector reset.
    kind.input(on_type, inputs=kind, outputs=detector, queue=False, api_visibility="private")
    if params is not None and params.groups:
        detector.change(
            params.visibility, inputs=detector, outputs=list(params.groups.values()), queue=False,
            api_visibility="private",
        )  # fmt: skip
    return ControlInputs(prefix, kind, detector, params, strength, allow_none)


def compute_maps(job: Job, controls: list[tuple[Any, str, str, dict, float]], width: int, height: int, fit: str):
    """The map of each (photo, control type, detector, params, strength), in order, with gallery captions."""
    maps = []
    for photo, kind, detector, params, _ in controls:
        if photo is None:
            raise gr.Error(f"Upload a photo for the {kind} control first.", title="No photo")
        job.progress(None, desc=f"{kind} map ({detector})…")
        maps.append(job.studio.control_map(photo, detector, width, height, fit, params, control_type=kind))
    captions = [
        f"{kind} map · {m.detector} · {m.seconds:.2f} s{' (cached)' if m.cached else ''}"
        for (_, kind, *_), m in zip(controls, maps, strict=True)
    ]
    return maps, captions


STRENGTH_FIELDS = tuple(ControlStrength.model_fields)  # strength, guidance start, guidance end
UNIT_HEADERS = ["Control type", "Strength", "Guidance start", "Guidance end"]
"""The per-type table's columns: a type's own ControlNet settings; a blank cell takes the shared slider's value."""
MAX_UNIT_ROWS = 32  # a row per type, and room for blank rows a person adds in the table (gradio cannot fix the count)


def unit_rows(units: dict[str, Any]) -> list[list[str]]:
    """One row per control type for the per-type table: its own settings where it has them, else blank cells."""
    rows = []
    for kind in CONTROL_TYPES:
        own = units.get(kind)
        cells = ["" if own is None else f"{getattr(own, name):g}" for name in STRENGTH_FIELDS]
        rows.append([kind, *cells])
    return rows


def read_unit_rows(rows: Any, shared: dict[str, float]) -> dict[str, dict[str, Any]]:
    """``unit_controls`` from the per-type table: the rows with any value, blanks filled from ``shared``.

    A cell that is not a number is passed on as received, so the request's schema refuses it by field name.

    Raises:
        StudioError: a table that is not rows of a control type and three cells, or a type given twice.
    """
    if rows is None:
        return {}
    if not isinstance(rows, list) or len(rows) > MAX_UNIT_ROWS:
        raise StudioError(
            f"Each ControlNet its own strength: expected up to {MAX_UNIT_ROWS} rows of "
            f"[{', '.join(UNIT_HEADERS)}], received {clipped(repr(rows), 60)}."
        )
    units: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not isinstance(row, list | tuple) or len(row) != len(UNIT_HEADERS):
            raise StudioError(f"Each ControlNet its own strength: a row must be [{', '.join(UNIT_HEADERS)}], "
                              f"received {clipped(repr(row), 60)}.")  # fmt: skip
        kind, *cells = (str(cell).strip() if cell is not None else "" for cell in row)
        if not any(cells):
            continue
        if kind in units:
            raise StudioError(
                f"Each ControlNet its own strength: {clipped(repr(kind), 60)} is given twice; one row per type."
            )
        pairs = zip(STRENGTH_FIELDS, cells, strict=True)
        units[kind] = {name: _number(cell) if cell else shared[name] for name, cell in pairs}
    return units


def _number(cell: str) -> float | str:
    try:
        return float(cell)
    except ValueError:
        return cell


@dataclass
class MethodSettings:
    """What every method of a comparison or sweep shares: ControlNet strength and window (and each type's own,
    where it has one), IP-Adapter, fit."""

    strength: gr.Slider
    start: gr.Slider
    end: gr.Slider
    units: gr.Dataframe
    scale: gr.Slider
    mode: gr.Radio
    fit: gr.Radio

    def inputs(self) -> dict[str, gr.components.Component]:
        """Named inputs for ``inputs_kwargs`` (the API's parameter names)."""
        return {
            "controlnet_conditioning_scale": self.strength,
            "control_guidance_start": self.start,
            "control_guidance_end": self.end,
            "unit_controls": self.units,
            "ip_adapter_scale": self.scale,
            "ip_adapter_mode": self.mode,
            "fit": self.fit,
        }

    def read(self, values: dict[str, Any]) -> dict[str, Any]:
        """The ``control``, ``unit_controls``, ``ip_adapter`` and ``fit`` fields of a ``CompareRequest`` from an
        event's values."""
        control = {name: float(values[name]) for name in STRENGTH_FIELDS}
        return {
            "control": control,
            "unit_controls": read_unit_rows(values.get("unit_controls"), control),
            "ip_adapter": {"scale": float(values["ip_adapter_scale"]), "mode": values["ip_adapter_mode"]},
            "fit": values["fit"],
        }

    def outputs(self) -> list[gr.components.Component]:
        """The controls, in :meth:`updates` order."""
        return [self.fit, self.strength, self.start, self.end, self.units, self.scale, self.mode]

    def updates(self, request: Any) -> list[Any]:
        """Values for :meth:`outputs` from a ``CompareRequest`` (e.g. a loaded recipe)."""
        control, ip_adapter = request.control, request.ip_adapter
        return [
            request.fit,
            control.controlnet_conditioning_scale,
            control.control_guidance_start,
            control.control_guidance_end,
            unit_rows(request.unit_controls),
            ip_adapter.scale,
            ip_adapter.mode,
        ]


def method_settings(families: Sequence[str]) -> MethodSettings:
    """The shared method settings as two rows of controls, ranges from the request schema (image-prompt modes:
    those the served ``families`` take)."""
    with gr.Row():
        strength = schema_slider(ControlStrength, "controlnet_conditioning_scale")
        start = schema_slider(ControlStrength, "control_guidance_start")
        end = schema_slider(ControlStrength, "control_guidance_end")
    units = gr.Dataframe(
        unit_rows({}),
        headers=UNIT_HEADERS,
        datatype="str",
        type="array",
        row_count=len(CONTROL_TYPES),
        column_count=len(UNIT_HEADERS),
        static_columns=[0],
        label="Each ControlNet its own strength",
        show_label=True,
        max_height=440,
        elem_id="unit-controls",
    )
    gr.Markdown(
        "A type's own strength and window, for combined methods such as canny+depth (blank: the sliders above). "
        "The Sweep sets two types' strengths against each other.",
    )
    with gr.Row():
        scale = schema_slider(IPAdapterSettings, "scale")
        mode = gr.Radio(
            mode_choices(families), value=field_bounds(IPAdapterSettings, "mode")["default"], label="IP-Adapter mode"
        )
        fit = gr.Radio(["crop", "pad"], value="crop", label="Fit photo to size")
    return MethodSettings(strength, start, end, units, scale, mode, fit)
