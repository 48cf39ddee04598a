"""Faults as a GPU produces them: out of memory mid-run, a kernel error in one method of a comparison.

The faults are raised from inside the real modules (forward hooks on the shared
UNet or one ControlNet), at the point a GPU would raise them, so the whole
path — pipeline call, cleanup, error message, the next request — is the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from app.errors import OutOfMemory, StudioError

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

BASE = {"prompt": "a harbour at night", "seed": 9, "num_inference_steps": 3, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(data.astronaut()).resize((128, 128))


@contextmanager
def failing(module: torch.nn.Module, error: Exception, on_call: int = 1) -> Iterator[None]:
    """Make ``module`` raise ``error`` on its ``on_call``-th forward (1-based) while the block runs."""
    calls = [0]

    def hook(*_):
        calls[0] += 1
        if calls[0] == on_call:
            raise error

    handle = module.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


CUDA_OOM = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 14.75 GiB total capacity)")


@pytest.mark.parametrize(
    "error",
    [CUDA_OOM, RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)")],
    ids=["cuda", "runtime-error"],
)
def test_out_of_memory_mid_run_says_what_to_reduce_and_the_next_run_is_unchanged(studio, error):
    before = np.asarray(studio.generate(BASE).image)
    with failing(studio.cache.base().unet, error, on_call=3), pytest.raises(OutOfMemory) as caught:
        studio.generate(BASE)
    message = str(caught.value)
    assert isinstance(caught.value, StudioError)
    for words in ("Out of memory", "64×64", "3 steps", "size", "images per prompt", "steps", "methods"):
        assert words in message, words
    assert np.array_equal(before, np.asarray(studio.generate(BASE).image))


def test_an_error_that_is_not_memory_is_not_dressed_as_one(studio):
    illegal = RuntimeError("CUDA error: an illegal memory access")
    with failing(studio.cache.base().unet, illegal), pytest.raises(RuntimeError, match="illegal memory access"):
        studio.generate(BASE)


def test_out_of_memory_mid_comparison_costs_only_that_method(studio, photo):
    request = {**BASE, "methods": ["text", "depth", "canny"]}
    solo = np.asarray(studio.generate(BASE).image)
    depth = studio.cache.controlnet("depth")
    with failing(depth, CUDA_OOM, on_call=2):
        entries = {e.method.name: e for e in studio.compare(request, photo)}
    assert entries["depth"].result is None and "Out of memory" in entries["depth"].error
    assert entries["text"].error is None and entries["canny"].error is None
    assert np.array_equal(solo, np.asarray(entries["text"].result.image))
    again = {e.method.name: e for e in studio.compare(request, photo)}
    assert again["depth"].error is None
    assert np.array_equal(np.asarray(again["canny"].result.image), np.asarray(entries["canny"].result.image))


def test_any_failure_of_one_method_becomes_its_error_entry(studio, photo):
    request = {**BASE, "methods": ["canny", "text", "depth"]}
    with failing(studio.cache.controlnet("canny"), RuntimeError("CUDA error: device-side assert triggered")):
        entries = list(studio.compare(request, photo))
    assert [e.method.name for e in entries] == ["canny", "text", "depth"]
    assert entries[0].result is None
    assert "Canny" in entries[0].error and "device-side assert" in entries[0].error
    assert entries[1].result is not None and entries[2].result is not None
