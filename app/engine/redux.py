"""FLUX.1 Redux on a family's pipeline cache: the reference image as prompt tokens.

``FluxPriorReduxPipeline``'s parts, loaded once: SigLIP reads the reference (729 patch tokens at 384²) and the Redux
embedder lifts them to T5's width. The studio appends them, scaled, to the prompt's T5 tokens, as ComfyUI's
``StyleModelApply`` does with ``strength_type`` ``multiply`` (diffusers' prior pipeline scales the text tokens too,
and needs its own text encoders to keep the prompt). Nothing is attached to the transformer, so text-only calls are
untouched; a scale of 0 does not run Redux at all, so it equals text-only exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from app.engine.loading import load as _load
from app.errors import StudioError


class ReduxHandling:
    """The Redux half of :class:`~app.engine.pipelines.PipelineCache` (its spec, settings, lock and placement come
    from there)."""

    _redux: Any

    def redux(self):
        """The ``FluxPriorReduxPipeline`` (SigLIP, its image processor, the Redux embedder), loaded on first use."""
        with self.lock:
            if self._redux is None:
                source = self.spec.redux
                if not source:
                    raise StudioError(
                        f"{self.family.label} has no Redux model configured (STUDIO_FLUX_REDUX is empty); use the "
                        "IP-Adapter's full mode, or set it to a FluxPriorReduxPipeline repository or folder."
                    )
                from diffusers import FluxPriorReduxPipeline

                prior = _load(
                    "FLUX.1 Redux image encoder",
                    source,
                    lambda: FluxPriorReduxPipeline.from_pretrained(source, dtype=self.dtype, use_safetensors=True),
                    licence=self.family.licence,
                )
                prior.set_progress_bar_config(disable=True)
                if self.settings.low_vram:  # on the device only while it encodes, as the base's modules
                    prior.enable_model_cpu_offload(device=self.device)
                else:
                    self._place(prior)
                self._redux = prior
            return self._redux

    def redux_tokens(self, reference: Image.Image) -> torch.Tensor:
        """The reference's Redux tokens, ``(1, tokens, T5 width)`` in the cache's dtype. Call under :attr:`lock`."""
        prior = self.redux()
        with torch.inference_mode():
            hidden = prior.encode_image(reference, prior._execution_device, 1)
            tokens = prior.image_embedder(hidden).image_embeds
        return tokens.to(device=self.device, dtype=self.dtype)

    def redux_modules(self) -> list[torch.nn.Module]:
        """Redux's modules, for a method's weight count (none before it loads)."""
        prior = self._redux
        return [] if prior is None else [prior.image_encoder, prior.image_embedder]


def with_redux_tokens(prompt_embeds: torch.Tensor, tokens: torch.Tensor, scale: float) -> torch.Tensor:
    """The prompt's T5 tokens followed by the reference's Redux tokens times ``scale``, for each image of the call."""
    image_tokens = (tokens * scale).to(prompt_embeds.dtype).expand(prompt_embeds.shape[0], -1, -1)
    return torch.cat([prompt_embeds, image_tokens], dim=1)
