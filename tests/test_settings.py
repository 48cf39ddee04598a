"""Settings from the environment, device choice, model specs and the tiny family builder."""

from __future__ import annotations

import hashlib

import pytest
import torch

from app.engine.devices import resolve_device
from app.engine.models import REAL_DEFAULTS, real_spec
from app.errors import StudioError
from app.settings import Settings
from app.studio import specs_for
from app.tiny import build_family, ensure_tiny_family


def test_defaults_and_space_caps(monkeypatch):
    for name in ("SPACE_ID", "STUDIO_MAX_SIDE", "STUDIO_MODELS", "STUDIO_FAMILIES"):
        monkeypatch.delenv(name, raising=False)
    local = Settings.from_env()
    assert local.model_source == "real" and not local.on_space and local.max_side == 1024
    assert local.model_families == ("sd15", "sdxl") and local.resident_families == 0
    monkeypatch.setenv("SPACE_ID", "someone/conditioning-studio")
    space = Settings.from_env()
    assert space.on_space and space.max_steps < local.max_steps
    assert space.max_side == 1024  # SDXL's native size fits a Space that serves it
    monkeypatch.setenv("STUDIO_FAMILIES", "sd15")
    assert Settings.from_env().max_side == 768  # an SD1.5-only Space keeps the tighter cap
    monkeypatch.setenv("STUDIO_MAX_SIDE", "512")
    assert Settings.from_env().max_side == 512


def test_families_setting(monkeypatch):
    monkeypatch.setenv("STUDIO_FAMILIES", " SDXL, sd15,sdxl ")
    assert Settings.from_env().model_families == ("sdxl", "sd15")  # order kept (the default first), once each
    for bad in ("sd3", ",", "sd15,flux2"):
        monkeypatch.setenv("STUDIO_FAMILIES", bad)
        with pytest.raises(StudioError, match=r"STUDIO_FAMILIES=.*use one or more of sd15, sdxl, flux"):
            Settings.from_env()
    # FLUX.1 [dev] is gated and non-commercial: served only when asked for.
    monkeypatch.delenv("STUDIO_FAMILIES")
    assert Settings.from_env().model_families == ("sd15", "sdxl")
    monkeypatch.setenv("STUDIO_FAMILIES", "sd15,flux")
    assert Settings.from_env().model_families == ("sd15", "flux")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STUDIO_MODELS", "huge", "STUDIO_MODELS='huge' is not allowed; use one of real, tiny"),
        ("STUDIO_DEVICE", "tpu", "STUDIO_DEVICE='tpu'"),
        ("STUDIO_MAX_STEPS", "many", "not an integer"),
        ("STUDIO_MAX_SIDE", "99999", "out of range; allowed 64–2048"),
        ("STUDIO_LOW_VRAM", "perhaps", "not a boolean"),
    ],
)
def test_bad_environment_values_are_refused_with_the_variable_named(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(StudioError, match=message):
        Settings.from_env()


def test_device_and_dtype_choice_on_this_machine():
    device, dtype = resolve_device(Settings())
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert (device, dtype) == ("cpu", torch.float32)
    # torch's CPU kernels cover float16 (slowly): the test command's float16 lane runs the GPU's default dtype there.
    assert resolve_device(Settings(device="cpu", dtype="float16")) == ("cpu", torch.float16)
    assert resolve_device(Settings(device="cpu", dtype="bfloat16")) == ("cpu", torch.bfloat16)
    if not torch.cuda.is_available():
        with pytest.raises(StudioError, match="no CUDA device"):
            resolve_device(Settings(device="cuda"))


def test_real_spec_defaults_and_overrides(monkeypatch, tmp_path):
    for name in ("STUDIO_BASE_MODEL", "STUDIO_CONTROLNET_DEPTH", "STUDIO_IP_ADAPTER"):
        monkeypatch.delenv(name, raising=False)
    spec = real_spec()
    assert spec.base == REAL_DEFAULTS["base"] == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert spec.controlnets == {
        "canny": "lllyasviel/control_v11p_sd15_canny",
        "pose": "lllyasviel/control_v11p_sd15_openpose",
        "depth": "lllyasviel/control_v11f1p_sd15_depth",
        "normal": "lllyasviel/control_v11p_sd15_normalbae",
        "lineart": "lllyasviel/control_v11p_sd15_lineart",
        "mlsd": "lllyasviel/control_v11p_sd15_mlsd",
        "softedge": "lllyasviel/control_v11p_sd15_softedge",
        "scribble": "lllyasviel/control_v11p_sd15_scribble",
        "seg": "lllyasviel/control_v11p_sd15_seg",
    }
    assert (spec.ip_adapter.repo, spec.ip_adapter.subfolder, spec.ip_adapter.weight_name) == (
        "h94/IP-Adapter",
        "models",
        "ip-adapter_sd15.safetensors",
    )
    monkeypatch.setenv("STUDIO_CONTROLNET_DEPTH", str(tmp_path))
    overridden = real_spec()
    assert overridden.controlnets["depth"] == str(tmp_path)
    assert str(tmp_path) not in overridden.hub_repositories()


def _digest(root):
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".safetensors", ".json"):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_tiny_family_is_deterministic_and_shaped_like_the_real_repositories(tmp_path, tiny_root):
    first, second = build_family(tmp_path / "a"), build_family(tmp_path / "b")
    assert _digest(first) == _digest(second)
    assert _digest(build_family(tmp_path / "c", seed=1)) != _digest(first)
    for relative in (
        "sd/model_index.json",
        "sd/unet/diffusion_pytorch_model.safetensors",
        "sd/text_encoder/model.safetensors",
        "sd/tokenizer/tokenizer.json",
        "controlnet-pose/diffusion_pytorch_model.safetensors",
        "ip-adapter/models/ip-adapter_sd15.safetensors",
        "ip-adapter/models/image_encoder/model.safetensors",
    ):
        assert (first / relative).is_file(), relative
    assert not list(first.rglob("*.bin")) and not list(first.rglob("*.pt*"))
    # The cached family is built once and then reused as is.
    assert ensure_tiny_family(tiny_root.parent) == tiny_root
    sd15, sdxl = specs_for(Settings(model_source="tiny", cache_dir=tiny_root.parent))
    assert (sd15.base, sdxl.base, sdxl.family) == (str(tiny_root / "sd"), str(tiny_root / "sdxl"), "sdxl")
