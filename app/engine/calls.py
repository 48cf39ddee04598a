"""diffusers' call arguments for a planned generation: the only module that spells the pipelines' argument names.

:func:`call_arguments` turns one validated generation into the keyword arguments of its pipeline (per-type
ControlNets, a union ControlNet with its control modes, SDXL's pooled embeddings); :func:`batch_arguments` makes
one call of several single-image generations that differ only in their conditioning (a batched comparison's
rows); :func:`run_call` runs it and measures it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from app.engine.devices import measure_peak_memory
from app.engine.previews import is_preview_step
from app.errors import Cancelled

STRENGTH_ARGUMENTS = ("controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end")
"""A control's strength and window, as diffusers names them (and as the request fields are named)."""


def step_callback(
    total: int,
    cancel: threading.Event | None,
    progress: Callable[[int, int], None] | None,
    preview: Callable[[torch.Tensor, int, int], None] | None,
    every: int,
) -> Callable:
    """diffusers' ``callback_on_step_end``: stop when ``cancel`` is set, show a preview every ``every`` steps,
    report progress."""

    def on_step_end(pipe, step, timestep, callback_kwargs):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Cancelled after {step + 1} of {total} steps.")
        if preview is not None and is_preview_step(step + 1, total, every):
            preview(callback_kwargs["latents"], step + 1, total)
        if progress is not None:
            progress(step + 1, total)
        return callback_kwargs

    return on_step_end


def call_arguments(
    cache: Any, request: Any, control_images: list, embeds: tuple, on_step_end: Callable
) -> dict[str, Any]:
    """The pipeline arguments of one generation on ``cache``'s family, its IP-Adapter embeddings excepted."""
    prompt_embeds, negative_prompt_embeds, *pooled = embeds  # SDXL's encoder also returns pooled embeddings
    kwargs: dict[str, Any] = {
        "prompt_embeds": prompt_embeds,
        "negative_prompt_embeds": negative_prompt_embeds,
        "num_inference_steps": request.num_inference_steps,
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
    if pooled:
        kwargs["pooled_prompt_embeds"], kwargs["negative_pooled_prompt_embeds"] = pooled
    if cache.family.distilled_guidance:  # FLUX: guidance is the transformer's input; no negative embeddings
        del kwargs["negative_prompt_embeds"], kwargs["negative_pooled_prompt_embeds"]
    if cache.family.packed_latents:
        kwargs["latents"] = starting_latents(cache, request)
    union = [c for c in request.controls if cache.served_by_union(c.control_type)]
    if any(c.adapter for c in request.controls):  # T2I-Adapters (the request has checked: all of its controls)
        adapter_arguments(kwargs, request.controls, control_images)
    elif union:  # one network, a control mode per map, each mode's own strength (a weight on its condition) and window
        kwargs["control_image"] = control_images
        kwargs["control_mode"] = [cache.family.union_modes[c.control_type] for c in union]
        for name in STRENGTH_ARGUMENTS:
            values = [getattr(c, name) for c in union]
            kwargs[name] = values[0] if len(union) == 1 else values
    elif request.controls:
        single = len(request.controls) == 1
        kwargs[cache.family.control_argument] = control_images[0] if single else control_images
        for name in STRENGTH_ARGUMENTS:
            values = [getattr(c, name) for c in request.controls]
            kwargs[name] = values[0] if single else values
    return kwargs


def starting_latents(cache: Any, request: Any) -> torch.Tensor:
    """FLUX's starting noise, drawn before the call from the request's seeds (packed as its pipeline packs it).

    FLUX's ControlNet pipeline VAE-encodes the control image with a sample from the call's generator before it
    draws the noise, so left to the pipeline a ControlNet method would start from other noise than text-only on the
    same seed. Drawn here from fresh generators, every method starts from the same noise, as on the other families.
    """
    base = cache.base()
    channels = cache.denoiser(base).config.in_channels // 4
    generators = [torch.Generator("cpu").manual_seed(request.seed + i) for i in range(request.num_images_per_prompt)]
    latents, _ = base.prepare_latents(
        len(generators), channels, request.height, request.width, cache.dtype, cache.device, generators
    )
    return latents


def adapter_arguments(kwargs: dict[str, Any], controls: list, control_images: list) -> None:
    """Make ``kwargs`` a T2I-Adapter call: the maps, a scale per adapter, their shared end as the fraction of steps
    they apply (from the first), and the step callback in the legacy form diffusers' adapter pipeline still takes."""
    single = len(controls) == 1
    kwargs["image"] = control_images[0] if single else control_images
    scales = [c.controlnet_conditioning_scale for c in controls]
    kwargs["adapter_conditioning_scale"] = scales[0] if single else scales
    kwargs["adapter_conditioning_factor"] = controls[0].control_guidance_end
    on_step_end = kwargs.pop("callback_on_step_end")
    kwargs["callback"] = lambda step, timestep, latents: on_step_end(None, step, timestep, {"latents": latents})
    kwargs["callback_steps"] = 1


def batch_arguments(
    kwargs: dict[str, Any], cache: Any, requests: list, types: list[str], embeds: tuple
) -> dict[str, Any]:
    """``kwargs`` of the requests' shared settings made into one call with a row per request: the prompt repeated,
    a generator per row's seed, and each ControlNet's maps per row (a blank map where a row does not use it; its
    residuals are zeroed there by :class:`~app.engine.batched.PerItemControlNets`)."""
    items, first = len(requests), requests[0]
    positive, negative, *pooled = embeds  # SDXL's pooled embeddings: one row per prompt too
    kwargs["prompt_embeds"] = positive.repeat(items, 1, 1)
    kwargs["negative_prompt_embeds"] = None if negative is None else negative.repeat(items, 1, 1)
    if pooled:
        positive_pooled, negative_pooled = pooled
        kwargs["pooled_prompt_embeds"] = positive_pooled.repeat(items, 1)
        kwargs["negative_pooled_prompt_embeds"] = None if negative_pooled is None else negative_pooled.repeat(items, 1)
    kwargs["generator"] = [torch.Generator("cpu").manual_seed(r.seed) for r in requests]  # a row per seed
    if cache.family.packed_latents:  # FLUX: each row's own starting noise, drawn before the call
        kwargs["latents"] = torch.cat([starting_latents(cache, r) for r in requests])
    if not types:
        return kwargs
    if cache.family.latent_control:
        # The rows' map latents are made apart (app.engine.flux_rows); the pipeline is handed one blank map.
        kwargs["control_image"] = [torch.zeros(1, 3, first.height, first.width)]
    else:
        blank = Image.new("RGB", (first.width, first.height))
        # Item-major, as diffusers takes per-prompt images for several ControlNets: [[map of each type] per item].
        maps = [[next((c.image for c in r.controls if c.control_type == t), blank) for t in types] for r in requests]
        # SD1.5's pipeline takes per-item maps as nested lists; SDXL's refuses those, so it gets each net's maps as
        # one batch tensor (values 0–1, as its image processor makes of a PIL map).
        kwargs["image"] = per_net_batches(maps) if cache.family.pooled else maps
    # A comparison gives every method the same strength per control type, so each net takes its type's.
    strength = [next(c for r in requests for c in r.controls if c.control_type == t) for t in types]
    for name in STRENGTH_ARGUMENTS:
        kwargs[name] = [getattr(control, name) for control in strength]
    return kwargs


def reference_rows(kwargs: dict[str, Any], requests: list, embeds: list, device: str) -> None:
    """Give the IP-Adapter's embeddings to ``kwargs`` and let them reach only the rows of requests that use it,
    through diffusers' ``ip_adapter_masks`` (rows are [unconditional items, conditional items] under guidance)."""
    first = requests[0]
    kwargs["ip_adapter_image_embeds"] = embeds
    uses = [r.ip_adapter is not None for r in requests]
    rows = uses * (2 if first.guidance_scale > 1.0 else 1)
    mask = torch.tensor(rows, dtype=torch.float32).view(len(rows), 1, 1, 1)
    mask = mask.expand(len(rows), 1, first.height // 8, first.width // 8).to(device)
    kwargs["cross_attention_kwargs"] = {"ip_adapter_masks": [mask]}


def per_net_batches(maps: list[list[Image.Image]]) -> list[torch.Tensor]:
    """Item-major maps ``[[map of each net] per item]`` as one ``(items, 3, H, W)`` tensor in 0–1 per net."""

    def as_tensor(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)

    return [torch.stack([as_tensor(item[net]) for item in maps]) for net in range(len(maps[0]))]


def run_call(pipe: Any, kwargs: dict[str, Any], device: str) -> tuple[list[Image.Image], float, Any]:
    """One pipeline call: its images, its seconds and its peak memory."""
    with measure_peak_memory(device) as memory, torch.inference_mode():
        started = time.perf_counter()
        images = pipe(**kwargs).images
        seconds = time.perf_counter() - started
    return images, seconds, memory


def net_seconds(pipe: Any, nets: int) -> list[float]:
    """Each batched ControlNet's time in the last call (zeros when the pipeline has none, or not per-item ones);
    reading them starts the next count from zero."""
    take = getattr(getattr(pipe, "controlnet", None), "take_seconds", None)
    return list(take()) if callable(take) else [0.0] * nets


def batch_time_shares(total: float, items: int, users: list[list[int]], net_seconds: list[float]) -> list[float]:
    """Each item's cost in one batched pass: what its ControlNets spent on its rows (a net's time split among the
    items that use it), plus an equal share of everything else in the pass. The shares add up to ``total``."""
    nets = sum(net_seconds)
    common = max(0.0, total - nets) / items
    return [
        common + sum(seconds / len(who) for seconds, who in zip(net_seconds, users, strict=True) if item in who)
        for item in range(items)
    ]
