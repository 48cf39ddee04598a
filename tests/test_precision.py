"""Dtype and device are invariants of the pipeline cache: no method, in any order, changes them.

diffusers' ``from_pipe`` casts the pipeline it derives to float32 unless told
otherwise; in half precision that turned the shared UNet, VAE and text encoder
into float32 on the first ControlNet run and broke every later method. These
tests run every method alone, combined, in a comparison and in a sweep (with and
without ``preload``, with and without low-VRAM offload) and check after each one
that every resident module still has the configured dtype and device. In the
half-precision lane of ``scripts/test.sh`` (``STUDIO_TEST_DTYPE=bfloat16``) they
reproduce the dtype mixing of CUDA float16 on the CPU.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from PIL import Image
from skimage import data

from app.models import CONTROL_TYPES, tiny_spec
from app.studio import Studio

BASE = {"prompt": "a lighthouse", "seed": 5, "num_inference_steps": 2, "width": 64, "height": 64}
SEQUENCE = ["text", "canny", "depth", "ip_adapter", "pose", "canny+depth", "depth+ip_adapter", "text"]


def request_for(method: str, image: Image.Image) -> dict:
    parts = method.split("+")
    request = {**BASE, "controls": [{"control_type": t, "image": image} for t in parts if t in CONTROL_TYPES]}
    if "ip_adapter" in parts:
        request["ip_adapter"] = {"scale": 0.6, "image": image}
    return request


def misplaced(studio: Studio) -> list[str]:
    """Every resident parameter or buffer that left the configured dtype or device."""
    cache = studio.cache
    wrong = []
    for name, module in cache.resident_modules().items():
        for tensor_name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if tensor.is_floating_point() and tensor.dtype != cache.dtype:
                wrong.append(f"{name}.{tensor_name}: {tensor.dtype}, configured {cache.dtype}")
            if tensor.device.type != torch.device(cache.device).type:
                wrong.append(f"{name}.{tensor_name}: on {tensor.device}, configured {cache.device}")
    return wrong


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(data.astronaut()).resize((128, 128))


@pytest.mark.parametrize("preload", [False, True], ids=["lazy", "preloaded"])
@pytest.mark.parametrize("low_vram", [False, True], ids=["resident", "offload"])
def test_every_method_in_sequence_keeps_the_configured_dtype_and_device(
    tiny_settings, tiny_root, photo, preload, low_vram
):
    studio = Studio(replace(tiny_settings, low_vram=low_vram), tiny_spec(tiny_root))
    if preload:
        studio.preload()
        assert misplaced(studio) == []
    for method in SEQUENCE:
        result = studio.generate(request_for(method, photo))
        assert result.image.size == (64, 64), method
        assert misplaced(studio) == [], f"after {method}"
    resident = studio.cache.resident_modules()
    assert {"unet", "vae", "text_encoder", "image_encoder", "controlnet_depth"} <= set(resident)


def test_comparison_and_sweep_keep_the_configured_dtype(tiny_settings, tiny_root, photo):
    studio = Studio(tiny_settings, tiny_spec(tiny_root))
    studio.preload()
    methods = ["text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "canny+depth"]
    entries = list(studio.compare({**BASE, "methods": methods}, photo, photo))
    assert [e.error for e in entries] == [None] * len(methods)
    assert misplaced(studio) == []
    studio.score(entries, {**BASE, "methods": methods}, photo)
    sweep = {
        "base": {**BASE, "methods": ["depth"]},
        "x": {"name": "controlnet_conditioning_scale", "values": [0.0, 1.0]},
        "y": {"name": "method", "values": ["depth", "canny+ip_adapter"]},
    }
    result = studio.sweep(sweep, photo, photo)
    assert all(c.entry.result is not None for c in result.cells)
    assert misplaced(studio) == []


def test_the_controlnet_pipeline_is_derived_in_the_configured_dtype(studio, photo):
    studio.generate(request_for("canny", photo))
    pipe = studio.cache.pipeline_for(["canny"], ip_adapter=False)
    assert pipe.dtype == studio.cache.dtype
    assert pipe.unet is studio.cache.base().unet  # shared, not a converted copy
