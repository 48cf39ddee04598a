"""FLUX.1's methods in one denoising pass: each ControlNet steers only its methods' rows, as
:class:`~app.engine.batched.PerItemControlNets` does for the UNet families.

FLUX's ControlNet takes its map as VAE latents, which its pipeline samples from the call's generator before drawing
the noise: in a solo run the first map's sample comes first from the seed's generator, the second map's next. A
batched call would sample every row's every map in the nets' order (blank maps included), so a row's maps would not
get its solo run's samples. :func:`control_latents` therefore encodes each row's maps as its solo run does (the
row's seed, its own maps in its own order), and :class:`PerItemFluxControlNets` steers with those, ignoring the
latents the pipeline made of the one blank map it is handed (one VAE encode per row, against the pass's steps).

Why the batch equals the solo runs (up to floating-point order): every row starts from its own seed's noise (drawn
before the call, :func:`app.engine.calls.starting_latents`); FLUX's transformer treats rows independently (layer
norms and attention are per sample, guidance is distilled: no CFG halves); a net run on some rows gives each what it
gives that row alone; rows that do not use it get exact zeros, which the transformer adds (``x + 0`` is ``x``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from diffusers import FluxMultiControlNetModel

from app.engine.batched import RowUsers


class PerItemFluxControlNets(RowUsers, FluxMultiControlNetModel):
    """FLUX ControlNets that each steer only some rows of the batch, from latents made as each row's solo run makes
    them.

    Args:
        controlnets: One ControlNet per control type in the batch (one network may serve several types).
        users: For each ControlNet, the rows (0 … items-1) of the methods that use it.
        items: How many methods (rows) the call has; FLUX has no classifier-free-guidance copies.
    """

    def __init__(self, controlnets: Sequence[Any], users: Sequence[Sequence[int]], items: int) -> None:
        super().__init__(controlnets, users, items)
        self.latents: list[torch.Tensor] = []  # per net: its users' map latents, in ``users`` order

    def forward(
        self,
        hidden_states: torch.Tensor,
        controlnet_cond: list[torch.Tensor],
        controlnet_mode: list[torch.Tensor],
        conditioning_scale: list[float],
        encoder_hidden_states: torch.Tensor | None = None,
        pooled_projections: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        img_ids: torch.Tensor | None = None,
        txt_ids: torch.Tensor | None = None,
        guidance: torch.Tensor | None = None,
        joint_attention_kwargs: dict[str, Any] | None = None,
        return_dict: bool = True,
    ) -> tuple[list[torch.Tensor] | None, list[torch.Tensor] | None]:
        """``FluxMultiControlNetModel.forward``, each net on its users' rows with their own map latents (the
        pipeline's ``controlnet_cond`` is the blank map's and is not used), the samples summed per row."""
        if len(self.latents) != len(self.nets):
            raise ValueError("the rows' map latents were not given (PerItemFluxControlNets.latents)")
        batch = hidden_states.shape[0]
        blocks: list[torch.Tensor] | None = None
        singles: list[torch.Tensor] | None = None
        nets = zip(self.nets, self.users, self.latents, conditioning_scale, self.timers, strict=True)
        for net, users, latents, scale, timer in nets:
            if not users:
                continue
            rows = torch.tensor(users, device=hidden_states.device)
            with timer.timing(hidden_states.device):
                net_blocks, net_singles = net(
                    hidden_states=hidden_states[rows],
                    controlnet_cond=latents.to(hidden_states.device, hidden_states.dtype),
                    controlnet_mode=None,
                    conditioning_scale=scale,
                    timestep=timestep[rows],
                    guidance=None if guidance is None else guidance[rows],
                    pooled_projections=pooled_projections[rows],
                    encoder_hidden_states=encoder_hidden_states[rows],
                    txt_ids=txt_ids,
                    img_ids=img_ids,
                    joint_attention_kwargs=joint_attention_kwargs,
                    return_dict=False,
                )
            blocks = _add_rows(blocks, net_blocks, rows, batch)
            singles = _add_rows(singles, net_singles, rows, batch)
        return blocks, singles


def _add_rows(
    totals: list[torch.Tensor] | None, samples: list[torch.Tensor] | None, rows: torch.Tensor, batch: int
) -> list[torch.Tensor] | None:
    """``samples`` (for ``rows``) added into per-row totals, made as zeros on first use; None stays None."""
    if samples is None:
        return totals
    if totals is None:
        totals = [sample.new_zeros((batch, *sample.shape[1:])) for sample in samples]
    for total, sample in zip(totals, samples, strict=True):
        total.index_add_(0, rows, sample)
    return totals


def control_latents(
    pipe: Any, requests: Sequence[Any], types: Sequence[str], users: Sequence[Sequence[int]]
) -> tuple[list[torch.Tensor], list[float]]:
    """For each control type, its users' map latents, packed as FLUX's ControlNet pipeline packs them and sampled as
    each row's solo run samples them (from a generator seeded with the row's seed, the row's maps in its order), and
    the seconds their VAE encodes took: part of what the type's methods cost (a solo run encodes inside its call).

    Args:
        pipe: The FLUX ControlNet pipeline (its VAE, image processing and packing).
        requests: The rows' generations.
        types: The control types in the batch, one per net.
        users: For each type, the rows that use it.
    """
    from diffusers.pipelines.flux.pipeline_flux_controlnet import retrieve_latents

    vae, device = pipe.vae, pipe._execution_device
    channels = pipe.transformer.config.in_channels // 4
    per_row: list[dict[str, torch.Tensor]] = []
    seconds = dict.fromkeys(types, 0.0)
    with torch.inference_mode():
        for request in requests:
            generator = [torch.Generator("cpu").manual_seed(request.seed)]  # as the solo call's first image has
            latents = {}
            for control in request.controls:
                if control.controlnet_conditioning_scale <= 0:  # not run, so not sampled, in its solo run either
                    continue
                started = time.perf_counter()
                image = pipe.prepare_image(control.image, request.width, request.height, 1, 1, device, vae.dtype)
                sample = retrieve_latents(vae.encode(image), generator=generator)
                sample = (sample - vae.config.shift_factor) * vae.config.scaling_factor
                height, width = sample.shape[2:]
                latents[control.control_type] = pipe._pack_latents(sample, 1, channels, height, width)
                if sample.device.type == "cuda":  # kernels run asynchronously: wait for them before reading the clock
                    torch.cuda.synchronize(sample.device)
                seconds[control.control_type] += time.perf_counter() - started
            per_row.append(latents)
    # A control at strength 0 steers nothing (its net runs at scale 0): a blank stands for its latents.
    tokens = (requests[0].height // 16) * (requests[0].width // 16)
    blank = torch.zeros(1, tokens, channels * 4, device=device, dtype=vae.dtype)
    latents = [torch.cat([per_row[row].get(t, blank) for row in rows]) for t, rows in zip(types, users, strict=True)]
    return latents, [seconds[t] for t in types]
