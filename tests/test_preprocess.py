"""Preprocessors without models: canny, passthrough, the pose renderer, params, registry, cache and sources."""

from __future__ import annotations

import itertools
import threading
import time
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image
from skimage import data

from app.errors import ModelLoadError, StudioError
from app.preprocess import (
    DEFAULTS,
    REGISTRY,
    Keypoint,
    MapCache,
    MapService,
    Person,
    detectors_for,
    get_map_service,
    set_map_service,
)
from app.preprocess.base import Detector, MapResult, depth_to_image
from app.preprocess.detectors.canny import CannyDetector, CannyParams
from app.preprocess.render_pose import COLORS, LIMB_BRIGHTNESS, LIMBS, coco17_to_openpose18, render_people
from app.preprocess.sources import ANNOTATORS_REPO, ANNOTATORS_REVISION, DetectorSources
from tests import preprocess_fixtures as fx

OFFLINE = DetectorSources()  # real Hub defaults; nothing below loads them
grey_levels = fx.grey_levels


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return fx.astronaut_photo()


@pytest.fixture(scope="session")
def chelsea() -> Image.Image:
    return Image.fromarray(data.chelsea())


def _edges(detector: CannyDetector, image: Image.Image, low: int, high: int) -> int:
    return int((np.asarray(detector.detect(image, 512, low_threshold=low, high_threshold=high))[..., 0] > 0).sum())


# -- canny ---------------------------------------------------------------------------------


@pytest.mark.parametrize("photo", ["astronaut", "chelsea"])
def test_canny_on_real_photos(photo, request):
    image = request.getfixturevalue(photo)
    detector = CannyDetector(OFFLINE)
    edge_map = detector.detect(image, (512, 384))
    assert edge_map.size == (512, 384) and edge_map.mode == "RGB"
    pixels = np.asarray(edge_map)
    assert grey_levels(edge_map) and set(np.unique(pixels)) <= {0, 255}
    assert (pixels[..., 0] == 255).mean() > 0.01  # a real photo has plenty of edges


def test_canny_thresholds_change_edge_count_monotonically(astronaut):
    detector = CannyDetector(OFFLINE)
    counts = [_edges(detector, astronaut, low, high) for low, high in [(20, 40), (50, 100), (100, 200), (200, 255)]]
    assert all(a > b for a, b in itertools.pairwise(counts)), counts


def test_canny_auto_thresholds(astronaut):
    result = CannyDetector(OFFLINE).analyse(astronaut, 512, auto_threshold=True)
    low, high = result.extras["thresholds"]
    assert 0 <= low < high <= 255
    assert (np.asarray(result.map)[..., 0] > 0).sum() > 1000


def test_canny_params_validated_with_clear_messages():
    with pytest.raises(StudioError, match=r"low_threshold.*must not exceed"):
        CannyDetector.parse_params(low_threshold=200, high_threshold=100)
    with pytest.raises(StudioError, match=r"less than or equal to 255.*received 300"):
        CannyDetector.parse_params(high_threshold=300)
    with pytest.raises(StudioError, match=r"Parameters: low_threshold, high_threshold, auto_threshold"):
        CannyDetector.parse_params(sigma=2)
    assert CannyDetector.parse_params() == CannyParams()


def test_param_specs_carry_slider_bounds():
    specs = {s["name"]: s for s in CannyDetector.param_specs()}
    assert specs["low_threshold"] | {"description": ""} == {
        "name": "low_threshold",
        "type": "int",
        "default": 100,
        "minimum": 0,
        "maximum": 255,
        "step": 1,
        "description": "",
    }
    midas = {s["name"]: s for s in REGISTRY["midas"].param_specs()}
    assert midas["detect_resolution"]["step"] == 64 and midas["detect_resolution"]["maximum"] == 1024


# -- passthrough -----------------------------------------------------------------------------


def test_none_uses_own_map_as_is_after_resizing():
    own = Image.new("RGB", (128, 64), (0, 0, 0))
    own.paste((255, 0, 0), (0, 0, 64, 64))
    out = REGISTRY["none"](OFFLINE).detect(own, (256, 128))
    assert out.size == (256, 128)
    assert out.getpixel((10, 64)) == (255, 0, 0) and out.getpixel((250, 64)) == (0, 0, 0)


# -- pose renderer ---------------------------------------------------------------------------


def _hand_made_person() -> Person:
    points = {0: (0.5, 0.2), 1: (0.5, 0.35), 2: (0.3, 0.35), 3: (0.25, 0.55), 5: (0.7, 0.35), 8: (0.4, 0.7)}
    keypoints = tuple(Keypoint(*points[i], 1.0) if i in points else Keypoint(0.0, 0.0, 0.0) for i in range(18))
    return Person(keypoints=keypoints)


def test_renderer_draws_keypoints_in_openpose_colours():
    canvas = np.asarray(render_people([_hand_made_person()], 200, 100))
    assert canvas.shape == (100, 200, 3) and canvas.dtype == np.uint8
    for index, (x, y) in {0: (100, 20), 1: (100, 35), 2: (60, 35), 3: (50, 55), 5: (140, 35), 8: (80, 70)}.items():
        assert tuple(canvas[y, x]) == COLORS[index], index
    assert tuple(canvas[0, 0]) == (0, 0, 0) and tuple(canvas[99, 199]) == (0, 0, 0)
    assert canvas[90:, :].max() == 0  # nothing where no keypoint is


def test_renderer_draws_limbs_at_60_percent():
    canvas = np.asarray(render_people([_hand_made_person()], 200, 100))
    # Neck (1) → right shoulder (2) is limb 0: midpoint at (80, 35).
    limb = LIMBS.index((1, 2))
    expected = tuple(int(c * LIMB_BRIGHTNESS) for c in COLORS[limb])
    assert tuple(canvas[35, 80]) == expected
    # A limb to a missing keypoint (right wrist, 4) is not drawn: below the elbow stays black.
    assert canvas[65:75, 45:55].max() == 0


def test_renderer_skips_low_confidence_and_draws_several_people():
    person = _hand_made_person()
    faint = Person(keypoints=tuple(Keypoint(k.x, k.y, 0.1 if k.score else 0.0) for k in person.keypoints))
    assert np.asarray(render_people([faint], 200, 100, threshold=0.3)).max() == 0
    shifted = Person(keypoints=tuple(Keypoint(k.x - 0.2, k.y, k.score) for k in person.keypoints))
    both = np.asarray(render_people([person, shifted], 200, 100))
    assert tuple(both[20, 100]) == COLORS[0] and tuple(both[20, 60]) == COLORS[0]


def test_coco17_to_openpose18_adds_the_neck():
    points = np.array([[i / 20, i / 40] for i in range(17)])
    scores = np.linspace(0.1, 0.9, 17)
    keypoints = coco17_to_openpose18(points, scores)
    assert len(keypoints) == 18
    assert keypoints[0] == Keypoint(0.0, 0.0, pytest.approx(0.1))
    neck = keypoints[1]
    assert neck.x == pytest.approx((points[5, 0] + points[6, 0]) / 2) and neck.score == pytest.approx(scores[5])
    assert keypoints[2].x == pytest.approx(points[6, 0])  # OpenPose 2 (right shoulder) = COCO 6
    assert keypoints[17].x == pytest.approx(points[3, 0])  # OpenPose 17 (left ear) = COCO 3


def test_depth_to_image_near_is_bright_and_constant_is_black():
    depth = np.array([[0.0, 1.0], [2.0, 4.0]], dtype=np.float32)
    pixels = np.asarray(depth_to_image(depth))
    assert pixels[1, 1].tolist() == [255, 255, 255] and pixels[0, 0].tolist() == [0, 0, 0]
    assert np.asarray(depth_to_image(np.ones((4, 4)))).max() == 0


# -- registry --------------------------------------------------------------------------------


def test_registry_and_detectors_for():
    assert set(REGISTRY) == {
        "canny",
        "vitpose",
        "openpose",
        "depth_anything",
        "midas",
        "lineart_standard",
        "lineart_realistic",
        "lineart_coarse",
        "hed",
        "hed_scribble",
        "pidinet",
        "pidinet_scribble",
        "upernet",
        "mlsd",
        "normalbae",
        "none",
    }
    assert detectors_for("pose") == ["vitpose", "openpose", "none"]
    assert detectors_for("depth") == ["depth_anything", "midas", "none"]
    assert detectors_for("canny") == ["canny", "none"]
    with pytest.raises(StudioError, match="control type 'edges' is not allowed"):
        detectors_for("edges")
    for name, cls in REGISTRY.items():
        assert (
            cls.name == name
            and cls.label
            and cls.control_type
            in ("canny", "pose", "depth", "lineart", "normal", "mlsd", "softedge", "scribble", "seg", "any")
        )
    assert DEFAULTS == {
        "canny": "canny",
        "pose": "vitpose",
        "depth": "depth_anything",
        "normal": "normalbae",
        "lineart": "lineart_standard",
        "mlsd": "mlsd",
        "softedge": "hed",
        "scribble": "hed_scribble",
        "seg": "upernet",
    }


def test_unknown_detector_is_refused():
    with pytest.raises(StudioError, match="detector 'sobel' is not allowed; use one of canny"):
        MapService(OFFLINE).detector("sobel")


def test_importing_the_core_pulls_no_heavy_or_ui_modules():
    import subprocess
    import sys

    heavy = "('gradio', 'torch', 'transformers', 'controlnet_aux')"
    code = f"import sys, app.preprocess, app.images; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- cache and service -------------------------------------------------------------------------


def test_second_identical_call_is_a_cache_hit(astronaut):
    service = MapService(OFFLINE)
    first = service.get_map(astronaut, "canny", 512)
    second = service.get_map(astronaut.copy(), "canny", 512, params={"low_threshold": 100})  # defaults spelled out
    assert not first.cached and second.cached
    assert np.array_equal(np.asarray(first.map), np.asarray(second.map))
    assert service.stats().hits == 1 and service.stats().misses == 1
    third = service.get_map(astronaut, "canny", 512, params={"low_threshold": 50})
    fourth = service.get_map(astronaut, "canny", 256)
    fifth = service.get_map(astronaut, "canny", 512, fit="pad")
    assert not (third.cached or fourth.cached or fifth.cached)
    assert service.stats().misses == 4


def test_cache_hands_out_copies(astronaut):
    service = MapService(OFFLINE)
    first = service.get_map(astronaut, "canny", 256)
    first.map.paste((1, 2, 3), (0, 0, 256, 256))
    again = service.get_map(astronaut, "canny", 256)
    assert again.cached and again.map.getpixel((0, 0)) != (1, 2, 3)


def test_cache_hit_is_fast(astronaut):
    service = MapService(OFFLINE)
    service.get_map(astronaut, "canny", 512)
    start = time.perf_counter()
    for _ in range(5):
        assert service.get_map(astronaut, "canny", 512).cached
    assert (time.perf_counter() - start) / 5 < 0.05  # target < 5 ms; generous for a loaded CI box


def test_lru_is_bounded():
    cache = MapCache(max_entries=2)
    maps = [MapResult(Image.new("RGB", (8, 8), (i, 0, 0)), "canny", "canny", {}) for i in range(3)]
    keys = [(str(i), "canny", "{}", 8, 8, "crop") for i in range(3)]
    cache.put(keys[0], maps[0])
    cache.put(keys[1], maps[1])
    assert cache.get(keys[0]) is not None  # 0 is now the most recent
    cache.put(keys[2], maps[2])
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and len(cache) == 2
    small = MapCache(max_entries=10, max_bytes=8 * 8 * 3 * 2)
    for key, result in zip(keys, maps, strict=True):
        small.put(key, result)
    assert len(small) == 2


class _SlowLoading(Detector):
    """A detector whose 'model' takes a while to load and counts its loads."""

    name: ClassVar[str] = "slow"
    control_type: ClassVar[str] = "canny"
    label: ClassVar[str] = "slow"
    needs_model: ClassVar[bool] = True
    loads = 0

    def _load(self):
        type(self).loads += 1
        time.sleep(0.2)
        return object()

    def _run(self, image, params):
        return self._result(image.copy(), params)


def test_model_loads_once_across_threads(astronaut):
    service = MapService(OFFLINE, registry={"slow": _SlowLoading})
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            service.get_map(astronaut, "slow", 64 + 8 * (i % 2))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and _SlowLoading.loads == 1
    assert service.detector("slow") is service.detector("slow")


def test_load_failure_becomes_model_load_error(astronaut):
    class Broken(_SlowLoading):
        name: ClassVar[str] = "broken"

        def _load(self):
            raise OSError("disk on fire")

    service = MapService(OFFLINE, registry={"broken": Broken})
    with pytest.raises(ModelLoadError, match=r"broken detector.*OSError: disk on fire.*STUDIO_DETECTORS_DIR"):
        service.get_map(astronaut, "broken", 64)


def test_process_wide_service_is_shared_and_replaceable():
    try:
        set_map_service(None)
        assert get_map_service() is get_map_service()
        mine = MapService(OFFLINE)
        set_map_service(mine)
        assert get_map_service() is mine
    finally:
        set_map_service(None)


# -- sources ---------------------------------------------------------------------------------


def test_sources_defaults_env_and_folder(tmp_path, monkeypatch, astronaut):
    default = DetectorSources.from_env({})
    assert default.vitpose == "usyd-community/vitpose-base-simple"
    assert default.person_detector == "PekingU/rtdetr_r50vd_coco_o365"
    assert default.depth_anything == "depth-anything/Depth-Anything-V2-Small-hf"
    assert default.annotators == ANNOTATORS_REPO and len(ANNOTATORS_REVISION) == 40
    env = {"STUDIO_POSE_MODEL": "me/pose", "STUDIO_DEPTH_MODEL": str(tmp_path), "STUDIO_ANNOTATORS": str(tmp_path)}
    configured = DetectorSources.from_env(env)
    assert configured.vitpose == "me/pose" and configured.depth_anything == str(tmp_path)
    # HF_HUB_OFFLINE is huggingface_hub's to honour: a Hub id missing from the cache fails at once, named.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelLoadError, match=r"(?s)vitpose detector.*me/pose"):
        MapService(configured).get_map(astronaut, "vitpose", 64)
    with pytest.raises(ModelLoadError, match=r"body_pose_model.pth"):  # the pinned repository, offline, uncached
        MapService(DetectorSources()).get_map(astronaut, "openpose", 64)
    folder = DetectorSources.from_env({"STUDIO_DETECTORS_DIR": str(tmp_path)})
    assert folder.annotators == str(tmp_path / "annotators") and folder.vitpose == str(tmp_path / "vitpose")
    kwargs = default.transformers_kwargs(default.vitpose)
    assert kwargs["use_safetensors"] is True and kwargs["trust_remote_code"] is False


def test_annotators_only_from_pinned_repo_or_local_folder(tmp_path):
    with pytest.raises(StudioError, match="lllyasviel/Annotators"):
        DetectorSources(annotators="someone/Annotators")
    sources = DetectorSources(annotators=str(tmp_path))
    with pytest.raises(ModelLoadError, match=r"'body_pose_model.pth' is missing.*STUDIO_DETECTORS_DIR"):
        sources.annotator_file("body_pose_model.pth")


def unsafe_torch_loads(source: str) -> list[int]:
    """Lines that call torch's unpickler (``torch.load``, ``torch.serialization.load`` or a ``load`` imported from
    them) without ``weights_only=True``."""
    import ast

    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization")
        for alias in node.names
        if alias.name == "load"
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in ("torch.load", "torch.serialization.load", "serialization.load") or name in imported:
            safe = any(
                k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            if not safe:
                lines.append(node.lineno)
    return lines


def test_no_bare_torch_load_in_the_core():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "app"
    offenders = {str(p): lines for p in root.rglob("*.py") if (lines := unsafe_torch_loads(p.read_text()))}
    assert offenders == {}
    # The check finds every spelling, and accepts only weights-only loading.
    for unsafe in (
        "import torch\ntorch.load(path)",
        "import torch\ntorch.serialization.load(path, weights_only=False)",
        "from torch.serialization import load as read\nread(path)",
        "from torch import load\nload(path, map_location='cpu')",
    ):
        assert unsafe_torch_loads(unsafe), unsafe
    assert unsafe_torch_loads("import torch\ntorch.serialization.load(path, weights_only=True)") == []
