"""FLUX.1 [dev] as a third model family, on its tiny twin (FLUX's real classes and layout, loaded by diffusers' own
loaders): the same comparison, the same fairness (one starting noise, strength 0 is text-only, an entry is its solo
run), shared modules, its limits said by name, and the gated-access message."""

from __future__ import annotations

import io
import re
import runpy
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.engine.families import FAMILIES
from app.engine.models import tiny_flux_spec, tiny_sdxl_spec, tiny_spec
from app.errors import StudioError
from app.recipes import parse_recipe, recipe_from_image
from app.recipes.a1111 import format_parameters
from app.recipes.as_code import diffusers_script
from app.recipes.schema import GenerationSettings
from app.request import parse_request
from app.studio import Studio
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {"family": "flux", "prompt": "a lighthouse at dusk", "seed": 3, "num_inference_steps": 2, "width": 64,
        "height": 64}  # fmt: skip
BOUND = {"float32": 0, "bfloat16": 2, "float16": 2}[TEST_DTYPE]  # the same call twice, or strength 0 vs text-only
# A batched row against its solo run: the order of sums in batched kernels, which bfloat16's rounding and the tiny
# twin's random transformer amplify (float32 stays within 1).
BATCHED = {"float32": 2, "bfloat16": 10, "float16": 10}[TEST_DTYPE]


@pytest.fixture(scope="module")
def flux(tiny_settings, tiny_root) -> Studio:
    """SD1.5 and FLUX.1, both resident."""
    return Studio(replace(tiny_settings, resident_families=2), [tiny_spec(tiny_root), tiny_flux_spec(tiny_root)])


def gap(first, second) -> int:
    return int(np.abs(pixels(first).astype(int) - pixels(second).astype(int)).max())


def test_a_flux_comparison_runs_its_methods_and_names_what_it_lacks(flux, photo, reference):
    methods = ["text", "canny", "depth:midas", "softedge", "pose", "canny+depth:midas", "ip_adapter", "lineart"]
    entries = {e.method.name: e for e in flux.compare({**BASE, "methods": methods, "batching": "exact"}, photo,
                                                       reference)}  # fmt: skip
    ran = ["text", "canny", "depth:midas", "softedge", "pose", "canny+depth:midas", "ip_adapter"]
    assert {name: entries[name].error for name in ran} == dict.fromkeys(ran)
    text = entries["text"].result
    for name in ran[1:]:  # each ControlNet method steers
        assert gap(entries[name].result, text) > 10 + BOUND, name
    assert gap(entries["canny+depth:midas"].result, entries["canny"].result) > 10 + BOUND  # both maps count
    assert "no FLUX.1 ControlNet serves lineart" in entries["lineart"].error
    # An entry is its solo run: the same starting noise, whatever the ControlNet pipeline draws first.
    solo = flux.generate({**BASE, "controls": [{"control_type": "canny", "image": entries["canny"].maps[0].map}]})
    assert gap(solo, entries["canny"].result) <= BOUND


def test_a_batched_flux_pass_gives_each_row_its_solo_run_and_its_own_cost(flux, photo):
    """One pass for methods × seeds: each ControlNet on its rows only, each row's maps sampled as its solo run samples
    them (the order of its maps kept: depth before canny differs from canny before depth), a unit at strength 0."""
    methods = ["text", "canny", "depth:midas", "canny+depth:midas", "depth:midas+canny", "pose"]
    request = {**BASE, "methods": methods, "seed_count": 2, "num_inference_steps": 3,
               "unit_controls": {"pose": {"controlnet_conditioning_scale": 0.0}}}  # fmt: skip
    exact = list(flux.compare({**request, "batching": "exact"}, photo))
    batched = list(flux.compare({**request, "batching": "batched"}, photo))
    assert [e.error for e in exact + batched] == [None] * (2 * len(methods))
    for one, other in zip(exact, batched, strict=True):
        for image, twin in zip(one.result.images, other.result.images, strict=True):
            assert gap(image, twin) <= BATCHED, one.method.name
    costs = {e.method.name: e.result.seconds for e in batched}
    assert costs["canny+depth:midas"] > costs["canny"] > costs["text"]  # each net's time charged to its rows only
    assert "Ran batched" in batched[1].result.notes[-1] and "transformer" in batched[1].result.notes[-1]


def test_xlabs_ip_adapter_steers_flux_only_while_attached(flux, photo, reference):
    """XLabs' IP-Adapter on FLUX's transformer, read with CLIP ViT-L/14's vision half (the tiny fit CLIP here): it
    changes the image, scale 0 is text-only, text-only keeps its pixels after it, a comparison entry is its solo run,
    and a batched comparison runs it on its own (FLUX's IP attention takes no per-row masks) and says so."""
    text = flux.generate(BASE)
    with_reference = flux.generate({**BASE, "ip_adapter": {"scale": 0.8, "image": reference}})
    assert gap(with_reference, text) > 10 + BOUND
    assert gap(flux.generate({**BASE, "ip_adapter": {"scale": 0.0, "image": reference}}), text) <= BOUND
    assert gap(flux.generate(BASE), text) == 0  # the IP processors left with the call
    cache = flux.cache_for("flux")
    assert type(cache.base().image_encoder).__name__ == "CLIPVisionModelWithProjection" and cache.misplaced() == []
    request = {**BASE, "methods": ["text", "ip_adapter", "canny+ip_adapter"], "ip_adapter": {"scale": 0.8}}
    exact = list(flux.compare({**request, "batching": "exact"}, photo, reference))
    batched = list(flux.compare({**request, "batching": "batched"}, photo, reference))
    assert [e.error for e in exact + batched] == [None] * 6
    assert gap(exact[1].result, with_reference) <= BOUND
    for one, other in zip(exact, batched, strict=True):
        assert gap(one.result, other.result) <= BATCHED
    assert any("IP-Adapter reaches every row" in note for note in batched[2].result.notes)


def test_redux_steers_flux_with_the_references_tokens(flux, photo, reference):
    """FLUX.1 Redux: the reference's SigLIP tokens after the prompt's. It changes the image, alone and beside a
    ControlNet; scale 0 does not run it (text-only's pixels); nothing stays attached; a comparison entry is its solo
    run, and a batched comparison runs it on its own and says why; its weights count in the method's size."""
    text = flux.generate(BASE)
    redux = flux.generate({**BASE, "ip_adapter": {"scale": 0.8, "mode": "redux", "image": reference}})
    assert gap(redux, text) > 10 + BOUND
    assert any("FLUX.1 Redux" in note for note in redux.notes) and redux.model_bytes > text.model_bytes
    zero = flux.generate({**BASE, "ip_adapter": {"scale": 0.0, "mode": "redux", "image": reference}})
    assert gap(zero, text) == 0 and any("not run" in note for note in zero.notes)
    assert gap(flux.generate(BASE), text) == 0
    request = {**BASE, "methods": ["text", "canny", "ip_adapter", "canny+ip_adapter"],
               "ip_adapter": {"scale": 0.8, "mode": "redux"}}  # fmt: skip
    exact = list(flux.compare({**request, "batching": "exact"}, photo, reference))
    batched = list(flux.compare({**request, "batching": "batched"}, photo, reference))
    assert [e.error for e in exact + batched] == [None] * 8
    assert gap(exact[2].result, redux) == 0
    assert gap(exact[3].result, exact[1].result) > 10 + BOUND  # Redux beside the ControlNet still steers
    for one, other in zip(exact, batched, strict=True):
        assert gap(one.result, other.result) <= BATCHED
    assert any("Redux lengthens the prompt" in note for note in batched[3].result.notes)
    cache = flux.cache_for("flux")
    assert type(cache.redux().image_encoder).__name__ == "SiglipVisionModel" and cache.misplaced() == []


def test_strength_zero_is_text_only_and_the_defaults_are_fluxs(flux, noise_map):
    request = parse_request(BASE)
    assert (request.guidance_scale, request.scheduler, request.width) == (3.5, "euler", 64)
    assert parse_request({"family": "flux"}).width == FAMILIES["flux"].default_size == 1024
    text = flux.generate(BASE)
    zero = flux.generate(
        {**BASE, "controls": [{"control_type": "canny", "image": noise_map, "controlnet_conditioning_scale": 0.0}]}
    )
    assert gap(zero, text) <= BOUND and not text.notes  # FLUX's own sampler, asked for by default: nothing to say
    other = flux.generate({**BASE, "scheduler": "ddim", "negative_prompt": "blurry"})
    assert gap(other, text) <= BOUND  # its flow-matching Euler whatever the setting; no negative prompt
    assert any("own flow-matching Euler" in n for n in other.notes)
    assert any("takes no negative prompt" in n for n in other.notes)


def test_flux_shares_its_modules_and_keeps_its_precision(flux, noise_map):
    maps = [{"control_type": t, "image": noise_map} for t in ("canny", "depth")]
    flux.generate({**BASE, "controls": maps})
    cache = flux.cache_for("flux")
    base, pipe = cache.base(), cache.pipeline_for(["canny", "depth"], ip_adapter=False)
    for name in ("transformer", "vae", "text_encoder", "text_encoder_2"):
        assert getattr(pipe, name) is getattr(base, name), name
    nets = pipe.controlnet.nets
    assert nets[0] is nets[1]  # one Union-Pro network serves both types: loaded once
    assert cache.loaded_controlnets() == ["canny", "pose", "depth", "softedge"]
    expected = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.bfloat16}[TEST_DTYPE]
    assert cache.dtype == expected  # FLUX.1 runs in bfloat16 where the studio runs float16
    assert cache.misplaced() == []  # every resident tensor in that dtype, on the device
    assert set(cache.resident_modules()) >= {"transformer", "text_encoder_2", "controlnet_canny+pose+depth+softedge"}


def test_switching_between_three_families_keeps_each_familys_pixels(tiny_settings, tiny_root):
    """One family resident at a time (as on a small GPU): every switch unloads the last, and each comes back to its
    own pixels."""
    studio = Studio(
        replace(tiny_settings, resident_families=1),
        [tiny_spec(tiny_root), tiny_sdxl_spec(tiny_root), tiny_flux_spec(tiny_root)],
    )
    requests = [{**BASE, "family": family} for family in ("sd15", "sdxl", "flux")]
    first = [pixels(studio.generate(request)) for request in requests]
    for request, image in zip(reversed(requests), reversed(first), strict=True):
        assert np.array_equal(pixels(studio.generate(request)), image), request["family"]
    assert studio.loaded_families() == ["sd15"]


def test_flux_previews_decode_its_packed_latents(flux):
    shown: list = []
    flux.generate({**BASE, "num_inference_steps": 4}, preview=lambda images, done, total: shown.append(images))
    assert shown and all(image.size == (64, 64) for images in shown for image in images)


def test_requests_flux_cannot_run_are_refused_by_name():
    for bad, expected in [
        ({"width": 72}, "multiples of 16, received 72×64"),
        ({"controls": [{"control_type": "seg"}]}, "no FLUX.1 ControlNet serves seg; on FLUX.1 the studio has canny"),
        (
            {"ip_adapter": {"scale": 0.5, "mode": "style"}},
            "FLUX.1 takes the image-prompt modes full, redux; mode style",
        ),
        ({"controls": [{"control_type": "canny", "adapter": True}]}, "T2I-Adapter on FLUX.1"),
    ]:
        with pytest.raises(StudioError, match=r"Invalid request — .*" + re.escape(expected)):
            parse_request({**BASE, **bad})
    with pytest.raises(StudioError, match=r"mode redux needs FLUX\.1 Redux's image tokens, which the studio has for "
                       r"FLUX\.1 only"):  # fmt: skip
        parse_request({**BASE, "family": "sd15", "ip_adapter": {"scale": 0.5, "mode": "redux"}})
    with pytest.raises(ValueError, match=r"no FLUX\.1 ControlNet serves mlsd"):
        GenerationSettings.model_validate({**BASE, "controls": [{"control_type": "mlsd"}]})  # a recipe, too


def test_a_gated_repository_says_what_to_do(tiny_settings, tiny_root, monkeypatch):
    """Without an accepted licence the Hub answers 401: the first run says what to do, never the raw error."""
    import httpx
    from diffusers import FluxPipeline
    from huggingface_hub.errors import GatedRepoError

    def refuse(*args, **kwargs):
        url = "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/model_index.json"
        response = httpx.Response(401, request=httpx.Request("GET", url))
        raise GatedRepoError(f"401 Client Error. Cannot access gated repo for url {url}.", response=response)

    monkeypatch.setattr(FluxPipeline, "from_pretrained", refuse)
    studio = Studio(tiny_settings, tiny_flux_spec(tiny_root))
    with pytest.raises(StudioError) as caught:
        studio.generate(BASE)
    message = str(caught.value)
    assert "access is gated" in message and "https://huggingface.co/black-forest-labs/FLUX.1-dev" in message
    assert "HF_TOKEN" in message and "401" not in message


@pytest.mark.skipif(TEST_DTYPE != "float32", reason="the script runs in float32 on a CPU: the float32 lane checks it")
@pytest.mark.parametrize("ip_adapter", [None, "full", "redux"], ids=["two-controlnets", "controlnet-ip-adapter",
                                                                    "controlnet-redux"])  # fmt: skip
def test_the_diffusers_script_makes_the_studios_flux_pixels(
    flux, tiny_root, noise_map, reference, tmp_path, monkeypatch, ip_adapter
):
    """A two-map FLUX ControlNet generation as a script (one network loaded once, no negative prompt, the noise
    drawn before the call as the studio draws it), one with XLabs' IP-Adapter on its own CLIP repository, and one
    with FLUX.1 Redux's tokens after the prompt's."""
    recipe = {**BASE, "width": 96, "controls": [{"control_type": "canny", "controlnet_conditioning_scale": 0.7},
                                   {"control_type": "pose", "control_guidance_end": 0.5}]}  # fmt: skip
    if ip_adapter:
        recipe = {**recipe, "controls": recipe["controls"][:1], "ip_adapter": {"scale": 0.6, "mode": ip_adapter}}
    settings = GenerationSettings.model_validate(recipe)
    files = ["canny-map.png", "pose-map.png"][: len(settings.controls)]
    reference.save(tmp_path / "reference.png")
    for index, name in enumerate(files):
        noise_map.rotate(90 * index).save(tmp_path / name)
    controls = [
        {**c.model_dump(exclude={"detector", "detector_params"}), "image": Image.open(tmp_path / name)}
        for c, name in zip(settings.controls, files, strict=True)
    ]
    request = {**settings.model_dump(exclude={"controls", "ip_adapter", "fit"}), "controls": controls}
    if ip_adapter:
        request["ip_adapter"] = {"scale": 0.6, "mode": ip_adapter, "image": Image.open(tmp_path / "reference.png")}
    ours = flux.generate(request)
    script = diffusers_script(settings, spec=tiny_flux_spec(tiny_root), map_files=files)
    assert "FluxControlNetModel" in script and "negative_prompt" not in script and "latents=latents" in script
    (tmp_path / "reproduce.py").write_text(script)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(tmp_path / "reproduce.py"), run_name="__main__")
    with Image.open(tmp_path / "result.png") as theirs:
        assert gap(ours, theirs.convert("RGB")) == 0


def _png_with(parameters: str) -> bytes:
    info = PngInfo()
    info.add_text("parameters", parameters)  # as A1111 and Forge write it
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def test_a_forge_flux_image_and_the_studios_own_read_back_as_flux():
    """Forge writes FLUX's guidance as "Distilled CFG Scale" beside "CFG scale: 1"; the studio writes the same."""
    forge = (
        "a lighthouse at dusk\nSteps: 20, Sampler: Euler, Schedule type: Simple, CFG scale: 1, "
        "Distilled CFG Scale: 3.5, Seed: 12, Size: 896x1152, Model hash: 0d7c8ba2, Model: flux1-dev-bnb-nf4-v2, "
        "Version: f2.0.1v1.10.1"
    )
    recipe, message = recipe_from_image(_png_with(forge))
    settings = recipe.generate
    assert (settings.family, settings.guidance_scale, settings.width, settings.height) == ("flux", 3.5, 896, 1152)
    assert "Distilled CFG Scale" in message
    ours = parse_recipe({"mode": "generate", "generate": {**BASE, "guidance_scale": 4.5, "controls": [
        {"control_type": "depth", "controlnet_conditioning_scale": 0.8}]}})  # fmt: skip
    text = format_parameters(ours)
    assert "CFG scale: 1," in text and "Distilled CFG Scale: 4.5" in text and "Model: FLUX.1 [dev]" in text
    back, _ = recipe_from_image(_png_with(text))
    assert back.generate.family == "flux" and back.generate.guidance_scale == 4.5
    assert back.generate.controls == ours.generate.controls


def test_picking_flux_in_the_page_takes_its_guidance_and_sampler_unless_the_person_chose():
    from app.ui.shared import family_guidance

    guidance, sampler = family_guidance("flux", 7.0, "dpmpp_2m_karras")
    assert (guidance.get("value"), sampler.get("value")) == (3.5, "euler")
    guidance, sampler = family_guidance("sd15", 3.5, "euler")
    assert (guidance.get("value"), sampler.get("value")) == (7.0, None)
    guidance, sampler = family_guidance("flux", 5.0, "ddim")  # chosen by the person: kept
    assert (guidance.get("value"), sampler.get("value")) == (None, None)


def test_a_flux_recipe_on_a_studio_without_flux_takes_that_familys_guidance():
    from app.ui import on_served_family, unserved_family_note

    assert on_served_family({"family": "flux", "guidance_scale": 3.5}, "sd15") == {"family": "sd15",
                                                                                   "guidance_scale": 7.0}  # fmt: skip
    assert on_served_family({"family": "sdxl", "guidance_scale": 5.0}, "sd15") == {"family": "sd15"}
    assert on_served_family({"family": "sd15", "guidance_scale": 7.0}, "flux")["guidance_scale"] == 3.5
    note = unserved_family_note("flux", ("sd15", "sdxl"))
    assert "made on FLUX.1 [dev]" in note and "7 (that family's default) is set" in note


def test_a_redux_recipe_on_a_studio_without_flux_loads_in_full_mode():
    """The page's mode choices are the served families' (no redux without FLUX): the recipe takes full and says so."""
    from app.recipes import parse_recipe
    from app.ui import unserved_family_note, with_served_mode
    from app.ui.controls import mode_choices

    recipe = parse_recipe({"mode": "generate", "generate": {**BASE, "ip_adapter": {"scale": 0.5, "mode": "redux"}}})
    assert "redux" not in [value for _, value in mode_choices(("sd15", "sdxl"))]
    loaded = with_served_mode(recipe, "sd15")
    assert (loaded.settings.ip_adapter.mode, loaded.settings.ip_adapter.scale) == ("full", 0.5)
    assert with_served_mode(recipe, "flux") is recipe
    assert "image-prompt mode redux is not one SD1.5 has, so full is set" in unserved_family_note(
        "flux", ("sd15", "sdxl"), recipe
    )


def test_a_gated_family_that_cannot_load_leaves_the_others_serving(tiny_settings, tiny_root, monkeypatch, caplog):
    """ZeroGPU preloads every family at start-up: FLUX without a token is logged, SD1.5 still loads and serves."""
    import httpx
    from diffusers import FluxPipeline
    from huggingface_hub.errors import GatedRepoError

    def refuse(*args, **kwargs):
        response = httpx.Response(401, request=httpx.Request("GET", "https://huggingface.co/black-forest-labs"))
        raise GatedRepoError("401 Client Error. Cannot access gated repo.", response=response)

    monkeypatch.setattr(FluxPipeline, "from_pretrained", refuse)
    studio = Studio(replace(tiny_settings, resident_families=2), [tiny_spec(tiny_root), tiny_flux_spec(tiny_root)])
    studio.preload(control_types=("canny",), aux=False)
    assert "access is gated" in caplog.text and studio.cache_for("sd15")._base is not None
    assert studio.generate({**BASE, "family": "sd15"}).image.size == (64, 64)


def test_flux_under_low_vram_offload_keeps_its_pixels_dtype_and_device(tiny_settings, tiny_root, photo, reference):
    """STUDIO_LOW_VRAM=1: diffusers' model offload on FLUX's pipelines, exact and batched, every module left where it
    was configured, the same pixels as without offload."""
    offloaded = Studio(replace(tiny_settings, low_vram=True), tiny_flux_spec(tiny_root))
    resident = Studio(tiny_settings, tiny_flux_spec(tiny_root))
    request = {**BASE, "methods": ["text", "canny", "ip_adapter"], "ip_adapter": {"scale": 0.7}}
    for batching in ("exact", "batched"):
        ours = list(offloaded.compare({**request, "batching": batching}, photo, reference))
        theirs = list(resident.compare({**request, "batching": batching}, photo, reference))
        assert [e.error for e in ours] == [None] * 3 and offloaded.cache.misplaced() == []
        for one, other in zip(ours, theirs, strict=True):
            assert gap(one.result, other.result) <= BOUND, (batching, one.method.name)
    redux = {**BASE, "ip_adapter": {"scale": 0.7, "mode": "redux", "image": reference}}
    assert gap(offloaded.generate(redux), resident.generate(redux)) <= BOUND
    assert offloaded.cache.misplaced() == [] and "redux_image_encoder" in offloaded.cache.resident_modules()


def test_a_sweep_sets_xlabs_ip_adapter_beside_redux(flux, reference):
    """The IP-Adapter mode as a sweep axis: FLUX's two image prompts side by side on one seed, each cell saying which
    ran; a method without an image prompt is refused by name."""
    base = {**BASE, "methods": ["ip_adapter"], "ip_adapter": {"scale": 0.8}}
    sweep = flux.sweep({"base": base, "x": {"name": "ip_adapter_mode", "values": ["full", "redux"]}},
                       reference_image=reference)  # fmt: skip
    full, redux = (cell.entry.result for cell in sweep.cells)
    assert [cell.label for cell in sweep.cells] == ["IP-Adapter mode full", "IP-Adapter mode redux"]
    assert gap(full, redux) > 10 + BOUND
    assert any("IP-Adapter (flux-ip-adapter)" in note for note in full.notes) and any(
        "FLUX.1 Redux" in note for note in redux.notes
    )
    with pytest.raises(StudioError, match="the method 'text' has no image prompt"):
        flux.sweep({"base": {**BASE, "methods": ["text"]}, "x": {"name": "ip_adapter_mode", "values": ["full"]}})
