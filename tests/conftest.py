"""Shared fixtures: the tiny model family, built once per test session, and a studio on it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("STUDIO_OUTPUT_DIR", "")  # a test keeps results only in a folder it names

from app.settings import Settings
from app.studio import Studio
from app.tiny import ensure_tiny_family
from tests.ui_fixtures import ASSETS

TEST_DTYPE = os.environ.get("STUDIO_TEST_DTYPE", "float32")
"""The studio models' precision: float32, or bfloat16/float16 in the half-precision lanes (scripts/test.sh)."""


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """The tiny model family, written once: for the whole run in ``STUDIO_TEST_MODELS`` when that is set (the test
    command shares one folder between its lanes and workers; the first to arrive builds it, the others wait), else
    for this session in its temporary folder. Tests read it and never write into it."""
    shared = os.environ.get("STUDIO_TEST_MODELS")
    if not shared:
        return ensure_tiny_family(tmp_path_factory.mktemp("models"))
    from filelock import FileLock

    Path(shared).mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(shared) / ".building.lock")):
        return ensure_tiny_family(Path(shared))


@pytest.fixture(scope="session")
def tiny_settings(tiny_root) -> Settings:
    return Settings(model_source="tiny", device="cpu", dtype=TEST_DTYPE, cache_dir=tiny_root.parent)


@pytest.fixture(scope="session")
def studio(tiny_settings, tiny_root) -> Studio:
    """One studio for the session, as in the app: both tiny families (SD1.5 the default, one resident at a time on
    a CPU), state carried between tests is part of what is tested."""
    return Studio(tiny_settings)


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    """A person to make maps from (skimage's astronaut: every detector, pose included, finds something)."""
    from skimage import data

    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def reference() -> Image.Image:
    """An IP-Adapter reference (skimage's cat)."""
    from skimage import data

    return Image.fromarray(data.chelsea())


@pytest.fixture(scope="session")
def noise_map() -> Image.Image:
    """A seeded random RGB image usable as a control map or reference."""
    pixels = np.random.default_rng(7).integers(0, 256, size=(64, 96, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="session")
def served_app(studio, tmp_path_factory):
    """The whole studio app on the session's tiny studio, served on 127.0.0.1 for the whole session, keeping its
    results in a temporary outputs folder (as locally by default)."""
    from tests.ui_fixtures import serving

    with serving(studio, tmp_path_factory.mktemp("outputs")) as served:
        yield served


@pytest.fixture(scope="session")
def client(served_app):
    """A gradio_client on the served app, as an API user drives it."""
    from gradio_client import Client

    return Client(served_app.url, verbose=False)


def pixels(image_or_result) -> np.ndarray:
    """The pixels of an image, or of a result's first image."""
    return np.asarray(getattr(image_or_result, "image", image_or_result))


def pytest_report_header(config):
    return f"studio models run in {TEST_DTYPE} on the CPU (STUDIO_TEST_DTYPE)"


def pytest_collection_modifyitems(config, items):
    import torch

    no_gpu = pytest.mark.skip(reason="needs a CUDA GPU; none on this machine")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_gpu)


EVAL_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png")
"""The bundled photos an evaluation test runs on (see ``assets/LICENSES.md``)."""


@pytest.fixture
def photos(tmp_path) -> Path:
    """A folder holding the evaluation photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in EVAL_PHOTOS:
        shutil.copy(ASSETS / name, folder / name)
    return folder


@pytest.fixture
def tiny_env(monkeypatch, tiny_root) -> dict[str, str]:
    """The environment that points the studio's own settings at the tiny family (as a user would set it)."""
    env = {
        "STUDIO_MODELS": "tiny",
        "STUDIO_DEVICE": "cpu",
        "STUDIO_DTYPE": TEST_DTYPE,
        "STUDIO_CACHE_DIR": str(tiny_root.parent),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    from tests.ui_fixtures import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
