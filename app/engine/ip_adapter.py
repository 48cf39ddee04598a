"""The IP-Adapter on a family's shared UNet (FLUX: transformer): loaded once, its attention processors attached only
for the calls that use it, so text-only calls always run the original processors and give the same pixels before and
after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from app.engine.families import ip_adapter_scale_config
from app.engine.loading import load as _load


@dataclass
class IPAdapterParts:
    """The IP-Adapter pieces that are attached to the shared UNet only while in use."""

    processors: dict[str, Any]
    projection: torch.nn.Module
    encoder_hid_dim_type: str


class IPAdapterHandling:
    """The IP-Adapter half of :class:`~app.engine.pipelines.PipelineCache` (its loading helpers, base pipeline,
    settings and lock come from there)."""

    def _ensure_ip_adapter(self) -> IPAdapterParts:
        base = self.base()
        if self._ip_parts is None:
            from transformers import CLIPVisionModelWithProjection

            source = self.spec.ip_adapter
            # diffusers' rule: a folder name is inside the subfolder, a path ("models/image_encoder") is from the
            # repository's root (SDXL's adapter reads SD1.5's ViT-H encoder). An encoder in a repository of its own
            # (FLUX's CLIP ViT-L/14) is at that folder there.
            folder = source.image_encoder_folder
            encoder_repo = source.image_encoder_repo or source.repo
            if source.image_encoder_repo or "/" in folder:
                encoder_folder = folder
            else:
                encoder_folder = f"{source.subfolder}/{folder}".strip("/")
            # Another family's cache may hold the very encoder (h94's adapters for SD1.5 and SDXL read one ViT-H).
            # Offload hooks are per pipeline, so under low-VRAM offload each family loads its own.
            key = (encoder_repo, encoder_folder)
            encoder = None if self.settings.low_vram else self._shared.get(key)
            if encoder is None:
                # Load the image encoder ourselves so it, too, is read from safetensors only.
                encoder = _load(
                    "IP-Adapter image encoder",
                    f"{encoder_repo}/{encoder_folder}".rstrip("/"),
                    lambda: CLIPVisionModelWithProjection.from_pretrained(
                        encoder_repo, subfolder=encoder_folder, dtype=self.dtype, use_safetensors=True
                    ),
                )
                self._place(encoder)
                self._shared[key] = encoder
            base.register_modules(image_encoder=encoder)
            # The encoder is registered above, so the loader reads the adapter's weights only (FLUX's loader names
            # the encoder's own repository, the UNet families' its folder).
            encoder_argument = (
                {"image_encoder_pretrained_model_name_or_path": None}
                if self.family.denoiser == "transformer"
                else {"image_encoder_folder": source.image_encoder_folder}
            )
            _load(
                "IP-Adapter weights",
                "/".join(part for part in (source.repo, source.subfolder, source.weight_name) if part),
                lambda: base.load_ip_adapter(
                    source.repo, subfolder=source.subfolder, weight_name=source.weight_name, **encoder_argument
                ),
            )
            denoiser = self.denoiser(base)
            self._ip_parts = IPAdapterParts(
                processors=dict(denoiser.attn_processors),
                projection=denoiser.encoder_hid_proj,
                encoder_hid_dim_type=denoiser.config.encoder_hid_dim_type,
            )
            self._attach_ip_adapter(False)
        return self._ip_parts

    def _attach_ip_adapter(self, attached: bool) -> None:
        denoiser = self.denoiser()  # the UNet, or FLUX's transformer
        if attached:
            parts = self._ip_parts
            denoiser.set_attn_processor(dict(parts.processors))  # it consumes the dict
            denoiser.encoder_hid_proj = parts.projection
            denoiser.config.encoder_hid_dim_type = parts.encoder_hid_dim_type
        else:
            denoiser.set_attn_processor(dict(self._plain_processors))
            denoiser.encoder_hid_proj = None
            denoiser.config.encoder_hid_dim_type = None

    def use_ip_adapter(self, pipe, scale: float | None, mode: str = "full") -> None:
        """Attach the IP-Adapter with a scale (``None`` detaches it). Call under :attr:`lock`."""
        if scale is None:
            if self._ip_parts is not None:
                self._attach_ip_adapter(False)
            return
        self._attach_ip_adapter(True)
        if mode == "full":  # one scale for every layer (the only mode a family without InstantStyle blocks takes)
            pipe.set_ip_adapter_scale(scale)
            return
        layers = self.base().unet.config.layers_per_block
        pipe.set_ip_adapter_scale(ip_adapter_scale_config(self.family, scale, mode, layers))
