"""Every registered control type keeps the comparison's fairness invariants on the tiny SD1.5 family: at strength 0
(and IP-Adapter scale 0) alone, combined with another type and with the IP-Adapter it gives text-only's pixels; its
comparison entry is its solo run (exact); a batched pass stays within the stated bound of the exact one."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.controls import CONTROL_TYPES, CONTROLS
from app.fit.base import FitContext
from app.fit.registry import SCORERS
from app.images import fit_to_size
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

SHARED = {"prompt": "an astronaut waving", "seed": 13, "num_inference_steps": 2, "width": 64, "height": 64}
BOUND = {"float32": 2, "bfloat16": 4, "float16": 4}[TEST_DTYPE]  # batched vs exact, as tests/test_batched.py


def gap(first, second) -> int:
    return int(np.abs(pixels(first).astype(int) - pixels(second).astype(int)).max())


def methods_of(kind: str) -> list[str]:
    other = "depth" if kind == "canny" else "canny"
    return ["text", kind, f"{kind}+{other}", f"{kind}+ip_adapter"]


@pytest.mark.parametrize("kind", CONTROL_TYPES)
def test_at_strength_zero_every_method_of_the_type_is_text_only(studio, photo, reference, kind):
    request = {**SHARED, "methods": methods_of(kind), "control": {"controlnet_conditioning_scale": 0.0},
               "ip_adapter": {"scale": 0.0}}  # fmt: skip
    for batching in ("exact", "batched"):
        entries = list(studio.compare({**request, "batching": batching}, photo, reference))
        assert [e.error for e in entries] == [None] * 4, (batching, [e.error for e in entries])
        text = entries[0].result
        for entry in entries[1:]:
            if batching == "exact":
                assert np.array_equal(pixels(entry.result), pixels(text)), entry.method.name
            else:
                assert gap(entry.result, text) <= BOUND, entry.method.name


@pytest.mark.parametrize("kind", CONTROL_TYPES)
def test_the_types_entry_is_its_solo_run_and_batched_stays_within_the_bound(studio, photo, reference, kind):
    request = {**SHARED, "methods": methods_of(kind)}
    exact = list(studio.compare({**request, "batching": "exact"}, photo, reference))
    batched = {e.method.name: e.result for e in studio.compare({**request, "batching": "batched"}, photo, reference)}
    alone = exact[1]
    solo = studio.generate({**SHARED, "controls": [{"control_type": kind, "image": alone.maps[0].map}]})
    assert np.array_equal(pixels(solo), pixels(alone.result))
    assert gap(alone.result, exact[0].result) > 0  # the type's ControlNet steers at strength 1
    for entry in exact:
        assert gap(batched[entry.method.name], entry.result) <= BOUND, entry.method.name


@pytest.fixture(scope="module")
def sdxl(tiny_settings, tiny_root):
    from app.engine.models import tiny_sdxl_spec
    from app.studio import Studio

    return Studio(tiny_settings, tiny_sdxl_spec(tiny_root))


def sdxl_methods(kind: str, cache) -> list[str]:
    """On SDXL a method's ControlNets are all per-type or all modes of the union network: pair likes."""
    union = cache.served_by_union(kind)
    other = ("lineart" if kind == "pose" else "pose") if union else ("depth" if kind == "canny" else "canny")
    methods = ["text", kind, f"{kind}+{other}", f"{kind}+ip_adapter"]
    return methods + ([f"{kind}@t2i", f"{kind}@t2i+ip_adapter"] if kind in cache.spec.adapters else [])


@pytest.mark.parametrize("kind", CONTROL_TYPES)
def test_every_type_and_its_t2i_adapter_keep_the_invariants_on_sdxl(sdxl, photo, reference, kind):
    """Per-type ControlNet or union mode, and the type's T2I-Adapter where it has one: at strength 0 text-only's
    pixels; at strength 1 the ControlNet's entry is its solo run and a batched pass stays within the bound."""
    base = {**SHARED, "family": "sdxl", "methods": sdxl_methods(kind, sdxl.cache_for("sdxl"))}
    zero = {**base, "control": {"controlnet_conditioning_scale": 0.0}, "ip_adapter": {"scale": 0.0}}
    entries = list(sdxl.compare(zero, photo, reference))
    assert [e.error for e in entries] == [None] * len(entries), [e.error for e in entries]
    assert all(np.array_equal(pixels(e.result), pixels(entries[0].result)) for e in entries), kind
    exact = list(sdxl.compare({**base, "batching": "exact"}, photo, reference))
    batched = {e.method.name: e.result for e in sdxl.compare({**base, "batching": "batched"}, photo, reference)}
    shared = {k: v for k, v in base.items() if k != "methods"}
    solo = sdxl.generate({**shared, "controls": [{"control_type": kind, "image": exact[1].maps[0].map}]})
    assert np.array_equal(pixels(solo), pixels(exact[1].result))
    for entry in exact:
        assert gap(batched[entry.method.name], entry.result) <= BOUND, entry.method.name


@pytest.mark.parametrize("kind", CONTROL_TYPES)
def test_every_types_fit_is_best_on_the_photo_that_made_its_map_and_lower_on_a_flipped_one(studio, photo, kind):
    """Each type's own fit (the verdict's measure of it): the map's own source photo re-extracts to the map; the
    photo upside down does not (pose and depth too: keypoints and depth order move)."""
    made = studio.maps.get_map(photo, CONTROLS[kind].default_detector, (96, 64))
    ctx = FitContext.from_maps(maps={kind: made}, service=studio.maps)
    scorer = SCORERS[CONTROLS[kind].scorer]()
    source = fit_to_size(photo, 96, 64, "crop")
    own = scorer.score(source, ctx)
    flipped = scorer.score(source.transpose(Image.Transpose.FLIP_TOP_BOTTOM), ctx)
    assert own is not None and own == pytest.approx(1.0, abs=0.05), (kind, own)
    assert flipped is not None and flipped < own - 0.01, (kind, own, flipped)
