"""The studio UI through its HTTP API: every tab's main event via gradio_client, on the tiny family."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app.request import CommonSettings, GenerationRequest, field_bounds
from tests.ui_fixtures import PHOTO, REFERENCE, SMALL

GENERATING = ("/text_to_image", "/preview_maps", "/controlnet", "/ip_adapter", "/preview_all_maps", "/compare")


def sizes(gallery: list[dict]) -> list[tuple[int, int]]:
    """Sizes of the images of a gallery output."""
    return [Image.open(item["image"]).size for item in gallery]


def test_every_generating_event_is_named_and_shares_one_queue(served_app):
    demo = served_app.demo
    named = {f"/{fn.api_name}": fn for fn in demo.fns.values() if fn.api_name}
    assert set(GENERATING) <= set(named)
    assert {named[name].concurrency_id for name in GENERATING} == {"gpu"}
    assert all(named[name].queue for name in GENERATING)
    assert demo._queue.max_size == served_app.demo.studio.settings.queue_size
    # Cheap events (seed buttons, visibility toggles) skip the queue and stay out of the API.
    cheap = [fn for fn in demo.fns.values() if not fn.api_name or fn.api_visibility == "private"]
    # Upload checks are queued so their warning shows, on their own unlimited queue: never behind a generation.
    uploads = [fn for fn in cheap if fn.concurrency_id == "uploads"]
    assert len(uploads) == 8 and all(fn.queue and fn.concurrency_limit is None for fn in uploads)
    assert cheap and all(not fn.queue for fn in cheap if fn not in uploads)


def test_slider_ranges_come_from_the_schema_and_the_caps(served_app):
    shared, settings = served_app.demo.shared, served_app.demo.studio.settings
    steps = field_bounds(CommonSettings, "num_inference_steps")
    assert shared.num_inference_steps.minimum == steps["ge"]
    assert shared.num_inference_steps.maximum == min(steps["le"], settings.max_steps)
    assert shared.width.step == field_bounds(CommonSettings, "width")["multiple_of"]
    assert shared.width.maximum == min(field_bounds(CommonSettings, "width")["le"], settings.max_side)
    images = field_bounds(GenerationRequest, "num_images_per_prompt")
    assert shared.num_images_per_prompt.maximum == min(images["le"], settings.max_images)


def test_scheduler_labels_match_the_core(studio):
    from typing import get_args

    from app.engine.schedulers import make_scheduler
    from app.request import SchedulerName
    from app.samplers import SAMPLERS, SCHEDULER_LABELS, scheduler_choices

    names = list(get_args(SchedulerName))
    # Every sampler the schema allows has one distinct label in the menu and a class behind it, and no more.
    assert list(SCHEDULER_LABELS) == names == list(SAMPLERS)
    assert [name for _, name in scheduler_choices()] == names
    assert len(set(SCHEDULER_LABELS.values())) == len(names)
    # Each label says what the sampler built under it is (A1111's names, which recipes and PNGs carry).
    config = studio.cache.base().scheduler.config
    built = {SCHEDULER_LABELS[name]: make_scheduler(name, config) for name in names}
    karras = built["DPM++ 2M Karras"]
    assert type(karras).__name__ == "DPMSolverMultistepScheduler"
    assert karras.config.use_karras_sigmas and karras.config.solver_order == 2
    assert karras.config.algorithm_type == "dpmsolver++"
    assert type(built["Euler a"]).__name__ == "EulerAncestralDiscreteScheduler"
    assert type(built["Euler"]).__name__ == "EulerDiscreteScheduler"
    assert type(built["UniPC"]).__name__ == "UniPCMultistepScheduler"
    assert type(built["DDIM"]).__name__ == "DDIMScheduler"


def test_text_to_image(client):
    gallery, info = client.predict(prompt="a cat", seed=7, num_images_per_prompt=2, **SMALL, api_name="/text_to_image")
    assert sizes(gallery) == [(64, 96), (64, 96)]
    assert "seed 7" in gallery[0]["caption"] and "seed 8" in gallery[1]["caption"]
    assert "peak memory" in info


def test_preview_maps_and_controlnet_with_two_controls(client):
    maps = client.predict(photo=handle_file(PHOTO), control_type="canny", detector="canny", **SMALL,
                          api_name="/preview_maps")  # fmt: skip
    assert sizes(maps) == [(64, 96)]
    slider, gallery, _info = client.predict(
        prompt="an astronaut",
        photo=handle_file(PHOTO),
        control_type="canny",
        detector="canny",
        canny__low_threshold=50,
        use_second=True,
        second_control_type="depth",
        second_detector="depth_anything",
        **SMALL,
        api_name="/controlnet",
    )
    assert [Image.open(p).size for p in slider] == [(64, 96), (64, 96)]
    assert Path(slider[0]).name == "canny-map.png"  # named downloads, not image.png
    assert re.search(r"-seed\d+\.png$", Path(slider[1]).name), slider[1]
    assert sizes(gallery) == [(64, 96)] * 3  # two maps, one result
    assert "canny map" in gallery[0]["caption"] and "depth map" in gallery[1]["caption"]


def test_ip_adapter_with_structure_from_another_photo(client):
    gallery, _info = client.predict(
        prompt="a cup",
        reference=handle_file(REFERENCE),
        scale=0.8,
        mode="style",
        use_control=True,
        photo=handle_file(PHOTO),
        control_control_type="depth",
        control_detector="depth_anything",
        **SMALL,
        api_name="/ip_adapter",
    )
    assert "reference" in gallery[0]["caption"] and "depth map" in gallery[1]["caption"]
    assert sizes(gallery)[1:] == [(64, 96), (64, 96)]


def test_preview_all_maps_and_compare(client):
    maps = client.predict(photo=handle_file(PHOTO), **SMALL, api_name="/preview_all_maps")
    assert sizes(maps) == [(64, 96)] * 3  # the maps of the default methods
    assert [m["caption"].split()[0] for m in maps] == ["canny", "pose", "depth"]
    lineart = client.predict(
        photo=handle_file(PHOTO), methods=["text", "lineart"], **SMALL, api_name="/preview_all_maps"
    )
    assert [m["caption"].split()[0] for m in lineart] == ["lineart"]
    methods = ["text", "canny", "depth+ip_adapter"]
    grid, matrix, advice = client.predict(
        prompt="an astronaut",
        photo=handle_file(PHOTO),
        reference=handle_file(REFERENCE),
        methods=methods,
        **SMALL,
        api_name="/compare",
    )
    assert len(grid) == 2 * len(methods)  # results on top, what drove each below
    assert all(size == (64, 96) for size in sizes(grid)[: len(methods)])
    assert grid[0]["caption"].startswith("Text-only")
    assert "depth map" in grid[5]["caption"] and "reference" in grid[5]["caption"]
    assert matrix["headers"][0] == "Method" and len(matrix["data"]) == len(methods)
    assert advice.strip()


def test_core_errors_are_messages_and_the_next_run_works(client, tmp_path):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("this is not an image")
    with pytest.raises(AppError) as error:
        client.predict(photo=handle_file(not_an_image), **SMALL, api_name="/preview_maps")
    assert "image" in str(error.value).lower() and "Traceback" not in str(error.value)
    grid, _, advice = client.predict(methods=["text", "canny"], **SMALL, api_name="/compare")
    assert grid[0]["caption"].startswith("Text-only") and "left out" not in grid[0]["caption"].lower()
    assert "Canny" in advice and "needs a structure photo" in advice  # left out, said in the verdict
    gallery, _ = client.predict(prompt="still works", **SMALL, api_name="/text_to_image")
    assert sizes(gallery) == [(64, 96)]


def test_oversize_upload_is_refused_and_the_next_run_works(client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (21 * 1024 * 1024))  # over the 20 MB cap
    with pytest.raises(Exception, match=r"(?i)size|large|413"):
        client.predict(photo=handle_file(big), **SMALL, api_name="/preview_maps")
    maps = client.predict(photo=handle_file(PHOTO), **SMALL, api_name="/preview_maps")
    assert sizes(maps) == [(64, 96)]


def test_stop_cancels_the_running_job_and_the_next_run_works(served_app, client):
    job = client.submit(prompt="long", width=64, height=64, num_inference_steps=100, api_name="/text_to_image")
    handle = served_app.demo.studio
    deadline = time.monotonic() + 60
    while not handle.stop("text", SimpleNamespace(session_hash=client.session_hash)):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    with pytest.raises(AppError, match="Cancelled after"):
        job.result(timeout=60)
    gallery, _ = client.predict(prompt="after stop", **SMALL, api_name="/text_to_image")
    assert sizes(gallery) == [(64, 96)]


def test_the_page_says_plainly_which_weights_it_runs_on(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from app.serving.status import model_banner
    from app.settings import Settings

    assert "random demo weights" in model_banner(Settings(model_source="tiny"))
    # A Space's visitors cannot restart it: tell them how to get real images instead.
    on_space = model_banner(Settings(model_source="tiny", on_space=True))
    assert "duplicate this Space" in on_space and "scripts/run.sh" in on_space and "--tiny" not in on_space
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    banner = model_banner(Settings(model_source="real"))
    assert "not on this machine" in banner and "--tiny" in banner and "STUDIO_MODELS=tiny" in banner


def test_api_clients_may_name_any_detector_and_a_mismatch_is_refused(client):
    photo = handle_file(str(PHOTO))
    _, gallery, _ = client.predict(
        photo=photo, control_type="depth", detector="depth_anything", **SMALL, api_name="/controlnet"
    )
    assert gallery and set(sizes(gallery)) == {(SMALL["width"], SMALL["height"])}
    with pytest.raises(AppError, match="does not make canny maps"):
        client.predict(photo=photo, control_type="canny", detector="midas", **SMALL, api_name="/controlnet")


def test_a_cancelled_api_job_frees_the_worker_at_its_next_step(served_app, client):
    unet = served_app.demo.studio.get().cache.base().unet
    calls = [0]
    hook = unet.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        job = client.submit(
            prompt="cancel me", width=256, height=256, num_inference_steps=100, api_name="/text_to_image"
        )
        deadline = time.monotonic() + 60
        while calls[0] < 3:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.01)
        job.cancel()
        time.sleep(1.0)
        stopped_at = calls[0]
        time.sleep(1.0)
        assert calls[0] == stopped_at < 100, "the worker ran on after the client cancelled"
    finally:
        hook.remove()
    started = time.monotonic()
    gallery, _ = client.predict(prompt="after cancel", **SMALL, api_name="/text_to_image")
    assert sizes(gallery) == [(64, 96)] and time.monotonic() - started < 30


def raw_call(client: Client, base_url: str, api_name: str, overrides: dict[str, str]) -> str:
    """POST an event as a hostile JSON client would (``overrides`` are raw JSON literals) and read its stream."""
    import json

    import httpx

    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]["parameters"]
    values = {p["parameter_name"]: p.get("parameter_default") for p in parameters}
    values.update(prompt="raw", width=64, height=64, num_inference_steps=2)
    literals = [overrides.get(name, json.dumps(values[name])) for name in values]
    url = base_url.rstrip("/") + "/gradio_api/call" + api_name
    body = '{"data": [' + ", ".join(literals) + "]}"
    posted = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30)
    assert posted.status_code == 200, (posted.status_code, posted.text[:300], literals)
    return httpx.get(f"{url}/{posted.json()['event_id']}", timeout=60).text


@pytest.mark.parametrize(
    ("api_name", "field", "literal", "message"),
    [
        ("/text_to_image", "num_inference_steps", "NaN", "num_inference_steps: Input should be a finite number"),
        ("/text_to_image", "num_inference_steps", "2.5", "num_inference_steps: Input should be a valid integer"),
        ("/text_to_image", "seed", "3.5", "seed: Input should be a valid integer"),
        ("/text_to_image", "width", "64.5", "width: Input should be a valid integer"),
        ("/text_to_image", "num_images_per_prompt", "NaN", "num_images_per_prompt: Input should be a finite"),
        ("/compare", "height", "NaN", "height: Input should be a finite number"),
        ("/compare", "seed", "1e-3", "seed: Input should be a valid integer"),
        ("/sweep", "height", "NaN", "height: Input should be a finite number"),
    ],
)
def test_nan_or_a_fraction_in_an_integer_field_is_refused_naming_the_field(
    served_app,
    client,
    api_name,
    field,
    literal,
    message,
):
    stream = raw_call(client, served_app.url, api_name, {field: literal})
    assert "event: error" in stream and message in stream, stream[:400]
    assert "cannot convert" not in stream
    assert "event: complete" in raw_call(client, served_app.url, "/text_to_image", {"seed": "4.0"})


def test_the_banner_is_quiet_once_every_file_the_studio_reads_is_cached_and_names_a_repo_missing_one(
    monkeypatch, tmp_path
):
    from huggingface_hub import constants

    from app.serving.hub import default_hub_files
    from app.serving.status import missing_weights, model_banner
    from app.settings import Settings

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    commit = "0" * 40
    for repo, (names, revision) in default_hub_files().items():  # the Hub cache layout huggingface_hub writes
        folder = tmp_path / f"models--{repo.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True)
        (folder / "refs" / "main").write_text(commit)
        snapshot = folder / "snapshots" / (revision or commit)
        for name in names:
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_bytes(b"weights")
    assert missing_weights() == [] and model_banner(Settings(model_source="real")) is None
    unet = next(iter(default_hub_files()))
    (tmp_path / f"models--{unet.replace('/', '--')}" / "snapshots" / commit / "unet" / "config.json").unlink()
    assert missing_weights() == [unet] and f"`{unet}`" in model_banner(Settings(model_source="real"))


def test_the_default_compare_with_a_photo_and_no_reference_runs_and_says_why_ip_adapter_is_not_in_it(client):
    grid, _, advice = client.predict(prompt="an astronaut", photo=handle_file(PHOTO), **SMALL, api_name="/compare")
    captions = [tile["caption"] for tile in grid]
    assert sum(" · seed " in c for c in captions) == 4  # text-only, canny, pose, depth: the default without a reference
    assert "IP-Adapter: not compared, it needs a reference image" in advice.replace("*", "").replace("\\", "")
    grid, _, advice = client.predict(
        prompt="an astronaut", photo=handle_file(PHOTO), methods=["text", "ip_adapter"], **SMALL, api_name="/compare"
    )  # asked for by name without a reference: left out, the other runs
    assert grid[0]["caption"].startswith("Text-only · seed") and "left out" in grid[1]["caption"].lower()
    assert "needs a reference image" in advice


def test_a_t2i_adapter_method_on_sd15_says_why_in_its_tile_and_the_others_run(client):
    """The Compare checkboxes offer "Canny (T2I-Adapter)" on every family; on SD1.5 its tile says why it cannot
    run (the SD1.5 adapters are pickled .bin files), and text-only and canny's ControlNet still run."""
    grid, _, advice = client.predict(
        prompt="an astronaut", photo=handle_file(PHOTO), methods=["text", "canny", "canny@t2i"], **SMALL,
        api_name="/compare",
    )  # fmt: skip
    captions = [tile["caption"] for tile in grid]
    assert sum(" · seed " in c for c in captions) == 2, captions
    assert any("pickled .bin" in c for c in captions), captions
    shown = advice.replace("\\", "")  # the advice is Markdown, its punctuation escaped
    assert "T2I-Adapter" in shown and "pickled .bin" in shown  # not in this verdict, and why
