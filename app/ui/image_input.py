"""An image upload that reaches the core undecoded.

Gradio writes a type stub (``image_input.pyi``, git-ignored) next to any module
that defines a component class; this class lives alone here so that stub
shadows nothing else.
"""

from __future__ import annotations

from typing import Any

import gradio as gr


class ImageInput(gr.Image):
    """An image upload whose file reaches the core undecoded.

    ``gr.Image`` opens every upload with PIL before the handler runs, so a
    non-image fails with PIL's message. This template of ``gr.Image`` (same
    front end) hands the handler the uploaded file's path instead, and the
    core's :func:`app.images.load_image` validates it and says what is allowed.
    """

    is_template = True  # render with gr.Image's front end
    # No __init__ override: gradio reads the component's props from gr.Image.__init__'s signature.

    def preprocess(self, payload: Any) -> Any:
        """The uploaded file's path, without decoding it (data URLs, e.g. from the webcam, go through gr.Image)."""
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)


__all__ = ["ImageInput"]
