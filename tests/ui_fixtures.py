"""Fixtures for the UI tests: the studio app on the tiny family, launched once on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PHOTO = ASSETS / "astronaut.png"  # a person: every detector (pose included) finds something
REFERENCE = ASSETS / "coffee.png"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# Debian's Chromium (never a downloaded browser), with the flags this machine's closed network needs.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 120_000  # a cold first generation on two CPU cores loads every model

# Small and short: the UI tests check wiring, shapes and messages, not pictures.
SMALL = {"width": 64, "height": 96, "num_inference_steps": 2}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    """A launched studio app."""

    demo: object
    url: str


@contextlib.contextmanager
def serving(studio, outputs: Path) -> Iterator[Served]:
    """The whole studio app on ``studio``, served on 127.0.0.1, keeping its results in ``outputs``."""
    from dataclasses import replace

    from app.ui import build_app, launch_options

    settings = replace(studio.settings, output_dir=outputs)
    demo = build_app(studio=studio, settings=settings)
    demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(settings),
    )
    try:
        yield Served(demo, demo.local_url)
    finally:
        demo.close()


def open_studio(browser, url: str, viewport: dict[str, int], size: tuple[int, int], errors: list[str]):
    """A page on the studio with a prompt and small, fast settings entered as a person would (2 steps at ``size``);
    script errors on the page are appended to ``errors``."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.fill("#prompt textarea", "a watercolour portrait of an astronaut")
    page.get_by_text("Sampling settings").click()
    set_run_size(page, 2, *size)
    return page


def set_run_size(page, steps: int, width: int, height: int) -> None:
    """Enter the steps and the size of the next run in the shared settings, as a person would."""
    for slider, value in (("steps", steps), ("width", width), ("height", height)):
        set_number(page, slider, value)


def set_number(page, elem_id: str, value: float) -> None:
    """Type a value into a slider's or number's box as a person would, again until a slider holds it
    (a slider just shown in an opening accordion may drop what is typed before it is live)."""
    from playwright.sync_api import expect

    box, track = page.locator(f"#{elem_id} input[type=number]"), page.locator(f"#{elem_id} input[type=range]")
    for _ in range(5):
        box.fill(str(value))
        box.press("Tab")
        if not track.count():
            return
        try:
            expect(track).to_have_value(str(value), timeout=2_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the {elem_id} slider did not take the value {value}")
