"""Tab logic without a browser: what a tab's event values ask for, what its recipe records, how a recipe fills it."""

from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image

from app.recipes import Recipe
from app.request import GenerationRequest
from app.request.compare import parse_compare_request
from app.request.sweep import cell_requests, parse_sweep
from app.settings import Settings
from app.ui import compare_tab, controlnet_tab, ip_adapter_tab, sweep_tab
from app.ui.shared import build_shared_controls

SHARED_VALUES = {
    "family": "sd15",
    "prompt": "a teapot",
    "negative_prompt": "",
    "seed": 12.0,  # sliders and numbers send floats
    "num_inference_steps": 20.0,
    "guidance_scale": 6.5,
    "width": 512.0,
    "height": 384.0,
    "scheduler": "euler_a",
    "num_images_per_prompt": 1.0,
}


@pytest.fixture(scope="module")
def ip_tab() -> ip_adapter_tab.IPAdapterInputs:
    with gr.Blocks():
        return ip_adapter_tab._widgets(build_shared_controls(Settings(model_source="tiny")))


def ip_values(**changes) -> dict:
    values = {
        **SHARED_VALUES,
        "reference": None,
        "scale": 0.7,
        "mode": "style",
        "use_control": True,
        "photo": None,
        "fit": "pad",
        "control_guidance_end": 0.8,
        "control_control_type": "depth",
        "control_detector": "midas",
        "control_strength": 0.9,
    }
    return {**values, **changes}


def test_ip_adapter_values_become_a_request_the_schema_accepts(ip_tab):
    data = ip_adapter_tab.request_of(ip_tab, ip_values())
    assert data["controls"] == [
        {"control_type": "depth", "controlnet_conditioning_scale": 0.9, "control_guidance_end": 0.8}
    ]
    assert data["ip_adapter"] == {"scale": 0.7, "mode": "style"}
    request = GenerationRequest.model_validate(data)
    assert (request.seed, request.width, request.height, request.scheduler) == (12, 512, 384, "euler_a")
    assert request.method == "depth+ip_adapter"
    without = ip_adapter_tab.request_of(ip_tab, ip_values(use_control=False))
    assert "controls" not in without and without["ip_adapter"]["mode"] == "style"
    assert set(ip_tab.inputs()) >= set(ip_values())  # every value the functions read is an event input


def test_ip_adapter_recipe_records_the_tab_and_fills_it_back(ip_tab):
    recipe = ip_adapter_tab.recipe_of(ip_tab, ip_values())
    assert recipe.mode == "generate" and recipe.tab == "ip_adapter"
    assert recipe.generate.ip_adapter.scale == 0.7 and recipe.generate.fit == "pad"
    assert recipe.generate.controls[0].detector == "midas"
    updates = ip_adapter_tab.recipe_updates(ip_tab, recipe)
    assert len(updates) == len(ip_tab.outputs())
    shown = dict(zip(ip_tab.outputs(), updates, strict=True))
    assert shown[ip_tab.scale] == 0.7 and shown[ip_tab.mode] == "style" and shown[ip_tab.use_control] is True
    assert shown[ip_tab.fit] == "pad" and shown[ip_tab.guidance_end] == 0.8
    assert shown[ip_tab.control.control_type] == "depth" and shown[ip_tab.control.strength] == 0.9
    assert shown[ip_tab.control.detector]["value"] == "midas"


def test_ip_adapter_notes_what_a_recipe_holds_that_the_tab_cannot_show():
    recipe = Recipe.model_validate(
        {
            "mode": "generate",
            "generate": {
                "prompt": "p",
                "ip_adapter": {"scale": 0.5},
                "controls": [
                    {"control_type": "canny", "control_guidance_start": 0.2},
                    {"control_type": "depth"},
                ],
            },
        }
    )
    notes = ip_adapter_tab.recipe_notes(recipe)
    assert any("depth control is left out" in n for n in notes)
    assert any("later start" in n for n in notes)
    assert ip_adapter_tab.recipe_notes(Recipe.model_validate({"mode": "generate", "generate": {"prompt": "p"}})) == []


@pytest.fixture(scope="module")
def cn_tab() -> controlnet_tab.ControlNetInputs:
    with gr.Blocks():
        return controlnet_tab._widgets(build_shared_controls(Settings(model_source="tiny")))


def cn_values(**changes) -> dict:
    values = {
        **SHARED_VALUES,
        "photo": "first.png",
        "fit": "crop",
        "control_guidance_start": 0.1,
        "control_guidance_end": 0.9,
        "use_second": True,
        "second_photo": None,
        "control_type": "canny",
        "detector": "canny",
        "strength": 0.8,
        "canny__low_threshold": 50.0,
        "canny__high_threshold": 150.0,
        "canny__auto_threshold": False,
        "second_control_type": "pose",
        "second_detector": "openpose",
        "second_strength": 0.6,
        "t2i_adapter": False,
    }
    return {**values, **changes}


def test_controlnet_values_become_two_controls_sharing_one_window(cn_tab):
    controls = controlnet_tab.controls_of(cn_tab, cn_values())
    assert [c[:3] for c in controls] == [("first.png", "canny", "canny"), ("first.png", "pose", "openpose")]
    assert controls[0][3] == {"low_threshold": 50, "high_threshold": 150, "auto_threshold": False}
    data = controlnet_tab.request_of(cn_tab, cn_values())
    assert data["controls"] == [
        {
            "control_type": t,
            "adapter": False,
            "controlnet_conditioning_scale": s,
            "control_guidance_start": 0.1,
            "control_guidance_end": 0.9,
        }
        for t, s in (("canny", 0.8), ("pose", 0.6))
    ]
    assert GenerationRequest.model_validate(data).method == "canny+pose"
    assert len(controlnet_tab.request_of(cn_tab, cn_values(use_second=False))["controls"]) == 1
    # "Through T2I-Adapters": every map through its adapter; its recipe ticks the box again.
    adapted = cn_values(family="sdxl", control_guidance_start=0.0, width=1024, height=1024, t2i_adapter=True)
    assert GenerationRequest.model_validate(controlnet_tab.request_of(cn_tab, adapted)).method == "canny@t2i+pose@t2i"
    shown = dict(zip(cn_tab.outputs(), controlnet_tab.recipe_updates(cn_tab, controlnet_tab.recipe_of(cn_tab, adapted)),
                     strict=True))  # fmt: skip
    assert shown[cn_tab.t2i_adapter] is True
    assert set(cn_tab.inputs()) >= set(cn_values())


def test_controlnet_recipe_fills_the_tab_back_and_says_what_it_cannot_hold(cn_tab, tmp_path):
    recipe = controlnet_tab.recipe_of(cn_tab, cn_values())
    assert [c.detector for c in recipe.generate.controls] == ["canny", "openpose"]
    assert recipe.generate.controls[0].detector_params == {
        "low_threshold": 50,
        "high_threshold": 150,
        "auto_threshold": False,
    }
    shown = dict(zip(cn_tab.outputs(), controlnet_tab.recipe_updates(cn_tab, recipe), strict=True))
    assert shown[cn_tab.guidance_start] == 0.1 and shown[cn_tab.guidance_end] == 0.9 and shown[cn_tab.use_second]
    assert shown[cn_tab.first.control_type] == "canny" and shown[cn_tab.second.control_type] == "pose"
    assert shown[cn_tab.second.detector]["value"] == "openpose" and shown[cn_tab.second.strength] == 0.6
    # A second control on another photo: the recipe holds one photo, and says so.
    other = Image.new("RGB", (8, 8), "red")
    notes = controlnet_tab.capture_notes(cn_values(photo=Image.new("RGB", (8, 8)), second_photo=other))
    assert notes and "one structure photo" in notes[0]
    assert controlnet_tab.capture_notes(cn_values(second_photo=None)) == []


def test_controlnet_notes_what_a_recipe_holds_that_the_tab_cannot_show():
    recipe = Recipe.model_validate(
        {
            "mode": "generate",
            "generate": {
                "prompt": "p",
                "ip_adapter": {"scale": 0.5},
                "controls": [
                    {"control_type": "canny", "control_guidance_end": 0.5},
                    {"control_type": "depth", "detector_params": {"detect_resolution": 256}, "detector": "midas"},
                    {"control_type": "pose"},
                ],
            },
        }
    )
    notes = " ".join(controlnet_tab.recipe_notes(recipe))
    for words in ("no IP-Adapter", "pose control is left out", "one guidance window", "second control's detector"):
        assert words in notes, words


@pytest.fixture(scope="module")
def cmp_tab() -> compare_tab.CompareInputs:
    with gr.Blocks():
        return compare_tab._widgets(build_shared_controls(Settings(model_source="tiny")), max_methods=6)


def cmp_values(**changes) -> dict:
    values = {name: SHARED_VALUES[name] for name in compare_tab.SHARED_FIELDS}
    values.update(
        photo=None,
        reference=None,
        methods=["text", "depth", "pose:openpose+ip_adapter"],
        controlnet_conditioning_scale=0.7,
        control_guidance_start=0.0,
        control_guidance_end=0.9,
        ip_adapter_scale=0.4,
        ip_adapter_mode="layout",
        fit="pad",
        canny_detector="canny",
        pose_detector="vitpose",
        depth_detector="midas",
        lineart_detector="lineart_standard",
        softedge_detector="hed",
        scribble_detector="hed_scribble",
        mlsd_detector="mlsd",
        normal_detector="normalbae",
        mlsd__score_threshold=0.1,
        mlsd__distance_threshold=0.1,
        seg_detector="upernet",
        canny__low_threshold=40.0,
        canny__high_threshold=120.0,
        canny__auto_threshold=False,
        vitpose__person_threshold=0.5,
        vitpose__keypoint_threshold=0.2,
        vitpose__max_people=3.0,
        midas__detect_resolution=256.0,
        lineart_standard__gaussian_sigma=6.0,
        lineart_standard__intensity_threshold=8.0,
        hed__safe=False,
        hed_scribble__safe=False,
        unit_controls=[["depth", "0.5", "", ""]],
    )
    return {**values, **changes}


def test_compare_values_become_a_comparison_with_the_shown_detectors_parameters(cmp_tab):
    values = cmp_values()
    assert set(cmp_tab.inputs()) >= set(values)
    data = compare_tab.compare_request(cmp_tab, values)
    assert data["detectors"] == {
        "canny": "canny",
        "pose": "vitpose",
        "depth": "midas",
        "normal": "normalbae",
        "lineart": "lineart_standard",
        "mlsd": "mlsd",
        "softedge": "hed",
        "scribble": "hed_scribble",
        "seg": "upernet",
    }
    assert data["detector_params"]["midas"] == {"detect_resolution": 256}
    assert data["detector_params"]["vitpose"]["max_people"] == 3
    request = parse_compare_request(data)
    assert [m.name for m in request.parsed_methods()] == ["text", "depth", "pose:openpose+ip_adapter"]
    assert request.control.controlnet_conditioning_scale == 0.7 and request.ip_adapter.mode == "layout"
    assert request.fit == "pad" and request.width == 512
    depth = request.control_for("depth")  # its own strength, the sliders' window
    assert (depth.controlnet_conditioning_scale, depth.control_guidance_end) == (0.5, 0.9)


def test_compare_recipe_fills_the_tab_back_offering_methods_the_checkboxes_lack(cmp_tab):
    recipe = compare_tab.recipe_of(cmp_tab, cmp_values())
    assert recipe.mode == "compare" and recipe.compare.detectors["depth"] == "midas"
    updates = compare_tab.recipe_updates(cmp_tab, recipe)
    assert len(updates) == len(cmp_tab.outputs())
    shown = dict(zip(cmp_tab.outputs(), updates, strict=True))
    methods = shown[cmp_tab.methods]
    assert methods["value"] == ["text", "depth", "pose:openpose+ip_adapter"]
    assert "pose:openpose+ip_adapter" in [value for _, value in methods["choices"]]
    assert shown[cmp_tab.detectors["depth"]] == "midas" and shown[cmp_tab.detectors["pose"]] == "vitpose"


@pytest.fixture(scope="module")
def sweep_widgets() -> sweep_tab.SweepInputs:
    with gr.Blocks():
        return sweep_tab._widgets(build_shared_controls(Settings(model_source="tiny")))


def test_sweep_values_become_a_sweep_the_core_accepts(sweep_widgets):
    values = {name: value for name, value in cmp_values().items() if name in sweep_widgets.inputs()}
    values.update(method=" depth:midas ", x_axis="seed", x_values="12, 13", y_axis="method", y_values="depth, canny")
    assert set(sweep_widgets.inputs()) == set(values)
    data = sweep_tab.sweep_request(sweep_widgets, values)
    assert data["base"]["methods"] == ["depth:midas"] and data["base"]["control"]["control_guidance_end"] == 0.9
    assert data["x"] == {"name": "seed", "values": [12, 13]}
    assert data["y"] == {"name": "method", "values": ["depth", "canny"]}
    sweep = parse_sweep(data)
    assert [(x, y) for x, y, _ in cell_requests(sweep)] == [(12, "depth"), (13, "depth"), (12, "canny"), (13, "canny")]
    one_row = sweep_tab.sweep_request(sweep_widgets, {**values, "y_axis": sweep_tab.NO_AXIS})
    assert one_row["y"] is None


def test_download_names_say_method_and_seed():
    from app.ui.gallery import file_stem

    assert file_stem("canny", 42) == "canny-seed42"
    assert file_stem("depth:midas+ip_adapter", 7) == "depth-midas-ip-adapter-seed7"
    assert file_stem("pose", kind="map") == "pose-map"


def test_stopped_tiles_replace_only_pending_ones(tmp_path):
    from PIL import Image

    from app.ui.runs import stopped_tiles

    done = tmp_path / "done.png"
    Image.new("RGB", (32, 48)).save(done)
    items = [
        (str(done), "Text-only · seed 0 · 0.4 s"),
        (str(done), "Canny · pending"),
        (str(done), "Canny: map pending"),
    ]
    tidied = stopped_tiles(items)
    assert tidied[0] == items[0]
    assert [caption for _, caption in tidied[1:]] == ["Canny · stopped", "Canny · stopped"]
    assert all(image.size == (32, 48) for image, _ in tidied[1:])


def test_history_keeps_results_only_newest_first_and_capped():
    from gradio.utils import get_upload_folder

    from app.ui.history import MAX_ENTRIES, added, new_results

    served = f"{get_upload_folder()}/0123abcd"  # the studio's results are files gradio serves from its cache
    run = [(f"{served}/a.png", "Canny · seed 1 · 0.3 s"), (f"{served}/m.png", "canny map · canny · 0.01 s"),
           (f"{served}/p.png", "Pose · stopped")]  # fmt: skip
    history = added([], new_results(run))
    assert history == [(f"{served}/a.png", "Canny · seed 1 · 0.3 s")]
    history = added(history, new_results([(f"{served}/b.png", "Text-only · seed 2")]))
    assert [path for path, _ in history] == [f"{served}/b.png", f"{served}/a.png"]
    many = added(history, [(f"{served}/{i}.png", f"Text-only · seed {i}") for i in range(MAX_ENTRIES + 5)])
    assert len(many) == MAX_ENTRIES
    # A client that sends a gallery value naming other files gets nothing kept (outputs would copy them).
    assert new_results([("/etc/passwd", "x · seed 1"), (f"{served}/../../etc/hosts", "y · seed 2")]) == []


def test_messages_lead_with_the_label_a_person_sees():
    from app.errors import StudioError
    from app.request import parse_request
    from app.request.labels import describe_field

    assert describe_field(["num_inference_steps"]) == "Steps · num_inference_steps"
    assert describe_field(["controls", 0, "controlnet_conditioning_scale"]) == (
        "ControlNet 1 strength · controls.0.controlnet_conditioning_scale"
    )
    assert describe_field(["controls", 1, "control_guidance_end"]) == (
        "ControlNet 2 guidance end · controls.1.control_guidance_end"
    )
    assert describe_field(["generate", "base_model"]) == "generate.base_model"  # no label: the path alone
    try:
        parse_request({"num_inference_steps": 500})
    except StudioError as error:
        assert "Steps · num_inference_steps:" in str(error) and "500" in str(error)
    else:
        raise AssertionError("500 steps were accepted")


def test_grid_labels_keep_their_spaces():
    from PIL import Image, ImageDraw

    from app.grid import _font

    font, draw = _font(11), ImageDraw.Draw(Image.new("RGB", (1, 1)))
    assert draw.textlength("a b", font=font) - draw.textlength("ab", font=font) >= 3  # a visible space


def test_each_run_draws_a_new_seed_until_a_recipe_or_the_user_sets_one(cmp_tab):
    shared = cmp_tab.shared
    assert shared.new_seed.value is True  # A1111's seed −1: Generate again gives another image
    assert shared.outputs()[-1] is shared.new_seed
    assert shared.updates({"seed": 42})[-1] == gr.update(value=False)  # a recipe's seed is kept for its rerun
    assert shared.updates({"prompt": "a cat"})[-1] == gr.skip()
