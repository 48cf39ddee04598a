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

    @classmethod
    def of_seeds(cls, results: list[Result]) -> Result:
        """One method's runs on several seeds as one result: their images and seeds in order, their time added
        up, the highest peak; the first run's settings (its seed is the first)."""
        if len(results) == 1:
            return results[0]
        first = results[0]
        peaks = [r.measured_peak_memory for r in results]
        return cls(
            images=[image for r in results for image in r.images],
            seeds=[seed for r in results for seed in r.seeds],
            method=first.method,
            settings=first.settings,
            control_images=first.control_images,
            reference_image=first.reference_image,
            seconds=sum(r.seconds for r in results),
            load_seconds=sum(r.load_seconds for r in results),
            peak_memory_bytes=max((p for p in peaks if p is not None), default=first.peak_memory_bytes),
            memory_kind=first.memory_kind,
            model_bytes=first.model_bytes,
            notes=list(dict.fromkeys(note for r in results for note in r.notes)),
        )
