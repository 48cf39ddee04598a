"""The real Hub layouts, checked offline: every default repository, laid out as on the Hub, loads by the default path.

For each default repository (``app.serving.hub.default_hub_files``) a local folder is written with the real
repository's file names, subfolders and ``model_index.json`` (its ``safety_checker`` and
``feature_extractor`` entries, the ``.fp16`` variant files, the pickled ``.bin`` copies beside the
safetensors, the SD1.5 tokenizer as ``vocab.json``/``merges.txt``), holding the tiny family's weights.
The studio is then started as a user starts it — real family, environment overrides naming those
folders — and runs every method, every detector and the fit scores.

Files the run must not read are written as garbage: every ``.bin``/``.ckpt``, the safety checker,
and the weights of the other precision (the full files in the half-precision lane, the ``fp16``
variants in float32). A load that touched any of them would fail, so a passing run also shows that
the studio reads exactly the files ``preload_from_hub`` lists.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from app.controls import CONTROL_TYPES, CONTROLS
from app.engine.models import HALF_VARIANT, REAL_DEFAULTS, REAL_SDXL_DEFAULTS
from app.serving.hub import default_hub_files
from app.settings import Settings
from app.studio import Studio
from app.tiny.common import tiny_vocab
from tests.conftest import TEST_DTYPE

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

HALF = TEST_DTYPE != "float32"
GARBAGE = b"not weights: the studio must never read this file\n"

# stable-diffusion-v1-5/stable-diffusion-v1-5's model_index.json as published (541 bytes).
SD15_MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
# stabilityai/stable-diffusion-xl-base-1.0's model_index.json as published.
SDXL_MODEL_INDEX = {
    "_class_name": "StableDiffusionXLPipeline",
    "_diffusers_version": "0.19.0.dev0",
    "force_zeros_for_empty_prompt": True,
    "add_watermarker": None,
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
FLOAT16 = TEST_DTYPE == "float16"
CLIP_TOKENIZER_CONFIG = {
    "add_prefix_space": False,
    "bos_token": "<|startoftext|>",
    "do_lower_case": True,
    "eos_token": "<|endoftext|>",
    "errors": "replace",
    "model_max_length": 77,
    "pad_token": "<|endoftext|>",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": "<|endoftext|>",
}


def write_clip_tokenizer(folder: Path) -> None:
    """The tokenizer files of the OpenAI CLIP repositories (no tokenizer.json), with the tiny vocabulary."""
    for stale in ("tokenizer.json", "tokenizer_config.json"):
        (folder / stale).unlink(missing_ok=True)
    (folder / "vocab.json").write_text(json.dumps(tiny_vocab()))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps(CLIP_TOKENIZER_CONFIG))
    special = {k: CLIP_TOKENIZER_CONFIG[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))


def add_pickled_copies(folder: Path) -> None:
    """The ``.bin`` files the real repositories carry beside every safetensors file."""
    for weights in list(folder.rglob("*.safetensors")):
        name = weights.name.removesuffix(".safetensors") + ".bin"
        if name.startswith("model"):
            name = "pytorch_" + name  # transformers' model.safetensors sits beside pytorch_model.bin
        weights.with_name(name).write_bytes(GARBAGE)


def spoil_other_precision(folder: Path) -> None:
    """Turn the weights this precision must not read into garbage: the fp16 variants in float32, and in
    half precision the full files that have an fp16 variant beside them."""
    for weights in list(folder.rglob("*.safetensors")):
        if f".{HALF_VARIANT}." in weights.name:
            if not HALF:
                weights.write_bytes(GARBAGE)
        elif HALF and weights.with_name(weights.name.replace(".safetensors", f".{HALF_VARIANT}.safetensors")).exists():
            weights.write_bytes(GARBAGE)


def lay_out(hub: Path, tiny_root: Path) -> dict[str, Path]:
    """Folders with the real layout of every default repository, filled from the tiny family."""
    folders = {repo: hub / repo.replace("/", "--") for repo in default_hub_files()}
    sd = folders[REAL_DEFAULTS["base"]]
    shutil.copytree(tiny_root / "sd", sd)
    (sd / "model_index.json").write_text(json.dumps(SD15_MODEL_INDEX, indent=2))
    write_clip_tokenizer(sd / "tokenizer")
    (sd / "safety_checker").mkdir()
    (sd / "safety_checker" / "config.json").write_text(json.dumps({"architectures": ["StableDiffusionSafetyChecker"]}))
    for name in ("model.safetensors", "model.fp16.safetensors"):
        (sd / "safety_checker" / name).write_bytes(GARBAGE)  # 1.2 GB on the Hub; the studio runs without it
    for checkpoint in ("v1-5-pruned-emaonly.safetensors", "v1-5-pruned.ckpt"):
        (sd / checkpoint).write_bytes(GARBAGE)
    for control_type in CONTROL_TYPES:
        shutil.copytree(tiny_root / f"controlnet-{control_type}", folders[REAL_DEFAULTS[control_type]])
    shutil.copytree(tiny_root / "ip-adapter", folders[REAL_DEFAULTS["ip_adapter"]])
    shutil.copytree(tiny_root / "taesd", folders[REAL_DEFAULTS["preview_vae"]])
    lay_out_sdxl(folders, tiny_root)
    detectors = tiny_root / "detectors"
    from app.preprocess.sources import (
        ANNOTATORS_REPO,
        DEPTH_ANYTHING_MODEL,
        PERSON_DETECTOR_MODEL,
        SEGMENTER_MODEL,
        VITPOSE_MODEL,
    )

    shutil.copytree(detectors / "person_detector", folders[PERSON_DETECTOR_MODEL])
    shutil.copytree(detectors / "segmenter", folders[SEGMENTER_MODEL])
    shutil.copytree(detectors / "vitpose", folders[VITPOSE_MODEL])
    shutil.copytree(detectors / "depth_anything", folders[DEPTH_ANYTHING_MODEL])
    shutil.copytree(detectors / "annotators", folders[ANNOTATORS_REPO])
    from app.fit.clip import DEFAULT_CLIP_MODEL

    clip = folders[DEFAULT_CLIP_MODEL]
    shutil.copytree(tiny_root / "scorers" / "clip", clip)
    write_clip_tokenizer(clip)
    for repo, folder in folders.items():
        if repo != ANNOTATORS_REPO:
            add_pickled_copies(folder)
            spoil_other_precision(folder)
    return folders


def lay_out_sdxl(folders: dict[str, Path], tiny_root: Path) -> None:
    """The SDXL repositories: base, xinsir's union ControlNet (with its ProMax files), TencentARC's T2I-Adapters, the
    fp16-fix VAE, TAESDXL, and h94's ViT-bigG encoder beside the SDXL adapters (the ViT-H adapter must not read it)."""
    sdxl = folders[REAL_SDXL_DEFAULTS["base"]]
    shutil.copytree(tiny_root / "sdxl", sdxl)
    (sdxl / "model_index.json").write_text(json.dumps(SDXL_MODEL_INDEX, indent=2))
    for tokenizer in ("tokenizer", "tokenizer_2"):
        write_clip_tokenizer(sdxl / tokenizer)
    for checkpoint in ("sd_xl_base_1.0.safetensors", "sd_xl_base_1.0_0.9vae.safetensors"):
        (sdxl / checkpoint).write_bytes(GARBAGE)
    fix = folders[REAL_SDXL_DEFAULTS["half_vae"]]
    shutil.copytree(tiny_root / "sdxl-vae-fp16-fix", fix)
    # The fp16-fix VAE replaces SDXL's own in float16 only: each run must read exactly one of them.
    for weights in (sdxl / "vae" if FLOAT16 else fix).glob("*.safetensors"):
        weights.write_bytes(GARBAGE)
    for single_file in ("sdxl_vae.safetensors", "sdxl.vae.safetensors"):
        (fix / single_file).write_bytes(GARBAGE)
    union = folders[REAL_SDXL_DEFAULTS["union"]]
    shutil.copytree(tiny_root / "controlnet-sdxl-union", union)
    (union / "config_promax.json").write_text((union / "config.json").read_text())
    (union / "diffusion_pytorch_model_promax.safetensors").write_bytes(GARBAGE)
    shutil.copytree(tiny_root / "taesdxl", folders[REAL_SDXL_DEFAULTS["preview_vae"]])
    for control_type, spec in CONTROLS.items():  # TencentARC's T2I-Adapters, read in full in every lane
        if "sdxl" in spec.adapters:
            shutil.copytree(tiny_root / f"t2i-adapter-sdxl-{control_type}", folders[spec.adapters["sdxl"]])
    bigg = folders[REAL_SDXL_DEFAULTS["ip_adapter"]] / "sdxl_models" / "image_encoder"
    bigg.mkdir(parents=True)
    (bigg / "config.json").write_text(json.dumps({"architectures": ["CLIPVisionModelWithProjection"]}))
    (bigg / "model.safetensors").write_bytes(GARBAGE)


@pytest.fixture(scope="module")
def hub_folders(tmp_path_factory, tiny_root) -> dict[str, Path]:
    return lay_out(tmp_path_factory.mktemp("hub"), tiny_root)


@pytest.fixture(scope="module")
def real_studio(hub_folders, tiny_settings) -> Studio:
    """The studio as a user starts it on the real family, every source overridden by its environment variable."""
    from app.fit.clip import DEFAULT_CLIP_MODEL
    from app.preprocess.sources import (
        ANNOTATORS_REPO,
        DEPTH_ANYTHING_MODEL,
        PERSON_DETECTOR_MODEL,
        SEGMENTER_MODEL,
        VITPOSE_MODEL,
    )

    env = {
        "STUDIO_MODELS": "real",
        "STUDIO_DEVICE": "cpu",
        "STUDIO_DTYPE": TEST_DTYPE,
        "STUDIO_BASE_MODEL": hub_folders[REAL_DEFAULTS["base"]],
        **{f"STUDIO_CONTROLNET_{t.upper()}": hub_folders[REAL_DEFAULTS[t]] for t in CONTROL_TYPES},
        "STUDIO_IP_ADAPTER": hub_folders[REAL_DEFAULTS["ip_adapter"]],
        "STUDIO_PREVIEW_VAE": hub_folders[REAL_DEFAULTS["preview_vae"]],
        "STUDIO_POSE_DETECTOR_MODEL": hub_folders[PERSON_DETECTOR_MODEL],
        "STUDIO_POSE_MODEL": hub_folders[VITPOSE_MODEL],
        "STUDIO_DEPTH_MODEL": hub_folders[DEPTH_ANYTHING_MODEL],
        "STUDIO_SEG_MODEL": hub_folders[SEGMENTER_MODEL],
        "STUDIO_ANNOTATORS": hub_folders[ANNOTATORS_REPO],
        "STUDIO_CLIP_MODEL": hub_folders[DEFAULT_CLIP_MODEL],
        "STUDIO_SDXL_BASE_MODEL": hub_folders[REAL_SDXL_DEFAULTS["base"]],
        "STUDIO_SDXL_CONTROLNET_UNION": hub_folders[REAL_SDXL_DEFAULTS["union"]],
        **{
            f"STUDIO_SDXL_T2I_ADAPTER_{t.upper()}": hub_folders[spec.adapters["sdxl"]]
            for t, spec in CONTROLS.items()
            if "sdxl" in spec.adapters
        },
        "STUDIO_SDXL_IP_ADAPTER": hub_folders[REAL_SDXL_DEFAULTS["ip_adapter"]],
        "STUDIO_SDXL_PREVIEW_VAE": hub_folders[REAL_SDXL_DEFAULTS["preview_vae"]],
        "STUDIO_SDXL_VAE": hub_folders[REAL_SDXL_DEFAULTS["half_vae"]],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        settings = replace(Settings.from_env(), cache_dir=tiny_settings.cache_dir)
        assert settings.model_source == "real"
        studio = Studio(settings)  # the default code path: spec, detectors and CLIP all from the environment
    return studio


def test_every_listed_file_is_in_the_layout(hub_folders):
    for repo, (files, _) in default_hub_files(half=HALF).items():
        missing = [name for name in files if not (hub_folders[repo] / name).is_file()]
        assert missing == [], repo


def test_every_method_detector_and_score_runs_from_the_real_layouts(real_studio):
    photo = Image.fromarray(data.astronaut()).resize((128, 128))
    methods = ["text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "depth:midas"]
    request = {"prompt": "an astronaut", "seed": 3, "num_inference_steps": 2, "width": 64, "height": 64}
    previews = []
    shown = lambda index, image, done, total: previews.append((index, done))  # noqa: E731
    entries = list(real_studio.compare({**request, "methods": methods}, photo, photo, preview=shown))
    assert {e.method.name: e.error for e in entries} == {e.method.name: None for e in entries}
    assert sorted(previews) == [(index, 1) for index in range(len(methods))]  # TAESD read from its real layout
    card = real_studio.score(entries, {**request, "methods": methods}, photo)
    assert card.matrix.methods and not [n for n in card.matrix.notes if "could not" in n.lower()]
    assert real_studio.spec.source == "real" and real_studio.cache.base().unet.dtype == real_studio.cache.dtype
    # OpenPose's tiny random nets find nobody in a small map; its keypoint pass still runs on the real file names.
    assert isinstance(real_studio.maps.detector("openpose").detect_keypoints(photo), list)


def test_every_sdxl_method_runs_from_the_real_layouts(real_studio):
    """SDXL from its real repositories: the base, xinsir's union ControlNet serving canny, pose and depth by mode,
    h94's ViT-H adapter on the ViT-H encoder (the ViT-bigG one beside it is garbage), TAESDXL previews and, in
    float16, the fp16-fix VAE in place of SDXL's own (garbage in that lane)."""
    photo = Image.fromarray(data.astronaut()).resize((128, 128))
    methods = ["text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "canny+depth", "pose@t2i"]
    request = {"family": "sdxl", "prompt": "an astronaut", "seed": 3, "num_inference_steps": 2, "width": 64,
               "height": 64, "methods": methods}  # fmt: skip
    previews = []
    shown = lambda index, image, done, total: previews.append(index)  # noqa: E731
    entries = list(real_studio.compare(request, photo, photo, preview=shown))
    assert {e.method.name: e.error for e in entries} == {e.method.name: None for e in entries}
    assert sorted(set(previews)) == list(range(len(methods)))
    cache = real_studio.cache_for("sdxl")
    assert cache.loaded_controlnets() == ["union", "t2i:pose"] and cache.spec.family == "sdxl"
    assert cache.base().vae.config.force_upcast is not FLOAT16
