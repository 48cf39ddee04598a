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

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from app.controls import CONTROL_TYPES
from app.engine.devices import aux_placement
from app.engine.models import tiny_spec
from app.engine.placement import Placement
from app.studio import Studio

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {"prompt": "a lighthouse", "seed": 5, "num_inference_steps": 2, "width": 64, "height": 64}
SEQUENCE = ["text", "canny", "depth", "ip_adapter", "pose", "canny+depth", "depth+ip_adapter", "text"]


def request_for(method: str, image: Image.Image) -> dict:
    parts = method.split("+")
    request = {**BASE, "controls": [{"control_type": t, "image": image} for t in parts if t in CONTROL_TYPES]}
    if "ip_adapter" in parts:
        request["ip_adapter"] = {"scale": 0.6, "image": image}
    return request


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
        assert studio.cache.misplaced() == []
    for method in SEQUENCE:
        result = studio.generate(request_for(method, photo))
        assert result.image.size == (64, 64), method
        assert studio.cache.misplaced() == [], f"after {method}"
    resident = studio.cache.resident_modules()
    assert {"unet", "vae", "text_encoder", "image_encoder", "controlnet_depth"} <= set(resident)


def test_comparison_and_sweep_keep_the_configured_dtype(tiny_settings, tiny_root, photo):
    studio = Studio(tiny_settings, tiny_spec(tiny_root))
    studio.preload()
    methods = ["text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "canny+depth"]
    entries = list(studio.compare({**BASE, "methods": methods}, photo, photo))
    assert [e.error for e in entries] == [None] * len(methods)
    assert studio.cache.misplaced() == []
    studio.score(entries, {**BASE, "methods": methods}, photo)
    sweep = {
        "base": {**BASE, "methods": ["depth"]},
        "x": {"name": "controlnet_conditioning_scale", "values": [0.0, 1.0]},
        "y": {"name": "method", "values": ["depth", "canny+ip_adapter"]},
    }
    result = studio.sweep(sweep, photo, photo)
    assert all(c.entry.result is not None for c in result.cells)
    assert studio.cache.misplaced() == []


def test_the_controlnet_pipeline_is_derived_in_the_configured_dtype(studio, photo):
    studio.generate(request_for("canny", photo))
    pipe = studio.cache.pipeline_for(["canny"], ip_adapter=False)
    assert pipe.dtype == studio.cache.dtype
    assert pipe.unet is studio.cache.base().unet  # shared, not a converted copy


def parameters_of(model) -> list:
    """Every parameter of a detector's loaded model(s), whatever container the detector keeps them in."""
    if isinstance(model, torch.nn.Module):
        return list(model.parameters())
    if isinstance(model, dict):
        return [p for value in model.values() for p in parameters_of(value)]
    if isinstance(model, (list, tuple)):
        return [p for value in model for p in parameters_of(value)]
    found = [getattr(model, name, None) for name in ("model", "body_estimation", "detector", "pose", "netNetwork")]
    return [p for value in found if value is not None for p in parameters_of(value)]


@pytest.mark.parametrize(
    "detector",
    [
        "vitpose",
        "openpose",
        "depth_anything",
        "midas",
        "hed",
        "pidinet",
        "lineart_realistic",
        "upernet",
        "mlsd",
        "normalbae",
    ],
)
def test_detectors_run_on_the_studios_device_and_dtype(studio, photo, detector):
    instance = studio.maps.detector(detector)
    assert instance.placement == studio.aux == aux_placement(studio.settings)
    if instance.control_type == "pose":
        people = instance.detect_keypoints(photo)  # random tiny weights may find nobody; the network still ran
        assert isinstance(people, list)
    elif instance.control_type == "depth":
        depth = instance.estimate_depth(photo)
        assert depth.shape == (128, 128) and depth.dtype == np.float32 and np.isfinite(depth).all()
    else:  # an edge or segmentation map, made in the studio's dtype and read back as a picture
        made = instance.analyse(photo, 128)
        assert made.map.size == (128, 128) and np.asarray(made.map).any()
    parameters = parameters_of(instance.load())
    # The studio's dtype, but float32 for a model float16 overflows (it says so: ``overflows_float16``) or whose
    # code runs in float32 only (``float32_only``).
    overflows = instance.overflows_float16 and studio.cache.dtype == torch.float16
    expected = torch.float32 if overflows or instance.float32_only else studio.cache.dtype
    assert parameters and {p.dtype for p in parameters} == {expected}
    assert {p.device.type for p in parameters} == {torch.device(studio.cache.device).type}


def test_fit_scoring_clip_runs_on_the_studios_device_and_dtype(studio, photo):
    similarity = studio.clip.text_image_similarity("an astronaut", photo)
    assert -1.0 <= similarity <= 1.0
    assert {p.dtype for p in studio.clip.load().model.parameters()} == {studio.cache.dtype}


def test_aux_device_cpu_keeps_detectors_and_clip_in_cpu_float32(tiny_settings, tiny_root):
    studio = Studio(replace(tiny_settings, aux_device="cpu"), tiny_spec(tiny_root))
    assert studio.aux == Placement("cpu", "float32") == studio.maps.placement == studio.clip.placement
    default = Studio(tiny_settings, tiny_spec(tiny_root)).aux
    assert default == Placement("cpu", str(studio.cache.dtype).removeprefix("torch."))
    assert aux_placement(replace(tiny_settings, low_vram=True)) == Placement("cpu", "float32")
