"""The tiny model family: real component classes, tiny configs, seeded random weights.

:func:`build_family` writes a folder with the same layout as the real
repositories (an SD1.5 pipeline folder, one ControlNet folder per control
type, an IP-Adapter folder with ``models/`` and ``models/image_encoder``), all
as safetensors. The engine then loads it through exactly the loaders it uses
for Hub weights. Images are noise, but every shape, code path and setting is
real. The ``sd15`` profile writes the same thing at Stable Diffusion 1.5 sizes
(random weights) for benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.controls import CONTROL_TYPES
from app.tiny.common import build_tokenizer
from app.tiny.flux import FLUX_PROFILES, build_flux
from app.tiny.parts import randomise_zero_convs, seeded, write_half_variants, write_ip_adapter_weights, write_taesd
from app.tiny.sdxl import SDXL_PROFILES, build_sdxl

# 11: FLUX.1 Redux; 10: the FLUX IP-Adapter; 9: the FLUX.1 twin; 8: full_adapter_xl T2I-Adapters;
# 7: the SDXL fp16-fix VAE; 6: the SDXL twin; 5: a tiny TAESD for live previews; 4: fp16 weight variants
BUILDER_VERSION = 11
DEFAULT_SEED = 0

# Component sizes. "tiny" mirrors SD1.5's block layout (three cross-attention
# down blocks, an attention-free lowest level, VAE factor 8) so per-block
# IP-Adapter scales and ControlNet residuals line up as with real weights.
PROFILES: dict[str, dict] = {  # "sdxl" (below): SD1.5's sizes plus the SDXL-sized twin
    "tiny": {
        "unet_channels": (8, 16, 16, 16),
        "unet_layers": 1,
        "unet_heads": 2,
        "norm_groups": 4,
        "text_hidden": 32,
        "text_layers": 2,
        "text_heads": 2,
        "vae_channels": (4, 8, 8, 8),
        "vae_layers": 1,
        "cond_channels": (4, 8, 8, 16),
        "vision_hidden": 32,
        "vision_layers": 2,
        "vision_heads": 2,
        "vision_image": 32,
        "vision_patch": 8,
        "vision_projection": 32,
        "taesd_channels": (8, 8, 8, 8),
        "taesd_blocks": (1, 1, 1, 1),
    },
    "sd15": {
        "unet_channels": (320, 640, 1280, 1280),
        "unet_layers": 2,
        "unet_heads": 8,
        "norm_groups": 32,
        "text_hidden": 768,
        "text_layers": 12,
        "text_heads": 12,
        "vae_channels": (128, 256, 512, 512),
        "vae_layers": 2,
        "cond_channels": (16, 32, 96, 256),
        "vision_hidden": 1280,
        "vision_layers": 32,
        "vision_heads": 16,
        "vision_image": 224,
        "vision_patch": 14,
        "vision_projection": 1024,
        "taesd_channels": (64, 64, 64, 64),  # madebyollin/taesd's own sizes
        "taesd_blocks": (3, 3, 3, 1),
    },
}


PROFILES["sdxl"] = PROFILES["sd15"]


def _write_sd(folder: Path, p: dict, seed: int) -> Any:
    """The tiny SD1.5 pipeline written to ``folder`` through diffusers' own ``save_pretrained`` (long by design: one
    tiny config per component, kept together so the twin reads as one family beside the real one)."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    tokenizer = build_tokenizer()
    seeded(seed)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        block_out_channels=p["unet_channels"],
        layers_per_block=p["unet_layers"],
        attention_head_dim=p["unet_heads"],
        norm_num_groups=p["norm_groups"],
        cross_attention_dim=p["text_hidden"],
    )
    seeded(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * len(p["vae_channels"]),
        up_block_types=("UpDecoderBlock2D",) * len(p["vae_channels"]),
        block_out_channels=p["vae_channels"],
        layers_per_block=p["vae_layers"],
        latent_channels=4,
        norm_num_groups=p["norm_groups"] if p["vae_channels"][0] >= 32 else 4,
        sample_size=512,
    )
    seeded(seed + 2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=p["text_hidden"],
            intermediate_size=p["text_hidden"] * 4,
            num_hidden_layers=p["text_layers"],
            num_attention_heads=p["text_heads"],
            max_position_embeddings=77,
            projection_dim=p["text_hidden"],
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
    )
    size = p["vision_image"]
    feature_extractor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=feature_extractor,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return unet


def _write_controlnet(folder: Path, unet, p: dict, seed: int) -> None:
    from diffusers import ControlNetModel

    seeded(seed)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=p["cond_channels"])
    randomise_zero_convs(controlnet, seed)
    controlnet.save_pretrained(folder, safe_serialization=True)


def _write_ip_adapter(folder: Path, unet, p: dict, seed: int) -> None:
    """The ``h94/IP-Adapter`` layout: ``models/<weight>.safetensors`` and ``models/image_encoder``."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    seeded(seed)
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=p["vision_hidden"],
            intermediate_size=p["vision_hidden"] * 4,
            num_hidden_layers=p["vision_layers"],
            num_attention_heads=p["vision_heads"],
            image_size=p["vision_image"],
            patch_size=p["vision_patch"],
            projection_dim=p["vision_projection"],
        )
    )
    encoder.save_pretrained(folder / "models" / "image_encoder", safe_serialization=True)
    write_ip_adapter_weights(folder / "models" / "ip-adapter_sd15.safetensors", unet, p["vision_projection"], seed + 1)


def build_family(
    root: Path, profile: str = "tiny", seed: int = DEFAULT_SEED, control_types: tuple[str, ...] = CONTROL_TYPES
) -> Path:
    """Write a complete model family under ``root`` (deterministic for a given seed).

    Args:
        root: Folder to write; created if missing.
        profile: ``tiny`` (a few MB, about a second), ``sd15`` (SD1.5 sizes, random weights) or ``sdxl`` (SD1.5's
            sizes and SDXL's, the union ControlNet serving SDXL's control types; about 25 GB).
        seed: Seed for every random weight.
        control_types: Which ControlNets to write.

    Returns:
        ``root``.
    """
    p = PROFILES[profile]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    unet = _write_sd(root / "sd", p, seed)
    write_half_variants(root / "sd")
    for index, control_type in enumerate(control_types):
        _write_controlnet(root / f"controlnet-{control_type}", unet, p, seed + 10 + index)
        write_half_variants(root / f"controlnet-{control_type}")
    _write_ip_adapter(root / "ip-adapter", unet, p, seed + 20)  # h94/IP-Adapter ships no fp16 variant
    write_taesd(root / "taesd", p, seed + 30)  # nor does madebyollin/taesd
    if profile in SDXL_PROFILES:  # the SDXL twin, sharing ip-adapter/'s image encoder
        build_sdxl(root, p["vision_projection"], profile, seed + 100)
    if profile in FLUX_PROFILES:  # the FLUX.1 twin (its real-size profile is built on its own, on demand)
        build_flux(root, profile, seed + 200)
    return root
