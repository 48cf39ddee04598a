"""Calibration: the one-seed margins measured on real weights instead of set by hand.

``python -m app.eval.calibrate RUN_DIR`` measures, from an evaluation run with several seeds per photo, how much
each fit moves from seed to seed, and writes ``calibration.json``. ``STUDIO_CALIBRATION=path[,path…]`` (one file per
model family) makes the studio use its margins for one-seed verdicts on that family; the advice then says where
its margins come from. Several-seed verdicts measure their own spread and need no calibration.

The file is operator configuration, read once and validated: a file that is not a calibration is refused with the
reason when the studio starts.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.engine.families import FamilyName
from app.errors import StudioError

ENV = "STUDIO_CALIBRATION"
MAX_FILE_BYTES = 1024 * 1024


class CalibratedMargins(BaseModel):
    """The margins a calibration sets (each twice the measured seed-to-seed spread of a paired difference)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    structure: float = Field(gt=0, le=1)
    reference: float = Field(gt=0, le=1)
    prompt: float = Field(gt=0, le=1)


class CalibrationFile(BaseModel):
    """``calibration.json``: what was measured, on what, and the margins it gives."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    family: FamilyName
    photos: int = Field(ge=1)
    seeds: int = Field(ge=2)
    margins: CalibratedMargins


def read_calibration(path: str | Path) -> CalibrationFile:
    """One calibration file, validated.

    Raises:
        StudioError: it cannot be read, is not JSON, or is not a calibration, saying which and why.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise StudioError(f"{ENV}: {path} is over {MAX_FILE_BYTES // 1024} KiB; a calibration file is small.")
        document = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise StudioError(f"{ENV}: cannot read {path} ({error.strerror or error}).") from None
    except (ValueError, RecursionError):
        raise StudioError(f"{ENV}: {path} is not JSON; give the calibration.json app.eval.calibrate wrote.") from None
    try:
        return CalibrationFile.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise StudioError(f"{ENV}: {path} is not a calibration ({where}: {first['msg']}).") from None


@lru_cache(maxsize=1)
def active() -> dict[str, CalibrationFile]:
    """The calibrations ``STUDIO_CALIBRATION`` names, by family (read once per process).

    Raises:
        StudioError: a file is not a calibration, or two name the same family.
    """
    found: dict[str, CalibrationFile] = {}
    for name in (part.strip() for part in os.environ.get(ENV, "").split(",")):
        if not name:
            continue
        calibration = read_calibration(name)
        if calibration.family in found:
            raise StudioError(f"{ENV}: two files calibrate {calibration.family}; give one per model family.")
        found[calibration.family] = calibration
    return found


def for_family(family: str | None) -> CalibrationFile | None:
    """The calibration of ``family``, or None (then the hand-set margins apply)."""
    return active().get(family) if family else None
