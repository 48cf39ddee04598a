"""The exceptions the core raises for anything a user or operator can fix, and the stop a user asked for."""

TINY_FAMILY = "the built-in tiny model family (`python app.py --tiny` or STUDIO_MODELS=tiny)"


def offline_hint(local_option: str | None = None) -> str:
    """How to run without the Hub: a component's own local-folder setting (if it has one), else the tiny family."""
    if local_option:
        return f"This machine may not reach the Hugging Face Hub: {local_option}, or run the studio on {TINY_FAMILY}."
    return f"To try the studio without downloading weights, run it on {TINY_FAMILY}."


class StudioError(ValueError):
    """A request, input or configuration the studio cannot serve.

    The message always says what was received and what is allowed, so the UI
    can show it verbatim.
    """


class ModelLoadError(StudioError):
    """A model (base, ControlNet, IP-Adapter, detector) failed to load."""


class Cancelled(Exception):
    """The user stopped a running generation (Stop, or gradio cancelling the event).

    Not a :class:`StudioError`: nothing went wrong, so no ``except StudioError`` may swallow it
    (a comparison, for one, must end rather than report the stop as one method's error).
    """


class OutOfMemory(StudioError):
    """The accelerator ran out of memory; the message says what to reduce. The studio stays usable."""


RETRYABLE = (ModelLoadError, OutOfMemory)
"""Studio errors a rerun may get past (weights now in place, memory now free), unlike an input that cannot drive a
method (no person found), which fails the same way every time."""


def clipped(text: str, limit: int) -> str:
    """``text`` for a message: whole when at most ``limit`` characters, else cut to ``limit`` with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
