"""controlnet-aux, imported lazily and guarded: a problem with it disables only the detectors that use it."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from app.errors import ModelLoadError

CONTROLNET_AUX_PIN = "controlnet-aux==0.0.10"


def import_controlnet_aux(module: str, detector: str) -> ModuleType:
    """``controlnet_aux.<module>``, or a ModelLoadError naming ``detector`` as unavailable and how to fix it."""
    try:
        with warnings.catch_warnings():  # its package import re-registers timm models noisily
            warnings.simplefilter("ignore")
            return importlib.import_module(f"controlnet_aux.{module}")
    except Exception as exc:  # a broken optional dependency must not take the studio down
        raise ModelLoadError(
            f"controlnet-aux could not be imported ({type(exc).__name__}: {str(exc)[:200]}), so the {detector!r} "
            f"detector is unavailable: pick another detector, or reinstall {CONTROLNET_AUX_PIN}."
        ) from exc
