"""The samplers a request may name (:mod:`app.samplers`), each built fresh per call from the model's config."""

from __future__ import annotations

from typing import Any

import diffusers

from app.errors import StudioError
from app.samplers import SAMPLERS


def make_scheduler(name: str, base_config: Any):
    """A new scheduler instance, so concurrent or successive calls never share sampler state."""
    try:
        sampler = SAMPLERS[name]
    except KeyError:
        raise StudioError(f"scheduler {name!r} is not known; use one of {', '.join(SAMPLERS)}.") from None
    return getattr(diffusers, sampler.scheduler).from_config(base_config, **sampler.config)
