"""Live previews: the running latents decoded by a tiny autoencoder, every few steps, without changing a pixel."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from app.engine.models import tiny_spec
from app.engine.previews import PREVIEWS_PER_RUN, is_preview_step, preview_interval
from app.studio import Studio
from app.ui.live import relay, while_running
from tests.conftest import pixels

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

REQUEST = {"prompt": "an astronaut", "seed": 5, "num_inference_steps": 12, "width": 64, "height": 96}


def test_a_run_shows_about_six_previews_and_never_its_last_step():
    assert preview_interval(12) == 2 and preview_interval(25) == 5 and preview_interval(3) == 1
    assert [done for done in range(1, 13) if is_preview_step(done, 12)] == [2, 4, 6, 8, 10]
    assert len([d for d in range(1, 51) if is_preview_step(d, 50)]) <= PREVIEWS_PER_RUN
    assert [done for done in range(1, 11) if is_preview_step(done, 10, every=3)] == [3, 6, 9]
    assert not any(is_preview_step(1, 1, every) for every in (0, 1))  # one step: the result is the only image


def test_previews_come_every_few_steps_at_the_run_size_and_leave_the_pixels_unchanged(studio):
    seen = []
    shown = studio.generate({**REQUEST, "num_images_per_prompt": 2}, preview=lambda *p: seen.append(p))
    plain = studio.generate({**REQUEST, "num_images_per_prompt": 2})
    assert [(done, total) for _, done, total in seen] == [(2, 12), (4, 12), (6, 12), (8, 12), (10, 12)]
    assert all(len(images) == 2 and {i.size for i in images} == {(64, 96)} for images, _, _ in seen)
    assert not np.array_equal(pixels(seen[0][0][0]), pixels(seen[-1][0][0]))  # they change as it denoises
    for with_previews, without in zip(shown.images, plain.images, strict=True):
        assert np.array_equal(pixels(with_previews), pixels(without))
    assert not [n for n in shown.notes if "preview" in n.lower()]
    assert studio.cache.misplaced() == []  # the decoder keeps the studio's dtype and device


@pytest.mark.parametrize("batching", ["exact", "batched"])
def test_a_comparison_previews_each_method_in_its_own_tile(studio, photo, reference, batching):
    seen = []
    request = {**REQUEST, "num_inference_steps": 4, "methods": ["text", "canny", "ip_adapter"], "batching": batching}
    entries = list(studio.compare(request, photo, reference, preview=lambda *p: seen.append(p)))
    assert [e.error for e in entries] == [None, None, None]
    assert sorted((index, done) for index, _, done, _ in seen) == [(i, d) for i in range(3) for d in (1, 2, 3)]
    if batching == "batched":  # one pass: every method's preview of a step arrives together
        assert [index for index, *_ in seen[:3]] == [0, 1, 2]
    # Same starting noise: the methods' first previews differ only by their conditioning (text vs canny here).
    first = {index: image for index, image, done, _ in seen if done == 1}
    assert not np.array_equal(pixels(first[0]), pixels(first[1]))


def test_previews_turned_off_load_no_decoder(tiny_settings, tiny_root):
    studio = Studio(replace(tiny_settings, previews=False), tiny_spec(tiny_root))
    seen = []
    result = studio.generate(REQUEST, preview=lambda *p: seen.append(p))
    assert seen == [] and "preview_vae" not in studio.cache.resident_modules()
    assert not [n for n in result.notes if "preview" in n.lower()]


def test_a_preview_decoder_that_cannot_load_turns_previews_off_and_the_run_goes_on(tiny_settings, tiny_root, tmp_path):
    spec = replace(tiny_spec(tiny_root), preview_vae=str(tmp_path / "no-taesd-here"))
    studio = Studio(tiny_settings, spec)
    seen = []
    result = studio.generate(REQUEST, preview=lambda *p: seen.append(p))
    assert seen == [] and len(result.images) == 1
    note = next(n for n in result.notes if "preview" in n.lower())
    assert note.startswith("Live previews are off: Could not load the live-preview decoder from") and "no-taesd" in note


# -- streaming them to the page -----------------------------------------------------------------------------------


def test_a_live_run_streams_what_its_worker_publishes_and_returns_its_result():
    def work(publish):
        for step in range(3):
            publish(step)
            time.sleep(0.01)
        return "done"

    stream = while_running(work, threading.Event())
    seen = []
    while True:
        try:
            seen.extend(next(stream))
        except StopIteration as stop:
            assert stop.value == "done"
            break
    assert seen == [0, 1, 2]


def test_a_live_run_raises_its_workers_error_in_the_handlers_thread():
    def work(publish):
        publish("preview")
        raise ValueError("the model broke")

    with pytest.raises(ValueError, match="the model broke"):
        list(while_running(work, threading.Event()))


def test_closing_a_live_run_stops_its_worker_before_it_returns():
    cancel, finished = threading.Event(), threading.Event()

    def work(publish):
        while not cancel.is_set():  # a generation checks its cancel event at every step
            publish("step")
            time.sleep(0.01)
        finished.set()

    stream = relay(while_running(work, cancel), lambda batch: len(batch))
    assert next(stream) >= 1
    stream.close()  # the page went away
    assert cancel.is_set() and finished.is_set()


def test_the_api_streams_previews_before_the_result_and_not_when_asked_not_to(client):
    from tests.ui_fixtures import SMALL

    request = {"prompt": "a cat", "seed": 3, **SMALL, "num_inference_steps": 12}
    job = client.submit(**request, api_name="/text_to_image")
    final = job.result()
    captions = [gallery[0]["caption"] for gallery, _ in job.outputs()[:-1] if gallery]
    assert captions and all(c.startswith("Text-only · step ") and c.endswith("(preview)") for c in captions)
    assert "seed 3" in final[0][0]["caption"] and "peak memory" in final[1]
    quiet = client.submit(**request, live_previews=False, api_name="/text_to_image")
    quiet.result()
    assert not [g for g, _ in quiet.outputs() if g and "(preview)" in g[0]["caption"]]
