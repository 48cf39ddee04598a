"""A result as a ComfyUI workflow: every node and input checked against ComfyUI's pinned node definitions, and the
workflow reads back into the recipe it came from."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.recipes import recipe_from_image
from app.recipes.comfyui import comfyui_workflow
from app.recipes.schema import GenerationSettings

NODES = json.loads((Path(__file__).parent / "fixtures" / "comfyui_nodes.json").read_text())

RECIPES = {
    "text": {"prompt": "a red bicycle", "negative_prompt": "blurry", "scheduler": "euler_a", "seed": 3},
    "canny": {"prompt": "a lighthouse", "controls": [{"control_type": "canny", "controlnet_conditioning_scale": 0.7,
                                                      "control_guidance_end": 0.8}]},
    "depth+canny+ip_adapter": {"prompt": "a cat", "controls": [{"control_type": "depth"}, {"control_type": "canny"}],
                               "ip_adapter": {"scale": 0.6, "mode": "style"}, "scheduler": "ddim"},
    "sdxl-pose+lineart": {"family": "sdxl", "prompt": "a dancer", "width": 832, "height": 1216,
                          "controls": [{"control_type": "pose"}, {"control_type": "lineart"}], "scheduler": "unipc"},
    "normal+seg+mlsd": {"prompt": "a room", "controls": [
        {"control_type": "normal", "controlnet_conditioning_scale": 0.6}, {"control_type": "seg"},
        {"control_type": "mlsd", "control_guidance_end": 0.7}]},
    "sdxl-mlsd+scribble": {"family": "sdxl", "prompt": "a house", "width": 1024, "height": 1024,
                           "controls": [{"control_type": "mlsd"}, {"control_type": "scribble"}]},
    "sdxl-t2i-canny+depth": {"family": "sdxl", "prompt": "a bridge", "width": 1024, "height": 768, "controls": [
        {"control_type": "canny", "adapter": True, "controlnet_conditioning_scale": 0.8, "control_guidance_end": 0.6},
        {"control_type": "depth", "adapter": True, "control_guidance_end": 0.6}]},
    "sdxl-ip_adapter-768": {"family": "sdxl", "prompt": "a vase", "width": 768, "height": 768,
                            "ip_adapter": {"scale": 0.5, "mode": "layout"}, "seed": 2**40},
    "flux-canny+depth": {"family": "flux", "prompt": "a lighthouse", "width": 1024, "height": 768, "controls": [
        {"control_type": "canny", "controlnet_conditioning_scale": 0.7, "control_guidance_end": 0.8},
        {"control_type": "depth"}]},
    "flux-text-guidance-5": {"family": "flux", "prompt": "a fox in snow", "guidance_scale": 5.0, "seed": 9},
    "flux-depth+ip_adapter": {"family": "flux", "prompt": "a vase", "controls": [{"control_type": "depth"}],
                              "ip_adapter": {"scale": 0.7}},
    "flux-canny+redux": {"family": "flux", "prompt": "a teapot", "controls": [{"control_type": "canny"}],
                         "ip_adapter": {"scale": 0.4, "mode": "redux"}},
}  # fmt: skip


def workflow_of(name: str) -> tuple[GenerationSettings, dict]:
    settings = GenerationSettings.model_validate(RECIPES[name])
    files = [f"{c.control_type}-map.png" for c in settings.controls]
    return settings, comfyui_workflow(settings, map_files=files)


def problems(graph: dict) -> list[str]:
    """Everything ComfyUI would refuse: unknown nodes, missing or unknown inputs, a link to a missing node or to an
    output of another type, a value of the wrong kind or outside a node's choices."""
    found = []
    for key, node in graph.items():
        spec = NODES.get(node["class_type"])
        if spec is None:
            found.append(f"{key}: unknown node {node['class_type']}")
            continue
        allowed = {**spec["required"], **spec.get("optional", {})}
        inputs = node["inputs"]
        found += [f"{key}: missing {name}" for name in spec["required"] if name not in inputs]
        for name, value in inputs.items():
            kind = allowed.get(name)
            if kind is None:
                found.append(f"{key}: unknown input {name}")
            elif isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                source = graph.get(value[0])
                outputs = NODES[source["class_type"]]["outputs"] if source else []
                if value[1] >= len(outputs) or outputs[value[1]] != kind:
                    found.append(f"{key}.{name}: links to {value} ({outputs[value[1] :][:1]}), wants {kind}")
            elif isinstance(kind, list):
                if value not in kind:
                    found.append(f"{key}.{name}: {value!r} is not one of {kind}")
            elif kind in ("STRING", "FILE"):
                if not isinstance(value, str):
                    found.append(f"{key}.{name}: {value!r} is not text")
            elif kind == "INT":
                if not isinstance(value, int) or isinstance(value, bool):
                    found.append(f"{key}.{name}: {value!r} is not an integer")
            elif kind == "FLOAT":
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    found.append(f"{key}.{name}: {value!r} is not a number")
            else:
                found.append(f"{key}.{name}: a {kind} input needs a link, received {value!r}")
    return found


@pytest.mark.parametrize("name", list(RECIPES))
def test_the_workflow_uses_only_nodes_and_inputs_comfyui_defines(name):
    _, graph = workflow_of(name)
    assert problems(graph) == []
    assert json.loads(json.dumps(graph)) == graph  # plain JSON, as ComfyUI loads it


def test_the_checker_finds_what_comfyui_would_refuse():
    _, graph = workflow_of("canny")
    sampler = next(k for k, n in graph.items() if n["class_type"] == "KSampler")
    graph[sampler]["inputs"]["sampler_name"] = "dpmpp_2m_karras"  # the studio's name, not ComfyUI's
    graph[sampler]["inputs"]["positive"] = [sampler, 0]  # a LATENT where a CONDITIONING goes
    del graph[sampler]["inputs"]["steps"]
    assert len(problems(graph)) == 3


@pytest.mark.parametrize("name", list(RECIPES))
def test_a_workflow_the_studio_wrote_reads_back_into_its_recipe(name):
    settings, graph = workflow_of(name)
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))  # as ComfyUI's SaveImage writes it
    buffer = io.BytesIO()
    Image.new("RGB", (settings.width, settings.height)).save(buffer, format="PNG", pnginfo=info)
    recipe, message = recipe_from_image(buffer.getvalue())
    back = recipe.generate
    for field in ("prompt", "negative_prompt", "seed", "num_inference_steps", "guidance_scale", "scheduler", "width",
                  "height", "family"):  # fmt: skip
        assert getattr(back, field) == getattr(settings, field), (field, message)
    assert message.startswith("Read from a ComfyUI workflow")
    assert back.controls == settings.controls  # type (SDXL: union type, narrowed by the map's name), strength, range
    assert back.ip_adapter == settings.ip_adapter  # scale and mode (from the weight type)


def test_a_comfyui_redux_workflow_reads_as_flux_with_redux():
    """ComfyUI's own FLUX.1 Redux example: StyleModelApply on the FLUX-guided prompt, from an older ComfyUI without
    a strength input (1.0 then), on a KSampler at CFG 1."""
    graph = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl_fp16.safetensors",
                                                         "clip_name2": "clip_l.safetensors", "type": "flux"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat in a hat", "clip": ["2", 0]}},
        "4": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["3", 0], "guidance": 3.5}},
        "5": {"class_type": "CLIPVisionLoader", "inputs": {"clip_name": "sigclip_vision_patch14_384.safetensors"}},
        "6": {"class_type": "LoadImage", "inputs": {"image": "cat.png"}},
        "7": {"class_type": "CLIPVisionEncode", "inputs": {"clip_vision": ["5", 0], "image": ["6", 0]}},
        "8": {"class_type": "StyleModelLoader", "inputs": {"style_model_name": "flux1-redux-dev.safetensors"}},
        "9": {"class_type": "StyleModelApply", "inputs": {"conditioning": ["4", 0], "style_model": ["8", 0],
                                                          "clip_vision_output": ["7", 0]}},
        "10": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "11": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["2", 0]}},
        "12": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 7, "steps": 20, "cfg": 1.0,
                                                    "sampler_name": "euler", "scheduler": "simple",
                                                    "positive": ["9", 0], "negative": ["11", 0],
                                                    "latent_image": ["10", 0], "denoise": 1.0}},
    }  # fmt: skip
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG", pnginfo=info)
    recipe, message = recipe_from_image(buffer.getvalue())
    back = recipe.generate
    assert (back.family, back.prompt, back.guidance_scale) == ("flux", "a cat in a hat", 3.5), message
    assert (back.ip_adapter.mode, back.ip_adapter.scale) == ("redux", 1.0)
