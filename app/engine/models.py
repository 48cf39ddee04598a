"""Where the diffusion weights come from: one spec, two families, one loading code path.

``real`` names Hub repositories (or local folders, via environment overrides);
``tiny`` points at a folder written by :mod:`app.tiny` with the same layout and
the same component classes, so every loader call is identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

ControlType = Literal["canny", "pose", "depth"]
CONTROL_TYPES: tuple[ControlType, ...] = get_args(ControlType)
"""The control types, spelled here only: every schema, registry and loop reads them from this module."""
HALF_VARIANT = "fp16"
"""The weight files half-precision runs read where a repository ships them (SD1.5 and its ControlNets do)."""


@dataclass(frozen=True)
class IPAdapterSource:
    """Arguments of diffusers' ``load_ip_adapter``."""

    repo: str
    subfolder: str = "models"
    weight_name: str = "ip-adapter_sd15.safetensors"
    image_encoder_folder: str = "image_encoder"


@dataclass(frozen=True)
class ModelSpec:
    """The base model, one ControlNet per control type and the IP-Adapter."""

    family: str
    base: str
    controlnets: dict[str, str]
    ip_adapter: IPAdapterSource
    # Which model family it is (``app.engine.families``): ``sd15`` or ``sdxl``.
    kind: str = "sd15"
    # A union ControlNet (one network, a control mode per type) serving the control types that have no entry in
    # ``controlnets``.
    union: str | None = None
    # TAESD-style tiny autoencoder for live previews (diffusers' AutoencoderTiny); None: no previews.
    preview_vae: str | None = None
    revision: str | None = None
    root: str | None = None  # a locally built family (tiny): its folder also holds detectors/ and scorers/

    def hub_repositories(self) -> list[str]:
        """Every Hub repository this spec loads (local folders excluded)."""
        names = [self.base, *self.controlnets.values(), self.union, self.ip_adapter.repo, self.preview_vae]
        return [n for n in dict.fromkeys(names) if n and not Path(n).exists() and "/" in n]


REAL_DEFAULTS = {
    "base": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "canny": "lllyasviel/control_v11p_sd15_canny",
    "pose": "lllyasviel/control_v11p_sd15_openpose",
    "depth": "lllyasviel/control_v11f1p_sd15_depth",
    "ip_adapter": "h94/IP-Adapter",
    # TAESD in diffusers' format (config.json + diffusion_pytorch_model.safetensors): SD1.x latents, ~2.4 M parameters.
    "preview_vae": "madebyollin/taesd",
}


def real_spec() -> ModelSpec:
    """Hub defaults, each overridable by an environment variable (Hub id or local folder)."""
    env = os.environ.get
    return ModelSpec(
        family="real",
        base=env("STUDIO_BASE_MODEL") or REAL_DEFAULTS["base"],
        controlnets={t: env(f"STUDIO_CONTROLNET_{t.upper()}") or REAL_DEFAULTS[t] for t in CONTROL_TYPES},
        ip_adapter=IPAdapterSource(
            repo=env("STUDIO_IP_ADAPTER") or REAL_DEFAULTS["ip_adapter"],
            subfolder=env("STUDIO_IP_ADAPTER_SUBFOLDER") or "models",
            weight_name=env("STUDIO_IP_ADAPTER_WEIGHT") or "ip-adapter_sd15.safetensors",
        ),
        preview_vae=env("STUDIO_PREVIEW_VAE") or REAL_DEFAULTS["preview_vae"],
    )


def tiny_sdxl_spec(root: Path) -> ModelSpec:
    """The tiny SDXL twin written under ``root`` (:mod:`app.tiny.sdxl`): per-type canny and depth ControlNets,
    the union ControlNet for pose, the SDXL IP-Adapter on the shared image encoder."""
    return ModelSpec(
        family="tiny",
        kind="sdxl",
        base=str(root / "sdxl"),
        controlnets={t: str(root / f"controlnet-sdxl-{t}") for t in ("canny", "depth")},
        union=str(root / "controlnet-sdxl-union"),
        ip_adapter=IPAdapterSource(
            repo=str(root / "ip-adapter"),
            subfolder="sdxl_models",
            weight_name="ip-adapter_sdxl_vit-h.safetensors",
            image_encoder_folder="models/image_encoder",
        ),
        preview_vae=str(root / "taesdxl"),
        root=str(root),
    )


def tiny_spec(root: Path) -> ModelSpec:
    """The tiny family written under ``root`` by :func:`app.tiny.build_family`."""
    return ModelSpec(
        family="tiny",
        base=str(root / "sd"),
        controlnets={t: str(root / f"controlnet-{t}") for t in CONTROL_TYPES},
        ip_adapter=IPAdapterSource(repo=str(root / "ip-adapter")),
        preview_vae=str(root / "taesd"),
        root=str(root),
    )
