"""Loading a model with one clear message when it fails: what, from where, why, and how to run offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.errors import ModelLoadError, offline_hint

TINY_HINT = offline_hint()


def load(what: str, source: str, loader: Callable[[], Any]) -> Any:
    try:
        return loader()
    except Exception as error:  # any loader failure becomes one clear, actionable message
        reason = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"Could not load the {what} from {source!r}: {reason[:300]}. {TINY_HINT}") from error
