"""What the page (and the console) says about the model weights before anything loads."""

from __future__ import annotations

from app.engine.families import DEFAULT_FAMILIES, FAMILIES
from app.errors import offline_hint
from app.serving.hub import default_hub_files
from app.settings import Settings

TINY_BANNER = (
    "**Demo mode: tiny model family.** Images come from tiny *random demo weights*, so expect noise. "
    "Every code path, setting, map, timing and score is real. Start without `--tiny` (with the real "
    "weights available) for real Stable Diffusion."
)
TINY_SPACE_BANNER = (
    "**This Space is a demo on tiny random weights**, so the images are noise; every code path, setting, map, "
    "timing and score is real. For real Stable Diffusion images, duplicate this Space onto GPU hardware and "
    "remove its `STUDIO_MODELS=tiny` variable, or run it on your own machine: `bash scripts/run.sh`."
)
HOW_TO_GO_TINY = offline_hint()


def missing_weights(families: tuple[str, ...] = DEFAULT_FAMILIES) -> list[str]:
    """The Hub repositories the served families load (models, detectors, fit CLIP) with a file not in the local
    cache."""
    from huggingface_hub import try_to_load_from_cache

    def cached(repo: str, name: str, revision: str | None) -> bool:
        return isinstance(try_to_load_from_cache(repo, name, revision=revision), str)  # no network

    return [
        repo
        for repo, (names, revision) in default_hub_files(families=families).items()
        if not all(cached(repo, name, revision) for name in names)
    ]


def model_banner(settings: Settings) -> str | None:
    """A plain sentence for the top of the page: demo weights, or real weights that cannot load; None if fine."""
    if settings.model_source == "tiny":
        return TINY_SPACE_BANNER if settings.on_space else TINY_BANNER
    missing = missing_weights(settings.model_families)
    if not missing:
        return None
    from huggingface_hub import constants

    names = ", ".join(f"`{m}`" for m in missing)
    # A gated family's weights need an accepted licence and a token before any download (FLUX.1 [dev]).
    gated = " ".join(
        FAMILIES[f].licence
        for f in settings.model_families
        if FAMILIES[f].licence and FAMILIES[f].real_spec().base in missing
    )
    gated = f" {gated}" if gated else ""
    if constants.HF_HUB_OFFLINE:
        return (
            f"**Real model weights are not on this machine** ({names}) and the model hub is switched off "
            f"(HF_HUB_OFFLINE), so generation will fail.{gated} {HOW_TO_GO_TINY}"
        )
    return (
        f"**Real model weights are not cached yet** ({names}): the first generation downloads several GB. "
        f"If this machine cannot reach the Hugging Face Hub, generation will fail.{gated} {HOW_TO_GO_TINY}"
    )
