"""The GPU check script stays runnable: a smoke run on the CPU with the tiny family in the test lane's dtype."""

from __future__ import annotations

import pytest

from bench import gpu_check
from tests.conftest import TEST_DTYPE

pytestmark = pytest.mark.precision  # runs again in the half-precision lanes (scripts/test.sh)


@pytest.mark.skipif(
    TEST_DTYPE == "float32", reason="the GPU check's path is half precision: the bfloat16 and float16 lanes run it"
)
@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_gpu_check_runs_every_method_comparison_and_sweep_and_passes(monkeypatch, tmp_path, capsys, family):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the tiny family it builds goes here
    code = gpu_check.main(
        ["--device", "cpu", "--profile", "tiny", "--family", family, "--size", "64", "--steps", "2",
         "--dtypes", TEST_DTYPE, *(["--no-compile"] if family != "sd15" else [])]  # compile once, on SD1.5
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    for method in gpu_check.methods_of(family):
        assert f"\n{method} " in out, method
    assert "batched comparison" in out and "sweep 2×2" in out and out.rstrip().endswith("device.")
    assert ("Stable Diffusion XL" in out) is (family == "sdxl") and ("FLUX.1" in out) is (family == "flux")


def test_gpu_check_refuses_a_family_on_a_profile_without_its_twin(capsys):
    assert gpu_check.main(["--device", "cpu", "--profile", "sd15", "--family", "sdxl"]) == 2
    assert "--profile tiny or --profile sdxl" in capsys.readouterr().out
    assert gpu_check.main(["--device", "cpu", "--profile", "sdxl", "--family", "flux"]) == 2
    assert "--profile tiny or --profile flux" in capsys.readouterr().out


def test_gpu_check_says_plainly_when_there_is_no_gpu(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    assert "no CUDA GPU" in capsys.readouterr().out
