"""Every Hub repository and file the studio loads with its default settings: one list for docs, Space config and tests.

:func:`default_hub_files` is what a Space preloads (``preload_from_hub`` in the README's front matter) and
what ``tests/test_hub_layout.py`` writes, at tiny sizes, into local folders laid out like the real
repositories before loading every default model from them. Files are listed as a GPU reads them: in
float16, so SD1.5, SDXL and the ControlNets that ship them come as their ``fp16`` variant files, and SDXL's VAE
as the fp16 fix that replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.engine.families import DEFAULT_FAMILIES, FAMILIES
from app.engine.models import HALF_VARIANT, ModelSpec
from app.fit import ScorerSources
from app.preprocess.registry import annotator_files
from app.preprocess.sources import ANNOTATORS_REVISION, DetectorSources

CLIP_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
T5_TOKENIZER_FILES = ("special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json")
TRANSFORMERS_MODEL_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
REDUX_FILES = (
    "model_index.json",
    "feature_extractor/preprocessor_config.json",
    "image_encoder/config.json",
    "image_encoder/model.safetensors",
    "image_embedder/config.json",
    "image_embedder/diffusion_pytorch_model.safetensors",
)


def default_hub_repositories() -> list[str]:
    """Hub ids of the base model, ControlNets, IP-Adapter, preview decoder, detector models and the fit-scoring CLIP,
    in that order."""
    return list(default_hub_files())


def default_hub_files(
    half: bool = True, families: tuple[str, ...] = DEFAULT_FAMILIES
) -> dict[str, tuple[list[str], str | None]]:
    """Every default Hub repository with the files the studio reads from it and the pinned revision (or None).

    Args:
        half: Name the weights a float16 run reads (a GPU's default); False for float32.
        families: The model families whose repositories to list (default: those served by default; a gated one
            is listed only when asked for, since a Space cannot preload it without its owner's accepted licence).
    """
    detectors = DetectorSources()
    files: dict[str, tuple[list[str], str | None]] = {}

    def add(repo: str | None, names: list[str], revision: str | None = None) -> None:
        if repo:
            listed = files.setdefault(repo, ([], revision))[0]
            listed += [name for name in names if name not in listed]  # h94/IP-Adapter serves both families

    for name in families:
        _add_family(add, FAMILIES[name].real_spec(), half)
    add(detectors.person_detector, list(TRANSFORMERS_MODEL_FILES))
    add(detectors.vitpose, list(TRANSFORMERS_MODEL_FILES))
    add(detectors.depth_anything, list(TRANSFORMERS_MODEL_FILES))
    add(detectors.segmenter, list(TRANSFORMERS_MODEL_FILES))
    add(detectors.annotators, [file.name for file in annotator_files()], ANNOTATORS_REVISION)
    add(ScorerSources().clip, [*TRANSFORMERS_MODEL_FILES, *CLIP_TOKENIZER_FILES])
    return {repo: entry for repo, entry in files.items() if "/" in repo and not Path(repo).exists()}


def _add_family(add: Callable[..., None], spec: ModelSpec, half: bool) -> None:
    """The files one family's spec reads: base pipeline, ControlNets, IP-Adapter, Redux, preview and float16 VAEs."""
    family = FAMILIES[spec.family]
    variant = f".{HALF_VARIANT}" if half and family.half_variant else ""
    half_vae = half and spec.half_vae is not None  # it replaces the base's own VAE in float16
    text_parts = family.text_encoders
    tokenizers = [part.replace("text_encoder", "tokenizer") for part in text_parts]
    models = (family.denoiser,) if half_vae else (family.denoiser, "vae")

    def weights(part: str, stem: str) -> list[str]:
        """A part's weight files: one, or its shards and their index."""
        shards = family.shards.get(part)
        if not shards:
            return [f"{part}/{stem}{variant}.safetensors"]
        return [
            *(f"{part}/{stem}-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)),
            f"{part}/{stem}.safetensors.index.json",
        ]

    add(
        spec.base,
        [
            "model_index.json",
            "scheduler/scheduler_config.json",
            *(["feature_extractor/preprocessor_config.json"] if family.feature_extractor else []),
            *(
                f"{part}/{name}"
                for part in tokenizers
                for name in (T5_TOKENIZER_FILES if part in family.t5_tokenizers else CLIP_TOKENIZER_FILES)
            ),
            *(name for part in text_parts for name in (f"{part}/config.json", *weights(part, "model"))),
            *(name for part in models for name in (f"{part}/config.json", *weights(part, "diffusion_pytorch_model"))),
        ],
        spec.revision,
    )
    for source in spec.controlnets.values():
        add(source, ["config.json", f"diffusion_pytorch_model{variant}.safetensors"])
    # One precision only: xinsir's union ControlNet, TencentARC's T2I-Adapters (the openpose one has no fp16 files),
    # madebyollin's fp16-fix VAE and TAESDs are read in full and cast.
    for source in (spec.union, *spec.adapters.values(), spec.half_vae if half_vae else None, spec.preview_vae):
        add(source, ["config.json", "diffusion_pytorch_model.safetensors"])
    # FLUX.1 Redux: a FluxPriorReduxPipeline folder; its root flux1-redux-dev.safetensors is ComfyUI's copy, unread.
    add(spec.redux, [*REDUX_FILES])
    ip = spec.ip_adapter
    if ip.image_encoder_repo:  # FLUX's XLabs adapter reads CLIP ViT-L/14 from its own repository
        add(ip.repo, ["/".join(part for part in (ip.subfolder, ip.weight_name) if part)])
        folder = ip.image_encoder_folder
        add(ip.image_encoder_repo, [f"{folder}/{name}".lstrip("/") for name in ("config.json", "model.safetensors")])
        return
    folder = ip.image_encoder_folder if "/" in ip.image_encoder_folder else f"{ip.subfolder}/{ip.image_encoder_folder}"
    add(
        ip.repo,
        [
            f"{ip.subfolder}/{ip.weight_name}",
            f"{folder}/config.json",
            f"{folder}/model.safetensors",  # no fp16 variant in h94/IP-Adapter
        ],
    )


def preload_from_hub_lines(half: bool = True) -> list[str]:
    """The ``preload_from_hub`` entries of a Space: ``repo file,file[ revision]`` per default repository."""
    return [
        " ".join([repo, ",".join(names), *([rev] if rev else [])])
        for repo, (names, rev) in default_hub_files(half).items()
    ]
