"""Choosing the device and dtype, and measuring peak memory on it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from accelerate.utils.memory import clear_device_cache, should_reduce_batch_size

from app.engine.placement import CPU, Placement
from app.errors import OutOfMemory, StudioError
from app.settings import Settings

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def resolve_device(settings: Settings) -> tuple[str, torch.dtype]:
    """CUDA (fp16) if present, else Apple ``mps`` (fp16), else CPU (fp32); settings override both."""
    device = settings.device
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise StudioError("STUDIO_DEVICE=cuda was asked for, but torch sees no CUDA device; use auto or cpu.")
    elif device == "mps" and not torch.backends.mps.is_available():
        raise StudioError("STUDIO_DEVICE=mps was asked for, but this torch has no MPS backend; use auto or cpu.")
    if settings.dtype == "auto":
        dtype = torch.float32 if device == "cpu" else torch.float16
    else:
        dtype = _DTYPES[settings.dtype]
    return device, dtype


LARGE_GPU_BYTES = 40 * 2**30
"""A GPU this large holds SD1.5 and SDXL (with their ControlNets and IP-Adapters) at once in half precision."""


def resident_family_limit(settings: Settings, device: str, families: int) -> int:
    """How many model families stay loaded at once: the setting, else all on a large GPU or on ZeroGPU (whose
    workers get a large slice), one elsewhere and under low-VRAM offload."""
    if settings.resident_families:
        return min(settings.resident_families, families)
    if settings.low_vram:
        return 1
    if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true"):
        return families
    if device.startswith("cuda") and torch.cuda.get_device_properties(device).total_memory >= LARGE_GPU_BYTES:
        return families
    return 1


def aux_placement(settings: Settings) -> Placement:
    """Where detectors and the fit-scoring CLIP run: with the diffusion models, or on the CPU in float32.

    On a GPU they share the studio's device and half precision, so maps and scores cost no CPU time
    (on ZeroGPU they then run inside the GPU call, like generation). ``STUDIO_AUX_DEVICE=cpu`` keeps
    them on the CPU, e.g. to leave all GPU memory to the diffusion models; so does ``STUDIO_LOW_VRAM=1``,
    whose offload would otherwise share the little GPU memory there is with resident detectors.
    """
    if settings.aux_device == "cpu" or settings.low_vram:
        return CPU
    device, dtype = resolve_device(settings)
    return Placement(device, str(dtype).removeprefix("torch."))


def _rss_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    # Writing 5 to clear_refs resets the VmHWM peak (Linux >= 4.0).
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


@dataclass
class MemoryReading:
    """Peak memory of one measured block and how it was measured."""

    peak_bytes: int = 0
    kind: str = "unavailable"


@contextlib.contextmanager
def measure_peak_memory(device: str) -> Iterator[MemoryReading]:
    """Measure peak memory of the block: CUDA peak allocated, else the process RSS peak above its start."""
    reading = MemoryReading()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield reading
        torch.cuda.synchronize()
        reading.peak_bytes, reading.kind = torch.cuda.max_memory_allocated() - start, "cuda_peak_allocated"
        return
    # Reset the high-water mark first, then read the start: read the other way round, memory freed in between
    # (by the garbage collector, another thread) leaves the mark below the start and the peak reads as 0.
    peak_resettable = os.name == "posix" and _reset_peak_rss()
    start = _rss_bytes("VmRSS")
    yield reading
    if start is None:
        return
    if peak_resettable:
        reading.peak_bytes, reading.kind = max(0, (_rss_bytes("VmHWM") or 0) - start), "rss_peak_delta"
    else:
        reading.peak_bytes, reading.kind = max(0, (_rss_bytes("VmRSS") or 0) - start), "rss_delta"


def is_out_of_memory(error: BaseException) -> bool:
    """An out-of-memory error of any backend: torch's ``OutOfMemoryError``, or one accelerate recognises (CUDA,
    MPS, XPU, the CPU allocator)."""
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, Exception) and should_reduce_batch_size(error)
    )


def release_memory() -> None:
    """Free what a failed call left behind (garbage, then the device's cache), so the next request starts from the
    same memory state."""
    clear_device_cache(garbage_collection=True)


@contextlib.contextmanager
def out_of_memory_as_studio_error(device: str, request: Any) -> Iterator[None]:
    """Turn an accelerator out-of-memory error in the block into an :class:`OutOfMemory` that says what to reduce
    (``request``: the generation that ran out, for its method, size, steps and images).

    The failed call's tensors are freed and the device cache emptied first, so the next request runs as if this one
    had never started (the models and their dtype are untouched by an OOM).
    """
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        del error  # its traceback holds the failed call's activations
        release_memory()
        raise OutOfMemory(
            f"Out of memory on {device} running {request.method} at {request.width}×{request.height}, "
            f"{request.num_inference_steps} steps, {request.num_images_per_prompt} image(s). Reduce the size, the "
            "images per prompt, the steps or the number of methods (or start the studio with STUDIO_LOW_VRAM=1), "
            "then run again."
        ) from None
