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

import torch
from safetensors.torch import load_file, save_file

from app.engine.models import CONTROL_TYPES
from app.tiny.common import build_tokenizer

BUILDER_VERSION = 5  # 5: a tiny TAESD (AutoencoderTiny) for live previews; 4: fp16 weight variants
DEFAULT_SEED = 0

# Component sizes. "tiny" mirrors SD1.5's block layout (three cross-attention
# down blocks, an attention-free lowest level, VAE factor 8) so per-block
# IP-Adapter scales and ControlNet residuals line up as with real weights.
PROFILES: dict[str, dict] = {
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


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


def _write_sd(folder: Path, p: dict, seed: int) -> Any:
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    tokenizer = build_tokenizer()
    _seeded(seed)
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
    _seeded(seed + 1)
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
    _seeded(seed + 2)
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


def _randomise_zero_convs(controlnet, seed: int) -> None:
    """ControlNets start with zero convolutions; give them seeded weights so control changes the image."""
    generator = torch.Generator().manual_seed(seed)
    modules = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]
    modules.append(controlnet.controlnet_cond_embedding.conv_out)
    with torch.no_grad():
        for module in modules:
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.05)
            module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.01)


def _write_controlnet(folder: Path, unet, p: dict, seed: int) -> None:
    from diffusers import ControlNetModel

    _seeded(seed)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=p["cond_channels"])
    _randomise_zero_convs(controlnet, seed)
    controlnet.save_pretrained(folder, safe_serialization=True)


def _write_ip_adapter(folder: Path, unet, p: dict, seed: int) -> None:
    """The ``h94/IP-Adapter`` layout: ``models/<weight>.safetensors`` and ``models/image_encoder``."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    _seeded(seed)
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

    generator = torch.Generator().manual_seed(seed + 1)

    def rand(*shape: int, std: float = 0.05) -> torch.Tensor:
        return torch.randn(shape, generator=generator) * std

    cross_dim = unet.config.cross_attention_dim
    tokens = 4  # the plain IP-Adapter projects one image embedding to four tokens
    tensors = {
        "image_proj.proj.weight": rand(cross_dim * tokens, p["vision_projection"]),
        "image_proj.proj.bias": rand(cross_dim * tokens),
        "image_proj.norm.weight": torch.ones(cross_dim),
        "image_proj.norm.bias": torch.zeros(cross_dim),
    }
    # Keys count every attention processor, self-attention included, so
    # cross-attention layers get the odd ids 1, 3, 5, ... as in the real file.
    channels = unet.config.block_out_channels
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = rand(hidden, cross_dim)
        tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = rand(hidden, cross_dim)
        key_id += 2
    save_file(tensors, str(folder / "models" / "ip-adapter_sd15.safetensors"))


def _write_taesd(folder: Path, p: dict, seed: int) -> None:
    """A TAESD-layout ``AutoencoderTiny`` (SD latents, factor 8) as madebyollin/taesd ships it: config + safetensors."""
    from diffusers import AutoencoderTiny

    _seeded(seed)
    AutoencoderTiny(
        encoder_block_out_channels=p["taesd_channels"],
        decoder_block_out_channels=p["taesd_channels"],
        num_encoder_blocks=tuple(reversed(p["taesd_blocks"])),
        num_decoder_blocks=p["taesd_blocks"],
        latent_channels=4,
    ).save_pretrained(folder, safe_serialization=True)


def write_half_variants(folder: Path) -> None:
    """Write ``NAME.fp16.safetensors`` beside every ``NAME.safetensors`` under ``folder``, as SD1.5 and its
    ControlNets ship them (``unet/diffusion_pytorch_model.fp16.safetensors``, ``text_encoder/model.fp16.safetensors``).
    """
    for path in sorted(Path(folder).rglob("*.safetensors")):
        if len(path.suffixes) > 1:  # already a variant
            continue
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
        save_file(tensors, str(path.with_suffix(".fp16.safetensors")), metadata={"format": "pt"})


def build_family(
    root: Path, profile: str = "tiny", seed: int = DEFAULT_SEED, control_types: tuple[str, ...] = CONTROL_TYPES
) -> Path:
    """Write a complete model family under ``root`` (deterministic for a given seed).

    Args:
        root: Folder to write; created if missing.
        profile: ``tiny`` (a few MB, about a second) or ``sd15`` (SD1.5 sizes, random weights).
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
    _write_taesd(root / "taesd", p, seed + 30)  # nor does madebyollin/taesd
    return root
