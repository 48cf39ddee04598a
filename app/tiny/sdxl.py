"""The tiny SDXL family: SDXL's real classes and layout, tiny configs, seeded random weights.

Written beside the SD1.5 twin by :func:`app.tiny.diffusion.build_family`, laid out as the real repositories are:

- ``sdxl/`` — a ``StableDiffusionXLPipeline`` folder (``stabilityai/stable-diffusion-xl-base-1.0``): a UNet with
  SDXL's block layout (no attention at the top level, several transformer layers deeper down, ``text_time`` added
  embeddings), two text encoders (the second with a projection) and two tokenizers, a VAE and Euler;
- ``controlnet-sdxl-canny/``, ``controlnet-sdxl-depth/`` — per-type SDXL ControlNets
  (``diffusers/controlnet-canny-sdxl-1.0``, ``diffusers/controlnet-depth-sdxl-1.0``);
- ``controlnet-sdxl-union/`` — a ``ControlNetUnionModel`` serving several control types by mode
  (``xinsir/controlnet-union-sdxl-1.0``);
- ``t2i-adapter-sdxl-<type>/`` — a ``T2IAdapter`` per type TencentARC serves on SDXL
  (``TencentARC/t2i-adapter-canny-sdxl-1.0`` and its siblings), in full precision only, as the studio reads them;
- ``ip-adapter/sdxl_models/ip-adapter_sdxl_vit-h.safetensors`` — the SDXL IP-Adapter key layout, in the same
  ``ip-adapter/`` folder as SD1.5's and reading the same ``models/image_encoder`` (as ``h94/IP-Adapter`` does);
- ``sdxl-vae-fp16-fix/`` — the VAE that replaces SDXL's own in float16 (``madebyollin/sdxl-vae-fp16-fix``): the
  same weights here, with ``force_upcast`` off as the real fix has it, so float16 decodes without the float32 detour;
- ``taesdxl/`` — the live-preview decoder for SDXL latents (``madebyollin/taesdxl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.controls import CONTROLS, adapted_types
from app.tiny.common import build_tokenizer
from app.tiny.parts import randomise_zero_convs, seeded, write_half_variants, write_ip_adapter_weights, write_taesd

SDXL_PROFILES: dict[str, dict[str, Any]] = {
    "tiny": {
        "unet_channels": (16, 32, 32),
        "unet_layers": 1,
        "transformer_layers": (1, 1, 2),
        "head_dim": (2, 4, 4),
        "norm_groups": 4,
        "time_embed": 8,
        "text_hidden": 16,
        "text_hidden_2": 16,
        "text_layers": 2,
        "text_heads": 2,
        "projection_2": 16,
        "vae_channels": (4, 8, 8, 8),
        "cond_channels": (4, 8, 8, 16),
        "union_heads": 2,
        "taesd_channels": (8, 8, 8, 8),
        "taesd_blocks": (1, 1, 1, 1),
    },
    # stabilityai/stable-diffusion-xl-base-1.0's sizes (the benchmarks' SDXL-sized random family): about 3.5 B
    # parameters in the pipeline and 1.25 B in the union ControlNet, which serves every control type there.
    "sdxl": {
        "unet_channels": (320, 640, 1280),
        "unet_layers": 2,
        "transformer_layers": (1, 2, 10),
        "head_dim": (5, 10, 20),
        "norm_groups": 32,
        "time_embed": 256,
        "text_hidden": 768,
        "text_hidden_2": 1280,
        "text_layers": 12,
        "text_layers_2": 32,
        "text_heads": 12,
        "text_heads_2": 20,
        "projection_2": 1280,
        "vae_channels": (128, 256, 512, 512),
        "vae_layers": 2,
        "cond_channels": (16, 32, 96, 256),
        "union_heads": 8,
        "per_type": False,
        "adapters": ("canny",),  # TencentARC's sizes (79 M parameters): the one the benchmark sets beside ControlNet
        "adapter_res_blocks": 2,
        "half_variants": False,  # 10 GB of UNet: loaders cast the full files instead
        "taesd_channels": (64, 64, 64, 64),  # madebyollin/taesdxl's own sizes
        "taesd_blocks": (3, 3, 3, 1),
    },
}

CONTROL_TYPES_PER_TYPE = ("canny", "depth")
"""The control types with their own SDXL ControlNet (pose is served by the union ControlNet)."""


def build_sdxl(root: Path, vision_projection: int, profile: str = "tiny", seed: int = 0) -> None:
    """Write the tiny SDXL family under ``root`` (beside the SD1.5 twin, whose ``ip-adapter/`` it joins).

    Args:
        root: The family folder.
        vision_projection: The shared image encoder's projection size (the IP-Adapter's input).
        profile: Component sizes.
        seed: Seed for every random weight.
    """

    p = SDXL_PROFILES[profile]
    root = Path(root)
    unet, vae = _write_pipeline(root / "sdxl", p, seed)
    if p.get("half_variants", True):
        write_half_variants(root / "sdxl")
    vae.register_to_config(force_upcast=False)
    vae.save_pretrained(root / "sdxl-vae-fp16-fix", safe_serialization=True)
    del vae
    from diffusers import ControlNetModel, ControlNetUnionModel

    for index, control_type in enumerate(CONTROL_TYPES_PER_TYPE if p.get("per_type", True) else ()):
        seeded(seed + 10 + index)
        controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=p["cond_channels"])
        randomise_zero_convs(controlnet, seed + 10 + index)
        controlnet.save_pretrained(root / f"controlnet-sdxl-{control_type}", safe_serialization=True)
        write_half_variants(root / f"controlnet-sdxl-{control_type}")
    seeded(seed + 15)
    config = {k: v for k, v in dict(unet.config).items() if k in ControlNetUnionModel.extract_init_dict(unet.config)[0]}
    union = ControlNetUnionModel(
        **config,
        conditioning_embedding_out_channels=p["cond_channels"],
        num_trans_channel=p["unet_channels"][0],
        num_trans_head=p["union_heads"],
        num_proj_channel=p["unet_channels"][0],
    )
    union.load_state_dict(unet.state_dict(), strict=False)  # what from_unet copies: the shared encoder half
    randomise_zero_convs(union, seed + 15)
    union.save_pretrained(root / "controlnet-sdxl-union", safe_serialization=True)
    _write_adapters(root, p, seed + 40)
    write_ip_adapter_weights(
        root / "ip-adapter" / "sdxl_models" / "ip-adapter_sdxl_vit-h.safetensors", unet, vision_projection, seed + 20
    )
    write_taesd(root / "taesdxl", p, seed + 30)


def _write_adapters(root: Path, p: dict[str, Any], seed: int) -> None:
    """A T2I-Adapter per type that has one on SDXL (``t2i-adapter-sdxl-<type>/``), TencentARC's ``full_adapter_xl``
    layout: four feature maps with the UNet's channels, at 1/16, 1/16, 1/32 and 1/32 of the image, which its first
    two down blocks and its mid block add (as ``down_intrablock_additional_residuals``)."""
    from diffusers import T2IAdapter

    channels = [*p["unet_channels"], p["unet_channels"][-1]]
    for index, control_type in enumerate(adapted_types("sdxl")):
        if control_type not in p.get("adapters", CONTROLS):
            continue
        seeded(seed + index)
        adapter = T2IAdapter(
            in_channels=3,
            channels=channels,
            num_res_blocks=p.get("adapter_res_blocks", 1),
            downscale_factor=16,
            adapter_type="full_adapter_xl",
        )
        adapter.save_pretrained(root / f"t2i-adapter-sdxl-{control_type}", safe_serialization=True)


def _write_pipeline(folder: Path, p: dict[str, Any], seed: int):
    """The tiny SDXL pipeline written to ``folder`` through diffusers' own ``save_pretrained`` (long by design: one
    tiny config per component, kept together so the twin reads as one family beside the real one)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = build_tokenizer()
    cross_dim = p["text_hidden"] + p["text_hidden_2"]
    seeded(seed)
    unet = UNet2DConditionModel(
        sample_size=128,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=p["unet_channels"],
        layers_per_block=p["unet_layers"],
        transformer_layers_per_block=p["transformer_layers"],
        attention_head_dim=p["head_dim"],
        norm_num_groups=p["norm_groups"],
        cross_attention_dim=cross_dim,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=p["time_embed"],
        projection_class_embeddings_input_dim=p["projection_2"] + 6 * p["time_embed"],
    )
    seeded(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * len(p["vae_channels"]),
        up_block_types=("UpDecoderBlock2D",) * len(p["vae_channels"]),
        block_out_channels=p["vae_channels"],
        layers_per_block=p.get("vae_layers", 1),
        latent_channels=4,
        norm_num_groups=p["norm_groups"] if p["vae_channels"][0] >= 32 else 4,
        sample_size=1024,
        scaling_factor=0.13025,  # SDXL's VAE scaling
    )

    def text_config(hidden: int, projection: int, second: bool = False) -> CLIPTextConfig:
        return CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden,
            intermediate_size=hidden * 4,
            num_hidden_layers=p["text_layers_2" if second and "text_layers_2" in p else "text_layers"],
            num_attention_heads=p["text_heads_2" if second and "text_heads_2" in p else "text_heads"],
            max_position_embeddings=77,
            projection_dim=projection,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )

    seeded(seed + 2)
    text_encoder = CLIPTextModel(text_config(p["text_hidden"], p["text_hidden"]))
    seeded(seed + 3)
    text_encoder_2 = CLIPTextModelWithProjection(text_config(p["text_hidden_2"], p["projection_2"], second=True))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=build_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        image_encoder=None,
        feature_extractor=None,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    del pipe, text_encoder, text_encoder_2  # the caller keeps the UNet (its ControlNets copy it) and the VAE
    return unet, vae


__all__ = ["CONTROL_TYPES_PER_TYPE", "SDXL_PROFILES", "build_sdxl"]
