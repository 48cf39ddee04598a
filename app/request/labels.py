"""The names people see for request fields, so messages lead with "Steps", not ``num_inference_steps``.

Messages name a field as ``Steps · num_inference_steps``: the label is what the page's control says, the field
path after it is what an API client sends.
"""

from __future__ import annotations

from collections.abc import Sequence

FIELD_LABELS = {
    "prompt": "Prompt",
    "negative_prompt": "Negative prompt",
    "seed": "Seed",
    "num_inference_steps": "Steps",
    "guidance_scale": "Guidance scale (CFG)",
    "width": "Width",
    "height": "Height",
    "scheduler": "Sampler",
    "num_images_per_prompt": "Images per run",
    "controls": "ControlNets",
    "control_type": "Control type",
    "controlnet_conditioning_scale": "ControlNet strength",
    "control_guidance_start": "Guidance start",
    "control_guidance_end": "Guidance end",
    "ip_adapter": "IP-Adapter",
    "ip_adapter_scale": "IP-Adapter scale",
    "scale": "IP-Adapter scale",
    "mode": "IP-Adapter mode",
    "methods": "Methods",
    "detectors": "Detectors",
    "detector_params": "Detector settings",
    "fit": "Fit photo to size",
    "control": "ControlNet settings",
    "method": "Method",
    "x": "X axis",
    "y": "Y axis",
    "values": "values",
    "name": "setting",
}


def describe_field(loc: Sequence[str | int]) -> str:
    """``Steps · num_inference_steps``, ``ControlNet 1 strength · controls.0.controlnet_conditioning_scale``.

    The field's path stays whole and last, right before the message's colon, as API clients read it; a field
    without a label is named by its path alone.
    """
    dotted = ".".join(str(part) for part in loc) or "request"
    names = [part for part in loc if isinstance(part, str)]
    if not names or names[-1] not in FIELD_LABELS:
        return dotted
    label = FIELD_LABELS[names[-1]]
    if names[0] == "controls" and len(loc) > 1 and isinstance(loc[1], int):
        which = f"ControlNet {loc[1] + 1}"
        own = label.removeprefix("ControlNet ")  # "ControlNet 1 strength", "ControlNet 1 guidance start"
        label = which if len(names) == 1 else f"{which} {own[0].lower()}{own[1:]}"
    return f"{label} · {dotted}"
