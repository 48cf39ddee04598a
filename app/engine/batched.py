"""Every method of a comparison in one denoising pass: one batch item per method, each conditioned only by its own.

diffusers runs one set of ControlNets on every item of a batch (and refuses per-item conditioning scales), so a
comparison of K methods used to be K pipeline calls. :class:`PerItemControlNets` is a ``MultiControlNetModel``
whose nets each run only on the rows of the methods that use them and add zero residuals to every other row; the
IP-Adapter reaches only its methods' rows through diffusers' own ``ip_adapter_masks``. The pipeline, its denoising
loop, scheduler and CFG stay diffusers' own.

Why the batch equals K solo runs (up to floating-point order):

- every row starts from the same seeded latents (one CPU generator per row, all with the comparison's seed);
- the UNet treats rows independently (no batch statistics: group norm is per sample), so a row's output depends
  only on its own latents, prompt embeddings, ControlNet residuals and IP-Adapter tokens;
- a ControlNet run on a subset of rows gives each of those rows what it gives that row alone; rows that do not use
  it get exact zeros, and the UNet adds residuals, so ``x + 0`` is ``x``;
- a zero IP-Adapter mask multiplies that row's image-prompt attention by zero before it is added.

What differs is the order of floating-point sums in batched kernels: the tolerance tests bound it in pixel levels.

SDXL: each net also gets its rows' ``added_cond_kwargs`` (pooled text embeddings and size ids), and a union
ControlNet takes part once per control type as a :class:`UnionMode`, the network called in that type's mode on
the rows of the methods using it. A method that uses the union in two modes at once fuses them inside the network,
which two single-mode calls do not reproduce, so such a method runs on its own (the studio sees to it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from diffusers import MultiControlNetModel


class RowUsers:
    """What every family's per-row ControlNets keep beside their nets: each net's users and its time on them.

    Mixed in before a diffusers multi-ControlNet class (``MultiControlNetModel``, ``FluxMultiControlNetModel``),
    whose ``__init__`` takes the list of nets.
    """

    def __init__(self, controlnets: Sequence[Any], users: Sequence[Sequence[int]], items: int) -> None:
        super().__init__(list(controlnets))
        if len(users) != len(controlnets):
            raise ValueError(f"{len(controlnets)} ControlNets but {len(users)} lists of users")
        self.users = [list(u) for u in users]
        self.items = items
        self.timers = [_Timer() for _ in self.users]

    def take_seconds(self) -> list[float]:
        """Time each net spent on its rows since the last take (read after the pipeline returns), and start
        again from zero: the cost a method adds by using that net, which the studio charges to its users only."""
        return [timer.take() for timer in self.timers]


class PerItemControlNets(RowUsers, MultiControlNetModel):
    """ControlNets that each steer only some items of the batch.

    Args:
        controlnets: One ControlNet per control type in the batch.
        users: For each ControlNet, the batch items (0 … items-1) of the methods that use it.
        items: How many methods (batch items) the call has, before classifier-free guidance doubles the batch.
    """

    def _rows(self, users: list[int], batch: int) -> list[int]:
        """The batch rows of ``users``: with CFG the pipeline stacks [unconditional items, conditional items]."""
        copies, remainder = divmod(batch, self.items)
        if remainder:
            raise ValueError(f"a batch of {batch} rows does not hold {self.items} items")
        return [copy * self.items + user for copy in range(copies) for user in users]

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        controlnet_cond: list[torch.Tensor],
        conditioning_scale: list[float],
        class_labels: torch.Tensor | None = None,
        timestep_cond: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        guess_mode: bool = False,
        return_dict: bool = True,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """``MultiControlNetModel.forward``, each net on its users' rows only, the residuals summed per row."""
        batch = sample.shape[0]
        down: list[torch.Tensor] | None = None
        mid: torch.Tensor | None = None
        nets = zip(controlnet_cond, conditioning_scale, self.nets, self.users, self.timers, strict=True)
        for image, scale, net, users, timer in nets:
            if not users:
                continue
            rows = torch.tensor(self._rows(users, batch), device=sample.device)
            step = timestep[rows] if isinstance(timestep, torch.Tensor) and timestep.ndim > 0 else timestep
            added = None if added_cond_kwargs is None else {k: v[rows] for k, v in added_cond_kwargs.items()}
            with timer.timing(sample.device):
                net_down, net_mid = net(
                    sample=sample[rows],
                    timestep=step,
                    encoder_hidden_states=encoder_hidden_states[rows],
                    controlnet_cond=image[rows],
                    conditioning_scale=scale,
                    class_labels=class_labels,
                    timestep_cond=timestep_cond,
                    attention_mask=attention_mask,
                    added_cond_kwargs=added,
                    cross_attention_kwargs=cross_attention_kwargs,
                    guess_mode=guess_mode,
                    return_dict=False,
                )
            if down is None:  # zeros for every row, in the residuals' own shapes, dtype and device
                down = [residual.new_zeros((batch, *residual.shape[1:])) for residual in net_down]
                mid = net_mid.new_zeros((batch, *net_mid.shape[1:]))
            for total, residual in zip(down, net_down, strict=True):
                total.index_add_(0, rows, residual)
            mid.index_add_(0, rows, net_mid)
        if down is None:
            raise ValueError("no ControlNet has a user in this batch")
        return down, mid  # as MultiControlNetModel returns them, whatever return_dict says


class _Timer:
    """Time spent in one net across a call: CUDA events on a GPU (kernels run asynchronously, so a wall clock
    around the launch would measure almost nothing), ``perf_counter`` elsewhere."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []

    @contextlib.contextmanager
    def timing(self, device: torch.device) -> Iterator[None]:
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self.events.append((start, end))
            return
        started = time.perf_counter()
        yield
        self.seconds += time.perf_counter() - started

    def take(self) -> float:
        if self.events:
            self.events[-1][1].synchronize()
            self.seconds += sum(start.elapsed_time(end) for start, end in self.events) / 1000.0
            self.events.clear()
        seconds, self.seconds = self.seconds, 0.0
        return seconds


class UnionMode(torch.nn.Module):
    """A union ControlNet in one control mode, called as a per-type ControlNet is (one map, one scale).

    It makes the call diffusers' union pipeline makes for a single mode: the mode's one-hot ``control_type`` for
    every row and the mode as ``control_type_idx``.
    """

    def __init__(self, union: torch.nn.Module, mode: int) -> None:
        super().__init__()
        self.union, self.mode = union, mode

    @property
    def config(self) -> Any:
        return self.union.config  # the pipeline reads ``global_pool_conditions`` from its first net

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        controlnet_cond: torch.Tensor,
        conditioning_scale: float,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
        guess_mode: bool = False,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        modes = self.union.config.num_control_type
        control_type = torch.zeros(sample.shape[0], modes, device=sample.device, dtype=encoder_hidden_states.dtype)
        control_type[:, self.mode] = 1
        return self.union(
            sample,
            timestep,
            encoder_hidden_states=encoder_hidden_states,
            controlnet_cond=[controlnet_cond],
            control_type=control_type,
            control_type_idx=[self.mode],
            conditioning_scale=[conditioning_scale],
            added_cond_kwargs=added_cond_kwargs,
            guess_mode=guess_mode,
            return_dict=False,
            **kwargs,
        )
