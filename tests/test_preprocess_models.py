"""Model-backed detectors on the tiny seeded-random family, loaded through the real code paths."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from app.errors import ModelLoadError, StudioError
from app.preprocess import MapService, NoPersonFound, Person
from app.preprocess.registry import annotator_files
from app.preprocess.sources import BODY_POSE_FILE, MIDAS_FILE, DetectorSources
from tests import preprocess_fixtures as fx

ANY_PERSON = {"person_threshold": 0.0, "keypoint_threshold": 0.0}
grey_levels = fx.grey_levels


@pytest.fixture(scope="session")
def tiny_sources() -> DetectorSources:
    return fx.tiny_detector_sources()


@pytest.fixture(scope="session")
def tiny_service(tiny_sources) -> MapService:
    """One service on the tiny detectors, shared like the process-wide one (models load once)."""
    return MapService(tiny_sources)


@pytest.fixture(scope="session")
def astronaut():
    return fx.astronaut_photo()


def test_tiny_folder_has_the_real_layout_and_names(tiny_sources):
    from pathlib import Path

    root = Path(tiny_sources.vitpose).parent
    for sub in ("person_detector", "vitpose", "depth_anything", "segmenter"):
        assert (root / sub / "model.safetensors").is_file() and (root / sub / "config.json").is_file()
        assert not list((root / sub).glob("*.bin"))
    names = sorted(p.name for p in (root / "annotators").iterdir())
    assert names == sorted(f.name for f in annotator_files())  # the real names, one twin per file a detector reads
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 20 * 2**20


def test_tiny_build_is_deterministic(tmp_path, tiny_sources):
    from pathlib import Path

    from app.tiny.detectors import build_tiny_detectors

    again = build_tiny_detectors(tmp_path / "again")
    for sub in ("vitpose/model.safetensors", "annotators/body_pose_model.pth"):
        first = (Path(tiny_sources.vitpose).parent / sub).read_bytes()
        assert first == (Path(again.vitpose).parent / sub).read_bytes(), sub


# -- ViTPose -------------------------------------------------------------------------------------


def test_vitpose_map_size_mode_and_keypoints(tiny_service, astronaut):
    result = tiny_service.get_map(astronaut, "vitpose", (320, 256), params=ANY_PERSON)
    assert result.map.size == (320, 256) and result.map.mode == "RGB"
    assert result.control_type == "pose" and result.people
    person = result.people[0]
    assert isinstance(person, Person) and len(person.keypoints) == 18
    assert all(0.0 <= k.score <= 1.0 for k in person.keypoints)
    assert np.asarray(result.map).max() > 0  # skeletons drawn on black
    detector = tiny_service.detector("vitpose")
    people = detector.detect_keypoints(astronaut, **ANY_PERSON)
    assert len(people) == len(detector.detect_keypoints(astronaut, **ANY_PERSON)) >= 1


def test_vitpose_no_person_is_a_clear_error(tiny_service, astronaut):
    with pytest.raises(NoPersonFound, match="found no person"):
        tiny_service.get_map(astronaut, "vitpose", 256, params={"person_threshold": 1.0})


# -- Depth Anything ------------------------------------------------------------------------------


def test_depth_anything_map_and_raw_depth(tiny_service, astronaut):
    result = tiny_service.get_map(astronaut, "depth_anything", (256, 192))
    assert result.map.size == (256, 192) and result.map.mode == "RGB" and grey_levels(result.map)
    assert result.depth is not None and result.depth.shape == (192, 256) and result.depth.dtype == np.float32
    depth = tiny_service.detector("depth_anything").estimate_depth(astronaut)
    assert depth.shape == (512, 512)


# -- controlnet-aux detectors from local files with the real names -------------------------------


def test_openpose_from_local_annotators(tiny_service, astronaut):
    result = tiny_service.get_map(astronaut, "openpose", 256)
    assert result.map.size == (256, 256) and result.map.mode == "RGB"
    assert result.people and all(len(p.keypoints) == 18 for p in result.people)
    assert np.asarray(result.map).max() > 0


def test_midas_from_local_annotators(tiny_service, astronaut):
    result = tiny_service.get_map(astronaut, "midas", (192, 128), params={"detect_resolution": 128})
    assert result.map.size == (192, 128) and result.map.mode == "RGB" and grey_levels(result.map)
    assert result.depth.shape == (128, 192) and np.isfinite(result.depth).all()


def test_annotators_load_weights_only(tmp_path, tiny_sources, astronaut):
    """A .pth holding anything but tensors is refused without running its pickle."""
    folder = tmp_path / "annotators"
    shutil.copytree(tiny_sources.annotators, folder)

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"weights": Payload()}, folder / BODY_POSE_FILE)
    service = MapService(DetectorSources(annotators=str(folder)))
    with pytest.raises(ModelLoadError, match=BODY_POSE_FILE):
        service.get_map(astronaut, "openpose", 256)
    assert not (tmp_path / "pwned").exists()
    (folder / MIDAS_FILE).unlink()
    with pytest.raises(ModelLoadError, match=f"{MIDAS_FILE}' is missing"):
        service.get_map(astronaut, "midas", 256)


# -- preview, cache and failures ------------------------------------------------------------------


def test_preview_returns_every_map_with_its_time(tiny_service, astronaut):
    names = ["canny", "vitpose", "depth_anything", "none"]
    items = tiny_service.preview(astronaut, names, 256, params={"vitpose": ANY_PERSON})
    assert list(items) == names
    for name, item in items.items():
        assert item.error is None, (name, item.error)
        assert item.map.size == (256, 256) and item.seconds >= 0
    again = tiny_service.preview(astronaut, names, 256, params={"vitpose": ANY_PERSON})
    assert all(item.result.cached for item in again.values())


def test_preview_reports_a_failing_detector_and_keeps_the_others(tiny_service, astronaut):
    items = tiny_service.preview(astronaut, ["canny", "vitpose"], 256, params={"vitpose": {"person_threshold": 1.0}})
    assert items["canny"].map is not None
    assert items["vitpose"].map is None and "no person" in items["vitpose"].error


def test_model_cache_hit_returns_same_map(tiny_service, astronaut):
    first = tiny_service.get_map(astronaut, "depth_anything", 128)
    second = tiny_service.get_map(astronaut, "depth_anything", 128)
    assert second.cached and np.array_equal(np.asarray(first.map), np.asarray(second.map))
    assert np.array_equal(first.depth, second.depth)


def test_missing_model_names_what_and_how(tmp_path, astronaut):
    service = MapService(DetectorSources.from_folder(tmp_path / "nothing-here"))
    with pytest.raises(ModelLoadError, match=r"vitpose detector.*nothing-here.*STUDIO_DETECTORS_DIR.*tiny"):
        service.get_map(astronaut, "vitpose", 256)
    with pytest.raises(StudioError):
        service.get_map(astronaut, "depth_anything", 256)


@pytest.mark.real_weights
@pytest.mark.skipif(
    os.environ.get("STUDIO_REAL_WEIGHTS") != "1",
    reason="needs the real detector weights from the Hub (set STUDIO_REAL_WEIGHTS=1 where they are reachable)",
)
def test_real_detectors_find_the_astronaut(astronaut):  # pragma: no cover - not reachable here
    service = MapService(DetectorSources())
    pose = service.get_map(astronaut, "vitpose", 512)
    assert len(pose.people) >= 1 and pose.people[0].keypoints[0].score > 0.5
    for name in ("openpose", "depth_anything", "midas"):
        assert service.get_map(astronaut, name, 512).map.size == (512, 512)


def test_broken_controlnet_aux_only_disables_the_detectors_that_use_it(monkeypatch, tiny_sources, astronaut):
    import sys

    for module in (
        "controlnet_aux",
        "controlnet_aux.open_pose",
        "controlnet_aux.midas",
        "controlnet_aux.lineart_standard",
        "controlnet_aux.hed",
    ):
        monkeypatch.setitem(sys.modules, module, None)  # "import controlnet_aux" now fails
    service = MapService(tiny_sources)
    for name in ("openpose", "midas", "lineart_standard", "hed"):
        with pytest.raises(
            ModelLoadError, match=rf"controlnet-aux could not be imported.*{name!r} detector is unavailable"
        ):
            service.get_map(astronaut, name, 128)
    assert service.get_map(astronaut, "canny", 128).map.size == (128, 128)
    assert service.get_map(astronaut, "depth_anything", 128).map.size == (128, 128)
