"""Batched comparison: every method in one denoising pass, each item within a stated bound of its exact run.

Measured on the tiny family (128², 4 steps, six methods incl. combinations): the largest difference between a
batched item and its exact run is 1 pixel level in float32 and 2 in bfloat16 (mean under 0.11): batched kernels sum
in another order. The bound below leaves room for other CPUs; it is far below what any conditioning changes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from app.engine.batched import PerItemControlNets
from app.engine.models import tiny_spec
from app.recipes import recipe_from_compare
from app.studio import Studio
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BOUND = {"float32": 2, "bfloat16": 4, "float16": 4}[TEST_DTYPE]
"""Largest allowed difference (pixel levels, 0–255) between a batched item and the same method run exactly."""

SHARED = {"prompt": "an astronaut waving", "seed": 11, "num_inference_steps": 3, "width": 64, "height": 64}
METHODS = ["text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "canny+ip_adapter"]


def difference(first, second) -> int:
    return int(np.abs(pixels(first).astype(int) - pixels(second).astype(int)).max())


def run(studio, request, photo, reference):
    entries = list(studio.compare(request, photo, reference))
    assert all(e.error is None for e in entries), [e.error for e in entries]
    return {e.method.name: e.result for e in entries}


def test_every_batched_item_equals_its_exact_run_within_the_bound(studio, photo, reference):
    exact = run(studio, {**SHARED, "methods": METHODS, "batching": "exact"}, photo, reference)
    batched = run(studio, {**SHARED, "methods": METHODS, "batching": "batched"}, photo, reference)
    assert list(batched) == METHODS  # request order, every method
    for method in METHODS:
        assert difference(exact[method].image, batched[method].image) <= BOUND, method
    # The conditioning matters far more than the bound: methods differ from text-only by much more.
    assert difference(batched["text"].image, batched["canny"].image) > 3 * BOUND
    assert any("Ran batched: 7 methods" in note for note in batched["canny"].notes)
    assert batched["depth+ip_adapter"].settings == exact["depth+ip_adapter"].settings


def test_batched_costs_charge_each_controlnet_to_its_own_methods(studio, photo):
    from app.engine.calls import batch_time_shares

    # The arithmetic: net times go to their users only, the rest is shared equally, the shares add up.
    shares = batch_time_shares(10.0, 3, [[1, 2], [2]], [2.0, 1.0])
    assert shares == [7.0 / 3, 7.0 / 3 + 1.0, 7.0 / 3 + 2.0] and abs(sum(shares) - 10.0) < 1e-9
    # A real pass: text-only adds no ControlNet, so it costs less than either method that adds some (each net is
    # timed on its own rows; how one tiny net's time compares with two others' is noise, so not asserted).
    request = {**SHARED, "methods": ["text", "canny", "pose+depth"], "batching": "batched"}
    costs = {name: result.seconds for name, result in run(studio, request, photo, None).items()}
    assert costs["text"] < min(costs["canny"], costs["pose+depth"]), costs


def test_strength_zero_and_scale_zero_still_equal_text_only_in_a_batch(studio, photo, reference):
    request = {
        **SHARED,
        "methods": ["text", "canny", "depth", "ip_adapter", "depth+ip_adapter"],
        "control": {"controlnet_conditioning_scale": 0.0},
        "ip_adapter": {"scale": 0.0},
        "batching": "batched",
    }
    results = run(studio, request, photo, reference)
    for method, result in results.items():
        assert difference(results["text"].image, result.image) <= BOUND, method


def test_passes_of_a_few_methods_give_what_one_pass_gives(tiny_settings, tiny_root, photo, reference):
    small = Studio(replace(tiny_settings, compare_batch=2), tiny_spec(tiny_root))
    request = {**SHARED, "methods": METHODS[:5], "batching": "batched"}
    chunked = run(small, request, photo, reference)
    exact = run(small, {**request, "batching": "exact"}, photo, reference)
    for method in request["methods"]:
        assert difference(exact[method].image, chunked[method].image) <= BOUND, method
    assert any("Ran batched: 2 methods" in note for note in chunked["text"].notes)


def test_the_default_is_exact_off_a_gpu_and_the_recipe_records_the_mode(studio):
    assert studio.default_batching() == ("batched" if studio.cache.device.startswith("cuda") else "exact")
    recipe = recipe_from_compare({**SHARED, "methods": ["text", "depth"], "batching": "batched"})
    assert recipe.compare.batching == "batched"
    assert recipe_from_compare({**SHARED, "methods": ["text"]}).compare.batching is None


def test_each_controlnet_steers_only_its_rows_and_gives_what_it_gives_alone(studio, noise_map):
    net = studio.cache.controlnet("canny")
    dtype, device = net.dtype, net.device
    generator = torch.Generator("cpu").manual_seed(0)
    items, rows = 3, 6  # three methods under guidance: [unconditional ×3, conditional ×3]
    config = studio.cache.base().unet.config
    sample = torch.randn((rows, 4, 8, 8), generator=generator).to(device, dtype)
    hidden = torch.randn((rows, 77, config.cross_attention_dim), generator=generator).to(device, dtype)
    image = torch.rand((rows, 3, 64, 64), generator=generator).to(device, dtype)
    wrapper = PerItemControlNets([net], users=[[1]], items=items)
    down, mid = wrapper(sample, 10, hidden, [image], [1.0], return_dict=False)
    alone_down, alone_mid = net(sample[[1, 4]], 10, hidden[[1, 4]], image[[1, 4]], 1.0, return_dict=False)
    others = [0, 2, 3, 5]
    assert torch.equal(mid[[1, 4]], alone_mid) and not mid[others].any()
    for total, alone in zip(down, alone_down, strict=True):
        assert torch.equal(total[[1, 4]], alone) and not total[others].any()


def test_a_batched_comparison_with_low_vram_offload_keeps_dtype_and_device(tiny_settings, tiny_root, photo, reference):
    """STUDIO_LOW_VRAM=1 offloads every module; a batched pass must leave them where the exact path does."""
    studio = Studio(replace(tiny_settings, low_vram=True), tiny_spec(tiny_root))
    request = {**SHARED, "methods": ["text", "canny", "depth+ip_adapter"]}
    batched = run(studio, {**request, "batching": "batched"}, photo, reference)
    assert studio.cache.misplaced() == []
    exact = run(studio, {**request, "batching": "exact"}, photo, reference)
    for method in request["methods"]:
        assert difference(exact[method].image, batched[method].image) <= BOUND, method
    assert studio.cache.misplaced() == []
