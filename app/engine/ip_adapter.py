"""The IP-Adapter on a family's shared UNet: loaded once, its attention processors attached only for the calls
that use it, so text-only calls always run the original processors and give the same pixels before and after."""

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
            # repository's root (SDXL's adapter reads SD1.5's ViT-H encoder).
            folder = source.image_encoder_folder
            encoder_folder = folder if "/" in folder else f"{source.subfolder}/{folder}".strip("/")
            # Another family's cache may hold the very encoder (h94's adapters for SD1.5 and SDXL read one ViT-H).
            # Offload hooks are per pipeline, so under low-VRAM offload each family loads its own.
            key = (source.repo, encoder_folder)
            encoder = None if self.settings.low_vram else self._shared.get(key)
            if encoder is None:
                # Load the image encoder ourselves so it, too, is read from safetensors only.
                encoder = _load(
                    "IP-Adapter image encoder",
                    f"{source.repo}/{encoder_folder}",
                    lambda: CLIPVisionModelWithProjection.from_pretrained(
                        source.repo, subfolder=encoder_folder, dtype=self.dtype, use_safetensors=True
                    ),
                )
                self._place(encoder)
                self._shared[key] = encoder
            base.register_modules(image_encoder=encoder)
            _load(
                "IP-Adapter weights",
                f"{source.repo}/{source.subfolder}/{source.weight_name}",
                lambda: base.load_ip_adapter(
                    source.repo,
                    subfolder=source.subfolder,
                    weight_name=source.weight_name,
                    image_encoder_folder=source.image_encoder_folder,
                ),
            )
            unet = base.unet
            self._ip_parts = IPAdapterParts(
                processors=dict(unet.attn_processors),
                projection=unet.encoder_hid_proj,
                encoder_hid_dim_type=unet.config.encoder_hid_dim_type,
            )
            self._attach_ip_adapter(False)
        return self._ip_parts

    def _attach_ip_adapter(self, attached: bool) -> None:
        unet = self.base().unet
        if attached:
            parts = self._ip_parts
            unet.set_attn_processor(dict(parts.processors))  # it consumes the dict
            unet.encoder_hid_proj = parts.projection
            unet.config.encoder_hid_dim_type = parts.encoder_hid_dim_type
        else:
            unet.set_attn_processor(dict(self._plain_processors))
            unet.encoder_hid_proj = None
            unet.config.encoder_hid_dim_type = None

    def use_ip_adapter(self, pipe, scale: float | None, mode: str = "full") -> None:
        """Attach the IP-Adapter with a scale (``None`` detaches it). Call under :attr:`lock`."""
        if scale is None:
            if self._ip_parts is not None:
                self._attach_ip_adapter(False)
            return
        self._attach_ip_adapter(True)
        layers = self.base().unet.config.layers_per_block
        pipe.set_ip_adapter_scale(ip_adapter_scale_config(self.family, scale, mode, layers))
