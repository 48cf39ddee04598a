"""A generation as a short diffusers script: what someone runs to make the same image without the studio.

The script loads the same models (the family's Hub repositories, or the operator's overrides), the same pipeline
class, the same sampler on the model's own scheduler config, draws the starting noise from a CPU generator seeded
as the studio does, and reads the control maps and the reference from the image files the studio offers for
download beside the result (``canny-map.png``, ``reference.png``). In float32 it gives the studio's pixels exactly
(the tests run it on the tiny family); in float16 on a GPU it gives what the studio gives there.

Everything written into the script comes from a validated recipe and the studio's own model spec: text is quoted
with :func:`repr`, numbers are numbers, and no value from an uploaded file names a model or a path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.engine.families import FAMILIES
from app.engine.models import ModelSpec
from app.recipes.schema import GenerationSettings
from app.samplers import SAMPLERS

DIFFUSERS_PIN = "0.42.1"
STRENGTHS = ("controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end")


def diffusers_script(
    settings: GenerationSettings,
    *,
    seed: int | None = None,
    spec: ModelSpec | None = None,
    map_files: Sequence[str] = (),
    reference_file: str = "reference.png",
    output_file: str = "result.png",
) -> str:
    """The Python script that makes one image of ``settings`` with diffusers.

    Args:
        settings: The generation (a recipe's, validated).
        seed: The image's own seed (``seed + i`` for image i of a batch); default the settings' seed.
        spec: The models to load; default the family's Hub defaults (with the operator's overrides).
        map_files: The control maps' file names, one per control, in order.
        reference_file: The IP-Adapter reference's file name.
        output_file: Where the script saves the image.
    """
    family = FAMILIES[settings.family]
    spec = spec or family.real_spec()
    check_map_files(settings, map_files)
    # As the studio runs it: a control at strength 0 adds nothing and is left out of the call (a union ControlNet
    # fusing several modes would still steer with it).
    kept = [(c, f) for c, f in zip(settings.controls, map_files, strict=True) if c.controlnet_conditioning_scale > 0]
    controls, map_files = [c for c, _ in kept], [f for _, f in kept]
    adapter = any(c.adapter for c in controls)  # the recipe has checked: then all of them are T2I-Adapters
    union = not adapter and bool(controls) and all(c.control_type not in spec.controlnets for c in controls)
    union = union and bool(spec.union)
    kind = "adapter" if adapter else "union" if union else "controlnet" if controls else "base"
    pipeline = family.pipeline_class(kind).__name__
    sampler = SAMPLERS[settings.scheduler]
    lines = [
        f'"""{_title(settings, seed)} — made with diffusers alone (Conditioning Studio wrote this script).',
        "",
        "Float32 reproduces the studio's float32 pixels exactly; float16 on a GPU gives what the studio gives there.",
        f"Needs diffusers {DIFFUSERS_PIN} or newer (the studio's), torch and transformers.",
        '"""',
        "",
        "import torch",
        f"from diffusers import {', '.join(sorted(_imports(kind, pipeline, sampler.scheduler, spec, settings)))}",
        "from PIL import Image",
        "",
        'DEVICE = "cuda" if torch.cuda.is_available() else "cpu"',
        f'DTYPE = torch.{family.half_dtype or "float16"} if DEVICE == "cuda" else torch.float32',
        "",
    ]
    lines += _load_lines(family, spec, kind, pipeline, controls)
    if not family.own_sampler:  # FLUX keeps its own flow-matching scheduler
        lines.append(
            f"pipe.scheduler = {sampler.scheduler}.from_config(pipe.scheduler.config{_kwargs(sampler.config)})"
        )
    image_prompt = settings.ip_adapter
    if image_prompt is not None and image_prompt.mode != "redux":
        lines += _ip_adapter_lines(family, spec, image_prompt.scale, image_prompt.mode)
    lines += ["pipe.to(DEVICE)", ""]
    if image_prompt is not None and image_prompt.mode == "redux":
        lines += _redux_lines(spec, settings.prompt, image_prompt.scale, reference_file)
    lines += _call_lines(settings, seed, controls, map_files, reference_file, union, family, output_file)
    return "\n".join(lines) + "\n"


def check_map_files(settings: GenerationSettings, map_files: Sequence[str]) -> None:
    """Raise ValueError unless there is one map file per control of ``settings``."""
    if len(map_files) != len(settings.controls):
        raise ValueError(f"{len(settings.controls)} control(s) need as many map files, received {len(map_files)}")


def _title(settings: GenerationSettings, seed: int | None) -> str:
    from app.controls import method_label

    method = method_label(settings.method)
    return f"{method} · seed {settings.seed if seed is None else seed} · {FAMILIES[settings.family].label}"


def _imports(kind: str, pipeline: str, scheduler: str, spec: ModelSpec, settings: GenerationSettings) -> set[str]:
    family = FAMILIES[settings.family]
    names = {pipeline, *([] if family.own_sampler else [scheduler])}
    if kind == "union":
        names.add("ControlNetUnionModel")
    elif kind == "controlnet":
        names.add(family.controlnet_model)
    elif kind == "adapter":
        names |= {"T2IAdapter", *(["MultiAdapter"] if len(settings.controls) > 1 else [])}
    if spec.half_vae:
        names.add("AutoencoderKL")
    if settings.ip_adapter is not None and settings.ip_adapter.runs_redux:
        names.add("FluxPriorReduxPipeline")
    return names


def _kwargs(values: dict[str, Any]) -> str:
    return "".join(f", {key}={value!r}" for key, value in values.items())


def _load_lines(family: Any, spec: ModelSpec, kind: str, pipeline: str, controls: list) -> list[str]:
    lines: list[str] = []
    extra = _kwargs(dict(family.load_kwargs))
    if spec.half_vae:  # the base's own VAE overflows in float16
        lines += [
            "vae_kwargs = {}",
            "if DTYPE == torch.float16:",
            f"    vae_kwargs['vae'] = AutoencoderKL.from_pretrained({spec.half_vae!r}, dtype=DTYPE)",
        ]
        extra += ", **vae_kwargs"
    if kind == "union":
        lines.append(f"controlnet = ControlNetUnionModel.from_pretrained({spec.union!r}, dtype=DTYPE)")
        extra = ", controlnet=controlnet" + extra
    elif kind == "controlnet":
        # One load per network: FLUX's union ControlNet serves several types, each naming it.
        sources = list(dict.fromkeys(spec.controlnets[c.control_type] for c in controls))
        loaded = lambda source: f"{family.controlnet_model}.from_pretrained({source!r}, dtype=DTYPE)"  # noqa: E731
        if len(controls) == 1:
            lines.append(f"controlnet = {loaded(sources[0])}")
        else:
            lines += [f"net_{i} = {loaded(source)}" for i, source in enumerate(sources)]
            names = [f"net_{sources.index(spec.controlnets[c.control_type])}" for c in controls]
            lines.append(f"controlnet = [{', '.join(names)}]")
        extra = ", controlnet=controlnet" + extra
    elif kind == "adapter":
        nets = [f"T2IAdapter.from_pretrained({spec.adapters[c.control_type]!r}, dtype=DTYPE)" for c in controls]
        listed = "MultiAdapter([\n    " + ",\n    ".join(nets) + ",\n])"
        lines.append("adapter = " + (nets[0] if len(nets) == 1 else listed))
        extra = ", adapter=adapter" + extra
    lines.append(f"pipe = {pipeline}.from_pretrained({spec.base!r}, dtype=DTYPE, use_safetensors=True{extra})")
    return lines


def _ip_adapter_lines(family: Any, spec: ModelSpec, scale: float, mode: str) -> list[str]:
    source = spec.ip_adapter
    if source.image_encoder_repo:  # FLUX: XLabs' adapter on CLIP ViT-L/14, from its own repository
        return [
            "pipe.load_ip_adapter(",
            f"    {source.repo!r}, subfolder={source.subfolder!r}, weight_name={source.weight_name!r},",
            f"    image_encoder_pretrained_model_name_or_path={source.image_encoder_repo!r},",
            f"    image_encoder_subfolder={source.image_encoder_folder!r}, image_encoder_dtype=DTYPE,",
            ")",
            f"pipe.set_ip_adapter_scale({scale!r})",
        ]
    lines = [
        "pipe.load_ip_adapter(",
        f"    {source.repo!r}, subfolder={source.subfolder!r}, weight_name={source.weight_name!r},",
        f"    image_encoder_folder={source.image_encoder_folder!r},",
        ")",
    ]
    if mode == "full":
        return [*lines, f"pipe.set_ip_adapter_scale({scale!r})"]
    # InstantStyle: only these blocks see the reference ({mode} mode); one scale per attention layer of a block.
    blocks = dict(family.ip_adapter_blocks[mode])
    return [
        *lines,
        f"BLOCKS = {blocks!r}  # the blocks that see the reference in {mode!r} mode; None: every layer of the block",
        "layers = pipe.unet.config.layers_per_block",
        "scales = {",
        f"    part: {{block: {scale!r} if layer is None else [{scale!r} if i == layer else 0.0"
        ' for i in range(layers + (part == "up"))]',
        "           for block, layer in chosen.items()}",
        "    for part, chosen in BLOCKS.items()",
        "}",
        "pipe.set_ip_adapter_scale(scales)",
    ]


def _redux_lines(spec: ModelSpec, prompt: str, scale: float, reference_file: str) -> list[str]:
    """FLUX.1 Redux as the studio runs it: the reference's SigLIP tokens, through the Redux embedder, after the
    prompt's T5 tokens and times the scale (ComfyUI's StyleModelApply, strength_type multiply). At scale 0 the studio
    does not run it, and neither does the script."""
    if scale == 0:
        return ["# Redux at scale 0: not run, as in the studio (the image is text-only's).", ""]
    return [
        f"redux = FluxPriorReduxPipeline.from_pretrained({spec.redux!r}, dtype=DTYPE, use_safetensors=True).to(DEVICE)",
        f"reference = Image.open({reference_file!r}).convert('RGB')",
        "with torch.inference_mode():",
        "    prompt_embeds, pooled_prompt_embeds, _ = pipe.encode_prompt(",
        f"        {prompt!r}, prompt_2=None, device=DEVICE, max_sequence_length=512",
        "    )",
        "    image_tokens = redux.image_embedder(redux.encode_image(reference, DEVICE, 1)).image_embeds",
        f"    image_tokens = (image_tokens.to(DTYPE) * {scale!r}).to(prompt_embeds.dtype)",
        "    prompt_embeds = torch.cat([prompt_embeds, image_tokens], dim=1)  # the reference after the prompt",
        "",
    ]


def _call_lines(
    settings: GenerationSettings,
    seed: int | None,
    controls: list,
    map_files: Sequence[str],
    reference_file: str,
    union: bool,
    family: Any,
    output_file: str,
) -> list[str]:
    arguments = {
        "prompt": settings.prompt,
        **({} if family.distilled_guidance else {"negative_prompt": settings.negative_prompt or None}),
        "num_inference_steps": settings.num_inference_steps,
        "guidance_scale": settings.guidance_scale,
        "width": settings.width,
        "height": settings.height,
    }
    image_prompt = settings.ip_adapter
    if image_prompt is not None and image_prompt.runs_redux:  # the prompt went in with the reference's tokens
        del arguments["prompt"]
    maps = f"maps = [Image.open(name).convert('RGB') for name in {list(map_files)!r}]"
    lines = [maps] if controls else []
    call = [f"    {key}={value!r}," for key, value in arguments.items()]
    if "prompt" not in arguments:  # (_redux_lines made the embeddings)
        call[:0] = ["    prompt_embeds=prompt_embeds,", "    pooled_prompt_embeds=pooled_prompt_embeds,"]
    if controls:
        strengths = {name: [getattr(c, name) for c in controls] for name in STRENGTHS}
        single = len(controls) == 1
        if controls[0].adapter:  # a scale per adapter; they apply from the first step to one shared end
            scales = strengths["controlnet_conditioning_scale"]
            call.append("    image=maps[0]," if single else "    image=maps,")
            call.append(f"    adapter_conditioning_scale={scales[0] if single else scales!r},")
            call.append(f"    adapter_conditioning_factor={controls[0].control_guidance_end!r},")
        elif union:  # one network, a control mode per map, each mode's own strength and window
            modes = [family.union_modes[c.control_type] for c in controls]
            call += ["    control_image=maps,", f"    control_mode={modes!r},"]
            call += [f"    {name}={values[0] if single else values!r}," for name, values in strengths.items()]
        else:
            argument = family.control_argument
            call.append(f"    {argument}=maps[0]," if single else f"    {argument}=maps,")
            call += [f"    {name}={values[0] if single else values!r}," for name, values in strengths.items()]
    if image_prompt is not None and image_prompt.mode != "redux":
        lines.append(f"reference = Image.open({reference_file!r}).convert('RGB')")
        call.append("    ip_adapter_image=reference,")
    seed = settings.seed if seed is None else seed
    call.append(f"    generator=[torch.Generator('cpu').manual_seed({seed})],  # the noise is drawn on the CPU")
    if family.packed_latents:  # the ControlNet pipeline samples the map's latents first: draw the noise before
        lines += [
            "channels = pipe.transformer.config.in_channels // 4",
            f"generator = [torch.Generator('cpu').manual_seed({seed})]",
            f"latents, _ = pipe.prepare_latents(1, channels, {settings.height}, {settings.width}, DTYPE, DEVICE, "
            "generator)",
        ]
        call.append("    latents=latents,")
    return [*lines, "image = pipe(", *call, ").images[0]", f"image.save({output_file!r})"]
