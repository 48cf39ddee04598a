"""What one generation returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image


@dataclass
class Result:
    """Images of one request, with what drove them and what they cost.

    Attributes:
        images: The generated images, ``num_images_per_prompt`` of them.
        seeds: The seed of each image (``seed + i``).
        method: ``text``, ``canny``, ``depth+ip_adapter``, ...
        settings: The request's serialisable settings (no images).
        control_images: The maps the ControlNets saw, in request order.
        reference_image: The IP-Adapter reference, if any.
        seconds: Wall time of the pipeline call, model loading excluded.
        load_seconds: Time spent loading models for this call (0 once warm).
        peak_memory_bytes: Peak memory of the call (see ``memory_kind``).
        memory_kind: ``cuda_peak_allocated``, ``rss_peak_delta`` or ``rss_delta``.
        model_bytes: Bytes of the weights the method ran (base + its ControlNets / IP-Adapter): what
            choosing this method costs in memory, independent of what else the cache holds.
        notes: Plain-language remarks, e.g. that the prompt was truncated.
    """

    images: list[Image.Image]
    seeds: list[int]
    method: str
    settings: dict[str, Any]
    control_images: list[Image.Image] = field(default_factory=list)
    reference_image: Image.Image | None = None
    seconds: float = 0.0
    load_seconds: float = 0.0
    peak_memory_bytes: int = 0
    memory_kind: str = "unavailable"
    model_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def measured_peak_memory(self) -> int | None:
        """The call's peak memory where it is measured (CUDA's allocator); None elsewhere. On the CPU the process's
        resident size only grows when the allocator asks the system for more, so a run that reuses freed memory
        would read as 0 B: that is not what it used, and no number is better than a wrong one."""
        return self.peak_memory_bytes if self.memory_kind == "cuda_peak_allocated" else None

    @property
    def image(self) -> Image.Image:
        """The first image."""
        return self.images[0]
