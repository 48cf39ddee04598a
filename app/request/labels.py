"""The names people see for request fields, so messages lead with "Steps", not ``num_inference_steps``.

Messages name a field as ``Steps · num_inference_steps``: the label is what the page's control says, the field
path after it is what an API client sends.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

_TITLES: dict[str, str] = {}


def register_titles(*models: type[BaseModel], **extra: str) -> None:
    """Record the ``title`` each field of ``models`` declares (the schema's own word for it, which the page's
    controls show too), and ``extra`` labels for names that are no field of their own (a sweep's axes). Each request
    module registers its models as it defines them, so a model being validated always has its labels here."""
    for model in models:
        _TITLES.update({name: field.title for name, field in model.model_fields.items() if field.title})
    _TITLES.update(extra)


def field_labels() -> dict[str, str]:
    """Every registered field label by field name."""
    return dict(_TITLES)


def describe_field(loc: Sequence[str | int]) -> str:
    """``Steps · num_inference_steps``, ``ControlNet 1 strength · controls.0.controlnet_conditioning_scale``.

    The field's path stays whole and last, right before the message's colon, as API clients read it; a field
    without a label is named by its path alone.
    """
    dotted = ".".join(str(part) for part in loc) or "request"
    names = [part for part in loc if isinstance(part, str)]
    labels = field_labels()
    if not names or names[-1] not in labels:
        return dotted
    label = labels[names[-1]]
    if names[0] == "controls" and len(loc) > 1 and isinstance(loc[1], int):
        which = f"ControlNet {loc[1] + 1}"
        own = label.removeprefix("ControlNet ")  # "ControlNet 1 strength", "ControlNet 1 guidance start"
        label = which if len(names) == 1 else f"{which} {own[0].lower()}{own[1:]}"
    return f"{label} · {dotted}"
