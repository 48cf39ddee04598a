"""Where the diffusion weights come from: one spec per model family (SD1.5, SDXL, FLUX.1), one loading code path.

``real`` names Hub repositories (or local folders, via environment overrides);
``tiny`` points at a folder written by :mod:`app.tiny` with the same layout and
the same component classes, so every loader call is identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.controls import CONTROL_TYPES, CONTROLS

HALF_VARIANT = "fp16"
"""The weight files half-precision runs read where a repository ships them (SD1.5 and its ControlNets do)."""


@dataclass(frozen=True)
class IPAdapterSource:
    """Arguments of diffusers' ``load_ip_adapter``."""

    repo: str
    subfolder: str = "models"
    weight_name: str = "ip-adapter_sd15.safetensors"
    image_encoder_folder: str = "image_encoder"
    # The image encoder's own repository when it is not the adapter's (FLUX's XLabs adapter reads CLIP ViT-L/14 from
    # openai/clip-vit-large-patch14); its folder is then ``image_encoder_folder`` in that repository.
    image_encoder_repo: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """The base model, one ControlNet per control type and the IP-Adapter."""

    source: str  # real (the Hub or local overrides) or tiny
    base: str
    controlnets: dict[str, str]
    ip_adapter: IPAdapterSource
    # Which model family it is (``app.engine.families``): ``sd15`` or ``sdxl``.
    family: str = "sd15"
    # A union ControlNet (one network, a control mode per type) serving the control types that have no entry in
    # ``controlnets``.
    union: str | None = None
    # Each control type's T2I-Adapter (diffusers' ``T2IAdapter``), where the family has them.
    adapters: dict[str, str] = field(default_factory=dict)
    # TAESD-style tiny autoencoder for live previews (diffusers' AutoencoderTiny); None: no previews.
    preview_vae: str | None = None
    # A VAE that replaces the base's own in float16, where that one overflows (SDXL's: madebyollin's fp16 fix).
    half_vae: str | None = None
    # A FluxPriorReduxPipeline folder (SigLIP and the Redux embedder): the reference as prompt tokens (FLUX.1 Redux).
    redux: str | None = None
    revision: str | None = None
    root: str | None = None  # a locally built family (tiny): its folder also holds detectors/ and scorers/

    def hub_repositories(self) -> list[str]:
        """Every Hub repository this spec loads (local folders excluded)."""
        names = [
            self.base,
            *self.controlnets.values(),
            self.union,
            *self.adapters.values(),
            self.ip_adapter.repo,
            self.ip_adapter.image_encoder_repo,
            self.preview_vae,
            self.half_vae,
            self.redux,
        ]
        return [n for n in dict.fromkeys(names) if n and not Path(n).exists() and "/" in n]


REAL_DEFAULTS = {
    "base": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    # Each control type's own SD1.5 ControlNet (app.controls).
    **{name: spec.controlnets["sd15"] for name, spec in CONTROLS.items() if "sd15" in spec.controlnets},
    "ip_adapter": "h94/IP-Adapter",
    # TAESD in diffusers' format (config.json + diffusion_pytorch_model.safetensors): SD1.x latents, ~2.4 M parameters.
    "preview_vae": "madebyollin/taesd",
}


def real_spec() -> ModelSpec:
    """Hub defaults, each overridable by an environment variable (Hub id or local folder)."""
    env = os.environ.get
    return ModelSpec(
        source="real",
        base=env("STUDIO_BASE_MODEL") or REAL_DEFAULTS["base"],
        controlnets={
            t: own for t in CONTROL_TYPES if (own := env(f"STUDIO_CONTROLNET_{t.upper()}") or REAL_DEFAULTS.get(t))
        },
        ip_adapter=IPAdapterSource(
            repo=env("STUDIO_IP_ADAPTER") or REAL_DEFAULTS["ip_adapter"],
            subfolder=env("STUDIO_IP_ADAPTER_SUBFOLDER") or "models",
            weight_name=env("STUDIO_IP_ADAPTER_WEIGHT") or "ip-adapter_sd15.safetensors",
        ),
        preview_vae=env("STUDIO_PREVIEW_VAE") or REAL_DEFAULTS["preview_vae"],
    )


REAL_SDXL_DEFAULTS = {
    "base": "stabilityai/stable-diffusion-xl-base-1.0",
    # SDXL's own VAE overflows in float16 (diffusers then decodes in float32); this finetune does not.
    "half_vae": "madebyollin/sdxl-vae-fp16-fix",
    # One network serves canny, pose and depth (and their combinations) by control mode.
    "union": "xinsir/controlnet-union-sdxl-1.0",
    "ip_adapter": "h94/IP-Adapter",
    "preview_vae": "madebyollin/taesdxl",
}


def _env_source(name: str, default: str | None) -> str | None:
    """A source from environment variable ``name``: its value, ``default`` when unset, None when set empty."""
    value = os.environ.get(name)
    return default if value is None else (value.strip() or None)


def real_sdxl_spec() -> ModelSpec:
    """SDXL's Hub defaults, each overridable by a ``STUDIO_SDXL_*`` environment variable (Hub id or local folder).

    ``STUDIO_SDXL_CONTROLNET_CANNY`` (``_POSE``, ``_DEPTH``) gives a control type a ControlNet of its own, e.g.
    ``diffusers/controlnet-canny-sdxl-1.0``; the union ControlNet serves the others (``STUDIO_SDXL_CONTROLNET_UNION=``
    set empty: none). ``STUDIO_SDXL_T2I_ADAPTER_CANNY`` (and each type's) replaces a T2I-Adapter (empty: none).
    ``STUDIO_SDXL_VAE`` replaces the float16 VAE (empty: SDXL's own, upcast to decode).
    """
    env = os.environ.get
    source = _env_source

    return ModelSpec(
        source="real",
        family="sdxl",
        base=env("STUDIO_SDXL_BASE_MODEL") or REAL_SDXL_DEFAULTS["base"],
        controlnets={
            t: own
            for t, spec in CONTROLS.items()
            if (own := env(f"STUDIO_SDXL_CONTROLNET_{t.upper()}") or spec.controlnets.get("sdxl"))
        },
        union=source("STUDIO_SDXL_CONTROLNET_UNION", REAL_SDXL_DEFAULTS["union"]),
        adapters={
            t: own
            for t, spec in CONTROLS.items()
            if (own := source(f"STUDIO_SDXL_T2I_ADAPTER_{t.upper()}", spec.adapters.get("sdxl")))
        },
        ip_adapter=IPAdapterSource(
            repo=env("STUDIO_SDXL_IP_ADAPTER") or REAL_SDXL_DEFAULTS["ip_adapter"],
            subfolder=env("STUDIO_SDXL_IP_ADAPTER_SUBFOLDER") or "sdxl_models",
            weight_name=env("STUDIO_SDXL_IP_ADAPTER_WEIGHT") or "ip-adapter_sdxl_vit-h.safetensors",
            # The ViT-H encoder SD1.5's adapter reads, from the repository's root ("models/image_encoder").
            image_encoder_folder=env("STUDIO_SDXL_IP_ADAPTER_ENCODER") or "models/image_encoder",
        ),
        preview_vae=source("STUDIO_SDXL_PREVIEW_VAE", REAL_SDXL_DEFAULTS["preview_vae"]),
        half_vae=source("STUDIO_SDXL_VAE", REAL_SDXL_DEFAULTS["half_vae"]),
    )


def tiny_sdxl_spec(root: Path) -> ModelSpec:
    """The tiny SDXL twin written under ``root`` (:mod:`app.tiny.sdxl`): per-type canny and depth ControlNets,
    the union ControlNet for pose, the T2I-Adapters, the SDXL IP-Adapter on the shared image encoder."""
    return ModelSpec(
        source="tiny",
        family="sdxl",
        base=str(root / "sdxl"),
        # Per-type canny and depth ControlNets where the family has them (the SDXL-sized one has the union only).
        controlnets={t: str(own) for t in CONTROL_TYPES if (own := root / f"controlnet-sdxl-{t}").is_dir()},
        union=str(root / "controlnet-sdxl-union"),
        adapters={t: str(own) for t in CONTROL_TYPES if (own := root / f"t2i-adapter-sdxl-{t}").is_dir()},
        ip_adapter=IPAdapterSource(
            repo=str(root / "ip-adapter"),
            subfolder="sdxl_models",
            weight_name="ip-adapter_sdxl_vit-h.safetensors",
            image_encoder_folder="models/image_encoder",
        ),
        preview_vae=str(root / "taesdxl"),
        half_vae=str(root / "sdxl-vae-fp16-fix"),
        root=str(root),
    )


REAL_FLUX_DEFAULTS = {
    "base": "black-forest-labs/FLUX.1-dev",
    # XLabs' IP-Adapter for FLUX.1 [dev] (ip_adapter.safetensors at the root), on CLIP ViT-L/14's image encoder.
    "ip_adapter": "XLabs-AI/flux-ip-adapter",
    "ip_adapter_encoder": "openai/clip-vit-large-patch14",
    # TAEF1 in diffusers' format: it decodes FLUX's 16-channel latents as the pipeline holds them.
    "preview_vae": "madebyollin/taef1",
    # FLUX.1 Redux: SigLIP (so400m, patch 14, 384²) and the embedder that appends 729 image tokens to T5's prompt.
    "redux": "black-forest-labs/FLUX.1-Redux-dev",
}


def real_flux_spec() -> ModelSpec:
    """FLUX.1 [dev]'s Hub defaults, each overridable by a ``STUDIO_FLUX_*`` environment variable (Hub id or local
    folder): ``STUDIO_FLUX_BASE_MODEL``, ``STUDIO_FLUX_CONTROLNET_<TYPE>`` (empty: none for that type),
    ``STUDIO_FLUX_IP_ADAPTER`` (``…_WEIGHT``, ``…_ENCODER``), ``STUDIO_FLUX_REDUX`` (empty: no Redux),
    ``STUDIO_FLUX_PREVIEW_VAE`` (empty: no previews). Its ControlNets are the control types' ``flux`` entries."""
    env = os.environ.get
    source = _env_source

    return ModelSpec(
        source="real",
        family="flux",
        base=env("STUDIO_FLUX_BASE_MODEL") or REAL_FLUX_DEFAULTS["base"],
        controlnets={
            t: own
            for t, spec in CONTROLS.items()
            if (own := source(f"STUDIO_FLUX_CONTROLNET_{t.upper()}", spec.controlnets.get("flux")))
        },
        ip_adapter=IPAdapterSource(
            repo=env("STUDIO_FLUX_IP_ADAPTER") or REAL_FLUX_DEFAULTS["ip_adapter"],
            subfolder="",
            weight_name=env("STUDIO_FLUX_IP_ADAPTER_WEIGHT") or "ip_adapter.safetensors",
            image_encoder_folder="",
            image_encoder_repo=env("STUDIO_FLUX_IP_ADAPTER_ENCODER") or REAL_FLUX_DEFAULTS["ip_adapter_encoder"],
        ),
        preview_vae=source("STUDIO_FLUX_PREVIEW_VAE", REAL_FLUX_DEFAULTS["preview_vae"]),
        redux=source("STUDIO_FLUX_REDUX", REAL_FLUX_DEFAULTS["redux"]),
    )


def tiny_flux_spec(root: Path) -> ModelSpec:
    """The tiny FLUX.1 twin written under ``root`` (:mod:`app.tiny.flux`): one union ControlNet folder serving the
    control types the real one serves, as the real repository does, the XLabs-layout IP-Adapter and FLUX.1 Redux."""
    union = str(root / "controlnet-flux-union")
    return ModelSpec(
        source="tiny",
        family="flux",
        base=str(root / "flux"),
        controlnets={t: union for t, spec in CONTROLS.items() if "flux" in spec.controlnets},
        # The tiny fit-scoring CLIP is its image encoder, as CLIP ViT-L/14 is both for real weights.
        ip_adapter=IPAdapterSource(
            repo=str(root / "flux-ip-adapter"),
            subfolder="",
            weight_name="ip_adapter.safetensors",
            image_encoder_folder="",
            image_encoder_repo=str(root / "scorers" / "clip"),
        ),
        preview_vae=str(root / "taef1"),
        redux=str(root / "flux-redux"),
        root=str(root),
    )


def tiny_spec(root: Path) -> ModelSpec:
    """The tiny family written under ``root`` by :func:`app.tiny.build_family`."""
    return ModelSpec(
        source="tiny",
        base=str(root / "sd"),
        controlnets={t: str(root / f"controlnet-{t}") for t in CONTROL_TYPES},
        ip_adapter=IPAdapterSource(repo=str(root / "ip-adapter")),
        preview_vae=str(root / "taesd"),
        root=str(root),
    )
