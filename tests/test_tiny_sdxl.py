"""The tiny SDXL family loads through diffusers' real SDXL loaders and runs every SDXL conditioning path.

The studio does not serve SDXL yet (issue 15); this checks its tiny twin first, with diffusers alone: the base
pipeline, a per-type ControlNet, the union ControlNet by mode, the SDXL IP-Adapter reading the shared image encoder,
and the SDXL preview decoder, in the suite's dtype.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

DTYPE = getattr(torch, TEST_DTYPE)
VARIANT = None if TEST_DTYPE == "float32" else "fp16"
CALL = {"prompt": "a lighthouse", "num_inference_steps": 2, "width": 64, "height": 64, "output_type": "pil"}


def generator() -> torch.Generator:
    return torch.Generator("cpu").manual_seed(3)


@pytest.fixture(scope="module")
def base(tiny_root):
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(
        tiny_root / "sdxl", dtype=DTYPE, variant=VARIANT, use_safetensors=True
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_the_base_pipeline_has_sdxls_layout_and_runs(base):
    unet = base.unet
    assert unet.config.addition_embed_type == "text_time"
    assert unet.config.down_block_types[0] == "DownBlock2D"  # no attention at the top level, as in SDXL
    assert base.text_encoder_2.__class__.__name__ == "CLIPTextModelWithProjection"
    assert (
        unet.config.cross_attention_dim == base.text_encoder.config.hidden_size + base.text_encoder_2.config.hidden_size
    )
    assert unet.dtype == DTYPE
    image = base(**CALL, generator=generator()).images[0]
    assert image.size == (64, 64) and pixels(image).std() > 0


def test_a_per_type_controlnet_and_the_union_controlnet_by_mode(base, tiny_root, noise_map):
    from diffusers import (
        ControlNetModel,
        ControlNetUnionModel,
        StableDiffusionXLControlNetPipeline,
        StableDiffusionXLControlNetUnionPipeline,
    )

    control = noise_map.resize((64, 64))
    canny = ControlNetModel.from_pretrained(tiny_root / "controlnet-sdxl-canny", dtype=DTYPE, variant=VARIANT)
    pipe = StableDiffusionXLControlNetPipeline.from_pipe(base, controlnet=canny, dtype=DTYPE)
    plain = base(**CALL, generator=generator()).images[0]
    steered = pipe(**CALL, image=control, generator=generator()).images[0]
    assert not np.array_equal(pixels(plain), pixels(steered))
    union = ControlNetUnionModel.from_pretrained(tiny_root / "controlnet-sdxl-union", dtype=DTYPE)
    pipe = StableDiffusionXLControlNetUnionPipeline.from_pipe(base, controlnet=union, dtype=DTYPE)
    by_mode = {
        mode: pixels(pipe(**CALL, control_image=[control], control_mode=[mode], generator=generator()).images[0])
        for mode in (1, 3)  # xinsir's union modes: 1 depth, 3 canny
    }
    assert not np.array_equal(by_mode[1], by_mode[3])  # the mode decides what the one network does
    again = pixels(pipe(**CALL, control_image=[control], control_mode=[3], generator=generator()).images[0])
    assert np.array_equal(again, by_mode[3])


def test_the_sdxl_ip_adapter_reads_the_shared_image_encoder(tiny_root, reference):
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(
        tiny_root / "sdxl", dtype=DTYPE, variant=VARIANT, use_safetensors=True
    )
    pipe.set_progress_bar_config(disable=True)
    text_only = pixels(pipe(**CALL, generator=generator()).images[0])
    pipe.load_ip_adapter(
        str(tiny_root / "ip-adapter"),
        subfolder="sdxl_models",
        weight_name="ip-adapter_sdxl_vit-h.safetensors",
        image_encoder_folder="models/image_encoder",  # h94/IP-Adapter's ViT-H, shared with SD1.5's adapter
    )
    pipe.to(DTYPE)
    pipe.set_ip_adapter_scale(0.8)
    shown = pixels(pipe(**CALL, ip_adapter_image=reference, generator=generator()).images[0])
    assert not np.array_equal(shown, text_only)
    pipe.set_ip_adapter_scale(0.0)
    muted = pixels(pipe(**CALL, ip_adapter_image=reference, generator=generator()).images[0])
    assert np.abs(muted.astype(int) - text_only.astype(int)).max() <= 1  # scale 0 is text-only


def test_the_sdxl_preview_decoder_reads_sdxl_latents(tiny_root):
    from diffusers import AutoencoderTiny

    taesdxl = AutoencoderTiny.from_pretrained(tiny_root / "taesdxl", dtype=DTYPE)
    with torch.inference_mode():
        images = taesdxl.decode(torch.randn(2, 4, 8, 8, dtype=DTYPE)).sample
    assert images.shape == (2, 3, 64, 64) and torch.isfinite(images.float()).all()
