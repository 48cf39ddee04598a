"""The one entry point the UI, the HTTP API and scripts use to generate."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from app.devices import measure_peak_memory
from app.engine import PipelineCache
from app.errors import Cancelled, StudioError
from app.models import ModelSpec, spec_for
from app.request import GenerationRequest, parse_request
from app.result import Result
from app.schedulers import make_scheduler
from app.settings import Settings, get_settings

ProgressFn = Callable[[int, int], None]
"""Called after each denoising step with (steps done, total steps)."""

_EMBEDDING_CACHE_SIZE = 16


class Studio:
    """Validates requests, runs them on the shared :class:`PipelineCache` and reports their cost."""

    def __init__(self, settings: Settings | None = None, spec: ModelSpec | None = None):
        self.settings = settings or get_settings()
        self.spec = spec or spec_for(self.settings)
        self.cache = PipelineCache(self.spec, self.settings)
        self._embeddings: OrderedDict[tuple, tuple] = OrderedDict()

    # -- validation --------------------------------------------------------------------------------

    def check(self, request: GenerationRequest | dict[str, Any]) -> GenerationRequest:
        """Validate a request against the schema and this studio's caps.

        Raises:
            StudioError: naming the field, the value received and what is allowed.
        """
        request = parse_request(request)
        caps = self.settings
        problems = []
        for name in ("width", "height"):
            value = getattr(request, name)
            if value > caps.max_side:
                problems.append(f"{name}: received {value}, this studio allows at most {caps.max_side} pixels")
        if request.num_inference_steps > caps.max_steps:
            problems.append(
                f"num_inference_steps: received {request.num_inference_steps}, this studio allows at most "
                f"{caps.max_steps}"
            )
        if request.num_images_per_prompt > caps.max_images:
            problems.append(
                f"num_images_per_prompt: received {request.num_images_per_prompt}, this studio allows at most "
                f"{caps.max_images}"
            )
        for index, control in enumerate(request.controls):
            if control.image is None:
                problems.append(
                    f"controls.{index}: the {control.control_type} ControlNet needs a control image, received none"
                )
        if request.ip_adapter is not None and request.ip_adapter.image is None:
            problems.append("ip_adapter.image: the IP-Adapter needs a reference image, received none")
        if problems:
            raise StudioError("Invalid request — " + "; ".join(problems))
        return request

    # -- generation --------------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest | dict[str, Any],
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Result:
        """Generate the images a request describes.

        Args:
            request: The request, or a dict that validates into one.
            progress: Called after each step with (steps done, total).
            cancel: When set during the run, the run stops at the next step and raises :class:`Cancelled`.

        Returns:
            The images with their seeds, maps, timings and peak memory.

        Raises:
            StudioError: for a request that breaks the schema or the caps, or a model that cannot load.
        """
        request = self.check(request)
        control_images = [_as_size(c.image, request.width, request.height) for c in request.controls]
        reference = request.ip_adapter.image.convert("RGB") if request.ip_adapter else None
        cache = self.cache
        with cache.lock:
            started = time.perf_counter()
            pipe = cache.pipeline_for([c.control_type for c in request.controls], reference is not None)
            embeds, notes = self._prompt_embeddings(request)
            load_seconds = time.perf_counter() - started
            kwargs = self._pipeline_kwargs(request, control_images, reference, embeds, progress, cancel)
            pipe.scheduler = make_scheduler(request.scheduler, cache.base().scheduler.config)
            try:
                cache.use_ip_adapter(
                    pipe, request.ip_adapter.scale if reference else None, request.ip_adapter.mode if reference else ""
                )
                with measure_peak_memory(cache.device) as memory, torch.inference_mode():
                    started = time.perf_counter()
                    images = pipe(**kwargs).images
                    seconds = time.perf_counter() - started
            finally:
                cache.use_ip_adapter(pipe, None)
        return Result(
            images=images,
            seeds=[request.seed + i for i in range(request.num_images_per_prompt)],
            method=request.method,
            settings=request.settings_dict(),
            control_images=control_images,
            reference_image=reference,
            seconds=seconds,
            load_seconds=load_seconds,
            peak_memory_bytes=memory.peak_bytes,
            memory_kind=memory.kind,
            notes=notes,
        )

    def _prompt_embeddings(self, request: GenerationRequest) -> tuple[tuple, list[str]]:
        """Prompt embeddings, encoded once per (prompt, negative prompt) and reused across methods."""
        guided = request.guidance_scale > 1.0
        key = (request.prompt, request.negative_prompt, guided)
        notes = []
        base = self.cache.base()
        tokens = len(base.tokenizer(request.prompt, truncation=False).input_ids)
        if tokens > base.tokenizer.model_max_length:
            notes.append(
                f"The prompt is {tokens} tokens long; CLIP reads only the first "
                f"{base.tokenizer.model_max_length}, so the rest was ignored."
            )
        if key in self._embeddings:
            self._embeddings.move_to_end(key)
            return self._embeddings[key], notes
        with torch.inference_mode():
            embeds = base.encode_prompt(
                request.prompt,
                self.cache.device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=guided,
                negative_prompt=request.negative_prompt or None,
            )
        self._embeddings[key] = embeds
        while len(self._embeddings) > _EMBEDDING_CACHE_SIZE:
            self._embeddings.popitem(last=False)
        return embeds, notes

    def _pipeline_kwargs(self, request, control_images, reference, embeds, progress, cancel) -> dict[str, Any]:
        prompt_embeds, negative_prompt_embeds = embeds
        total = request.num_inference_steps

        def on_step_end(pipe, step, timestep, callback_kwargs):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Cancelled after {step + 1} of {total} steps.")
            if progress is not None:
                progress(step + 1, total)
            return callback_kwargs

        kwargs: dict[str, Any] = {
            "prompt_embeds": prompt_embeds,
            "negative_prompt_embeds": negative_prompt_embeds,
            "num_inference_steps": total,
            "guidance_scale": request.guidance_scale,
            "width": request.width,
            "height": request.height,
            "num_images_per_prompt": request.num_images_per_prompt,
            # One CPU generator per image, so image i is reproducible on its own from seed + i, on any device.
            "generator": [
                torch.Generator("cpu").manual_seed(request.seed + i) for i in range(request.num_images_per_prompt)
            ],
            "callback_on_step_end": on_step_end,
        }
        if request.controls:
            single = len(request.controls) == 1
            kwargs["image"] = control_images[0] if single else control_images
            for name in ("controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end"):
                values = [getattr(c, name) for c in request.controls]
                kwargs[name] = values[0] if single else values
        if reference is not None:
            kwargs["ip_adapter_image"] = reference
        return kwargs


def _as_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """A control map at the generation size (maps from the preprocessors already are)."""
    image = image.convert("RGB")
    return image if image.size == (width, height) else image.resize((width, height), Image.Resampling.BICUBIC)
