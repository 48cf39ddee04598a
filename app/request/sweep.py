"""Sweeps (X/Y grids): one comparison setting varied along one or two axes.

An axis names one setting and the values it takes. A ``method`` axis takes
method strings, so a method with a detector (``depth:midas``) is one value
and method/detector pairs can be swept like anything else. Every cell is a
one-method comparison built from the base request, validated by the same
schema, so an axis value out of bounds is refused before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image
from pydantic import Field, PrivateAttr, model_validator

from app.controls import CONTROL_TYPES, CONTROLS, method_label, part_name
from app.errors import StudioError
from app.grid import labelled_grid
from app.request import StrictModel, validated
from app.request.compare import CompareEntry, CompareRequest, Scorecard, parse_method
from app.request.labels import register_titles

UNIT_AXES = {f"{name}_strength": name for name in CONTROL_TYPES}
"""One control type's own strength (``canny_strength``): two of them sweep a combined method's units against each
other, as A1111's X/Y/Z plot does with a ControlNet unit per axis."""
DETECTOR_AXES = {f"{name}_detector": name for name in CONTROL_TYPES}
"""One control type's detector (``softedge_detector``: hed, pidinet): against a ``method`` axis (``depth``,
``depth@t2i``) it is the preprocessor × model plot people ask A1111 for."""
TYPE_AXES = {**UNIT_AXES, **DETECTOR_AXES}
"""The axes that set one control type, which the swept method must then use."""
AxisName = Literal[  # type: ignore[valid-type]  # the fixed settings, then a strength axis per registered type
    (
        "method",
        "controlnet_conditioning_scale",
        "control_guidance_end",
        "ip_adapter_scale",
        "ip_adapter_mode",
        "guidance_scale",
        "num_inference_steps",
        "seed",
        *UNIT_AXES,
        *DETECTOR_AXES,
    )
]
MAX_AXIS_VALUES = 8
MAX_CELLS = 16

AXIS_LABELS = {
    "method": "Method",
    "controlnet_conditioning_scale": "ControlNet strength",
    "control_guidance_end": "ControlNet guidance end",
    "ip_adapter_scale": "IP-Adapter scale",
    "ip_adapter_mode": "IP-Adapter mode",
    "guidance_scale": "Guidance scale",
    "num_inference_steps": "Steps",
    "seed": "Seed",
    **{axis: f"{CONTROLS[name].label} strength" for axis, name in UNIT_AXES.items()},
    **{axis: f"{CONTROLS[name].label} detector" for axis, name in DETECTOR_AXES.items()},
}


class Axis(StrictModel):
    """One swept setting and its values, in the order they are drawn."""

    name: AxisName = Field(title="setting", description="The setting to vary.")
    values: list[str | float | int] = Field(
        title="values",
        min_length=1,
        max_length=MAX_AXIS_VALUES,
        description="Values it takes (method strings for 'method').",
    )

    _free: frozenset[str] = PrivateAttr(default=frozenset())
    """For a method axis, the control types whose detector the other axis sets: its labels do not name one."""

    def label(self, value: Any) -> str:
        """A cell label such as ``ControlNet strength 0.5`` or ``Depth (midas)``."""
        if self.name == "method":
            return self.tick(value)
        return f"{AXIS_LABELS[self.name]} {self.tick(value)}"

    def tick(self, value: Any) -> str:
        """The value alone, as a plot's tick under an axis titled with the setting: ``0.5``, ``Depth (midas)``."""
        if self.name == "method":
            method = parse_method(str(value))
            if not self._free:
                return method.label
            parts = [part_name(t, None if t in self._free else d, t in method.adapters) for t, d in method.controls]
            return method_label("+".join(parts + ["ip_adapter"] * method.ip_adapter) or "text")
        return f"{value:g}" if isinstance(value, float) else str(value)


class SweepRequest(StrictModel):
    """A base comparison (its first method is the one swept unless an axis is ``method``) and one or two axes."""

    base: CompareRequest = Field(description="Settings every cell starts from.")
    x: Axis = Field(title="X axis", description="Varies along columns.")
    y: Axis | None = Field(None, title="Y axis", description="Varies along rows (optional).")

    @model_validator(mode="after")
    def _distinct_and_small(self) -> SweepRequest:
        if self.y is not None and self.y.name == self.x.name:
            raise ValueError(f"x and y must vary different settings, both received {self.x.name!r}")
        cells = len(self.x.values) * (len(self.y.values) if self.y else 1)
        if cells > MAX_CELLS:
            raise ValueError(f"a sweep may have at most {MAX_CELLS} cells, received {cells}")
        for axis, other in ((self.x, self.y), (self.y, self.x)):
            if axis is not None and other is not None and axis.name == "method" and other.name in DETECTOR_AXES:
                axis._free = frozenset({DETECTOR_AXES[other.name]})
        return self


register_titles(Axis, SweepRequest, method=AXIS_LABELS["method"], ip_adapter_scale=AXIS_LABELS["ip_adapter_scale"])


def apply_axis(request: CompareRequest, axis: str, value: Any) -> CompareRequest:
    """A copy of ``request`` with one axis set to ``value``, validated by the comparison schema.

    Raises:
        StudioError: naming the axis, the value and what is allowed.
    """
    data = request.model_dump(mode="json")
    if axis == "method":
        data["methods"] = [str(value)]
    elif axis in ("controlnet_conditioning_scale", "control_guidance_end"):
        data["control"][axis] = value
    elif axis in UNIT_AXES:  # this type's own settings, starting from the shared ones when it has none yet
        own = data["unit_controls"].setdefault(UNIT_AXES[axis], dict(data["control"]))
        own["controlnet_conditioning_scale"] = value
    elif axis in DETECTOR_AXES:
        data["detectors"][DETECTOR_AXES[axis]] = value
    elif axis == "ip_adapter_scale":
        data["ip_adapter"]["scale"] = value
    elif axis == "ip_adapter_mode":  # full against redux on FLUX.1, full, style and layout on SD1.5 and SDXL
        data["ip_adapter"]["mode"] = value
    else:
        data[axis] = value
    return validated(CompareRequest, data, f"Invalid sweep — {AXIS_LABELS[axis]} · axis {axis} value {value!r}: ")


def parse_sweep(data: dict[str, Any] | SweepRequest) -> SweepRequest:
    """Validate a sweep and every cell it implies, raising :class:`StudioError` with a readable message."""
    sweep = validated(SweepRequest, data, "Invalid sweep — ")
    cell_requests(sweep)  # refuse any out-of-bounds value now, before anything runs
    return sweep


def cell_requests(sweep: SweepRequest) -> list[tuple[Any, Any, CompareRequest]]:
    """``(x value, y value, one-method request)`` for every cell, row by row (y outer, x inner)."""
    base = sweep.base.model_copy(update={"methods": sweep.base.methods[:1]})
    cells = []
    for y_value in sweep.y.values if sweep.y else [None]:
        row = apply_axis(base, sweep.y.name, y_value) if sweep.y else base
        for x_value in sweep.x.values:
            cells.append((x_value, y_value, apply_axis(row, sweep.x.name, x_value)))
    for _, _, cell in cells:
        _has_swept_units(sweep, cell)
    return cells


def _has_swept_units(sweep: SweepRequest, cell: CompareRequest) -> None:
    """Refuse a per-type strength or detector axis on a cell whose method has no control of that type (its images
    would all be the same, and the grid would say they differ by that setting), and a detector axis on a method
    that names that type's detector itself (the axis would not reach it)."""
    method = cell.parsed_methods()[0]
    if not method.ip_adapter and any(a is not None and a.name == "ip_adapter_mode" for a in (sweep.x, sweep.y)):
        raise StudioError(
            f"Invalid sweep — {AXIS_LABELS['ip_adapter_mode']} · axis ip_adapter_mode: the method {method.name!r} has "
            "no image prompt; sweep a method with one, e.g. ip_adapter or depth+ip_adapter."
        )
    for axis in (a for a in (sweep.x, sweep.y) if a is not None and a.name in TYPE_AXES):
        kind = TYPE_AXES[axis.name]
        if kind not in (t for t, _ in method.controls):
            example = kind if axis.name in DETECTOR_AXES else f"{kind}+{'depth' if kind != 'depth' else 'canny'}"
            raise StudioError(
                f"Invalid sweep — {AXIS_LABELS[axis.name]} · axis {axis.name}: the method {method.name!r} has no "
                f"{kind} control; sweep a method with one, e.g. {example}."
            )
        named = [part.strip().partition(":") for part in cell.methods[0].lower().split("+")]
        if axis.name in DETECTOR_AXES and any(t == kind and detector for t, _, detector in named):
            raise StudioError(
                f"Invalid sweep — {AXIS_LABELS[axis.name]} · axis {axis.name}: the method {method.name!r} names its "
                f"{kind} detector itself; sweep {kind} (the axis picks its detector)."
            )


@dataclass
class SweepCell:
    """One cell: its axis values, its label and the one-method comparison entry it produced."""

    x: Any
    y: Any
    label: str
    entry: CompareEntry


@dataclass
class SweepResult:
    """A sweep's cells (row by row), the labelled grid image and every cell's measured fit."""

    request: SweepRequest
    cells: list[SweepCell]
    grid: Image.Image | None
    scorecard: Scorecard | None

    def plot_rows(self) -> list[dict[str, Any]]:
        """Long-format rows ``{x, series, score, value}`` for plotting each fit score along the x axis: a series is
        the score's short name, with the Y value when there is a Y axis (``Prompt · 0.5``)."""
        if self.scorecard is None:
            return []
        matrix = self.scorecard.matrix
        rows = []
        for cell in self.cells:
            for column in matrix.columns:
                value = matrix.value(cell.label, column.name)
                if value is None or column.kind == "cost":
                    continue
                short = column.label.split(" (")[0]  # "Prompt", "Depth": a legend entry that fits
                series = short if self.request.y is None else f"{short} · {self.request.y.tick(cell.y)}"
                rows.append({"x": self.request.x.tick(cell.x), "series": series, "score": column.label, "value": value})
        return rows


def sweep_grid(sweep: SweepRequest, cells: list[SweepCell]) -> Image.Image | None:
    """The labelled grid of the cells' images (None when no cell produced one). Cells not run yet (a sweep in
    progress gives the first ones) are drawn empty."""
    images = [cell.entry.result.image if cell.entry.result else None for cell in cells]
    width = len(sweep.x.values)
    images += [None] * (width * max(1, len(sweep.y.values) if sweep.y else 1) - len(images))
    if all(image is None for image in images):
        return None
    rows = [images[i : i + width] for i in range(0, len(images), width)]
    return labelled_grid(
        rows,
        [sweep.x.label(v) for v in sweep.x.values],
        [sweep.y.label(v) for v in sweep.y.values] if sweep.y else None,
    )


def cell_label(sweep: SweepRequest, x_value: Any, y_value: Any) -> str:
    """A cell's label: the x value's, preceded by the y value's when there is a second axis."""
    return sweep.x.label(x_value) if sweep.y is None else f"{sweep.y.label(y_value)} · {sweep.x.label(x_value)}"
