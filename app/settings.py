"""Operator settings, read once from the environment.

Where the studio runs and how much it may do lives here, with safe defaults:
source (Hub or tiny), the model families served, device, dtype, offload, where
detectors run, the ControlNet cache and the caps. On a Hugging Face Space (``SPACE_ID`` is set) the caps default
tighter because the hardware is shared; each can still be overridden by its
environment variable.

Where weights come from is read beside the code that loads them:
``STUDIO_BASE_MODEL``, ``STUDIO_CONTROLNET_*`` and ``STUDIO_IP_ADAPTER*`` in
:func:`app.engine.models.real_spec`, the detector sources in
:meth:`app.preprocess.sources.DetectorSources.from_env`, ``STUDIO_CLIP_MODEL``
in :meth:`app.fit.clip.ScorerSources.from_env`, and the ZeroGPU time cap
``STUDIO_ZEROGPU_MAX_SECONDS`` in :mod:`app.serving.zerogpu`.

Read with four small helpers rather than ``pydantic-settings``: the defaults depend on the place (a Space's tighter
caps, a served family's size), the messages name the variable, what it held and what is allowed, and the helpers are
as short as the validators that library would need for the same messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from app.engine.families import DEFAULT_FAMILIES, FAMILIES, FAMILY_NAMES
from app.errors import StudioError

MODEL_SOURCES = ("real", "tiny")
"""Where the diffusion weights come from: the Hub (or local overrides), or the tiny random-weights twins."""
MODEL_FAMILIES = FAMILY_NAMES
"""The model families the engine knows (:mod:`app.engine.families`); ``STUDIO_FAMILIES`` picks the served ones."""
DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float16", "bfloat16", "float32")
AUX_DEVICES = ("auto", "cpu")


def _env_str(name: str, default: str, allowed: tuple[str, ...] | None = None) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if allowed and value not in allowed:
        raise StudioError(f"{name}={value!r} is not allowed; use one of {', '.join(allowed)}.")
    return value


def _env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StudioError(f"{name}={raw!r} is not an integer; use a whole number {low}–{high}.") from None
    if not low <= value <= high:
        raise StudioError(f"{name}={value} is out of range; allowed {low}–{high}.")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise StudioError(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def _env_families(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    names = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [n for n in names if n not in MODEL_FAMILIES]
    if unknown or not names:
        raise StudioError(
            f"{name}={raw!r} is not allowed; use one or more of {', '.join(MODEL_FAMILIES)}, comma-separated "
            "(the first is the default family)."
        )
    return names


def _env_output_dir(on_space: bool) -> Path | None:
    """``STUDIO_OUTPUT_DIR``: unset keeps results in ``outputs`` locally and nowhere on a Space (visitors share its
    disk); an empty value turns keeping off."""
    raw = os.environ.get("STUDIO_OUTPUT_DIR")
    if raw is None:
        return None if on_space else Path("outputs")
    return Path(raw.strip()).expanduser() if raw.strip() else None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conditioning-studio"


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Build with :meth:`from_env`; override with :func:`dataclasses.replace`."""

    model_source: str = "real"
    # The model families served (SD1.5, SDXL), the first one the default; each loads on first use.
    model_families: tuple[str, ...] = DEFAULT_FAMILIES
    # Families whose models stay loaded at once (least recently used goes); 0 = auto: all of them on a GPU with
    # 40 GiB or more and on ZeroGPU, one otherwise.
    resident_families: int = 0
    device: str = "auto"
    dtype: str = "auto"
    low_vram: bool = False
    # Detectors and the fit-scoring CLIP: "auto" runs them on the studio's device and dtype, "cpu" in CPU float32.
    aux_device: str = "auto"
    controlnet_cache_size: int = 3
    on_space: bool = False
    # Caps applied on top of the request schema's own bounds.
    max_side: int = 1024
    max_steps: int = 100
    max_images: int = 4
    max_methods: int = 8
    max_seeds: int = 8  # seeds per method in a comparison (a Space's GPU time is shared)
    # Methods denoised together in one batched comparison pass (more are split into passes of this many).
    compare_batch: int = 8
    # Convolution weights of the UNet, VAE and ControlNets in channels-last memory layout (a GPU speed lever).
    channels_last: bool = False
    # torch.compile of the UNet's and ControlNets' transformer blocks (regional compilation; opt-in, off on ZeroGPU).
    torch_compile: bool = False
    # Live previews: the running latents decoded by a tiny autoencoder (TAESD) every few steps; 0 = about 6 per run.
    previews: bool = True
    preview_every: int = 0
    queue_size: int = 64
    # Serve the generating endpoints as MCP tools too (gradio's MCP server, at /gradio_api/mcp/).
    mcp_server: bool = True
    cache_dir: Path = field(default_factory=default_cache_dir)
    # Where every result is kept for History after a reload (app.outputs); None: not kept (a Space's default).
    output_dir: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        on_space = bool(os.environ.get("SPACE_ID"))
        families = _env_families("STUDIO_FAMILIES", DEFAULT_FAMILIES)
        # A Space caps the size below a local GPU's, but never below a served family's native size (SDXL's 1024²).
        space_side = max(768, *(FAMILIES[f].default_size for f in families))
        return cls(
            model_source=_env_str("STUDIO_MODELS", "real", MODEL_SOURCES),
            model_families=families,
            resident_families=_env_int("STUDIO_RESIDENT_FAMILIES", 0, 0, len(MODEL_FAMILIES)),
            device=_env_str("STUDIO_DEVICE", "auto", DEVICES),
            dtype=_env_str("STUDIO_DTYPE", "auto", DTYPES),
            low_vram=_env_bool("STUDIO_LOW_VRAM", False),
            aux_device=_env_str("STUDIO_AUX_DEVICE", "auto", AUX_DEVICES),
            controlnet_cache_size=_env_int("STUDIO_CONTROLNET_CACHE", 3, 1, 16),
            on_space=on_space,
            max_side=_env_int("STUDIO_MAX_SIDE", space_side if on_space else 1024, 64, 2048),
            max_steps=_env_int("STUDIO_MAX_STEPS", 50 if on_space else 100, 1, 150),
            max_images=_env_int("STUDIO_MAX_IMAGES", 2 if on_space else 4, 1, 8),
            max_methods=_env_int("STUDIO_MAX_METHODS", 6 if on_space else 8, 1, 16),
            max_seeds=_env_int("STUDIO_MAX_SEEDS", 4 if on_space else 8, 1, 8),
            compare_batch=_env_int("STUDIO_COMPARE_BATCH", 8, 1, 16),
            channels_last=_env_bool("STUDIO_CHANNELS_LAST", False),
            torch_compile=_env_bool("STUDIO_COMPILE", False),
            previews=_env_bool("STUDIO_PREVIEWS", True),
            preview_every=_env_int("STUDIO_PREVIEW_EVERY", 0, 0, 150),
            queue_size=_env_int("STUDIO_QUEUE_SIZE", 20 if on_space else 64, 1, 1000),
            mcp_server=_env_bool("STUDIO_MCP", True),
            cache_dir=Path(os.environ.get("STUDIO_CACHE_DIR") or default_cache_dir()),
            output_dir=_env_output_dir(on_space),
        )

    def with_model_source(self, source: str) -> Settings:
        if source not in MODEL_SOURCES:
            raise StudioError(f"model source {source!r} is not allowed; use one of {', '.join(MODEL_SOURCES)}.")
        return replace(self, model_source=source)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings.from_env()
