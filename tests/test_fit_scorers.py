"""Fit scorers on constructed cases (scikit-image's public-domain photos), the tiny CLIP, and score_results.

The photos: ``astronaut`` (NASA, public domain) and ``chelsea`` (a cat, CC0), shipped with scikit-image.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter
from skimage import data

from app.engine.result import Result
from app.errors import ModelLoadError, StudioError
from app.fit import (
    ClipEmbedder,
    ControlTarget,
    DepthScorer,
    EdgeScorer,
    FitContext,
    PoseScorer,
    PromptScorer,
    ReferenceScorer,
    ScorerSources,
    depth_correlation,
    edge_f1,
    pck,
    score_results,
    spearman,
)
from app.preprocess.detectors.canny import CannyDetector
from app.preprocess.keypoints import Keypoint, Person
from app.tiny import build_tiny_detectors, build_tiny_scorers


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())  # 512 × 512


@pytest.fixture(scope="module")
def cat() -> Image.Image:
    return Image.fromarray(data.chelsea()).resize((512, 512))


@pytest.fixture(scope="module")
def noise() -> Image.Image:
    return Image.fromarray(np.random.default_rng(3).integers(0, 256, (512, 512, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> ClipEmbedder:
    """A tiny seeded-random CLIP, written by the project's builder and loaded by the real loader."""
    return ClipEmbedder(build_tiny_scorers(tmp_path_factory.mktemp("fit-models")))


class BlurDepth:
    """A stand-in depth estimator with the detectors' interface: smoothed brightness (deterministic)."""

    def estimate_depth(self, image: Image.Image, **params) -> np.ndarray:
        return gaussian_filter(np.asarray(image.convert("L"), dtype=np.float32), sigma=8)


class FixedPose:
    """A stand-in pose detector with the detectors' interface: returns the people it was given."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people
        self.calls = 0

    def detect_keypoints(self, image: Image.Image, **params) -> list[Person]:
        self.calls += 1
        return list(self.people)


def standing_person(dx: float = 0.0, dy: float = 0.0, score: float = 0.9) -> Person:
    # OpenPose-18 keypoints of a person about 0.7 of the image tall, centred.
    points = [
        (0.50, 0.20), (0.50, 0.28), (0.42, 0.28), (0.38, 0.40), (0.36, 0.52), (0.58, 0.28), (0.62, 0.40),
        (0.64, 0.52), (0.45, 0.55), (0.45, 0.70), (0.45, 0.85), (0.55, 0.55), (0.55, 0.70), (0.55, 0.85),
        (0.48, 0.18), (0.52, 0.18), (0.46, 0.19), (0.54, 0.19),
    ]  # fmt: skip
    return Person(tuple(Keypoint(x + dx, y + dy, score) for x, y in points))


# -- edges ------------------------------------------------------------------------------------------


def test_edge_fit_of_the_source_photo_beats_noise_and_other_photos(astronaut, cat, noise):
    canny = CannyDetector()
    ctx = FitContext(maps={"canny": ControlTarget(canny.detect(astronaut, 512), canny)})
    scorer = EdgeScorer()
    same, other, random = (scorer.score(image, ctx) for image in (astronaut, cat, noise))
    assert same == pytest.approx(1.0)
    assert same > other and same > random
    assert random < 0.6


def test_edge_fit_reruns_canny_with_the_control_maps_parameters(astronaut):
    canny = CannyDetector()
    edges = canny.detect(astronaut, 512, low_threshold=30, high_threshold=60)
    scorer = EdgeScorer()
    matched = scorer.score(
        astronaut,
        FitContext(maps={"canny": ControlTarget(edges, canny, {"low_threshold": 30, "high_threshold": 60})}),
    )
    defaults = scorer.score(astronaut, FitContext(maps={"canny": ControlTarget(edges, canny)}))
    assert matched == pytest.approx(1.0) and defaults < matched


def test_edge_f1_tolerance_and_edge_cases():
    target = np.zeros((64, 64), dtype=bool)
    target[32, 8:56] = True
    assert edge_f1(target, target, 2.0) == 1.0
    assert edge_f1(np.roll(target, 2, axis=0), target, 2.0) == 1.0  # within the tolerance
    assert edge_f1(np.roll(target, 5, axis=0), target, 2.0) == 0.0
    assert edge_f1(np.zeros_like(target), target, 2.0) == 0.0  # the output lost every edge
    assert edge_f1(target, np.zeros_like(target), 2.0) is None  # nothing to adhere to
    with pytest.raises(StudioError, match="one shape"):
        edge_f1(target, target[:32], 2.0)


def test_edge_fit_resizes_an_output_of_another_size(astronaut):
    canny = CannyDetector()
    ctx = FitContext(maps={"canny": ControlTarget(canny.detect(astronaut, 512), canny)})
    assert 0.3 < EdgeScorer().score(astronaut.resize((256, 256)), ctx) < 1.0


# -- depth ------------------------------------------------------------------------------------------


def test_depth_fit_of_the_source_photo_beats_noise(astronaut, cat, noise):
    estimator = BlurDepth()
    ctx = FitContext(maps={"depth": ControlTarget(estimator.estimate_depth(astronaut), estimator)})
    scorer = DepthScorer()
    same, other, random = (scorer.score(image, ctx) for image in (astronaut, cat, noise))
    assert same == pytest.approx(1.0)
    assert abs(random) < 0.2 and same > other


def test_spearman_is_scale_invariant_and_handles_constants():
    rng = np.random.default_rng(0)
    depth = rng.random((40, 60)).astype(np.float32)
    assert spearman(depth, np.exp(5 * depth)) == pytest.approx(1.0)  # any monotone rescaling
    assert spearman(depth, -depth) == pytest.approx(-1.0)
    assert spearman(depth, np.ones_like(depth)) is None
    assert depth_correlation(np.ones_like(depth), depth) == 0.0  # a flat output kept no layout
    assert depth_correlation(depth, np.ones_like(depth)) is None  # a flat control has no layout to keep
    # Different sizes meet on the control's grid.
    big = np.kron(depth, np.ones((4, 4), dtype=np.float32))
    assert depth_correlation(big, depth) == pytest.approx(1.0, abs=1e-6)


def test_depth_fit_with_the_real_depth_detector_on_tiny_weights(tmp_path_factory, astronaut, noise):
    from app.preprocess import MapService

    service = MapService(build_tiny_detectors(tmp_path_factory.mktemp("detectors")))
    control = service.get_map(astronaut, "depth_anything", 256)
    ctx = FitContext.from_maps(maps={"depth": control}, service=service)
    assert ctx.detector("depth") is service.detector("depth_anything")
    from app.images import fit_to_size

    same = fit_to_size(astronaut, 256, 256)  # the very pixels the map was made from
    assert DepthScorer().score(same, ctx) == pytest.approx(1.0)
    assert -1.0 <= DepthScorer().score(noise.resize((256, 256)), ctx) < 1.0


# -- pose -------------------------------------------------------------------------------------------


def test_pck_of_a_pose_against_itself_and_shifted_copies():
    person = standing_person()
    assert pck([person], [person]) == 1.0
    slightly = pck([person], [standing_person(dx=0.05)])  # 0.05 of the width: within 0.1 × 0.67
    far = pck([person], [standing_person(dx=0.2)])
    assert slightly == 1.0 and far == 0.0
    # Some keypoints moved: the share that stayed.
    moved = Person(person.keypoints[:9] + tuple(Keypoint(k.x + 0.3, k.y, k.score) for k in person.keypoints[9:]))
    assert pck([person], [moved]) == pytest.approx(9 / 18)


def test_pck_edge_cases():
    person = standing_person()
    assert pck([person], []) == 0.0  # nobody found on the output
    assert pck([standing_person(score=0.0)], [person]) is None  # no visible control keypoint
    assert pck([], [person]) is None
    missing = Person(tuple(Keypoint(k.x, k.y, 0.0) for k in person.keypoints))
    assert pck([person], [missing]) == 0.0  # found a person but no keypoint


def test_pck_matches_several_people_greedily_in_any_order():
    left, right = standing_person(dx=-0.25), standing_person(dx=0.25)
    assert pck([left, right], [right, left]) == 1.0
    assert pck([left, right], [right]) == pytest.approx(0.5)  # one person lost
    assert pck([left], [right, left, standing_person()]) == 1.0  # extra people are not penalised


def test_pose_scorer_uses_the_detector_and_the_keypoint_threshold(astronaut):
    person = standing_person(score=0.5)
    detector = FixedPose([standing_person(dx=0.01)])
    ctx = FitContext(maps={"pose": ControlTarget([person], detector, {"keypoint_threshold": 0.3})})
    assert PoseScorer().score(astronaut, ctx) == 1.0 and detector.calls == 1
    ctx = FitContext(
        maps={"pose": replace(ctx.maps["pose"], params={"keypoint_threshold": 0.6})}
    )  # no control keypoint is visible now
    assert PoseScorer().score(astronaut, ctx) is None and detector.calls == 1
    ctx = FitContext(maps={"pose": ControlTarget([person], FixedPose([]))})
    assert PoseScorer().score(astronaut, ctx) == 0.0


# -- CLIP -------------------------------------------------------------------------------------------


def test_reference_similarity_of_an_image_with_itself_is_the_maximum(tiny_clip, astronaut, cat, noise):
    ctx = FitContext(reference=astronaut, clip=tiny_clip)
    scorer = ReferenceScorer()
    same = scorer.score(astronaut, ctx)
    assert same == pytest.approx(1.0, abs=1e-6)
    assert all(scorer.score(image, ctx) < same for image in (cat, noise))


def test_prompt_score_is_a_deterministic_cosine_and_encodes_each_input_once(tiny_clip, tmp_path, astronaut, cat):
    ctx = FitContext(prompt="an astronaut in a white suit", clip=tiny_clip)
    scorer = PromptScorer()
    before = dict(tiny_clip.encoded)
    scores = [scorer.score(image, ctx) for image in (astronaut, cat, astronaut)]
    assert all(-1.0 <= s <= 1.0 for s in scores) and scores[0] == scores[2]
    assert tiny_clip.encoded["texts"] - before["texts"] <= 1  # the prompt, once (or already cached)
    assert tiny_clip.encoded["images"] - before["images"] <= 2
    # Deterministic, not only cached: a second embedder from the same folder encodes afresh to the same numbers.
    again = ClipEmbedder(tiny_clip.sources)
    for image, score in ((astronaut, scores[0]), (cat, scores[1])):
        assert again.text_image_similarity(ctx.prompt, image) == pytest.approx(score, abs=1e-6)
    assert again.encoded == {"texts": 1, "images": 2}
    assert not scorer.applies(FitContext(prompt="   ", clip=tiny_clip))


def test_clip_load_failure_names_the_model_and_the_tiny_family(tmp_path, astronaut):
    missing = ClipEmbedder(ScorerSources(clip=str(tmp_path / "nowhere"), local_files_only=True))
    with pytest.raises(ModelLoadError, match=r"nowhere.*--tiny"):
        missing.image_embedding(astronaut)


def test_scorer_sources_from_env(monkeypatch, tmp_path, astronaut):
    assert ScorerSources.from_env({}).clip == "openai/clip-vit-large-patch14"
    sources = ScorerSources.from_env({"STUDIO_CLIP_MODEL": "org/clip"})
    assert sources.clip == "org/clip"
    kwargs = sources.from_pretrained_kwargs(weights=True)
    assert kwargs["use_safetensors"] is True and kwargs["trust_remote_code"] is False
    # HF_HUB_OFFLINE is huggingface_hub's to honour: a Hub id missing from the cache fails at once, named.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelLoadError, match=r"(?s)org/clip.*--tiny"):
        ClipEmbedder(sources).image_embedding(astronaut)


# -- the matrix from real scorers -------------------------------------------------------------------


def test_score_results_computes_every_score_for_every_result(tiny_clip, astronaut, cat, noise):
    canny = CannyDetector()
    estimator = BlurDepth()
    ctx = FitContext(
        prompt="an astronaut",
        reference=cat,
        maps={
            "canny": ControlTarget(canny.detect(astronaut, 512), canny),
            "depth": ControlTarget(estimator.estimate_depth(astronaut), estimator),
            "pose": ControlTarget([standing_person()], FixedPose([])),
        },
        clip=tiny_clip,
    )
    result = Result(images=[astronaut, astronaut], seeds=[0, 1], method="depth", settings={}, seconds=1.5,
                    peak_memory_bytes=2**30, memory_kind="rss_peak_delta")  # fmt: skip
    matrix = score_results({"text": noise, "depth": result, "ip_adapter": [cat]}, ctx, costs={"text": (1.0, 2**29)})
    assert matrix.methods == ["text", "depth", "ip_adapter"]
    assert [c.name for c in matrix.columns] == [
        "prompt",
        "edges",
        "pose",
        "depth",
        "reference",
        "seconds",
        "peak_memory",
    ]
    for method in matrix.methods:
        for name in ("prompt", "edges", "pose", "depth", "reference"):
            assert matrix.value(method, name) is not None, (method, name)
    best = matrix.best_per_column()
    assert best["edges"] == ["depth"] and best["depth"] == ["depth"] and best["reference"] == ["ip_adapter"]
    assert matrix.value("depth", "seconds") == 1.5 and matrix.value("text", "seconds") == 1.0
    assert matrix.value("ip_adapter", "seconds") is None and best["seconds"] == ["text"]
    assert matrix.memory_kind == "rss_peak_delta"
    assert set(matrix.scoring_seconds) == set(matrix.methods)
    # Deterministic: the same inputs give the same matrix.
    again = score_results({"text": noise, "depth": result, "ip_adapter": [cat]}, ctx, costs={"text": (1.0, 2**29)})
    assert again.values == matrix.values


def test_score_results_leaves_out_what_does_not_apply_and_reports_failures(tmp_path, astronaut):
    broken = ClipEmbedder(ScorerSources(clip=str(tmp_path / "missing"), local_files_only=True))
    ctx = FitContext(
        prompt="a photo",
        maps={"depth": ControlTarget(BlurDepth().estimate_depth(astronaut), BlurDepth())},
        clip=broken,
    )
    matrix = score_results({"text": astronaut, "depth": astronaut}, ctx)
    assert [c.name for c in matrix.columns] == ["prompt", "depth"]  # no costs given, no cost columns
    assert matrix.value("text", "prompt") is None and matrix.value("depth", "prompt") is None
    assert matrix.value("text", "depth") == pytest.approx(1.0)
    assert len(matrix.notes) == 1 and "Prompt (CLIP) was not computed" in matrix.notes[0]
    with pytest.raises(StudioError, match="received str"):
        score_results({"text": "not an image"}, ctx)


def test_from_maps_uses_the_detectors_that_made_the_maps(astronaut):
    from app.preprocess import MapService

    service = MapService()
    edges = service.get_map(astronaut, "canny", 512, params={"low_threshold": 20, "high_threshold": 40})
    own = service.get_map(Image.fromarray(np.tile(np.linspace(0, 255, 512, dtype=np.uint8), (512, 1))), "none", 512)
    ctx = FitContext.from_maps("a prompt", maps={"canny": edges, "depth": own}, service=service)
    assert ctx.detector("canny") is service.detector("canny")
    assert ctx.maps["canny"].params["low_threshold"] == 20
    assert ctx.maps["depth"].target.shape == (512, 512)  # the user's own depth map, read as brightness
    assert ctx.detector("depth") is service.detector("depth_anything") and ctx.maps["depth"].params == {}
    assert EdgeScorer().score(astronaut, ctx) == pytest.approx(1.0)
    with pytest.raises(StudioError, match="key maps by control type"):
        FitContext.from_maps(maps={"canny:canny": edges}, service=service)


def test_the_fit_package_never_imports_gradio():
    code = "import sys, app.fit; assert 'gradio' not in sys.modules, 'gradio imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
