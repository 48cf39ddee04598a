"""The control-type registry: one spec per type, read everywhere, and a type with a missing piece fails loudly."""

from __future__ import annotations

import pytest

from app.controls import CONTROL_TYPES, CONTROLS, ControlType, Guide, method_label
from app.controls.base import _REGISTRY, register
from app.engine import families
from app.engine.models import REAL_DEFAULTS, real_sdxl_spec, real_spec
from app.fit import registry as scorers
from app.fit.decision import OWN_FIT
from app.fit.guide import GUIDE_ENTRIES
from app.preprocess import registry as detectors
from app.recipes.schema import RecipeControl
from app.request.compare import DEFAULT_METHODS, parse_method
from app.request.generation import ControlSettings

GUIDE = Guide("lines", "you draw", "nothing")


def doodle(**overrides) -> ControlType:
    """A type nobody registered, whose pieces are all missing."""
    fields = dict(name="doodle", label="Doodle", description="doodle", default_detector="doodle", scorer="doodle")
    return ControlType(**{**fields, "guide": GUIDE, "controlnets": {"sd15": "a/b"}, **overrides})


def test_every_part_of_the_studio_reads_the_registered_types():
    assert CONTROL_TYPES == (
        "canny",
        "pose",
        "depth",
        "normal",
        "lineart",
        "mlsd",
        "softedge",
        "scribble",
        "seg",
    )  # by rank
    assert [e.method for e in GUIDE_ENTRIES[1:10]] == list(CONTROL_TYPES)
    assert DEFAULT_METHODS == ("text", "canny", "pose", "depth", "ip_adapter")  # lineart and soft edge: opt-in
    assert {t: OWN_FIT[t] for t in CONTROL_TYPES} == {t: CONTROLS[t].scorer for t in CONTROL_TYPES}
    assert families.SDXL.union_modes == {
        "canny": 3,
        "pose": 0,
        "depth": 1,
        "normal": 4,
        "lineart": 3,
        "mlsd": 3,
        "softedge": 2,
        "scribble": 2,
        "seg": 5,
    }
    assert real_spec().controlnets == {t: REAL_DEFAULTS[t] for t in CONTROL_TYPES}
    assert real_sdxl_spec().controlnets == {}  # the union ControlNet serves every type on SDXL
    for model in (ControlSettings, RecipeControl):
        with pytest.raises(
            ValueError, match="'canny', 'pose', 'depth', 'normal', 'lineart', 'mlsd', 'softedge', 'scribble' or 'seg'"
        ):
            model.model_validate({"control_type": "doodle", "image": None})
    for name, spec in CONTROLS.items():
        assert scorers.SCORERS[spec.scorer].control_type == name
        assert detectors.REGISTRY[spec.default_detector].control_type == name


def test_one_label_per_method_everywhere():
    assert (
        method_label("depth:midas+ip_adapter")
        == "Depth (midas) + IP-Adapter"
        == parse_method("depth:midas+ip_adapter").label
    )
    assert method_label("text") == parse_method("text").label == "Text-only"
    assert parse_method("pose").label == "Pose (vitpose)"  # a parsed method names its detector


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Line Art"}, "lower-case"),
        ({"name": "ip_adapter"}, "lower-case"),
        ({"label": ""}, "no label"),
        ({"scorer": ""}, "no scorer"),
        ({"controlnets": {}}, "names no ControlNet"),
    ],
)
def test_a_spec_with_a_missing_or_wrong_field_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        doodle(**overrides)


def test_a_type_registered_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register(CONTROLS["canny"])


def test_a_new_type_without_its_detector_scorer_or_family_controlnet_fails_loudly(monkeypatch):
    monkeypatch.setitem(_REGISTRY, "doodle", doodle())
    with pytest.raises(ValueError, match="'doodle': its default detector 'doodle' is not registered"):
        detectors.check_against_controls()
    with pytest.raises(ValueError, match="'doodle': its scorer 'doodle' is not registered"):
        scorers.check_against_controls()
    with pytest.raises(ValueError, match=r"no ControlNet for \[.Stable Diffusion XL.\]"):
        families.check_against_controls()
    monkeypatch.setitem(_REGISTRY, "doodle", doodle(union_modes={"sdxl": 3}))
    families.check_against_controls()  # the union network's mode serves it on SDXL


def test_the_shipped_registries_agree():
    detectors.check_against_controls()
    scorers.check_against_controls()
    families.check_against_controls()
