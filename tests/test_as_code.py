"""A result as a diffusers script: the script runs on its own and makes the studio's pixels (float32, tiny family)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.engine.models import tiny_sdxl_spec, tiny_spec
from app.recipes.as_code import diffusers_script
from app.recipes.schema import GenerationSettings
from tests.conftest import TEST_DTYPE, pixels

pytestmark = pytest.mark.skipif(
    TEST_DTYPE != "float32", reason="the script runs in float32 on a CPU: the float32 lane checks it"
)

SIZE = {"width": 96, "height": 64, "num_inference_steps": 3, "seed": 19}


def run_script(script: str, folder, monkeypatch) -> Image.Image:
    path = folder / "reproduce.py"
    path.write_text(script)
    monkeypatch.chdir(folder)  # the script reads its maps and writes its image beside itself
    runpy.run_path(str(path), run_name="__main__")
    with Image.open(folder / "result.png") as image:
        return image.convert("RGB")


@pytest.mark.parametrize(
    ("family", "recipe"),
    [
        ("sd15", {"prompt": "a red bicycle", "negative_prompt": "blurry", "scheduler": "euler_a"}),
        ("sd15", {"prompt": "a lighthouse", "controls": [{"control_type": "canny", "controlnet_conditioning_scale": 0.7,
                                                           "control_guidance_end": 0.8}]}),
        ("sd15", {"prompt": "a cat", "controls": [{"control_type": "depth"}, {"control_type": "canny"}],
                  "ip_adapter": {"scale": 0.6, "mode": "style"}}),
        ("sdxl", {"prompt": "a boat", "controls": [{"control_type": "pose"}], "scheduler": "ddim"}),
        ("sdxl", {"prompt": "a boat", "controls": [{"control_type": "canny", "adapter": True,
                                                     "controlnet_conditioning_scale": 0.8, "control_guidance_end": 0.5},
                                                    {"control_type": "depth", "adapter": True,
                                                     "control_guidance_end": 0.5}]}),
    ],
    ids=["text", "canny", "two-controlnets-ip-adapter-style", "sdxl-union", "sdxl-two-t2i-adapters"],
)  # fmt: skip
def test_the_script_makes_the_studios_pixels(
    family, recipe, studio, tiny_root, noise_map, reference, tmp_path, monkeypatch
):
    settings = GenerationSettings.model_validate({**recipe, **SIZE, "family": family})
    maps = [noise_map.rotate(90 * i, expand=False) for i, _ in enumerate(settings.controls)]
    files = [f"{c.control_type}-map.png" for c in settings.controls]
    for image, name in zip(maps, files, strict=True):
        image.save(tmp_path / name)
    reference.save(tmp_path / "reference.png")
    request = {
        **settings.model_dump(exclude={"controls", "ip_adapter", "fit"}),
        "controls": [
            {**c.model_dump(exclude={"detector", "detector_params"}), "image": Image.open(tmp_path / name)}
            for c, name in zip(settings.controls, files, strict=True)
        ],
    }
    if settings.ip_adapter is not None:
        request["ip_adapter"] = {**settings.ip_adapter.model_dump(), "image": Image.open(tmp_path / "reference.png")}
    ours = studio.generate(request).image
    spec = (tiny_sdxl_spec if family == "sdxl" else tiny_spec)(tiny_root)
    script = diffusers_script(settings, spec=spec, map_files=files)
    theirs = run_script(script, tmp_path, monkeypatch)
    assert np.array_equal(pixels(ours), pixels(theirs))


def test_the_script_quotes_text_and_names_no_file_but_its_own():
    settings = GenerationSettings.model_validate({"prompt": "a cat'''\nimport os; os.remove('x')  # \"", **SIZE})
    script = diffusers_script(settings, output_file="out.png")
    namespace: dict = {}
    compiled = compile(script, "reproduce.py", "exec")  # it parses: the prompt stayed one string
    assert "import os" not in script.split("prompt=")[0] and compiled is not None and namespace == {}
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in script and "'out.png'" in script


def test_a_comparisons_method_is_the_generation_it_ran(studio, noise_map, tmp_path, monkeypatch):
    from app.recipes.convert import generation_from_compare
    from app.recipes.schema import CompareSettings

    compare = CompareSettings.model_validate(
        {"prompt": "a fox", "methods": ["text", "canny"], "control": {"controlnet_conditioning_scale": 0.6}, **SIZE}
    )
    settings = generation_from_compare(compare, "canny")
    assert settings.controls[0].controlnet_conditioning_scale == 0.6 and settings.ip_adapter is None
    noise_map.save(tmp_path / "canny-map.png")
    request = {"prompt": "a fox", **SIZE, "controls": [{"control_type": "canny", "controlnet_conditioning_scale": 0.6,
                                                       "image": Image.open(tmp_path / "canny-map.png")}]}  # fmt: skip
    ours = studio.generate(request).image
    script = diffusers_script(settings, spec=tiny_spec(Path(studio.spec.root)), map_files=["canny-map.png"])
    assert np.array_equal(pixels(ours), pixels(run_script(script, tmp_path, monkeypatch)))
