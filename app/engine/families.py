"""Model families: what differs between Stable Diffusion 1.5 and SDXL, in one object each.

The engine asks the family instead of naming SD1.5's classes: which diffusers pipelines run it, whether its prompt
encoder returns pooled embeddings (SDXL's ``text_time`` conditioning), which control modes a union ControlNet
takes, which UNet blocks carry style and layout for the IP-Adapter's modes, and its native size; the studio asks it
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
from app.engine.models import ModelSpec, real_sdxl_spec, real_spec, tiny_sdxl_spec, tiny_spec

FamilyName = Literal["sd15", "sdxl"]
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

    @property
    def union_modes(self) -> dict[str, int]:
        """The control mode of each control type in the family's union ControlNet (from :mod:`app.controls`)."""
        return {name: spec.union_modes[self.name] for name, spec in CONTROLS.items() if self.name in spec.union_modes}

    def pipeline_class(self, kind: str) -> type:
        """The diffusers class of ``base``, ``controlnet``, ``union`` or ``adapter``."""
        import diffusers

        name = {
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

FAMILIES: dict[str, Family] = {family.name: family for family in (SD15, SDXL)}
assert tuple(FAMILIES) == FAMILY_NAMES


def check_against_controls() -> None:
    """Every control type has a ControlNet in every family: its own, or a mode of the family's union network."""
    for name, spec in CONTROLS.items():
        unknown = [f for f in (*spec.controlnets, *spec.union_modes) if f not in FAMILIES]
        missing = [
            f.label
            for f in FAMILIES.values()
            if f.name not in spec.controlnets and not (f.union_pipeline and f.name in spec.union_modes)
        ]
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
