"""Turn a detector's pydantic ``Params`` into slider specifications for the UI.

The UI builds its controls from these specs and the core validates with the
same model, so the slider ranges and the validation cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import annotated_types
from pydantic import BaseModel


def param_specs(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One dict per field: ``name``, ``type``, ``default``, ``minimum``, ``maximum``, ``step``, ``description``.

    Args:
        model: A pydantic model class whose fields carry ``ge``/``le`` bounds.

    Returns:
        Specs in field order; bounds are None where the field has none.
    """
    specs = []
    for name, info in model.model_fields.items():
        minimum = maximum = None
        for meta in info.metadata:
            if isinstance(meta, annotated_types.Ge):
                minimum = meta.ge
            elif isinstance(meta, annotated_types.Gt):
                minimum = meta.gt
            elif isinstance(meta, annotated_types.Le):
                maximum = meta.le
            elif isinstance(meta, annotated_types.Lt):
                maximum = meta.lt
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        annotation = info.annotation
        kind = getattr(annotation, "__name__", str(annotation))
        step = extra.get("step", 1 if annotation is int else 0.01 if annotation is float else None)
        specs.append(
            {
                "name": name,
                "type": kind,
                "default": info.default,
                "minimum": minimum,
                "maximum": maximum,
                "step": step,
                "description": info.description or "",
            }
        )
    return specs
