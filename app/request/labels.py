"""The names people see for request fields, so messages lead with "Steps", not ``num_inference_steps``.

Messages name a field as ``Steps · num_inference_steps``: the label is what the page's control says, the field
path after it is what an API client sends.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from pydantic import BaseModel


@functools.cache
def field_labels() -> dict[str, str]:
    """Every request field's label by field name: the ``title`` each model's ``Field`` declares (the schema's own
    word for it, which the page's controls show too), and for the sweep's axes that are no field of their own
    (``method``, ``ip_adapter_scale``) the axis label."""
    from app.request import compare, generation, sweep  # they import this module for their messages

    labels = {name: label for name, label in sweep.AXIS_LABELS.items() if name in ("method", "ip_adapter_scale")}
    for module in (generation, compare, sweep):
        for model in vars(module).values():
            if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == module.__name__:
                labels.update({name: field.title for name, field in model.model_fields.items() if field.title})
    return labels


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
