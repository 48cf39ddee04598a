"""Helpers shared by the benchmark scripts: building a model family and timing calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from app.engine.families import FAMILIES
from app.settings import Settings, default_cache_dir
from app.tiny import build_family, ensure_tiny_family
from app.tiny.diffusion import BUILDER_VERSION
from app.tiny.flux import build_flux

PROFILES = {"tiny": ("sd15", "sdxl", "flux"), "sd15": ("sd15",), "sdxl": ("sd15", "sdxl"), "flux": ("flux",)}
"""The random-weights families the benchmarks build (the tiny twins, or SD1.5's, SDXL's or FLUX.1's real sizes) and
the model families each holds."""


def family_root(profile: str) -> Path:
    """The folder of a model family: the cached tiny one, or a random one at a real family's sizes (built once;
    ``flux`` is FLUX.1 [dev]'s twin alone, about 17 B parameters in bfloat16, for a GPU machine's memory)."""
    if profile == "tiny":
        return ensure_tiny_family(default_cache_dir())
    root = default_cache_dir() / f"bench-{profile}-v{BUILDER_VERSION}"
    if not (root / "COMPLETE").exists():
        print(f"building the {profile} random-weights family in {root} (once) ...", flush=True)
        started = time.perf_counter()
        build_flux(root, profile) if profile == "flux" else build_family(root, profile)
        (root / "COMPLETE").write_text("ok\n")
        print(f"  built in {time.perf_counter() - started:.0f}s", flush=True)
    return root


def settings_for(root: Path, family: str = "sd15", **overrides) -> tuple[Settings, object]:
    """Settings and the spec of ``family``'s twin (``sd15``, ``sdxl`` or ``flux``) in the family folder ``root``."""
    settings = Settings(model_source="tiny", cache_dir=root.parent, model_families=(family,), **overrides)
    return settings, FAMILIES[family].tiny_spec(root)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
