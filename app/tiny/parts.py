"""Pieces both tiny diffusion families are built from: seeding, live ControlNets, IP-Adapter weight files and the
``fp16`` variant files the real repositories ship."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def seeded(seed: int) -> None:
    torch.manual_seed(seed)


def randomise_zero_convs(controlnet, seed: int) -> None:
    """ControlNets start with zero convolutions; give them seeded weights so control changes the image."""
    generator = torch.Generator().manual_seed(seed)
    modules = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]
    modules.append(controlnet.controlnet_cond_embedding.conv_out)
    with torch.no_grad():
        for module in modules:
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.05)
            module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.01)


def write_ip_adapter_weights(path: Path, unet, vision_projection: int, seed: int) -> None:
    """An IP-Adapter weight file for ``unet`` in the real key layout: ``image_proj.*`` (one image embedding of
    ``vision_projection`` values to four tokens) and ``ip_adapter.<id>.to_k_ip/to_v_ip.weight`` per cross-attention
    layer. Ids count every attention processor, self-attention included, so cross-attention layers get the odd ids
    1, 3, 5, ... as in the real files (SD1.5's and SDXL's alike)."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int, std: float = 0.05) -> torch.Tensor:
        return torch.randn(shape, generator=generator) * std

    cross_dim = unet.config.cross_attention_dim
    tokens = 4  # the plain IP-Adapter projects one image embedding to four tokens
    tensors = {
        "image_proj.proj.weight": rand(cross_dim * tokens, vision_projection),
        "image_proj.proj.bias": rand(cross_dim * tokens),
        "image_proj.norm.weight": torch.ones(cross_dim),
        "image_proj.norm.bias": torch.zeros(cross_dim),
    }
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
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))


def write_half_variants(folder: Path) -> None:
    """Write ``NAME.fp16.safetensors`` beside every ``NAME.safetensors`` under ``folder``, as SD1.5 and its
    ControlNets ship them (``unet/diffusion_pytorch_model.fp16.safetensors``, ``text_encoder/model.fp16.safetensors``).
    """
    for path in sorted(Path(folder).rglob("*.safetensors")):
        if len(path.suffixes) > 1:  # already a variant
            continue
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
        save_file(tensors, str(path.with_suffix(".fp16.safetensors")), metadata={"format": "pt"})


def write_taesd(folder: Path, p: dict, seed: int) -> None:
    """A TAESD-layout ``AutoencoderTiny`` (latents of factor 8) as madebyollin/taesd and taesdxl ship it: config +
    safetensors. ``p`` gives ``taesd_channels`` and ``taesd_blocks``."""
    from diffusers import AutoencoderTiny

    seeded(seed)
    AutoencoderTiny(
        encoder_block_out_channels=p["taesd_channels"],
        decoder_block_out_channels=p["taesd_channels"],
        num_encoder_blocks=tuple(reversed(p["taesd_blocks"])),
        num_decoder_blocks=p["taesd_blocks"],
        latent_channels=4,
    ).save_pretrained(folder, safe_serialization=True)
