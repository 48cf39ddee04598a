"""Live previews: a running denoising loop's latents, decoded cheaply every few steps.

The full VAE decoder costs about as much as several UNet steps at 512²; TAESD (diffusers' ``AutoencoderTiny``,
distilled from that VAE and reading the very latents the UNet works on) decodes them in a few milliseconds on a
GPU. The decoder runs inside the pipeline's own ``callback_on_step_end``, on the latents diffusers hands it, so the
loop, scheduler and final images are untouched: a run with previews gives the same pixels as one without.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from PIL import Image

PreviewFn = Callable[[list[Image.Image], int, int], None]
"""Called with one preview per batch item, the steps done and the steps in all."""

PREVIEWS_PER_RUN = 6
"""How many previews a run shows when the settings leave the interval to the studio (``preview_every = 0``)."""


def preview_interval(total_steps: int, every: int = 0) -> int:
    """Steps between two previews: ``every`` when set, else so that a run shows about :data:`PREVIEWS_PER_RUN`."""
    return every if every > 0 else max(1, math.ceil(total_steps / PREVIEWS_PER_RUN))


def is_preview_step(done: int, total: int, every: int = 0) -> bool:
    """Whether the step that has just finished (``done`` of ``total``) shows a preview. The last never does:
    the real decoder's image follows it at once."""
    return done < total and done % preview_interval(total, every) == 0


class PreviewDecoder:
    """A tiny autoencoder's decoder, turning a batch of latents into preview images."""

    def __init__(self, vae: torch.nn.Module) -> None:
        from diffusers.image_processor import VaeImageProcessor

        self.vae = vae
        self._processor = VaeImageProcessor(vae_scale_factor=2 ** (len(vae.config.decoder_block_out_channels) - 1))

    def decode(self, latents: torch.Tensor) -> list[Image.Image]:
        """One image per latent, scaled as the pipelines scale them for their VAE (TAESD's factor is 1)."""
        latents = latents.to(self.vae.device, self.vae.dtype) / self.vae.config.scaling_factor
        with torch.inference_mode():
            images = self.vae.decode(latents).sample
        return self._processor.postprocess(images.float(), output_type="pil")
