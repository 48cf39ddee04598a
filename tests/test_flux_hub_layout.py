"""FLUX.1 [dev]'s real Hub layouts, checked offline, as tests/test_hub_layout.py checks SD1.5's and SDXL's.

Folders are written with the real repositories' file names and subfolders, holding the tiny FLUX twin's weights:
``black-forest-labs/FLUX.1-dev`` with its published ``model_index.json``, its transformer split into three shards and
T5's encoder into two (each with its index), the T5 tokenizer folder and the single-file checkpoints at the root;
``Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro-2.0`` with the Python files it also ships; ``madebyollin/taef1`` with
its loose encoder and decoder files; ``XLabs-AI/flux-ip-adapter``'s one file and ``openai/clip-vit-large-patch14``,
the whole CLIP whose vision half the adapter reads; ``black-forest-labs/FLUX.1-Redux-dev`` with ComfyUI's single file
at its root. The studio is started as a user starts it (real source,
``STUDIO_FAMILIES`` and the ``STUDIO_FLUX_*`` overrides naming those folders) and runs its methods with previews.

Files the run must not read are garbage (the root single-file checkpoints, Redux's included, ``spiece.model``,
TAEF1's loose files) or
code that fails when imported (the ControlNet repository's ``.py`` files): a passing run shows that the studio reads
exactly the files ``default_hub_files`` lists, and never a repository's code.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file, save_file
from skimage import data

from app.controls import CONTROLS
from app.engine.models import REAL_FLUX_DEFAULTS
from app.serving.hub import default_hub_files
from app.settings import Settings
from app.studio import Studio
from tests.conftest import TEST_DTYPE
from tests.test_hub_layout import GARBAGE, write_clip_tokenizer

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)

# black-forest-labs/FLUX.1-dev's model_index.json as published (it predates FLUX's IP-Adapter components).
FLUX_MODEL_INDEX = {
    "_class_name": "FluxPipeline",
    "_diffusers_version": "0.30.0.dev0",
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "FluxTransformer2DModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
UNION = CONTROLS["canny"].controlnets["flux"]
CODE_THAT_MUST_NOT_RUN = 'raise SystemExit("the studio imported a file from a model repository")\n'


def shard(folder: Path, stem: str, parts: int) -> None:
    """Split ``folder/stem.safetensors`` into ``parts`` shards with their index, as large repositories ship them."""
    path = folder / f"{stem}.safetensors"
    tensors = load_file(str(path))
    path.unlink()
    keys = sorted(tensors)
    size = -(-len(keys) // parts)
    weight_map, total = {}, 0
    for index in range(parts):
        name = f"{stem}-{index + 1:05d}-of-{parts:05d}.safetensors"
        chunk = {key: tensors[key] for key in keys[index * size : (index + 1) * size]}
        save_file(chunk, str(folder / name), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(chunk, name)
        total += sum(t.numel() * t.element_size() for t in chunk.values())
    index_file = folder / f"{stem}.safetensors.index.json"
    index_file.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))


def lay_out_flux(hub: Path, tiny_root: Path) -> dict[str, Path]:
    folders = {repo: hub / repo.replace("/", "--") for repo in default_hub_files(families=("flux",))}
    base = folders[REAL_FLUX_DEFAULTS["base"]]
    shutil.copytree(tiny_root / "flux", base)
    (base / "model_index.json").write_text(json.dumps(FLUX_MODEL_INDEX, indent=2))
    write_clip_tokenizer(base / "tokenizer")
    tokenizer = base / "tokenizer_2"
    (tokenizer / "special_tokens_map.json").write_text(
        json.dumps({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"})
    )
    (tokenizer / "spiece.model").write_bytes(GARBAGE)  # tokenizer.json beside it is what the fast tokenizer reads
    shard(base / "transformer", "diffusion_pytorch_model", 3)
    shard(base / "text_encoder_2", "model", 2)
    for single_file in ("flux1-dev.safetensors", "ae.safetensors"):
        (base / single_file).write_bytes(GARBAGE)
    union = folders[UNION]
    shutil.copytree(tiny_root / "controlnet-flux-union", union)
    for code in ("pipeline_flux_controlnet.py", "controlnet_flux.py"):
        (union / code).write_text(CODE_THAT_MUST_NOT_RUN)
    shutil.copytree(tiny_root / "flux-ip-adapter", folders[REAL_FLUX_DEFAULTS["ip_adapter"]])
    clip = folders[REAL_FLUX_DEFAULTS["ip_adapter_encoder"]]  # the whole CLIP: the adapter reads its vision half
    shutil.copytree(tiny_root / "scorers" / "clip", clip)
    write_clip_tokenizer(clip)
    taef1 = folders[REAL_FLUX_DEFAULTS["preview_vae"]]
    shutil.copytree(tiny_root / "taef1", taef1)
    for loose in ("taef1_encoder.safetensors", "taef1_decoder.safetensors", "taef1_encoder.pth", "taef1_decoder.pth"):
        (taef1 / loose).write_bytes(GARBAGE)
    redux = folders[REAL_FLUX_DEFAULTS["redux"]]
    shutil.copytree(tiny_root / "flux-redux", redux)
    (redux / "flux1-redux-dev.safetensors").write_bytes(GARBAGE)  # ComfyUI's copy of the embedder
    return folders


@pytest.fixture(scope="module")
def flux_folders(tmp_path_factory, tiny_root) -> dict[str, Path]:
    return lay_out_flux(tmp_path_factory.mktemp("hub-flux"), tiny_root)


@pytest.fixture(scope="module")
def flux_studio(flux_folders, tiny_root, tiny_settings) -> Studio:
    """The studio as a user starts it with FLUX served, every FLUX source overridden by its environment variable."""
    env = {
        "STUDIO_MODELS": "real",
        "STUDIO_FAMILIES": "flux",
        "STUDIO_DEVICE": "cpu",
        "STUDIO_DTYPE": TEST_DTYPE,
        "STUDIO_FLUX_BASE_MODEL": flux_folders[REAL_FLUX_DEFAULTS["base"]],
        **{
            f"STUDIO_FLUX_CONTROLNET_{t.upper()}": flux_folders[UNION]
            for t, s in CONTROLS.items()
            if "flux" in s.controlnets
        },
        "STUDIO_FLUX_PREVIEW_VAE": flux_folders[REAL_FLUX_DEFAULTS["preview_vae"]],
        "STUDIO_FLUX_IP_ADAPTER": flux_folders[REAL_FLUX_DEFAULTS["ip_adapter"]],
        "STUDIO_FLUX_IP_ADAPTER_ENCODER": flux_folders[REAL_FLUX_DEFAULTS["ip_adapter_encoder"]],
        "STUDIO_FLUX_REDUX": flux_folders[REAL_FLUX_DEFAULTS["redux"]],
        "STUDIO_ANNOTATORS": tiny_root / "detectors" / "annotators",  # MiDaS for the depth map
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        settings = replace(Settings.from_env(), cache_dir=tiny_settings.cache_dir)
        studio = Studio(settings)
    assert studio.families == ("flux",) and studio.spec.source == "real"
    return studio


def test_every_listed_flux_file_is_in_the_layout(flux_folders):
    for repo, (files, _) in default_hub_files(families=("flux",)).items():
        if repo.split("/")[0] in ("black-forest-labs", "Shakker-Labs", "madebyollin", "XLabs-AI", "openai"):
            missing = [name for name in files if not (flux_folders[repo] / name).is_file()]
            assert missing == [], repo


def test_every_flux_method_runs_from_the_real_layouts(flux_studio):
    photo = Image.fromarray(data.astronaut()).resize((128, 128))
    methods = ["text", "canny", "canny+depth:midas", "ip_adapter", "depth:midas+ip_adapter"]
    request = {"family": "flux", "prompt": "an astronaut", "seed": 3, "num_inference_steps": 2, "width": 64,
               "height": 64, "methods": methods}  # fmt: skip
    previews = []
    shown = lambda index, image, done, total: previews.append(index)  # noqa: E731
    entries = list(flux_studio.compare(request, photo, photo, preview=shown))
    assert {e.method.name: e.error for e in entries} == dict.fromkeys(methods)
    assert sorted(set(previews)) == list(range(len(methods)))  # TAEF1 read from its real layout
    cache = flux_studio.cache_for("flux")
    assert cache.misplaced() == [] and cache.loaded_controlnets() == ["canny", "pose", "depth", "softedge"]
    assert type(cache.base().tokenizer_2).__name__.startswith("T5Tokenizer")


def test_redux_runs_from_its_real_layout(flux_studio):
    """FLUX.1 Redux read from FLUX.1-Redux-dev's layout (its three parts, never the root single file)."""
    photo = Image.fromarray(data.chelsea()).resize((128, 96))
    request = {"family": "flux", "prompt": "a cat", "seed": 3, "num_inference_steps": 2, "width": 64, "height": 64,
               "methods": ["text", "ip_adapter", "canny+ip_adapter"],
               "ip_adapter": {"scale": 0.7, "mode": "redux"}}  # fmt: skip
    entries = list(flux_studio.compare(request, photo, photo))
    assert [e.error for e in entries] == [None] * 3
    assert any("FLUX.1 Redux" in note for note in entries[1].result.notes)
    prior = flux_studio.cache_for("flux").redux()
    assert type(prior.image_encoder).__name__ == "SiglipVisionModel" and prior.image_encoder.device.type == "cpu"
