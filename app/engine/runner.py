"""Runs planned generations on a family's pipeline cache: the only place a pipeline is called.

For one generation, or one batched pass of several that differ only in their conditioning: the pipeline for it, the
prompt (and reference) embeddings from the cache, the call's arguments (:mod:`app.engine.calls`), the IP-Adapter
attached for the call only, and the :class:`~app.engine.result.Result` with its timings and memory. The studio
validates requests, picks the family's cache and holds its lock around these calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from app.controls import CONTROL_TYPES
from app.engine.calls import (
    batch_arguments,
    batch_time_shares,
    call_arguments,
    net_seconds,
    reference_rows,
    run_call,
    step_callback,
)
from app.engine.embeddings import EmbeddingCache
from app.engine.flux_rows import control_latents
from app.engine.pipelines import PipelineCache
from app.engine.previews import PreviewFn
from app.engine.redux import with_redux_tokens
from app.engine.result import Result

ProgressFn = Callable[[int, int], None]


def image_prompt_notes(cache: PipelineCache, settings) -> list[str]:
    """Which image prompt a method used, where its family has more than one (FLUX.1: its IP-Adapter or Redux)."""
    if settings is None or not cache.family.redux:
        return []
    if settings.mode == "redux":
        if settings.scale == 0:
            return ["Image prompt: FLUX.1 Redux at scale 0, so it was not run (the result is text-only's)."]
        return [
            f"Image prompt: FLUX.1 Redux, the reference's SigLIP tokens appended to the prompt's × {settings.scale:g}."
        ]
    adapter = Path(cache.spec.ip_adapter.repo).name  # XLabs-AI/flux-ip-adapter: flux-ip-adapter
    return [f"Image prompt: the IP-Adapter ({adapter}) at scale {settings.scale:g}, not Redux."]


class Runner:
    """Calls a family's pipelines for validated generation requests. Call its methods under the cache lock."""

    def __init__(self, device: str, preview_every: int) -> None:
        self.device = device
        self.preview_every = preview_every
        self.embeddings = EmbeddingCache()

    def run(
        self,
        cache: PipelineCache,
        request,
        control_images: list[Image.Image],
        reference: Image.Image | None,
        started: float,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        preview: PreviewFn | None,
    ) -> Result:
        """One generation (``started``: when its work began, for its load time).

        A control at strength 0 adds nothing, so it is not run: a union ControlNet fusing several modes weighs each
        mode's condition by its strength instead of scaling its output, and would otherwise still steer with a
        zero-strength unit (so one unit at 0 gives the method without it, and all at 0 give text-only).
        """
        running = [(c, image) for c, image in zip(request.controls, control_images, strict=True)
                   if c.controlnet_conditioning_scale > 0]  # fmt: skip
        call = request.model_copy(update={"controls": [c for c, _ in running]})
        adapter = any(c.adapter for c in call.controls)
        image_prompt = request.ip_adapter if reference is not None else None
        redux = image_prompt is not None and image_prompt.runs_redux  # FLUX.1 Redux: tokens, no adapter
        ip_adapter = image_prompt is not None and image_prompt.mode != "redux"
        pipe = cache.pipeline_for([c.control_type for c in call.controls], ip_adapter, adapter)
        embeds, notes = self.embeddings.prompt(cache, request, self.device)
        notes = notes + image_prompt_notes(cache, image_prompt)
        preview, preview_notes = self._previewer(cache, preview, request)
        load_seconds = time.perf_counter() - started
        on_step_end = self._step_callback(request, progress, cancel, preview)
        kwargs = call_arguments(cache, call, [image for _, image in running], embeds, on_step_end)
        pipe.scheduler, sampler_notes = cache.scheduler(request.scheduler)
        try:
            if redux:
                tokens = self.embeddings.redux(cache, reference)
                kwargs["prompt_embeds"] = with_redux_tokens(kwargs["prompt_embeds"], tokens, request.ip_adapter.scale)
            elif ip_adapter:
                cache.use_ip_adapter(pipe, request.ip_adapter.scale, request.ip_adapter.mode)
                embeds = self.embeddings.reference(cache, pipe, reference, request, self.device)
                kwargs["ip_adapter_image_embeds"] = embeds
                if cache.family.distilled_guidance:  # used by true CFG only (not run); given, FLUX encodes no blank
                    kwargs["negative_ip_adapter_image_embeds"] = embeds
            images, seconds, memory = run_call(pipe, kwargs, self.device)
        finally:
            cache.use_ip_adapter(pipe, None)
        model_bytes = cache.parameter_bytes(pipe, ip_adapter, redux)
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
            model_bytes=model_bytes,
            notes=notes + preview_notes + sampler_notes,
        )

    def run_batch(
        self,
        cache: PipelineCache,
        requests: list,
        started: float,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        preview: PreviewFn | None,
    ) -> list[Result]:
        """Several single-image generations that differ only in their conditioning, in one pipeline call."""
        first, items = requests[0], len(requests)
        types = [t for t in CONTROL_TYPES if any(t == c.control_type for r in requests for c in r.controls)]
        users = [[k for k, r in enumerate(requests) if any(c.control_type == t for c in r.controls)] for t in types]
        reference = next((r.ip_adapter for r in requests if r.ip_adapter is not None), None)
        pipe = cache.pipeline_for_batch(types, users, items, reference is not None)
        embeds, notes = self.embeddings.prompt(cache, first, self.device)
        preview, preview_notes = self._previewer(cache, preview, first)
        notes = notes + preview_notes
        load_seconds = time.perf_counter() - started
        # The shared settings' call, made into one with a row per request.
        common = first.model_copy(update={"controls": [], "ip_adapter": None})
        kwargs = call_arguments(cache, common, [], embeds, self._step_callback(common, progress, cancel, preview))
        kwargs = batch_arguments(kwargs, cache, requests, types, embeds)
        pipe.scheduler, sampler_notes = cache.scheduler(first.scheduler)
        notes = notes + sampler_notes
        try:
            if reference is not None:
                cache.use_ip_adapter(pipe, reference.scale, reference.mode)
                embeds = self.embeddings.reference(cache, pipe, reference.image.convert("RGB"), first, self.device)
                reference_rows(kwargs, requests, embeds, cache.device)
            encodes = [0.0] * len(types)  # FLUX: its maps' VAE encodes, made before the call, charged to their users
            if types and cache.family.latent_control:  # each row's maps sampled as its solo run samples them
                pipe.controlnet.latents, encodes = control_latents(pipe, requests, types, users)
            net_seconds(pipe, len(types))  # from zero: an earlier call that failed may have left some
            images, seconds, memory = run_call(pipe, kwargs, self.device)
            nets = [net + encode for net, encode in zip(net_seconds(pipe, len(types)), encodes, strict=True)]
            shares = batch_time_shares(seconds + sum(encodes), items, users, nets)
        finally:
            cache.use_ip_adapter(pipe, None)
        model_bytes = cache.parameter_bytes(pipe, reference is not None)
        denoiser = "UNet" if cache.family.denoiser == "unet" else cache.family.denoiser
        shared = (
            f"Ran batched: {items} methods in one {seconds:.1f} s pass. The time shown is this method's cost in it: "
            f"its ControlNets' own time on its rows plus an equal share of the rest ({denoiser}, VAE, IP-Adapter "
            "attention)."
        )
        return [
            Result(
                images=[image],
                seeds=[request.seed],
                method=request.method,
                settings=request.settings_dict(),
                control_images=[c.image for c in request.controls],
                reference_image=request.ip_adapter.image.convert("RGB") if request.ip_adapter else None,
                seconds=share,
                load_seconds=load_seconds,
                peak_memory_bytes=memory.peak_bytes,
                memory_kind=memory.kind,
                model_bytes=model_bytes,
                notes=[*notes, shared],
            )
            for request, image, share in zip(requests, images, shares, strict=True)
        ]

    def _previewer(
        self, cache: PipelineCache, preview: PreviewFn | None, request
    ) -> tuple[Callable[[torch.Tensor, int, int], None] | None, list]:
        """What a run's step callback calls with its latents to show previews (None: no previews), and the note
        that says why previews are off when they were asked for and cannot be made. Call under the cache lock."""
        if preview is None:
            return None, []
        decoder = cache.preview_decoder()
        if decoder is None:
            reason = cache.preview_error
            return None, [f"Live previews are off: {reason}."] if reason else []

        def show(latents: torch.Tensor, done: int, total: int) -> None:
            preview(decoder.decode(cache.family.spatial_latents(latents, request.width, request.height)), done, total)

        return show, []

    def _step_callback(self, request, progress, cancel, preview) -> Callable:
        return step_callback(request.num_inference_steps, cancel, progress, preview, self.preview_every)
