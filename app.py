"""Conditioning Studio: start the web UI.

    python app.py            # real Stable Diffusion weights (Hub or local cache)
    python app.py --tiny     # offline demo on the tiny random-weight family (or STUDIO_MODELS=tiny)

The page is served before any model loads; the studio is prepared in the
background and models load on first use.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the clock starts before the imports it measures
import logging  # noqa: E402
import os  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Conditioning Studio web UI")
    parser.add_argument("--tiny", action="store_true", help="use the tiny random-weight model family (offline demo)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to bind")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), help="port to serve on"
    )
    return parser.parse_args(argv)


def quiet_libraries() -> None:
    """Keep the console for the studio's own messages: library chatter only at error level."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("diffusers", "transformers", "httpx", "huggingface_hub", "timm"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> None:
    """Read settings once, build the UI, serve it, then prepare the studio in the background."""
    args = parse_args(argv)
    quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from app.calibration import active as calibrations
    from app.errors import StudioError
    from app.settings import get_settings

    try:
        settings = get_settings()
        if args.tiny:
            settings = settings.with_model_source("tiny")
        calibrations()  # STUDIO_CALIBRATION files are checked at start, not at the first verdict
    except StudioError as error:
        raise SystemExit(f"Invalid settings: {error}") from None

    from app.serving.status import model_banner
    from app.ui import build_app, launch_options

    banner = model_banner(settings)
    if banner and settings.model_source != "tiny":
        print(banner.replace("**", "").replace("`", ""))
    demo = build_app(settings=settings)
    from app.serving.zerogpu import on_zerogpu

    if on_zerogpu():  # ZeroGPU wants the models loaded and placed on "cuda" at start-up, outside GPU calls
        demo.studio.get().preload()
    demo.launch(server_name=args.host, server_port=args.port, prevent_thread_lock=True, **launch_options(settings))
    print(f"Conditioning Studio ({settings.model_source} models) served in {time.perf_counter() - STARTED:.1f} s")
    demo.studio.prepare_in_background()
    demo.block_thread()


if __name__ == "__main__":
    main()
