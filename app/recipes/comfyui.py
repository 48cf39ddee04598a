"""A generation as a ComfyUI workflow (the API format ComfyUI's "Load" and its ``/prompt`` endpoint take).

Core nodes only, plus ComfyUI_IPAdapter_plus's for the IP-Adapter (the pack its users install for it): the
checkpoint, the two prompts, an empty latent at the size, the control maps loaded from the images the studio's
gallery downloads, one ``ControlNetApplyAdvanced`` per map (SDXL's union network set to the map's type), the
IP-Adapter on the model (FLUX.1 Redux: ``StyleModelApply`` on the prompt), then ``KSampler`` with the nearest
sampler and schedule. FLUX.1 loads its diffusion model, text encoders and VAE apart and takes its distilled guidance
through ``FluxGuidance`` (the sampler at CFG 1). Model files are named by their usual file names
(``v1-5-pruned-emaonly.safetensors``, ``control_v11p_sd15_canny.pth``): adjust them to the names in your ComfyUI
folders. ComfyUI draws its noise its own way, so the image follows the same
recipe but is not the studio's pixel for pixel. The studio reads such a workflow back (:mod:`app.recipes.other_tools`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.controls import CONTROLS
from app.engine.families import FAMILIES
from app.recipes.as_code import check_map_files
from app.recipes.schema import GenerationSettings

CHECKPOINTS = {"sd15": "v1-5-pruned-emaonly.safetensors", "sdxl": "sd_xl_base_1.0.safetensors"}
"""The base checkpoints' usual single-file names."""
FLUX_FILES = {
    "flux": {
        "model": "flux1-dev.safetensors",
        "clip_l": "clip_l.safetensors",
        "t5": "t5xxl_fp16.safetensors",
        "vae": "ae.safetensors",
        # XLabs' IP-Adapter and its CLIP ViT-L/14 image encoder, as x-flux-comfyui's README names them.
        "ip_adapter": "flux-ip-adapter.safetensors",
        "clip_vision": "clip_vision_l.safetensors",
        # FLUX.1 Redux as ComfyUI's examples load it: a style model and SigLIP's vision tower.
        "redux": "flux1-redux-dev.safetensors",
        "redux_vision": "sigclip_vision_patch14_384.safetensors",
    }
}
"""FLUX.1 [dev]'s parts under the file names ComfyUI's FLUX examples give them (diffusion_models/, text_encoders/,
vae/)."""
UNION_CONTROLNET = "controlnet-union-sdxl-1.0.safetensors"
IP_ADAPTERS = {"sd15": "ip-adapter_sd15.safetensors", "sdxl": "ip-adapter_sdxl_vit-h.safetensors"}
CLIP_VISION = "CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors"
"""The ViT-H image encoder both adapters read, under the name ComfyUI_IPAdapter_plus's README gives it."""

# Ours → ComfyUI's (sampler_name, scheduler).
SAMPLERS = {
    "dpmpp_2m_karras": ("dpmpp_2m", "karras"),
    "euler_a": ("euler_ancestral", "normal"),
    "euler": ("euler", "normal"),
    "unipc": ("uni_pc", "normal"),
    "ddim": ("ddim", "ddim_uniform"),
}
# The union network's types in ComfyUI's SetUnionControlNetType, by xinsir's control mode.
UNION_TYPES = {0: "openpose", 1: "depth", 2: "hed/pidi/scribble/ted", 3: "canny/lineart/anime_lineart/mlsd",
               4: "normal", 5: "segment"}  # fmt: skip
# IP-Adapter modes → ComfyUI_IPAdapter_plus's weight types (InstantStyle's blocks in both).
WEIGHT_TYPES = {"full": "linear", "style": "style transfer", "layout": "composition"}


def controlnet_file(control_type: str, family: str, adapter: bool = False) -> str:
    """A ControlNet's usual file name: lllyasviel's v1.1 ``.pth`` names for SD1.5 (the repository's name), the
    union network for SDXL; a T2I-Adapter's is its repository's name (ComfyUI's ControlNetLoader loads both)."""
    if adapter:
        return f"{CONTROLS[control_type].adapters[family].rsplit('/', 1)[-1]}.safetensors"
    if family in FLUX_FILES:
        return f"{CONTROLS[control_type].controlnets[family].rsplit('/', 1)[-1]}.safetensors"
    if family == "sdxl":
        return UNION_CONTROLNET
    repo = CONTROLS[control_type].controlnets.get("sd15", "")
    return f"{repo.rsplit('/', 1)[-1]}.pth"


class _Graph(dict):
    """A workflow being written: node id → ``{class_type, inputs}``, ids in writing order."""

    def node(self, class_type: str, **inputs: Any) -> str:
        key = str(len(self) + 1)
        self[key] = {"class_type": class_type, "inputs": inputs}
        return key


def comfyui_workflow(
    settings: GenerationSettings,
    *,
    seed: int | None = None,
    map_files: Sequence[str] = (),
    reference_file: str = "reference.png",
    output_prefix: str = "conditioning-studio",
) -> dict[str, dict[str, Any]]:
    """The ComfyUI API-format graph of one image of ``settings`` (node id → ``{class_type, inputs}``)."""
    check_map_files(settings, map_files)
    graph = _Graph()
    family = FAMILIES[settings.family]
    model, clip, vae = _loaders(graph, family)
    positive: list = [graph.node("CLIPTextEncode", text=settings.prompt, clip=clip), 0]
    # FLUX.1 [dev] has no negative prompt: KSampler still takes one, unused at CFG 1.
    negative_text = "" if family.distilled_guidance else settings.negative_prompt
    negative: list = [graph.node("CLIPTextEncode", text=negative_text, clip=clip), 0]
    if family.distilled_guidance:  # FLUX's guidance is part of the conditioning; the sampler runs without CFG
        positive = [graph.node("FluxGuidance", conditioning=positive, guidance=settings.guidance_scale), 0]
    image_prompt = settings.ip_adapter
    if image_prompt is not None and image_prompt.runs_redux:  # at 0 not run (ComfyUI would add zero tokens)
        positive = [_apply_redux(graph, settings, positive, reference_file), 0]
    empty = "EmptySD3LatentImage" if family.packed_latents else "EmptyLatentImage"  # FLUX's 16-channel latents
    latent = graph.node(empty, width=settings.width, height=settings.height, batch_size=1)
    for control, file in zip(settings.controls, map_files, strict=True):
        applied = _apply_controlnet(graph, control, file, settings.family, positive, negative, vae)
        positive, negative = [applied, 0], [applied, 1]
    if image_prompt is not None and image_prompt.mode != "redux":
        apply = _apply_flux_ip_adapter if settings.family in FLUX_FILES else _apply_ip_adapter
        model = [apply(graph, settings, model, reference_file), 0]
    sampler_name, scheduler = ("euler", "simple") if family.own_sampler else SAMPLERS[settings.scheduler]
    sampled = graph.node(
        "KSampler",
        model=model,
        seed=settings.seed if seed is None else seed,
        steps=settings.num_inference_steps,
        cfg=1.0 if family.distilled_guidance else settings.guidance_scale,
        sampler_name=sampler_name,
        scheduler=scheduler,
        positive=positive,
        negative=negative,
        latent_image=[latent, 0],
        denoise=1.0,
    )
    decoded = graph.node("VAEDecode", samples=[sampled, 0], vae=vae)
    graph.node("SaveImage", images=[decoded, 0], filename_prefix=output_prefix)
    return dict(graph)


def _loaders(graph: _Graph, family: Any) -> tuple[list, list, list]:
    """The model, text encoder and VAE outputs: one checkpoint for SD1.5 and SDXL; FLUX.1's diffusion model, its
    two text encoders and its autoencoder, as ComfyUI's FLUX workflows load them. The model node's title names the
    family in the studio's words: reading the workflow back needs no guess."""
    if family.name not in FLUX_FILES:
        checkpoint = graph.node("CheckpointLoaderSimple", ckpt_name=CHECKPOINTS[family.name])
        graph[checkpoint]["_meta"] = {"title": f"Load Checkpoint ({family.label})"}
        return [checkpoint, 0], [checkpoint, 1], [checkpoint, 2]
    files = FLUX_FILES[family.name]
    model = graph.node("UNETLoader", unet_name=files["model"], weight_dtype="default")
    graph[model]["_meta"] = {"title": f"Load Diffusion Model ({family.label})"}
    clip = graph.node("DualCLIPLoader", clip_name1=files["clip_l"], clip_name2=files["t5"], type="flux")
    vae = graph.node("VAELoader", vae_name=files["vae"])
    return [model, 0], [clip, 0], [vae, 0]


def _apply_controlnet(
    graph: _Graph, control: Any, file: str, family: str, positive: list, negative: list, vae: list
) -> str:
    """One map's ControlNet on both conditionings (SDXL's union network set to the map's type; FLUX's with the VAE
    that encodes its map); the node's id."""
    name = controlnet_file(control.control_type, family, control.adapter)
    net: list = [graph.node("ControlNetLoader", control_net_name=name), 0]
    mode = CONTROLS[control.control_type].union_modes.get(family)
    if family == "sdxl" and mode in UNION_TYPES and not control.adapter:
        net = [graph.node("SetUnionControlNetType", control_net=net, type=UNION_TYPES[mode]), 0]
    return graph.node(
        "ControlNetApplyAdvanced",
        positive=positive,
        negative=negative,
        control_net=net,
        image=[graph.node("LoadImage", image=file), 0],
        strength=control.controlnet_conditioning_scale,
        start_percent=control.control_guidance_start,
        end_percent=control.control_guidance_end,
        **({"vae": vae} if family in FLUX_FILES else {}),
    )


def _apply_flux_ip_adapter(graph: _Graph, settings: GenerationSettings, model: list, reference_file: str) -> str:
    """XLabs' IP-Adapter on FLUX's model, through their x-flux-comfyui nodes (ComfyUI_IPAdapter_plus has none for
    FLUX); the node's id."""
    files = FLUX_FILES[settings.family]
    loaded = graph.node("LoadFluxIPAdapter", ipadatper=files["ip_adapter"], clip_vision=files["clip_vision"],
                        provider="GPU")  # fmt: skip  # "ipadatper": the node's own spelling
    return graph.node(
        "ApplyFluxIPAdapter",
        model=model,
        ip_adapter_flux=[loaded, 0],
        image=[graph.node("LoadImage", image=reference_file), 0],
        ip_scale=settings.ip_adapter.scale,
    )


def _apply_redux(graph: _Graph, settings: GenerationSettings, positive: list, reference_file: str) -> str:
    """FLUX.1 Redux with ComfyUI's core nodes: SigLIP encodes the reference (resized whole, as diffusers' processor
    does: crop none), and StyleModelApply appends its tokens to the prompt's, multiplied by the scale as the studio
    does; the node's id."""
    files = FLUX_FILES[settings.family]
    vision = graph.node("CLIPVisionLoader", clip_name=files["redux_vision"])
    image = [graph.node("LoadImage", image=reference_file), 0]
    encoded = graph.node("CLIPVisionEncode", clip_vision=[vision, 0], image=image, crop="none")
    return graph.node(
        "StyleModelApply",
        conditioning=positive,
        style_model=[graph.node("StyleModelLoader", style_model_name=files["redux"]), 0],
        clip_vision_output=[encoded, 0],
        strength=settings.ip_adapter.scale,
        strength_type="multiply",
    )


def _apply_ip_adapter(graph: _Graph, settings: GenerationSettings, model: list, reference_file: str) -> str:
    """The IP-Adapter on the model (ComfyUI_IPAdapter_plus's advanced node); the node's id."""
    return graph.node(
        "IPAdapterAdvanced",
        model=model,
        ipadapter=[graph.node("IPAdapterModelLoader", ipadapter_file=IP_ADAPTERS[settings.family]), 0],
        image=[graph.node("LoadImage", image=reference_file), 0],
        weight=settings.ip_adapter.scale,
        weight_type=WEIGHT_TYPES[settings.ip_adapter.mode],
        combine_embeds="concat",
        start_at=0.0,
        end_at=1.0,
        embeds_scaling="V only",
        clip_vision=[graph.node("CLIPVisionLoader", clip_name=CLIP_VISION), 0],
    )
