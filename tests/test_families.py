"""One studio, two model families: a request names its family, each family keeps its own results whatever ran before,
the families share what they can (the ViT-H image encoder) and hold no more of them in memory than allowed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.engine.models import tiny_sdxl_spec, tiny_spec
from app.errors import StudioError
from app.request import parse_request
from app.studio import Studio
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {"prompt": "a lighthouse at dusk", "seed": 3, "num_inference_steps": 2, "width": 64, "height": 64}
SD15, SDXL = {**BASE, "family": "sd15"}, {**BASE, "family": "sdxl"}


@pytest.fixture(scope="module")
def both(tiny_settings, tiny_root) -> Studio:
    """Both tiny families, both resident."""
    return Studio(replace(tiny_settings, resident_families=2), [tiny_spec(tiny_root), tiny_sdxl_spec(tiny_root)])


def test_the_settings_serve_both_families_sd15_first(tiny_settings):
    studio = Studio(tiny_settings)
    assert studio.families == ("sd15", "sdxl") and studio.default_family == "sd15"
    assert studio.resident_limit == 1  # a CPU (or a GPU under 40 GiB) holds one family at a time
    assert Studio(replace(tiny_settings, model_families=("sdxl",))).families == ("sdxl",)


def test_switching_family_keeps_each_familys_results(both, reference):
    sd15, sdxl = pixels(both.generate(SD15)), pixels(both.generate(SDXL))
    assert sd15.shape == sdxl.shape and not np.array_equal(sd15, sdxl)
    with_ip = {**SDXL, "ip_adapter": {"scale": 0.7, "image": reference}}
    both.generate(with_ip)
    assert np.array_equal(pixels(both.generate(SD15)), sd15)
    assert np.array_equal(pixels(both.generate(SDXL)), sdxl)
    assert both.loaded_families() == ["sd15", "sdxl"]


def test_both_ip_adapters_read_one_shared_image_encoder(both, reference):
    for family in ("sd15", "sdxl"):
        both.generate({**BASE, "family": family, "ip_adapter": {"scale": 0.5, "image": reference}})
    sd15, sdxl = both.cache_for("sd15"), both.cache_for("sdxl")
    assert sd15.base().image_encoder is sdxl.base().image_encoder
    sd15_params = sum(sd15.resident_parameters().values())
    assert sdxl.resident_modules()["image_encoder"] is sd15.resident_modules()["image_encoder"]
    assert sd15_params > 0 and sd15.misplaced() == [] and sdxl.misplaced() == []


def test_one_resident_family_unloads_the_least_recently_used(tiny_settings, tiny_root, reference):
    studio = Studio(tiny_settings, [tiny_spec(tiny_root), tiny_sdxl_spec(tiny_root)])
    first = pixels(studio.generate(SD15))
    studio.generate({**SDXL, "ip_adapter": {"scale": 0.7, "image": reference}})
    assert studio.loaded_families() == ["sdxl"]
    assert not any(key[0] == "sd15" for key in studio.embeddings)  # its prompt embeddings went with it
    assert np.array_equal(pixels(studio.generate(SD15)), first)  # reloaded, same pixels
    assert studio.loaded_families() == ["sd15"]


def test_a_family_the_studio_does_not_serve_is_refused_by_name(tiny_settings, tiny_root, photo):
    only_sd15 = Studio(tiny_settings, tiny_spec(tiny_root))
    with pytest.raises(StudioError, match=r"'sdxl' \(Stable Diffusion XL\) is not served.*serves sd15"):
        only_sd15.generate(SDXL)
    with pytest.raises(StudioError, match="not served"):
        list(only_sd15.compare({**SDXL, "methods": ["text", "canny"]}, photo))
    with pytest.raises(StudioError, match=r"family.*'sd3'"):
        only_sd15.generate({**BASE, "family": "sd3"})


def test_a_request_that_names_a_family_but_no_size_gets_its_native_size():
    assert (parse_request({"family": "sdxl"}).width, parse_request({"family": "sdxl"}).height) == (1024, 1024)
    assert parse_request({"family": "sd15"}).width == 512 and parse_request({}).family == "sd15"
    assert parse_request({"family": "sdxl", "width": 768}).width == 768


def test_a_comparison_runs_on_its_family(both, photo, reference):
    request = {**SDXL, "methods": ["text", "depth", "ip_adapter"]}
    entries = list(both.compare(request, photo, reference))
    assert [e.error for e in entries] == [None] * 3
    assert {e.result.settings["family"] for e in entries} == {"sdxl"}
    assert np.array_equal(pixels(entries[0].result), pixels(both.generate(SDXL)))


def test_sdxl_decodes_with_the_float16_vae_only_in_float16(both):
    vae = both.cache_for("sdxl").base().vae
    # madebyollin's fp16 fix (force_upcast off) in float16; SDXL's own VAE, upcast only where needed, otherwise.
    assert vae.config.force_upcast is (TEST_DTYPE != "float16")
    both.generate(SDXL)
    assert both.cache_for("sdxl").misplaced() == []  # an upcast decode puts the VAE back in the configured dtype


def test_zerogpu_asks_for_sdxls_size():
    from app.ui.jobs import gpu_seconds_for

    sd15 = {"family": "sd15", "methods": ["text", "canny", "depth"], "num_inference_steps": 25}
    sdxl = {**sd15, "family": "sdxl"}
    assert gpu_seconds_for({**sdxl, "width": 512, "height": 512}) > gpu_seconds_for({**sd15, "width": 512})
    # A size left out is the family's native one; a comparison that does not ask for exact runs is batched.
    assert gpu_seconds_for(sdxl) == gpu_seconds_for({**sdxl, "width": 1024, "height": 1024})
    assert gpu_seconds_for(sdxl) < gpu_seconds_for({**sdxl, "batching": "exact"})
    assert gpu_seconds_for(sdxl) > gpu_seconds_for({**sd15, "width": 1024, "height": 1024})
    # Each method runs on every seed: four seeds ask for more time than one (or a ZeroGPU job would be cut short).
    assert gpu_seconds_for({**sd15, "seed_count": 4}) > gpu_seconds_for(sd15)
    assert gpu_seconds_for({**sd15, "seed_count": "many"}) == gpu_seconds_for(sd15)  # raw input: a bad count is one


def test_a_sweep_runs_on_its_family_and_family_is_not_an_axis(both, photo):
    base = {**SDXL, "methods": ["depth"]}
    result = both.sweep({"base": base, "x": {"name": "controlnet_conditioning_scale", "values": [0.0, 1.0]}}, photo)
    assert [c.entry.result.settings["family"] for c in result.cells] == ["sdxl", "sdxl"]
    zero, text = pixels(result.cells[0].entry.result).astype(int), pixels(both.generate(SDXL)).astype(int)
    assert np.abs(zero - text).max() <= 1  # strength 0 is text-only
    with pytest.raises(StudioError, match=r"x\.name"):  # latents differ between families: no fair axis
        both.sweep({"base": base, "x": {"name": "family", "values": ["sd15", "sdxl"]}}, photo)
