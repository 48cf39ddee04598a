"""The samplers a request may name, each built fresh per call from the model's scheduler config."""

from __future__ import annotations

from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    UniPCMultistepScheduler,
)

from app.errors import StudioError
from app.request.scheduler_labels import SCHEDULER_LABELS

# name -> (class, extra config); labels live in app.request.scheduler_labels (importable without diffusers)
SCHEDULERS: dict[str, tuple[type, dict[str, Any]]] = {
    "dpmpp_2m_karras": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "unipc": (UniPCMultistepScheduler, {}),
    "ddim": (DDIMScheduler, {}),
}


def make_scheduler(name: str, base_config: Any):
    """A new scheduler instance, so concurrent or successive calls never share sampler state."""
    try:
        cls, extra = SCHEDULERS[name]
    except KeyError:
        raise StudioError(f"scheduler {name!r} is not known; use one of {', '.join(SCHEDULERS)}.") from None
    return cls.from_config(base_config, **extra)


def scheduler_label(name: str) -> str:
    """The human name of a scheduler, e.g. ``DPM++ 2M Karras``."""
    return SCHEDULER_LABELS[name]
