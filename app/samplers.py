"""The samplers a request may name: one entry each, with its human name and its diffusers scheduler.

Importable without diffusers (the UI builds its sampler menu before torch loads, so the page is served in
seconds); :mod:`app.engine.schedulers` resolves the class names when a run needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Sampler:
    """One sampler: ``label`` for people, ``scheduler`` a diffusers class name with ``config`` on top of the model's."""

    label: str
    scheduler: str
    config: Mapping[str, Any] = field(default_factory=dict)


SAMPLERS: dict[str, Sampler] = {
    "dpmpp_2m_karras": Sampler(
        "DPM++ 2M Karras",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "euler_a": Sampler("Euler a", "EulerAncestralDiscreteScheduler"),
    "euler": Sampler("Euler", "EulerDiscreteScheduler"),
    "unipc": Sampler("UniPC", "UniPCMultistepScheduler"),
    "ddim": Sampler("DDIM", "DDIMScheduler"),
}
SchedulerName = Literal[tuple(SAMPLERS)]  # type: ignore[valid-type]  # the names above, for pydantic schemas
SCHEDULER_LABELS: dict[str, str] = {name: sampler.label for name, sampler in SAMPLERS.items()}


def scheduler_choices() -> list[tuple[str, str]]:
    """``(label, name)`` pairs for every sampler, in the order above."""
    return [(sampler.label, name) for name, sampler in SAMPLERS.items()]
