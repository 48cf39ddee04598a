"""Turn a detector's pydantic ``Params`` into slider specifications for the UI.

The UI builds its controls from these specs and the core validates with the
same model, so the slider ranges and the validation cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# JSON schema types as the UI names them.
_KINDS = {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}


def param_specs(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One dict per field: ``name``, ``type``, ``default``, ``minimum``, ``maximum``, ``step``, ``description``.

    Read from the model's JSON schema (a field's ``json_schema_extra`` may add a ``step``).

    Args:
        model: A pydantic model class whose fields carry ``ge``/``le`` bounds.

    Returns:
        Specs in field order; bounds are None where the field has none.
    """
    specs = []
    for name, prop in model.model_json_schema().get("properties", {}).items():
        kind = _KINDS.get(prop.get("type"), prop.get("type", "str"))
        specs.append(
            {
                "name": name,
                "type": kind,
                "default": prop.get("default"),
                "minimum": prop.get("minimum", prop.get("exclusiveMinimum")),
                "maximum": prop.get("maximum", prop.get("exclusiveMaximum")),
                "step": prop.get("step", {"int": 1, "float": 0.01}.get(kind)),
                "description": prop.get("description", ""),
            }
        )
    return specs
