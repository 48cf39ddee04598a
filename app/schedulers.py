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

# name -> (class, extra config, label shown to people)
SCHEDULERS: dict[str, tuple[type, dict[str, Any], str]] = {
    "dpmpp_2m_karras": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        "DPM++ 2M Karras",
    ),
    "euler_a": (EulerAncestralDiscreteScheduler, {}, "Euler a"),
    "euler": (EulerDiscreteScheduler, {}, "Euler"),
    "unipc": (UniPCMultistepScheduler, {}, "UniPC"),
    "ddim": (DDIMScheduler, {}, "DDIM"),
}


def make_scheduler(name: str, base_config: Any):
    """A new scheduler instance, so concurrent or successive calls never share sampler state."""
    try:
        cls, extra, _ = SCHEDULERS[name]
    except KeyError:
        raise StudioError(f"scheduler {name!r} is not known; use one of {', '.join(SCHEDULERS)}.") from None
    return cls.from_config(base_config, **extra)


def scheduler_label(name: str) -> str:
    """The human name of a scheduler, e.g. ``DPM++ 2M Karras``."""
    return SCHEDULERS[name][2]
