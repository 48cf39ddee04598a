"""Every Hub repository the studio loads with its default settings: one list for docs, Space config and tests."""

from __future__ import annotations

from pathlib import Path

from app.fit import ScorerSources
from app.models import real_spec
from app.preprocess.sources import DetectorSources


def default_hub_repositories() -> list[str]:
    """Hub ids of the base model, ControlNets, IP-Adapter, detector models and the fit-scoring CLIP, in that order."""
    detectors = DetectorSources()
    names = [
        *real_spec().hub_repositories(),
        detectors.person_detector,
        detectors.vitpose,
        detectors.depth_anything,
        detectors.annotators,
        ScorerSources().clip,
    ]
    return [n for n in dict.fromkeys(names) if "/" in n and not Path(n).exists()]
