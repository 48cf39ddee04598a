"""The samplers a request may name (:mod:`app.samplers`), each built fresh per call from the model's config."""

from __future__ import annotations

from typing import Any

import diffusers

from app.errors import StudioError
from app.samplers import SAMPLERS, SCHEDULER_LABELS


def make_scheduler(name: str, base_config: Any):
    """A new scheduler instance, so concurrent or successive calls never share sampler state."""
    try:
        sampler = SAMPLERS[name]
    except KeyError:
        raise StudioError(f"scheduler {name!r} is not known; use one of {', '.join(SAMPLERS)}.") from None
    return getattr(diffusers, sampler.scheduler).from_config(base_config, **sampler.config)


def family_scheduler(family: Any, name: str, base_scheduler: Any) -> tuple[Any, list[str]]:
    """A fresh scheduler for sampler ``name`` on ``family`` (its base pipeline's is ``base_scheduler``), and a note
    when the family samples its own way (FLUX's flow-matching Euler, whatever the setting)."""
    if not family.own_sampler:
        return make_scheduler(name, base_scheduler.config), []
    notes = []
    if name != "euler":
        notes.append(
            f"{family.short} samples with its own flow-matching Euler; the sampler setting "
            f"({SCHEDULER_LABELS.get(name, name)}) applies to the Stable Diffusion families."
        )
    return type(base_scheduler).from_config(base_scheduler.config), notes
