"""Restoring from images other tools wrote: a corpus of small files in each tool's documented format.

Each fixture is built the way its tool writes it (A1111/Forge PNG ``parameters`` and JPEG/WebP/PNG EXIF
``UserComment``; ComfyUI's ``prompt`` API graph beside its ``workflow``; InvokeAI's ``invokeai_metadata``; NovelAI's
``Description`` + ``Comment``; Fooocus's and SwarmUI's JSON ``parameters``), with the fields it should give back.
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.errors import StudioError
from app.recipes import recipe_from_image, recipe_notice
from app.recipes.reading import match_sampler
from app.request.generation import MAX_SEED

A1111 = (
    "a lighthouse at dusk, (oil painting:1.1)\nNegative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
)


def png(texts: dict[str, str] = (), size: tuple[int, int] = (64, 96), exif: bytes | None = None) -> bytes:
    info = PngInfo()
    for key, value in dict(texts).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format="PNG", pnginfo=info, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def exif_comment(text: str, little_endian: bool = False) -> Image.Exif:
    """EXIF with A1111's UserComment: the 8-byte UNICODE code, then UTF-16 (piexif writes big-endian)."""
    exif = Image.Exif()
    exif[0x8769] = {0x9286: b"UNICODE\0" + text.encode("utf-16-le" if little_endian else "utf-16-be")}
    return exif


def encoded(format: str, exif: Image.Exif, size: tuple[int, int] = (512, 768)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, format=format, exif=exif)
    return buffer.getvalue()


def check_a1111(recipe, message: str) -> None:
    settings = recipe.generate
    assert (
        settings.prompt == "a lighthouse at dusk, (oil painting:1.1)" and settings.negative_prompt == "blurry, lowres"
    )
    assert (settings.num_inference_steps, settings.guidance_scale, settings.seed) == (28, 6.5, 1234)
    assert (settings.width, settings.height, settings.scheduler, settings.family) == (
        512,
        768,
        "dpmpp_2m_karras",
        "sd15",
    )
    assert "A1111" in message and "carries no recipe" not in message


@pytest.mark.parametrize("format", ["JPEG", "WEBP"])
def test_a1111_jpeg_and_webp_restore_from_their_exif_comment(format):
    check_a1111(*recipe_from_image(encoded(format, exif_comment(A1111))))


def test_a1111_text_in_a_pngs_exif_and_little_endian_comments_restore():
    check_a1111(*recipe_from_image(png(exif=exif_comment(A1111).tobytes())))
    check_a1111(*recipe_from_image(encoded("JPEG", exif_comment(A1111, little_endian=True))))


def test_a_png_named_jpeg_is_read_by_what_it_is(tmp_path):
    path = tmp_path / "photo.jpeg"
    path.write_bytes(png({"parameters": A1111}))
    check_a1111(*recipe_from_image(str(path)))


def test_text_after_the_settings_line_no_longer_becomes_the_negative_prompt():
    text = A1111 + "\nTemplate: a {lighthouse|castle} at dusk\nNegative Template: blurry"
    recipe, message = recipe_from_image(png({"parameters": text}))
    check_a1111(recipe, message)
    assert "text after the settings line ignored" in message


@pytest.mark.parametrize(
    ("sampler", "schedule", "expected", "exact"),
    [
        ("DPM++ 2M", "Karras", "dpmpp_2m_karras", True),
        ("DPM++ 2M", "Automatic", "dpmpp_2m_karras", True),
        ("DPM++ 2M Karras", None, "dpmpp_2m_karras", True),
        ("Euler a", "Karras", "euler_a", False),  # was DPM++ 2M Karras
        ("Euler", "Normal", "euler", True),
        ("DDIM", "Uniform", "ddim", True),
        ("euler_ancestral", "normal", "euler_a", True),  # ComfyUI spellings
        ("dpmpp_2m", "karras", "dpmpp_2m_karras", True),
        ("uni_pc", "simple", "unipc", True),
        ("k_euler_ancestral", "native", "euler_a", False),  # NovelAI
        ("Heun", None, None, False),
    ],
)
def test_sampler_names_of_every_tool_map_to_the_studios(sampler, schedule, expected, exact):
    name, note = match_sampler(sampler, schedule)
    assert name == expected and (note is None) == exact, note


def comfy_graph(seed: int = 156680208700286, sampler: str = "dpmpp_2m", scheduler: str = "karras") -> dict:
    """ComfyUI's default text-to-image graph in its API format, with a LoRA and an advanced ControlNet added."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "ponyDiffusionV6XL.safetensors"}},
        "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "detail.safetensors", "strength_model": 0.7,
                                                       "strength_clip": 0.7, "model": ["4", 0], "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a knight in a misty forest", "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres, watermark", "clip": ["10", 1]}},
        "11": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "control_v11p_sd15_openpose.pth"}},
        "12": {"class_type": "LoadImage", "inputs": {"image": "pose.png"}},
        "13": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["6", 0], "negative": ["7", 0], "control_net": ["11", 0], "image": ["12", 0],
            "strength": 0.8, "start_percent": 0.0, "end_percent": 1.0}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": 30, "cfg": 5.5, "sampler_name": sampler, "scheduler": scheduler, "denoise": 1.0,
            "model": ["10", 0], "positive": ["13", 0], "negative": ["13", 1], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    }  # fmt: skip


def comfy_png(graph: dict, size: tuple[int, int] = (832, 1216)) -> bytes:
    workflow = {"last_node_id": 13, "nodes": [{"id": 3, "type": "KSampler"}] * 200, "links": []}
    return png({"prompt": json.dumps(graph), "workflow": json.dumps(workflow)}, size=size)


def test_a_comfyui_graph_restores_its_sampler_texts_and_size_and_names_what_it_did_not():
    recipe, message = recipe_from_image(comfy_png(comfy_graph()))
    settings = recipe.generate
    assert (settings.prompt, settings.negative_prompt) == ("a knight in a misty forest", "lowres, watermark")
    assert (settings.seed, settings.num_inference_steps, settings.guidance_scale) == (156680208700286, 30, 5.5)
    assert (settings.scheduler, settings.width, settings.height) == ("dpmpp_2m_karras", 832, 1216)
    assert settings.family == "sdxl"  # from the 832×1216 latent, not from "XL" in the checkpoint's name
    assert message.startswith("Read from a ComfyUI workflow: prompt, negative prompt, steps, sampler, CFG scale, seed")
    assert "LoRA" in message and "ControlNet pose (strength 0.8, 0–1)" in message
    assert [(c.control_type, c.controlnet_conditioning_scale) for c in settings.controls] == [("pose", 0.8)]
    assert recipe.ui_tab == "controlnet" and "pose map is made from it): upload your own" in recipe_notice(recipe)


def test_a_comfyui_graph_alone_an_sdxl_encoder_and_a_hires_pass():
    graph = comfy_graph(seed=7)
    encoder = {"text_g": "a red fox", "text_l": "a red fox", "width": 1024, "height": 1024, "clip": ["4", 1]}
    graph["6"] = {"class_type": "CLIPTextEncodeSDXL", "inputs": encoder}
    graph["5"]["inputs"].update(width=512, height=512)
    graph["20"] = {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["3", 0], "scale_by": 2.0}}
    graph["21"] = dict(graph["3"], inputs={**graph["3"]["inputs"], "latent_image": ["20", 0], "seed": 99})
    recipe, message = recipe_from_image(png({"prompt": json.dumps(graph)}))  # an API-made image: no workflow
    assert recipe.generate.prompt == "a red fox" and recipe.generate.seed == 7  # the first pass's sampler
    assert recipe.generate.family == "sdxl" and "1 more sampler pass" in message and "hires fix" in message


def test_comfyui_seeds_up_to_the_largest_the_page_holds_and_beyond_said():
    assert recipe_from_image(comfy_png(comfy_graph(seed=2**50)))[0].generate.seed == 2**50
    recipe, message = recipe_from_image(comfy_png(comfy_graph(seed=2**64 - 1)))
    assert recipe.generate.seed == 0 and f"{2**64 - 1}" in message and f"{MAX_SEED:,}" in message


def test_invokeai_metadata_restores_with_its_model_base():
    metadata = {
        "positive_prompt": "a cosy cabin", "negative_prompt": "people", "width": 1024, "height": 1024, "seed": 42,
        "steps": 35, "cfg_scale": 7.5, "scheduler": "dpmpp_2m_k", "model": {"name": "juggernaut", "base": "sdxl"},
        "loras": [{"lora": {"name": "x"}, "weight": 0.5}], "generation_mode": "sdxl_txt2img",
    }  # fmt: skip
    recipe, message = recipe_from_image(png({"invokeai_metadata": json.dumps(metadata)}, size=(1024, 1024)))
    settings = recipe.generate
    assert (settings.prompt, settings.negative_prompt, settings.seed) == ("a cosy cabin", "people", 42)
    assert (settings.num_inference_steps, settings.guidance_scale, settings.scheduler) == (35, 7.5, "dpmpp_2m_karras")
    assert settings.family == "sdxl" and "InvokeAI" in message and "LoRA" in message


def test_novelai_description_and_comment_restore():
    comment = {"prompt": "1girl, reading", "steps": 28, "height": 1216, "width": 832, "scale": 5.0, "uc": "lowres",
               "seed": 3702446017, "sampler": "k_euler_ancestral", "noise_schedule": "native"}  # fmt: skip
    texts = {"Title": "AI generated image", "Description": "1girl, reading", "Software": "NovelAI",
             "Source": "Stable Diffusion XL C1E1DE52", "Comment": json.dumps(comment)}  # fmt: skip
    recipe, message = recipe_from_image(png(texts, size=(832, 1216)))
    settings = recipe.generate
    assert (settings.prompt, settings.negative_prompt, settings.seed) == ("1girl, reading", "lowres", 3702446017)
    assert (settings.scheduler, settings.guidance_scale, settings.family) == ("euler_a", 5.0, "sdxl")
    assert "NovelAI" in message


def test_fooocus_and_swarmui_json_parameters_restore_instead_of_becoming_the_prompt():
    fooocus = {"prompt": "a castle", "negative_prompt": "", "resolution": "(896, 1152)", "guidance_scale": 4,
               "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras", "seed": "1234567890123", "steps": 30,
               "base_model": "juggernautXL_v8", "version": "Fooocus v2.1.865"}  # fmt: skip
    recipe, message = recipe_from_image(png({"parameters": json.dumps(fooocus), "fooocus_scheme": "fooocus"}))
    assert (recipe.generate.prompt, recipe.generate.seed, recipe.generate.width) == ("a castle", 1234567890123, 896)
    assert recipe.generate.family == "sdxl" and "Fooocus" in message and "dpmpp_2m_sde_gpu" in message
    swarm = {"sui_image_params": {"prompt": "a boat", "negativeprompt": "fog", "seed": 9, "steps": 20,
                                  "cfgscale": 6, "width": 1024, "height": 768, "sampler": "euler",
                                  "scheduler": "normal", "model": "OfficialStableDiffusion/sdxl_base"}}  # fmt: skip
    recipe, message = recipe_from_image(png({"parameters": json.dumps(swarm)}))
    settings = recipe.generate
    assert (settings.prompt, settings.negative_prompt, settings.seed, settings.scheduler) == (
        "a boat",
        "fog",
        9,
        "euler",
    )
    assert (settings.width, settings.height, settings.family) == (1024, 768, "sdxl") and "SwarmUI" in message


def test_sizes_round_and_control_bytes_are_stripped():
    text = "a cat\x00\x07 on a mat\x9b\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 3, Size: 515x770"
    recipe, message = recipe_from_image(png({"parameters": text}))
    assert recipe.generate.prompt == "a cat on a mat"
    assert (recipe.generate.width, recipe.generate.height) == (512, 768) and "width 515 rounded to 512" in message
    assert "control characters removed" in message


def test_a_webp_declaring_a_giant_size_is_refused_without_decoding():
    giant = io.BytesIO()
    Image.new("RGB", (16, 16)).save(giant, format="WEBP", exif=exif_comment(A1111))
    data = bytearray(giant.getvalue())
    vp8 = data.find(b"VP8 ")
    assert vp8 > 0
    data[vp8 + 14 : vp8 + 18] = struct.pack("<HH", 16383, 16383)  # the frame's width and height fields
    with pytest.raises(StudioError, match=r"refused|could not be read"):
        recipe_from_image(bytes(data))


def test_a_download_cut_short_restores_when_its_metadata_arrived():
    data = png({"parameters": A1111}, size=(512, 768))
    check_a1111(*recipe_from_image(data[: len(data) - 40]))  # IDAT and IEND cut


def raw_png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    data = png()
    extra = b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)) for kind, body in chunks
    )
    return data[:33] + extra + data[33:]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (raw_png([(b"tEXt", b"prompt\0" + b"x" * 5_000_000)]), "'prompt' text is 5,000,007 bytes, over the"),
        (raw_png([(b"tEXt", b"prompt\0" + b"[" * 100_000)]), "nests deeper than 64 levels"),
        (raw_png([(b"tEXt", b'prompt\0{"3": {"class_type": "KSampler"}}')]), "no sampler node"),
        (raw_png([(b"tEXt", b"Comment\0not json")]), "NovelAI's Comment is not valid JSON"),
        (raw_png([(b"tEXt", b"foo\0bar")]), r"carries metadata \('foo'\) but none this studio can read"),
        (raw_png([(b"eXIf", b"MM\0*\0\0\0\x08\xff\xff")]), "metadata could not be read: its EXIF block is damaged"),
        (raw_png([]), "carries no recipe or generation settings"),
        (b"GIF89a....", "not a PNG, JPEG or WebP"),
        (b"\xff\xd8\xff\xe0 not really", "header could not be read"),
        (bytes.fromhex("89504e470d0a1a0a"), "carries no recipe"),  # a signature and nothing else
    ],
)
def test_hostile_and_empty_files_are_refused_saying_what_they_hold(data, message):
    with pytest.raises(StudioError, match=message):
        recipe_from_image(data)


def test_a_comfyui_custom_sampler_graph_restores_its_parts():
    graph = {
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a glass city", "clip": ["11", 0]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "fog", "clip": ["11", 0]}},
        "22": {"class_type": "CFGGuider", "inputs": {"model": ["12", 0], "positive": ["6", 0], "negative": ["7", 0],
                                                     "cfg": 6.0}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 4242}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 24, "denoise": 1.0,
                                                          "model": ["12", 0]}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["25", 0], "guider": ["22", 0],
                                                                 "sampler": ["16", 0], "sigmas": ["17", 0],
                                                                 "latent_image": ["27", 0]}},
    }  # fmt: skip
    recipe, _ = recipe_from_image(png({"prompt": json.dumps(graph)}))
    settings = recipe.generate
    assert (settings.prompt, settings.negative_prompt, settings.seed) == ("a glass city", "fog", 4242)
    assert (settings.num_inference_steps, settings.guidance_scale, settings.scheduler) == (24, 6.0, "euler")
    assert (settings.width, settings.height, settings.family) == (1024, 1024, "sdxl")


def test_a_comfyui_all_in_one_loader_gives_each_prompt_its_role():
    """The efficiency pack's loader holds both prompts as text and hands both conditionings on."""
    graph = {
        "1": {"class_type": "Efficient Loader", "inputs": {
            "ckpt_name": "x.safetensors", "positive": "a tiger in snow", "negative": "cartoon",
            "empty_latent_width": 512, "empty_latent_height": 768, "batch_size": 1}},
        "2": {"class_type": "KSampler (Efficient)", "inputs": {
            "model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3],
            "seed": 77, "steps": 22, "cfg": 6.5, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
    }  # fmt: skip
    recipe, _ = recipe_from_image(png({"prompt": json.dumps(graph)}, size=(512, 768)))
    settings = recipe.generate
    assert (settings.prompt, settings.negative_prompt, settings.seed) == ("a tiger in snow", "cartoon", 77)
    assert (settings.num_inference_steps, settings.width, settings.height) == (22, 512, 768)


CONTROLNET_UNITS = (
    "a dancer on a stage\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, "
    'ControlNet 0: "Module: dw_openpose_full, Model: control_v11p_sd15_openpose [cab727d4], Weight: 0.9, '
    "Resize Mode: Crop and Resize, Processor Res: 512, Guidance Start: 0.1, Guidance End: 0.8, Pixel Perfect: True, "
    'Control Mode: Balanced", '
    'ControlNet 1: "Module: ip-adapter_clip_sd15, Model: ip-adapter_sd15 [6a3f6166], Weight: 0.7, '
    'Guidance Start: 0, Guidance End: 1", '
    'ControlNet 2: "Module: none, Model: control_v11f1e_sd15_tile [a371b31b], Weight: 1", '
    'ControlNet 3: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 3.5, Guidance Start: 0.2", '
    "Version: v1.10.1"
)


def test_a1111_controlnet_units_restore_as_controls_and_an_ip_adapter():
    recipe, message = recipe_from_image(png({"parameters": CONTROLNET_UNITS}))
    controls = recipe.generate.controls
    assert [c.control_type for c in controls] == ["pose", "canny"]
    pose, canny = controls
    assert (pose.controlnet_conditioning_scale, pose.control_guidance_start, pose.control_guidance_end) == (
        0.9, 0.1, 0.8,
    )  # fmt: skip
    assert canny.controlnet_conditioning_scale == 1.0 and canny.control_guidance_start == 0.2  # 3.5 is past 2
    assert "ControlNet strength '3.5' left at its default" in message
    assert recipe.generate.ip_adapter.scale == 0.7
    assert "control_v11f1e_sd15_tile" in message and "not a type offered here" in message  # said, left out
    needed = recipe_notice(recipe)  # the tools record where their images were, never the images
    assert "a structure photo" in needed and "a reference image for the IP-Adapter" in needed


def test_old_controlnet_keys_and_a_disabled_unit():
    old = (
        "a dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, ControlNet Enabled: True, "
        "ControlNet Module: depth, ControlNet Model: control_sd15_depth [fef5e48e], ControlNet Weight: 0.6, "
        "ControlNet-1 Enabled: False, ControlNet-1 Module: canny, ControlNet-1 Model: control_sd15_canny"
    )
    recipe, _ = recipe_from_image(png({"parameters": old}))
    assert [(c.control_type, c.controlnet_conditioning_scale) for c in recipe.generate.controls] == [("depth", 0.6)]


def test_the_studios_own_parameters_line_restores_its_conditioning_when_the_recipe_chunk_is_gone():
    from app.recipes import Recipe, png_with_recipe
    from app.recipes.png import read_text_chunks

    control = {"control_type": "depth", "controlnet_conditioning_scale": 0.7, "control_guidance_start": 0.1,
               "control_guidance_end": 0.9}  # fmt: skip
    settings = {"prompt": "a fox", "seed": 9, "controls": [control], "ip_adapter": {"scale": 0.4, "mode": "style"}}
    recipe = Recipe(mode="generate", generate=settings)
    parameters = read_text_chunks(png_with_recipe(Image.new("RGB", (64, 64)), recipe))["parameters"]
    restored, _ = recipe_from_image(png({"parameters": parameters}))
    assert restored.generate.controls == recipe.generate.controls
    assert restored.generate.ip_adapter == recipe.generate.ip_adapter


def test_comfyui_union_controlnet_preprocessor_and_ip_adapter_restore():
    graph = comfy_graph()
    graph["11"] = {
        "class_type": "ControlNetLoader",
        "inputs": {"control_net_name": "controlnet-union-sdxl-1.0.safetensors"},
    }
    graph["14"] = {"class_type": "SetUnionControlNetType", "inputs": {"control_net": ["11", 0], "type": "depth"}}
    graph["15"] = {"class_type": "DepthAnythingV2Preprocessor", "inputs": {"image": ["12", 0], "resolution": 512}}
    graph["13"]["inputs"].update(control_net=["14", 0], image=["15", 0], strength=0.5, start_percent=0.0,
                                 end_percent=0.6)  # fmt: skip
    graph["16"] = {"class_type": "IPAdapterAdvanced", "inputs": {"weight": 0.8, "model": ["10", 0]}}
    recipe, message = recipe_from_image(comfy_png(graph))
    (depth,) = recipe.generate.controls
    assert (depth.control_type, depth.controlnet_conditioning_scale, depth.control_guidance_end) == ("depth", 0.5, 0.6)
    assert recipe.generate.ip_adapter.scale == 0.8 and recipe.ui_tab == "ip_adapter"
    assert "ControlNet depth (strength 0.5, 0–0.6), IP-Adapter (scale 0.8)" in message


def test_a_preprocessor_node_names_the_type_when_the_file_name_does_not():
    graph = comfy_graph()
    graph["11"]["inputs"]["control_net_name"] = "my_controlnet.safetensors"
    graph["15"] = {"class_type": "LineArtPreprocessor", "inputs": {"image": ["12", 0]}}
    graph["13"]["inputs"]["image"] = ["15", 0]
    recipe, _ = recipe_from_image(comfy_png(graph))
    assert [c.control_type for c in recipe.generate.controls] == ["lineart"]


def test_invokeai_control_adapters_restore():
    metadata = {"positive_prompt": "a barn", "seed": 3, "steps": 20, "cfg_scale": 6, "width": 512, "height": 512,
                "controlnets": [{"control_model": {"name": "sd-controlnet-canny", "base": "sd-1"},
                                 "control_weight": 0.75, "begin_step_percent": 0, "end_step_percent": 0.5}],
                "ipAdapters": [{"ip_adapter_model": {"name": "ip_adapter_sd15"}, "weight": [0.5, 0.6]}],
                "t2iAdapters": [{"t2i_adapter_model": {"name": "sketch"}}]}  # fmt: skip
    recipe, message = recipe_from_image(png({"invokeai_metadata": json.dumps(metadata)}))
    (canny,) = recipe.generate.controls
    assert (canny.control_type, canny.controlnet_conditioning_scale, canny.control_guidance_end) == ("canny", 0.75, 0.5)
    assert recipe.generate.ip_adapter.scale == 0.6  # a per-step weight list is no one scale: the default, unchanged
    assert "T2I-Adapter" in message


def test_many_hostile_controlnet_units_are_bounded_and_each_refusal_said():
    units = ", ".join(f'ControlNet {i}: "Module: canny, Model: c{i}, Weight: {w}"'
                      for i, w in enumerate(["NaN", "1e309", "-1", "true", "0.5"] * 40))  # fmt: skip
    recipe, message = recipe_from_image(png({"parameters": f"a cat\nSteps: 20, Seed: 1, {units}"}))
    assert [c.control_type for c in recipe.generate.controls] == ["canny"]  # one per type
    assert recipe.generate.controls[0].controlnet_conditioning_scale == 1.0
    assert len(message) < 2_000 and "left at its default" in message and "and 196 more" in message


def stealth_png(text: str, carrier: str = "alpha", compressed: bool = True, size: tuple[int, int] = (96, 64)) -> bytes:
    """A PNG with ``text`` hidden the way the stealth-pnginfo extension writes it: signature, 32-bit length in bits,
    payload, in the lowest bits of alpha (or of R, G, B), column by column; no text chunk."""
    import gzip

    payload = gzip.compress(text.encode()) if compressed else text.encode()
    signature = f"stealth_{'png' if carrier == 'alpha' else 'rgb'}{'comp' if compressed else 'info'}".encode()
    bits = np.unpackbits(np.frombuffer(signature + struct.pack(">I", len(payload) * 8) + payload, np.uint8))
    width, height = size
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    columns = pixels.transpose(1, 0, 2).copy()
    carried = columns[..., 3].reshape(-1) if carrier == "alpha" else columns[..., :3].reshape(-1)
    carried[: len(bits)] = (carried[: len(bits)] & 0xFE) | bits
    if carrier == "alpha":
        columns[..., 3] = carried.reshape(width, height)
    else:
        columns[..., :3] = carried.reshape(width, height, 3)
    buffer = io.BytesIO()
    Image.fromarray(columns.transpose(1, 0, 2), "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("carrier", "compressed"), [("alpha", True), ("alpha", False), ("rgb", True)])
def test_a1111_text_hidden_in_the_pixels_restores(carrier, compressed):
    recipe, message = recipe_from_image(stealth_png(A1111, carrier, compressed))
    assert recipe.generate.prompt == "a lighthouse at dusk, (oil painting:1.1)" and recipe.generate.seed == 1234
    assert "hidden in the pixels" in message


def test_damaged_stealth_text_is_said_and_an_ordinary_photo_has_none():
    data = stealth_png(A1111)
    image = Image.open(io.BytesIO(data))
    pixels = np.asarray(image).copy()
    pixels[:, 4:, 3] = 255  # the signature and length kept, most of the hidden gzip stream overwritten
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    with pytest.raises(StudioError, match="stealth"):
        recipe_from_image(buffer.getvalue())
    with pytest.raises(StudioError, match="carries no recipe"):
        recipe_from_image(png(size=(256, 256)))
