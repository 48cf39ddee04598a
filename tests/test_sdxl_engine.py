"""The studio's engine on the tiny SDXL twin: every method through ``Studio.generate`` and ``compare``, and the same
fairness invariants as SD1.5 (strength 0 and scale 0 are text-only, no state leaks, a comparison's entry is its solo
run, a batched comparison gives each method its exact run), in the suite's dtype."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.engine.models import tiny_sdxl_spec
from app.errors import StudioError
from app.studio import Studio
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {
    "family": "sdxl",
    "prompt": "a lighthouse at dusk",
    "seed": 5,
    "num_inference_steps": 2,
    "width": 64,
    "height": 64,
}


@pytest.fixture(scope="module")
def sdxl(tiny_settings, tiny_root) -> Studio:
    return Studio(tiny_settings, tiny_sdxl_spec(tiny_root))


def control(kind: str, image, scale: float = 1.0) -> dict:
    return {"control_type": kind, "image": image, "controlnet_conditioning_scale": scale}


def test_every_method_runs_on_sdxl_and_changes_the_image(sdxl, noise_map, reference):
    text = sdxl.generate(BASE)
    assert text.image.size == (64, 64) and sdxl.cache.family.name == "sdxl"
    canny = sdxl.generate({**BASE, "controls": [control("canny", noise_map)]})  # a per-type SDXL ControlNet
    pose = sdxl.generate({**BASE, "controls": [control("pose", noise_map)]})  # the union ControlNet, pose mode
    # The union ControlNet in lineart mode (3): the same map steers differently than in pose mode.
    lineart = sdxl.generate({**BASE, "controls": [control("lineart", noise_map)]})
    ip = sdxl.generate({**BASE, "ip_adapter": {"scale": 0.8, "image": reference}})
    for other in (canny, pose, lineart, ip):
        assert not np.array_equal(pixels(other), pixels(text)), other.method
    assert not np.array_equal(pixels(lineart), pixels(pose))
    assert sdxl.cache.loaded_controlnets() == ["canny", "union"]
    assert "text_encoder_2" in sdxl.cache.resident_modules() and sdxl.cache.misplaced() == []


def test_strength_and_scale_zero_are_text_only_and_nothing_leaks(sdxl, noise_map, reference):
    before = pixels(sdxl.generate(BASE))
    for ask in (
        {**BASE, "controls": [control("depth", noise_map, 0.0)]},
        {**BASE, "controls": [control("pose", noise_map, 0.0)]},
        {**BASE, "ip_adapter": {"scale": 0.0, "image": reference}},
    ):
        assert np.abs(pixels(sdxl.generate(ask)).astype(int) - before.astype(int)).max() <= 1, ask
    sdxl.generate({**BASE, "ip_adapter": {"scale": 0.8, "image": reference, "mode": "style"}})
    assert np.array_equal(pixels(sdxl.generate(BASE)), before)  # the IP-Adapter left no trace on the shared UNet


def test_the_union_controlnet_gives_what_it_gives_called_directly_with_that_mode(sdxl, noise_map):
    """The studio's pose method is the union ControlNet in xinsir's openpose mode (0), nothing else."""
    import torch

    from app.engine.schedulers import make_scheduler

    ours = sdxl.generate({**BASE, "controls": [control("pose", noise_map)]})
    base = sdxl.cache.base()
    with sdxl.cache.lock, torch.inference_mode():
        pipe = sdxl.cache.pipeline_for(["pose"], False)
        pipe.scheduler = make_scheduler("dpmpp_2m_karras", base.scheduler.config)
        embeds = base.encode_prompt(prompt=BASE["prompt"], device="cpu", do_classifier_free_guidance=True)
        direct = pipe(
            prompt_embeds=embeds[0],
            negative_prompt_embeds=embeds[1],
            pooled_prompt_embeds=embeds[2],
            negative_pooled_prompt_embeds=embeds[3],
            control_image=[noise_map.resize((64, 64))],
            control_mode=[0],
            num_inference_steps=2,
            width=64,
            height=64,
            guidance_scale=7.0,
            generator=[torch.Generator("cpu").manual_seed(5)],
        ).images[0]
    assert np.array_equal(pixels(ours), pixels(direct))


def test_a_comparison_on_sdxl_runs_exact_and_each_entry_is_its_solo_run(sdxl, photo, reference):
    request = {**BASE, "methods": ["text", "canny", "pose", "ip_adapter"]}
    assert sdxl.default_batching() == "exact"
    previews = []
    entries = list(sdxl.compare(request, photo, reference, preview=lambda *p: previews.append(p[0])))
    assert [e.error for e in entries] == [None] * 4
    assert np.array_equal(pixels(entries[0].result), pixels(sdxl.generate(BASE)))
    assert sorted(set(previews)) == [0, 1, 2, 3]  # TAESDXL previews every method
    card = sdxl.score(entries, request, reference)
    assert {"prompt", "edges", "reference"} <= {c.name for c in card.matrix.columns}


def test_a_union_type_beside_a_per_type_controlnet_is_refused_plainly(sdxl, noise_map):
    with pytest.raises(StudioError, match="union ControlNet serves pose"):
        sdxl.generate({**BASE, "controls": [control("canny", noise_map), control("pose", noise_map)]})


BOUND = {"float32": 2, "bfloat16": 4, "float16": 4}[TEST_DTYPE]
"""As tests/test_batched.py: the largest difference (pixel levels) of a batched item from its exact run."""


def test_a_batched_sdxl_comparison_gives_each_method_its_exact_run_within_the_bound(sdxl, photo, reference):
    """Per-type ControlNets (canny, depth) and the union ControlNet in pose mode steer only their own rows, with
    SDXL's pooled embeddings and size ids per row; the IP-Adapter only its rows, through its mask."""
    methods = ["text", "canny", "pose", "depth", "ip_adapter", "pose+ip_adapter", "canny+depth"]
    request = {**BASE, "methods": methods}
    exact = {e.method.name: e.result for e in sdxl.compare({**request, "batching": "exact"}, photo, reference)}
    batched = list(sdxl.compare({**request, "batching": "batched"}, photo, reference))
    assert [e.error for e in batched] == [None] * len(methods)
    for entry in batched:
        gap = np.abs(pixels(entry.result).astype(int) - pixels(exact[entry.method.name]).astype(int)).max()
        assert gap <= BOUND, entry.method.name
        assert any("Ran batched: 7 methods" in note for note in entry.result.notes), entry.method.name
    assert sdxl.cache.misplaced() == []


def test_a_method_fusing_two_union_modes_runs_on_its_own_inside_a_batched_comparison(tiny_settings, tiny_root, photo):
    """pose + depth both on the union ControlNet: one fused call, as its solo run makes it."""
    spec = tiny_sdxl_spec(tiny_root)
    union_only = Studio(tiny_settings, replace(spec, controlnets={}))  # the union serves every type
    request = {**BASE, "methods": ["text", "pose", "pose+depth"]}
    exact = {e.method.name: e.result for e in union_only.compare({**request, "batching": "exact"}, photo)}
    batched = {e.method.name: e for e in union_only.compare({**request, "batching": "batched"}, photo)}
    assert [e.error for e in batched.values()] == [None] * 3
    fused = batched["pose+depth"].result
    assert np.array_equal(pixels(fused), pixels(exact["pose+depth"]))
    assert any("Ran on its own" in note for note in fused.notes)
    assert any("Ran batched: 2 methods" in note for note in batched["pose"].result.notes)
    gap = np.abs(pixels(batched["pose"].result).astype(int) - pixels(exact["pose"]).astype(int)).max()
    assert gap <= BOUND
