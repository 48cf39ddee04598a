"""Fixtures for the UI tests: the studio app on the tiny family, launched once on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def served_app(studio) -> Iterator[Served]:
    """The whole studio app on the session's tiny studio, served on 127.0.0.1 for the whole session."""
    from app.ui import build_app, launch_options

    demo = build_app(studio=studio)
    demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **launch_options()
    )
    try:
        yield Served(demo, demo.local_url)
    finally:
        demo.close()
