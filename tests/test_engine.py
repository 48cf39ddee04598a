"""Engine behaviour on the tiny family: sizes, determinism, fairness, sharing, concurrency, errors."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from app.engine.models import tiny_spec
from app.errors import Cancelled, ModelLoadError, StudioError
from app.studio import Studio
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {"prompt": "a red bicycle", "seed": 11, "num_inference_steps": 3, "width": 96, "height": 64}


def with_controls(noise_map, *types, scale=1.0, **extra):
    controls = [{"control_type": t, "controlnet_conditioning_scale": scale, "image": noise_map} for t in types]
    return {**BASE, "controls": controls, **extra}


def with_ip(noise_map, scale=0.8, mode="full", **extra):
    return {**BASE, "ip_adapter": {"scale": scale, "mode": mode, "image": noise_map}, **extra}


@pytest.mark.parametrize(
    "make",
    [
        lambda m: BASE,
        lambda m: with_controls(m, "canny"),
        lambda m: with_controls(m, "pose"),
        lambda m: with_controls(m, "depth"),
        lambda m: with_controls(m, "canny", "depth"),
        lambda m: with_ip(m),
        lambda m: with_ip(m, mode="style"),
        lambda m: with_ip(m, mode="layout"),
        lambda m: {**with_controls(m, "depth"), "ip_adapter": {"scale": 0.7, "image": m}},
    ],
    ids=["text", "canny", "pose", "depth", "canny+depth", "ip", "ip-style", "ip-layout", "depth+ip"],
)
def test_every_method_gives_the_requested_size_and_repeats_exactly(studio, noise_map, make):
    request = make(noise_map)
    first = studio.generate(request)
    assert first.image.size == (96, 64) and first.image.mode == "RGB"
    assert np.array_equal(pixels(first), pixels(studio.generate(request)))


def test_methods_actually_change_the_image(studio, noise_map):
    text = pixels(studio.generate(BASE))
    for request in (with_controls(noise_map, "canny"), with_controls(noise_map, "depth"), with_ip(noise_map)):
        assert not np.array_equal(text, pixels(studio.generate(request))), request


def test_result_reports_seed_method_maps_time_and_memory(studio, noise_map):
    result = studio.generate(with_controls(noise_map, "depth", num_images_per_prompt=2))
    assert result.seeds == [11, 12] and len(result.images) == 2
    assert result.method == "depth"
    assert result.settings["controls"][0]["control_type"] == "depth"
    assert "image" not in result.settings["controls"][0]
    assert result.control_images[0].size == (96, 64)
    assert result.seconds > 0
    assert result.memory_kind in {"rss_peak_delta", "rss_delta", "cuda_peak_allocated"}
    assert isinstance(result.peak_memory_bytes, int)  # what it measures: test_peak_memory_sees_an_allocation


def test_peak_memory_sees_an_allocation():
    import gc

    from app.engine.devices import _rss_bytes, measure_peak_memory

    gc.collect()  # nothing left for the collector to free while the block is measured
    with measure_peak_memory("cpu") as reading:
        before = _rss_bytes("VmRSS")
        block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, touched and still held when the block ends
        assert block.sum() == 64 * 2**20
        grew = (_rss_bytes("VmRSS") or 0) - (before or 0)
    del block
    assert reading.kind in {"rss_peak_delta", "rss_delta"}
    if grew < 60 * 2**20:  # seen in this sandbox now and then: its /proc RSS does not follow every allocation
        pytest.skip(f"the process's resident memory grew by {grew / 2**20:.0f} MiB for a 64 MiB allocation")
    assert reading.peak_bytes >= 60 * 2**20


def test_image_i_of_a_batch_matches_a_single_run_on_seed_plus_i(studio):
    batch = studio.generate({**BASE, "num_images_per_prompt": 2})
    single = studio.generate({**BASE, "seed": BASE["seed"] + 1})
    # Batched kernels round differently from single ones, so equal up to rounding, not bit-exact.
    difference = np.abs(np.asarray(batch.images[1]).astype(int) - pixels(single).astype(int))
    assert difference.max() <= 2 and difference.mean() < 0.1
    other_seed = np.abs(np.asarray(batch.images[0]).astype(int) - pixels(single).astype(int))
    assert other_seed.mean() > 1


def test_controlnet_at_strength_zero_equals_text_only(studio, noise_map):
    text = pixels(studio.generate(BASE))
    assert np.array_equal(text, pixels(studio.generate(with_controls(noise_map, "canny", scale=0.0))))
    assert np.array_equal(text, pixels(studio.generate(with_controls(noise_map, "pose", "depth", scale=0.0))))


def test_ip_adapter_scale_zero_equals_text_only_and_leaves_no_trace(studio, noise_map):
    before = pixels(studio.generate(BASE))
    assert np.array_equal(before, pixels(studio.generate(with_ip(noise_map, scale=0.0))))
    studio.generate(with_ip(noise_map, scale=1.0))
    assert np.array_equal(before, pixels(studio.generate(BASE)))
    # The shared UNet is back to its original processors between calls.
    assert studio.cache.base().unet.encoder_hid_proj is None


def test_switching_methods_in_any_order_never_changes_a_method_output(studio, noise_map):
    requests = {
        "text": BASE,
        "canny": with_controls(noise_map, "canny"),
        "ip": with_ip(noise_map),
        "depth+ip": {**with_controls(noise_map, "depth"), "ip_adapter": {"scale": 0.5, "image": noise_map}},
        "pose": with_controls(noise_map, "pose"),
    }
    forward = {name: pixels(studio.generate(r)) for name, r in requests.items()}
    backward = {name: pixels(studio.generate(r)) for name, r in reversed(list(requests.items()))}
    for name in requests:
        assert np.array_equal(forward[name], backward[name]), name


def test_schedulers_each_run_and_differ(studio):
    outputs = {
        s: pixels(studio.generate({**BASE, "scheduler": s})) for s in ("dpmpp_2m_karras", "euler_a", "unipc", "ddim")
    }
    assert len({o.tobytes() for o in outputs.values()}) == 4


def test_controlnet_pipeline_shares_the_base_components(studio, noise_map):
    studio.generate(with_controls(noise_map, "canny"))
    base = studio.cache.base()
    derived = studio.cache.pipeline_for(["canny"], ip_adapter=False)
    assert derived is not base
    for name in ("unet", "vae", "text_encoder", "tokenizer"):
        assert getattr(derived, name) is getattr(base, name), name


def test_loading_every_method_adds_only_controlnet_and_ip_adapter_parameters(tiny_settings, tiny_root, noise_map):
    from diffusers import ControlNetModel, StableDiffusionPipeline
    from transformers import CLIPVisionModelWithProjection

    studio = Studio(replace(tiny_settings, controlnet_cache_size=3), tiny_spec(tiny_root))
    studio.generate(BASE)
    base_only = sum(studio.cache.resident_parameters().values())
    for control_type in ("canny", "pose", "depth"):
        studio.generate(with_controls(noise_map, control_type))
    studio.generate(with_ip(noise_map))
    counts = studio.cache.resident_parameters()

    def count(module):
        return sum(p.numel() for p in module.parameters())

    reference = StableDiffusionPipeline.from_pretrained(tiny_root / "sd", safety_checker=None)
    assert base_only == count(reference.unet) + count(reference.vae) + count(reference.text_encoder)
    for control_type in ("canny", "pose", "depth"):
        assert counts[f"controlnet_{control_type}"] == count(
            ControlNetModel.from_pretrained(tiny_root / f"controlnet-{control_type}")
        )
    encoder = CLIPVisionModelWithProjection.from_pretrained(tiny_root / "ip-adapter/models/image_encoder")
    assert counts["image_encoder"] == count(encoder)
    from safetensors.torch import load_file

    ip_file = sum(t.numel() for t in load_file(tiny_root / "ip-adapter/models/ip-adapter_sd15.safetensors").values())
    assert counts["ip_adapter_projection"] + counts["ip_adapter_attention"] == ip_file
    assert counts["unet"] + counts["vae"] + counts["text_encoder"] == base_only


def test_controlnet_lru_is_bounded(tiny_settings, tiny_root, noise_map):
    studio = Studio(replace(tiny_settings, controlnet_cache_size=2), tiny_spec(tiny_root))
    for control_type in ("canny", "pose", "depth"):
        studio.generate(with_controls(noise_map, control_type))
    assert studio.cache.loaded_controlnets() == ["pose", "depth"]
    # Multi-ControlNet with more types than the LRU holds still works.
    assert studio.generate(with_controls(noise_map, "canny", "pose", "depth")).image.size == (96, 64)


def test_counting_model_bytes_never_reloads_an_evicted_controlnet(tiny_settings, tiny_root, noise_map, monkeypatch):
    from diffusers import ControlNetModel

    studio = Studio(replace(tiny_settings, controlnet_cache_size=1), tiny_spec(tiny_root))
    loads = []
    original = ControlNetModel.from_pretrained.__func__

    def counted(cls, *args, **kwargs):
        loads.append(args[0])
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(ControlNetModel, "from_pretrained", classmethod(counted))
    result = studio.generate(with_controls(noise_map, "canny", "pose", "depth"))
    assert len(loads) == 3  # one per type: the two evicted during the call are not loaded again to be counted
    size = torch.empty((), dtype=studio.cache.dtype).element_size()
    base = studio.cache.base()
    base_bytes = sum(p.numel() * size for m in (base.unet, base.vae, base.text_encoder) for p in m.parameters())
    one = sum(p.numel() * size for p in studio.cache.controlnet("depth").parameters())
    assert result.model_bytes == base_bytes + 3 * one


def test_concurrent_requests_each_equal_their_solo_run(studio, noise_map):
    requests = [
        {**BASE, "seed": seed, **({"controls": [{"control_type": "canny", "image": noise_map}]} if seed % 2 else {})}
        for seed in range(8)
    ]
    solo = [pixels(studio.generate(r)) for r in requests]
    outputs: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def worker(indices):
        try:
            for i in indices:
                outputs[i] = pixels(studio.generate(requests[i]))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=([i, i + 4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i, expected in enumerate(solo):
        assert np.array_equal(outputs[i], expected), i


def test_progress_reports_every_step_and_cancel_stops_cleanly(studio):
    seen = []
    studio.generate({**BASE, "num_inference_steps": 4}, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]

    cancel = threading.Event()

    def cancel_after_two(done, total):
        if done == 2:
            cancel.set()

    before = pixels(studio.generate(BASE))
    with pytest.raises(Cancelled, match="after 3 of 4 steps"):
        studio.generate({**BASE, "num_inference_steps": 4}, progress=cancel_after_two, cancel=cancel)
    assert np.array_equal(before, pixels(studio.generate(BASE)))  # the stop left no trace on the next run


def test_long_and_empty_prompts_are_noted(studio):
    result = studio.generate({**BASE, "prompt": "a very long prompt " * 10})
    assert any("77" in note for note in result.notes)
    assert studio.generate(BASE).notes == []
    empty = studio.generate({**BASE, "prompt": "  "})  # it runs, and says what the image follows
    assert any("prompt is empty" in note for note in empty.notes)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_inference_steps": 10_000}, "num_inference_steps"),
        ({"width": 100}, "multiple of 8"),
        ({"height": 4096}, "height"),
        ({"guidance_scale": float("nan")}, "finite"),
        ({"guidance_scale": float("inf")}, "finite"),
        ({"prompt": "x" * 5000}, "prompt"),
        ({"scheduler": "magic"}, "scheduler"),
        ({"seed": -1}, "seed"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"controls": [{"control_type": "canny"}]}, "needs a control image"),
        ({"controls": [{"control_type": "sketch"}]}, "control_type"),
        ({"ip_adapter": {"scale": 0.5}}, "reference image"),
    ],
)
def test_bad_requests_raise_the_studio_error_with_a_useful_message(studio, change, expected):
    with pytest.raises(StudioError, match=expected) as info:
        studio.generate({**BASE, **change})
    assert "received" in str(info.value)


def test_guidance_start_must_be_below_end(studio, noise_map):
    control = {"control_type": "depth", "image": noise_map, "control_guidance_start": 0.6, "control_guidance_end": 0.6}
    with pytest.raises(StudioError, match="control_guidance_start"):
        studio.generate({**BASE, "controls": [control]})


def test_caps_from_settings_apply_on_top_of_the_schema(tiny_settings, tiny_root):
    capped = Studio(replace(tiny_settings, max_side=256, max_steps=10, max_images=1), tiny_spec(tiny_root))
    for change, field in (
        ({"width": 512}, "width"),
        ({"num_inference_steps": 20}, "steps"),
        ({"num_images_per_prompt": 2}, "images"),
    ):
        with pytest.raises(StudioError, match=f"{field}.*received"):
            capped.check({**BASE, **change})


def test_a_model_that_fails_to_load_names_it_and_leaves_the_cache_usable(tiny_settings, tiny_root, noise_map, tmp_path):
    spec = tiny_spec(tiny_root)
    broken = replace(spec, controlnets={**spec.controlnets, "pose": str(tmp_path / "missing-controlnet")})
    studio = Studio(tiny_settings, broken)
    with pytest.raises(ModelLoadError, match=r"pose ControlNet.*missing-controlnet.*--tiny"):
        studio.generate(with_controls(noise_map, "pose"))
    assert studio.generate(with_controls(noise_map, "canny")).image.size == (96, 64)
    assert studio.generate(BASE).image.size == (96, 64)

    no_base = Studio(tiny_settings, replace(spec, base=str(tmp_path / "no-such-model")))
    with pytest.raises(ModelLoadError, match="base Stable Diffusion pipeline"):
        no_base.generate(BASE)


def test_weights_load_from_safetensors_only(tiny_root, tiny_settings, tmp_path):
    import shutil

    copy = tmp_path / "sd"
    shutil.copytree(tiny_root / "sd", copy)
    unet_weights = copy / "unet" / "diffusion_pytorch_model.safetensors"
    from safetensors.torch import load_file

    state = load_file(unet_weights)
    for weights in (copy / "unet").glob("*.safetensors"):  # the full weights and the fp16 variant
        weights.unlink()
    torch.save(state, copy / "unet" / "diffusion_pytorch_model.bin")  # a pickle only: must be refused
    studio = Studio(tiny_settings, replace(tiny_spec(tiny_root), base=str(copy)))
    with pytest.raises(ModelLoadError, match=r"base Stable Diffusion pipeline.*diffusion_pytorch_model\.safetensors"):
        studio.generate(BASE)


@pytest.mark.gpu
def test_tiny_family_on_cuda_in_half_precision_and_low_vram(tiny_settings, tiny_root, noise_map):
    for low_vram in (False, True):
        studio = Studio(replace(tiny_settings, device="cuda", dtype="float16", low_vram=low_vram), tiny_spec(tiny_root))
        result = studio.generate(
            {**with_controls(noise_map, "depth"), "ip_adapter": {"scale": 0.5, "image": noise_map}}
        )
        assert result.image.size == (96, 64) and result.memory_kind == "cuda_peak_allocated"
        text = pixels(studio.generate(BASE))
        assert np.array_equal(text, pixels(studio.generate(with_controls(noise_map, "canny", scale=0.0))))


def test_model_bytes_count_the_weights_each_method_runs(studio, noise_map):
    text = studio.generate(BASE).model_bytes
    canny = studio.generate(with_controls(noise_map, "canny")).model_bytes
    both = studio.generate(with_controls(noise_map, "canny", "depth")).model_bytes
    ip = studio.generate(with_ip(noise_map)).model_bytes
    base = studio.cache.base()
    size = torch.empty((), dtype=studio.cache.dtype).element_size()  # 4 in float32, 2 in the half lane
    expected = sum(p.numel() * size for m in (base.unet, base.vae, base.text_encoder) for p in m.parameters())
    assert text == expected
    controlnet = sum(p.numel() * size for p in studio.cache.controlnet("canny").parameters())
    assert canny == text + controlnet and both == text + 2 * controlnet
    assert ip > text


def test_channels_last_is_a_layout_switch_not_a_different_model(tiny_settings, tiny_root, noise_map):
    """STUDIO_CHANNELS_LAST=1 changes only the memory layout of the convolution weights: same dtype, device, pixels."""
    studio = Studio(replace(tiny_settings, channels_last=True), tiny_spec(tiny_root))
    plain = Studio(tiny_settings, tiny_spec(tiny_root))
    request = {"prompt": "a lighthouse", "seed": 4, "num_inference_steps": 2, "width": 64, "height": 64}
    depth = {**request, "controls": [{"control_type": "depth", "image": noise_map}]}
    for ask in (request, depth):
        fast, slow = studio.generate(ask), plain.generate(ask)
        assert np.abs(pixels(fast).astype(int) - pixels(slow).astype(int)).max() <= 2
    conv = studio.cache.base().unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert studio.cache.controlnet("depth").conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert studio.cache.misplaced() == []


COMPILE_BOUND = {"float32": 2, "bfloat16": 8, "float16": 8}[TEST_DTYPE]
"""Largest difference (pixel levels) of a compiled run from an eager one: inductor fuses and rounds in another
order. Measured on the tiny family on this CPU: 0 in float32, 5 in bfloat16."""


@pytest.mark.slow
@pytest.mark.skipif(
    TEST_DTYPE == "float32", reason="compiling is a GPU's half-precision path: the bfloat16 and float16 lanes run it"
)
def test_torch_compile_compiles_the_repeated_blocks_once_and_changes_no_method(
    studio, tiny_settings, tiny_root, photo, reference
):
    """STUDIO_COMPILE=1: the UNet's and ControlNets' transformer blocks run compiled (the UNet object itself stays
    shared); every method, the IP-Adapter's processors and a batched pass go through them and give what eager gives."""
    from app.engine.compiling import compiled_blocks

    compiled = Studio(replace(tiny_settings, torch_compile=True), tiny_spec(tiny_root))
    request = {"prompt": "a lighthouse", "seed": 4, "num_inference_steps": 2, "width": 64, "height": 64}
    comparison = {**request, "methods": ["text", "canny", "ip_adapter"], "batching": "batched"}
    fast = [compiled.generate(request), *(e.result for e in compiled.compare(comparison, photo, reference))]
    eager = [studio.generate(request), *(e.result for e in studio.compare(comparison, photo, reference))]
    for ours, theirs in zip(fast, eager, strict=True):
        assert np.abs(pixels(ours).astype(int) - pixels(theirs).astype(int)).max() <= COMPILE_BOUND
    unet = compiled.cache.base().unet
    assert compiled_blocks(unet) == sum(type(m).__name__ == "BasicTransformerBlock" for m in unet.modules()) > 0
    assert compiled_blocks(compiled.cache.controlnet("canny")) > 0
    with compiled.cache.lock:
        assert compiled.cache.pipeline_for(["canny"], False).unet is unet
    assert compiled.cache.misplaced() == []
