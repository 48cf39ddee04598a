"""Model families: what differs between Stable Diffusion 1.5, SDXL and FLUX.1, in one object each.

The engine asks the family instead of naming SD1.5's classes: which diffusers pipelines and ControlNet classes run
it, whether its prompt encoder returns pooled embeddings (SDXL's ``text_time`` conditioning, FLUX's CLIP vector),
whether it guides with classifier-free guidance or a distilled guidance input (FLUX.1-dev: one pass per image), how
its latents are laid out, which control modes a union ControlNet takes, which UNet blocks carry style and layout for
the IP-Adapter's modes, and its native size; the studio asks it
for its model spec (Hub defaults or the tiny twin), the Hub files list for its text encoders, and ZeroGPU estimates
for its fixed cost per method. A new family is a new object here plus its tiny twin (:mod:`app.tiny`) and its spec
builders (:mod:`app.engine.models`), not a fork of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from app.controls import CONTROLS
from app.engine.models import (
    ModelSpec,
    real_flux_spec,
    real_sdxl_spec,
    real_spec,
    tiny_flux_spec,
    tiny_sdxl_spec,
    tiny_spec,
)

FamilyName = Literal["sd15", "sdxl", "flux"]
FAMILY_NAMES: tuple[str, ...] = get_args(FamilyName)
"""The model families' names, spelled here only: the request schema, settings and scripts read them from here."""


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: ``sd15`` or ``sdxl``.
        label: For people.
        short: For captions (``SD1.5``, ``SDXL``).
        model_name: How messages name its base model (``base Stable Diffusion pipeline``).
        default_size: Its native resolution (pixels per side).
        base_pipeline: The diffusers text-to-image pipeline class.
        controlnet_pipeline: The pipeline for per-type ControlNets.
        union_pipeline: The pipeline for a union ControlNet (one network, several control types), if any.
        adapter_pipeline: The pipeline for T2I-Adapters, if the family offers them.
        pooled: Its prompt encoder also returns pooled embeddings (passed beside the token embeddings).
        ip_adapter_blocks: For each IP-Adapter mode but ``full``, the UNet blocks that see the reference
            (InstantStyle's choice for the family): ``{"up": {"block_0": 1}}`` is the second attention layer of
            up-block 0, ``None`` for a layer index means the whole block. Unlisted blocks get 0.
        load_kwargs: Extra arguments for loading the base pipeline.
        real_spec: Its Hub defaults (each overridable by environment variables).
        tiny_spec: Its tiny twin in a tiny family folder.
        text_encoders: The base repository's text encoder folders (each with its tokenizer).
        feature_extractor: The base repository ships ``feature_extractor/`` (SD1.5's safety checker reads it).
        gpu_seconds_per_method: The fixed GPU seconds each method of a ZeroGPU job adds besides its steps (VAE
            decode, map, moving tensors).
        denoiser: The pipeline attribute holding the denoising network (``unet``; FLUX's ``transformer``).
        controlnet_model: The diffusers class of its ControlNets (``ControlNetModel``; ``FluxControlNetModel``).
        multi_controlnet: The diffusers class that runs several of them in one call.
        control_argument: The pipeline argument that takes the control maps (``image``; FLUX's ``control_image``).
        distilled_guidance: Guidance is an input of the denoiser (FLUX.1-dev), not classifier-free guidance: one
            pass per image and no negative prompt.
        packed_latents: The pipeline's latents are 2×2 patches in a sequence (FLUX): unpacked for previews.
        size_multiple: Width and height must be multiples of this (FLUX packs 2×2 latents of 1/8 the image: 16).
        own_sampler: The family samples with its base pipeline's own scheduler only (FLUX's flow-matching Euler);
            the sampler setting does not apply to it.
        half_variant: Its repositories ship ``fp16`` weight files (read in half precision instead of casting).
        half_dtype: The half precision it runs in when the studio's is float16, if another (FLUX.1 is trained and
            shipped in bfloat16, and its activations overflow float16).
        serves_every_control_type: Every control type has a ControlNet here (checked at import); a family without
            refuses the others by name.
        licence: What a person must know and do before its weights load (a gated, non-commercial model), if anything.
        shards: The base repository's parts whose weights are split into this many files (``transformer``: 3 is
            ``transformer/diffusion_pytorch_model-00001-of-00003.safetensors`` … and its index).
        t5_tokenizers: The base repository's tokenizer folders that hold a T5 tokenizer (SentencePiece), not CLIP's.
        gpu_step_factor: A denoising step's GPU time per pixel against SD1.5's (ZeroGPU estimates).
        ip_adapter_masks: Its IP-Adapter attention takes diffusers' ``ip_adapter_masks``, so a batched pass can give
            the reference to some rows only; otherwise an IP-Adapter method runs on its own.
        latent_control: Its ControlNets take the map as VAE latents the pipeline samples (FLUX): a batched pass
            gives each row its solo run's samples (:mod:`app.engine.flux_rows`).
        redux: Its image prompt can also be FLUX.1 Redux (IP-Adapter mode ``redux``): the reference's SigLIP tokens,
            through the Redux embedder, appended to the prompt's T5 tokens.
        default_guidance: The guidance scale a request for it gets when it names none, where the studio's default
            (7, classifier-free) does not fit (FLUX.1 [dev]'s distilled guidance: 3.5, as its model card uses).
    """

    name: str
    label: str
    short: str
    model_name: str
    default_size: int
    base_pipeline: str
    controlnet_pipeline: str
    union_pipeline: str | None = None
    adapter_pipeline: str | None = None
    pooled: bool = False
    ip_adapter_blocks: Mapping[str, dict[str, dict[str, int | None]]] = field(default_factory=dict)
    load_kwargs: Mapping[str, Any] = field(default_factory=dict)
    real_spec: Callable[[], ModelSpec] = real_spec
    tiny_spec: Callable[[Path], ModelSpec] = tiny_spec
    text_encoders: tuple[str, ...] = ("text_encoder",)
    feature_extractor: bool = False
    gpu_seconds_per_method: float = 3.0
    denoiser: str = "unet"
    controlnet_model: str = "ControlNetModel"
    multi_controlnet: str = "MultiControlNetModel"
    control_argument: str = "image"
    distilled_guidance: bool = False
    packed_latents: bool = False
    size_multiple: int = 8
    own_sampler: bool = False
    half_variant: bool = True
    half_dtype: str | None = None
    serves_every_control_type: bool = True
    licence: str | None = None
    shards: Mapping[str, int] = field(default_factory=dict)
    t5_tokenizers: tuple[str, ...] = ()
    default_guidance: float | None = None
    gpu_step_factor: float = 1.0
    latent_control: bool = False
    ip_adapter_masks: bool = True
    redux: bool = False

    def serves(self, control_type: str) -> bool:
        """Whether one of its ControlNets (its own, or a mode of its union network) serves ``control_type``."""
        spec = CONTROLS.get(control_type)
        return spec is not None and (
            self.name in spec.controlnets or (self.union_pipeline is not None and self.name in spec.union_modes)
        )

    def ip_modes(self) -> tuple[str, ...]:
        """The image-prompt modes it takes: ``full``, its InstantStyle modes, and ``redux`` where it has Redux."""
        return ("full", *self.ip_adapter_blocks, *("redux",) * self.redux)

    def served_types(self) -> list[str]:
        """The control types it serves, by rank."""
        return [name for name in CONTROLS if self.serves(name)]

    def spatial_latents(self, latents, width: int, height: int):
        """A denoising step's latents as ``(batch, channels, height/8, width/8)``, as decoders take them."""
        if not self.packed_latents:
            return latents
        from diffusers import FluxPipeline

        return FluxPipeline._unpack_latents(latents, height, width, 8)

    @property
    def union_modes(self) -> dict[str, int]:
        """The control mode of each control type in the family's union ControlNet (from :mod:`app.controls`)."""
        return {name: spec.union_modes[self.name] for name, spec in CONTROLS.items() if self.name in spec.union_modes}

    def pipeline_class(self, kind: str) -> type:
        """The diffusers class of ``base``, ``controlnet``, ``union`` or ``adapter`` (pipelines), or of its
        ``controlnet_model`` or ``multi_controlnet``."""
        import diffusers

        name = {
            "controlnet_model": self.controlnet_model,
            "multi_controlnet": self.multi_controlnet,
            "base": self.base_pipeline,
            "controlnet": self.controlnet_pipeline,
            "union": self.union_pipeline,
            "adapter": self.adapter_pipeline,
        }[kind]
        if name is None:
            raise ValueError(f"the {self.label} family has no {kind} pipeline")
        return getattr(diffusers, name)


SD15 = Family(
    name="sd15",
    label="Stable Diffusion 1.5",
    short="SD1.5",
    model_name="Stable Diffusion",
    default_size=512,
    base_pipeline="StableDiffusionPipeline",
    controlnet_pipeline="StableDiffusionControlNetPipeline",
    # The first up-block with attention carries style, the deepest down-block with attention carries layout.
    ip_adapter_blocks={"style": {"up": {"block_1": None}}, "layout": {"down": {"block_2": None}}},
    load_kwargs={"safety_checker": None, "requires_safety_checker": False},  # the studio runs without it
    feature_extractor=True,
)

SDXL = Family(
    name="sdxl",
    label="Stable Diffusion XL",
    short="SDXL",
    model_name="Stable Diffusion XL",
    default_size=1024,
    base_pipeline="StableDiffusionXLPipeline",
    controlnet_pipeline="StableDiffusionXLControlNetPipeline",
    union_pipeline="StableDiffusionXLControlNetUnionPipeline",
    adapter_pipeline="StableDiffusionXLAdapterPipeline",
    pooled=True,
    # InstantStyle for SDXL: the second attention layer of the first up-block is style, of the deepest down-block
    # layout.
    ip_adapter_blocks={"style": {"up": {"block_0": 1}}, "layout": {"down": {"block_2": 1}}},
    real_spec=real_sdxl_spec,
    tiny_spec=tiny_sdxl_spec,
    text_encoders=("text_encoder", "text_encoder_2"),
    # Its VAE decodes 4× SD1.5's pixels and it has two text encoders.
    gpu_seconds_per_method=5.0,
)

FLUX = Family(
    name="flux",
    label="FLUX.1 [dev]",
    short="FLUX.1",
    model_name="FLUX.1 [dev]",
    default_size=1024,
    base_pipeline="FluxPipeline",
    controlnet_pipeline="FluxControlNetPipeline",
    pooled=True,
    real_spec=real_flux_spec,
    tiny_spec=tiny_flux_spec,
    text_encoders=("text_encoder", "text_encoder_2"),
    # Estimates until measured on the Space's card: a 12 B transformer and the T5-XXL encoder.
    gpu_seconds_per_method=8.0,
    denoiser="transformer",
    controlnet_model="FluxControlNetModel",
    multi_controlnet="FluxMultiControlNetModel",
    control_argument="control_image",
    distilled_guidance=True,
    packed_latents=True,
    size_multiple=16,
    own_sampler=True,
    half_variant=False,  # black-forest-labs ships bfloat16 weights only
    half_dtype="bfloat16",
    latent_control=True,
    ip_adapter_masks=False,
    redux=True,
    serves_every_control_type=False,
    shards={"transformer": 3, "text_encoder_2": 2},
    t5_tokenizers=("tokenizer_2",),
    default_guidance=3.5,
    # About 120 TFLOP per step at 1024² (2 × 12 B parameters × 4.6 k tokens), ~0.3 s per 512² of area on half an RTX
    # Pro 6000 at 40 % of its bfloat16 peak: 4.5 times SD1.5's rate (an estimate until measured there).
    gpu_step_factor=4.5,
    licence=(
        "FLUX.1 [dev] is gated and under a non-commercial licence: accept it at "
        "https://huggingface.co/black-forest-labs/FLUX.1-dev while logged in, then give the studio a token that "
        "can read it (HF_TOKEN, or `hf auth login`)."
    ),
)

FAMILIES: dict[str, Family] = {family.name: family for family in (SD15, SDXL, FLUX)}
assert tuple(FAMILIES) == FAMILY_NAMES

DEFAULT_FAMILIES: tuple[str, ...] = tuple(name for name, family in FAMILIES.items() if family.licence is None)
"""The families served unless ``STUDIO_FAMILIES`` says otherwise, and the ones a Space preloads: the open ones. A
gated family (FLUX.1 [dev]: non-commercial, its first load needs an accepted licence and a token) is opt-in."""


def check_against_controls() -> None:
    """Every control type has a ControlNet in every family that promises them all: its own, or a mode of the
    family's union network."""
    for name, spec in CONTROLS.items():
        unknown = [f for f in (*spec.controlnets, *spec.union_modes) if f not in FAMILIES]
        missing = [f.label for f in FAMILIES.values() if f.serves_every_control_type and not f.serves(name)]
        if unknown or missing:
            raise ValueError(
                f"control type {name!r}: families {unknown} are not model families ({', '.join(FAMILIES)}); "
                f"no ControlNet for {missing}"
            )


check_against_controls()


def ip_adapter_scale_config(family: Family, scale: float, mode: str, layers_per_block: int) -> float | dict:
    """The argument for diffusers' ``set_ip_adapter_scale`` for a scale and a mode, in ``family``'s blocks.

    Args:
        layers_per_block: The UNet's ``layers_per_block`` (an up-block has one attention layer more), to spell a
            single layer as diffusers wants it: one scale per attention layer of the block.
    """
    if mode == "full":
        return scale
    config: dict[str, dict[str, Any]] = {}
    for part, blocks in family.ip_adapter_blocks[mode].items():
        layers = layers_per_block + (part == "up")
        for block, layer in blocks.items():
            value = scale if layer is None else [scale if i == layer else 0.0 for i in range(layers)]
            config.setdefault(part, {})[block] = value
    return config
