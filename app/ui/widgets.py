"""Widgets built from the request schema: sliders with the schema's bounds, a detector's parameter controls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import gradio as gr
from pydantic import BaseModel

from app.preprocess import REGISTRY, detectors_for
from app.request import field_bounds, whole_number

# -- sliders from the schema ----------------------------------------------------------------------


def schema_slider(
    model: type[BaseModel],
    name: str,
    label: str | None = None,
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
        label: The slider label; default the field's title (the word its error messages use too).
        cap: An operator cap (from settings) that lowers the maximum.
        step: Step when the field has no ``multiple_of``.
        value: Initial value instead of the field default (clamped to the range).
        **kwargs: Passed to ``gr.Slider``.
    """
    bounds = field_bounds(model, name)
    label = label or model.model_fields[name].title or name
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
