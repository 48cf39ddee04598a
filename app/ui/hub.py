"""Every Hub repository and file the studio loads with its default settings: one list for docs, Space config and tests.

:func:`default_hub_files` is what a Space preloads (``preload_from_hub`` in the README's front matter) and
what ``tests/test_hub_layout.py`` writes, at tiny sizes, into local folders laid out like the real
repositories before loading every default model from them. Files are listed as a GPU reads them: in
half precision, so SD1.5 and its ControlNets come as their ``fp16`` variant files.
"""

from __future__ import annotations

from pathlib import Path

from app.engine.models import HALF_VARIANT, real_spec
from app.fit import ScorerSources
from app.preprocess.sources import (
    ANNOTATORS_REVISION,
    BODY_POSE_FILE,
    FACE_FILE,
    HAND_POSE_FILE,
    MIDAS_FILE,
    DetectorSources,
)

CLIP_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
TRANSFORMERS_MODEL_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")


def default_hub_repositories() -> list[str]:
    """Hub ids of the base model, ControlNets, IP-Adapter, preview decoder, detector models and the fit-scoring CLIP,
    in that order."""
    return list(default_hub_files())


def default_hub_files(half: bool = True) -> dict[str, tuple[list[str], str | None]]:
    """Every default Hub repository with the files the studio reads from it and the pinned revision (or None).

    Args:
        half: Name the weights a half-precision run reads (a GPU's default); False for float32.
    """
    spec, detectors, variant = real_spec(), DetectorSources(), f".{HALF_VARIANT}" if half else ""
    ip = spec.ip_adapter
    files: dict[str, tuple[list[str], str | None]] = {
        spec.base: (
            [
                "model_index.json",
                "scheduler/scheduler_config.json",
                "feature_extractor/preprocessor_config.json",
                *(f"tokenizer/{name}" for name in CLIP_TOKENIZER_FILES),
                "text_encoder/config.json",
                f"text_encoder/model{variant}.safetensors",
                *(
                    f"{part}/{name}"
                    for part in ("unet", "vae")
                    for name in ("config.json", f"diffusion_pytorch_model{variant}.safetensors")
                ),
            ],
            spec.revision,
        ),
        **{
            source: (["config.json", f"diffusion_pytorch_model{variant}.safetensors"], None)
            for source in spec.controlnets.values()
        },
        ip.repo: (
            [
                f"{ip.subfolder}/{ip.weight_name}",
                f"{ip.subfolder}/{ip.image_encoder_folder}/config.json",
                f"{ip.subfolder}/{ip.image_encoder_folder}/model.safetensors",  # no fp16 variant in h94/IP-Adapter
            ],
            None,
        ),
        # madebyollin/taesd ships one precision; its 10 MB are read in full and cast.
        **(
            {spec.preview_vae: (["config.json", "diffusion_pytorch_model.safetensors"], None)}
            if spec.preview_vae
            else {}
        ),
        detectors.person_detector: (list(TRANSFORMERS_MODEL_FILES), None),
        detectors.vitpose: (list(TRANSFORMERS_MODEL_FILES), None),
        detectors.depth_anything: (list(TRANSFORMERS_MODEL_FILES), None),
        detectors.annotators: ([BODY_POSE_FILE, HAND_POSE_FILE, FACE_FILE, MIDAS_FILE], ANNOTATORS_REVISION),
        ScorerSources().clip: ([*TRANSFORMERS_MODEL_FILES, *CLIP_TOKENIZER_FILES], None),
    }
    return {repo: entry for repo, entry in files.items() if "/" in repo and not Path(repo).exists()}


def preload_from_hub_lines(half: bool = True) -> list[str]:
    """The ``preload_from_hub`` entries of a Space: ``repo file,file[ revision]`` per default repository."""
    return [
        " ".join([repo, ",".join(names), *([rev] if rev else [])])
        for repo, (names, rev) in default_hub_files(half).items()
    ]
