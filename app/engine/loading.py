"""Loading a model with one clear message when it fails: what, from where, why, and how to run offline (or, for a
gated repository, how to get access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.errors import ModelLoadError, offline_hint

TINY_HINT = offline_hint()


def load(what: str, source: str, loader: Callable[[], Any], licence: str | None = None) -> Any:
    """``loader()``, or one :class:`ModelLoadError` naming ``what`` and ``source``.

    Args:
        licence: What to do to get access, said instead of the offline hint when the Hub refuses a gated repository
            (the raw 401 says neither which licence nor what to set).
    """
    try:
        return loader()
    except Exception as error:  # any loader failure becomes one clear, actionable message
        if licence and is_gated(error):
            raise ModelLoadError(f"Could not load the {what} from {source!r}: access is gated. {licence}") from error
        reason = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"Could not load the {what} from {source!r}: {reason[:300]}. {TINY_HINT}") from error


def is_gated(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is the Hub refusing a gated repository to this token, or to none."""
    from huggingface_hub.errors import GatedRepoError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, GatedRepoError) or "gated repo" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False
