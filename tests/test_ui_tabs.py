"""Tab logic without a browser: what a tab's event values ask for, what its recipe records, how a recipe fills it."""

from __future__ import annotations

import gradio as gr
import pytest

from app.recipes import Recipe
from app.request import GenerationRequest
from app.settings import Settings
from app.ui import ip_adapter_tab
from app.ui.shared import build_shared_controls

SHARED_VALUES = {
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
        return ip_adapter_tab._widgets(build_shared_controls(Settings(family="tiny")))


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
