"""The Gradio studio: shared controls above five tabs, each tab one module with the same ``build_*`` signature.

Public API::

    from app.ui import build_app, launch_options

    demo = build_app(settings=settings)          # the studio itself is built lazily
    demo.launch(**launch_options(settings))       # theme, css, upload cap, error display

Only this package (and ``app.py``) imports gradio; it reaches the core through
:class:`~app.studio.Studio` and the request types alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from app.settings import Settings, get_settings
from app.ui.compare_tab import build_compare_tab
from app.ui.controlnet_tab import build_controlnet_tab
from app.ui.ip_adapter_tab import build_ip_adapter_tab
from app.ui.shared import ASSETS_DIR, GPU_QUEUE, MAX_UPLOAD, SharedControls, StudioHandle, build_shared_controls
from app.ui.status import model_banner
from app.ui.sweep_tab import build_sweep_tab
from app.ui.text_tab import build_text_tab

if TYPE_CHECKING:
    from app.studio import Studio

TITLE = "Conditioning Studio"

TABS = (
    ("Text to image", build_text_tab),
    ("ControlNet", build_controlnet_tab),
    ("IP-Adapter", build_ip_adapter_tab),
    ("Compare", build_compare_tab),
    ("Sweep", build_sweep_tab),
)
"""(title, builder) of each tab; every builder is ``build_x_tab(studio, shared) -> None``."""

CSS = """
#banner { border-left: 4px solid #f59e0b; padding: 0.25rem 0.75rem; background: #fffbeb; }
#banner * { color: #78350f !important; }
footer { display: none !important; }
"""


def build_app(studio: Studio | None = None, settings: Settings | None = None) -> gr.Blocks:
    """The whole studio as a queued ``gr.Blocks``; nothing heavy is loaded until the first event.

    Args:
        studio: A ready studio to serve (tests pass one); default: built on first use from ``settings``.
        settings: The operator settings; default: the studio's, else :func:`~app.settings.get_settings`.

    Returns:
        The Blocks app, queue configured (``max_size`` from ``settings.queue_size``); launch it with
        :func:`launch_options`. ``demo.studio`` is the :class:`~app.ui.shared.StudioHandle` and
        ``demo.shared`` the :class:`~app.ui.shared.SharedControls`, for later additions (presets, share link).
    """
    settings = settings or (studio.settings if studio is not None else get_settings())
    handle = StudioHandle(settings, studio)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nOne prompt, one seed: see what each way of conditioning Stable Diffusion does.")
        banner = model_banner(settings)
        if banner:
            gr.Markdown(banner, elem_id="banner")
        shared: SharedControls = build_shared_controls(settings)
        with gr.Tabs():
            for title, build in TABS:
                with gr.Tab(title, id=build.__name__.removeprefix("build_").removesuffix("_tab")):
                    build(handle, shared)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=1)
    demo.studio = handle  # type: ignore[attr-defined]
    demo.shared = shared  # type: ignore[attr-defined]
    return demo


def launch_options(settings: Settings | None = None) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch``: theme and css (gradio 6 takes them at launch), upload cap, errors."""
    return {
        "max_file_size": MAX_UPLOAD,
        "show_error": True,
        "css": CSS,
        "theme": gr.themes.Soft(),
        "allowed_paths": [str(ASSETS_DIR)],
    }


__all__ = ["GPU_QUEUE", "TABS", "build_app", "launch_options"]
