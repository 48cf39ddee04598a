"""Hugging Face ZeroGPU support: GPU-time estimates and the ``spaces.GPU`` wrapper, a no-op elsewhere.

On a ZeroGPU Space a function only holds a GPU inside ``@spaces.GPU``, for at
most the duration it asks for. Asking too little aborts long jobs; asking too
much queues users behind a big reservation. So the duration is estimated per
call from the work it will do: steps × methods × pixels × images.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

from app.engine.families import FAMILIES, FAMILY_NAMES

F = TypeVar("F", bound=Callable[..., Any])

# Estimates, not yet measured on ZeroGPU's current card (an RTX Pro 6000 Blackwell since 2026-05-13; "large" is half
# of one): SD1.5 fp16 with classifier-free guidance about 0.05 s per step at 512², ControlNet about +40%; plus a fixed
# cost per method (the family's ``gpu_seconds_per_method``: VAE decode, map, moving tensors) and per call (attaching,
# warming kernels). SDXL's UNet costs about what SD1.5's does per pixel (fewer attention layers at full resolution), so
# its 1024² steps take the area's share of the rate. FLUX.1's 12 B transformer costs its family's
# ``gpu_step_factor`` times that per pixel (see :mod:`app.engine.families`).
SECONDS_PER_STEP_512 = 0.07
SECONDS_PER_CALL = 10.0
# In a batched comparison every method after the first costs at most this share of a solo run's denoising (the
# benchmark's target is 0.5; the margin keeps a slower GPU slice from outrunning its reservation).
BATCHED_SHARE = 0.6
# ZeroGPU refuses requests above the visitor tier's per-call maximum outright,
# so stay under it; the Space's caps (steps, size, methods) keep jobs inside it.
MIN_SECONDS = 15
MAX_SECONDS = int(os.environ.get("STUDIO_ZEROGPU_MAX_SECONDS", "120") or 120)


def spaces_module() -> Any | None:
    """The ``spaces`` package when it is importable (on a Hugging Face Space), else None."""
    try:
        return importlib.import_module("spaces")
    except ImportError:
        return None


def on_zerogpu() -> bool:
    """Whether this process runs on ZeroGPU hardware (``spaces`` present and the Space says so)."""
    return spaces_module() is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def count_of(value: Any, default: int) -> int:
    """A size or count from an event's raw input for estimating, never raising: ``default`` for anything unusable.

    The estimate runs before the handler validates its inputs (NaN, fractions, text from a raw API call);
    the handler then refuses those with a message naming the field.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return math.ceil(number) if math.isfinite(number) and number > 0 else default


def estimate_gpu_seconds(
    steps: int,
    methods: int = 1,
    width: int = 512,
    height: int = 512,
    images: int = 1,
    batched: bool = False,
    family: str = FAMILY_NAMES[0],
) -> int:
    """Seconds of GPU a job needs, from its size; larger jobs always get more.

    Args:
        steps: Denoising steps per image.
        methods: Generations in the job (a comparison's methods, a sweep's cells).
        width: Output width in pixels.
        height: Output height in pixels.
        images: Images per generation (a comparison's seeds per method).
        batched: The methods denoise together in one pass (a batched comparison): each after the first adds
            :data:`BATCHED_SHARE` of a run instead of a whole one.
        family: The model family (an unknown one is estimated as the first).
    """
    spec = FAMILIES[family if family in FAMILIES else FAMILY_NAMES[0]]
    area = max(1, width * height) / (512 * 512)
    runs = 1 + BATCHED_SHARE * (methods - 1) if batched else methods
    work = steps * runs * images * area * SECONDS_PER_STEP_512 * spec.gpu_step_factor
    seconds = SECONDS_PER_CALL + methods * spec.gpu_seconds_per_method + work
    return int(min(MAX_SECONDS, max(MIN_SECONDS, round(seconds))))


def gpu_task(duration: Callable[..., int]) -> Callable[[F], F]:
    """Decorate a generating function with ``spaces.GPU(duration=...)`` where ``spaces`` exists.

    Args:
        duration: Called with the function's own arguments; returns the seconds to reserve.

    Returns:
        A decorator; without ``spaces`` it returns the function unchanged, so the same code runs locally.
    """

    def decorate(fn: F) -> F:
        spaces = spaces_module()
        if spaces is None:
            return fn
        wrapped = spaces.GPU(duration=duration)(fn)
        return functools.wraps(fn)(wrapped)  # keep the name gradio uses for the API docs

    return decorate
