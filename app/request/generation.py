"""The typed generation request: the single description of what to generate.

Field names follow diffusers' pipeline arguments so a request maps straight
onto a pipeline call. Bounds live here and nowhere else: the UI builds its
sliders from :func:`field_bounds`, recipes serialise these models, and
:func:`parse_request` turns validation failures into one readable
:class:`~app.errors.StudioError`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, TypeVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticOmit

from app.controls import ADAPTER_MARK, ControlTypeName, adapted_types, part_name, spelled_out
from app.engine.families import FAMILIES, FAMILY_NAMES, FamilyName
from app.errors import StudioError
from app.request.labels import describe_field, register_titles
from app.samplers import SchedulerName

IPAdapterMode = Literal["full", "style", "layout", "redux"]
"""How the reference steers: the IP-Adapter in every block, InstantStyle's style or layout blocks, or (FLUX.1) FLUX.1
Redux's image tokens beside the prompt's. Each family takes its own (``Family.ip_modes``)."""

MAX_PROMPT_CHARS = 2000
MAX_SEED = 2**53 - 1
"""The largest seed: the largest integer a browser's number field holds exactly, so a seed shown on the page is the
seed that runs (ComfyUI's random seeds stay below it too; a CPU ``torch.Generator`` takes up to 2**64 - 1)."""
MAX_CONTROLS = 3


class StrictModel(BaseModel):
    """Base of every request model: unknown fields, NaN and infinities are refused."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True, validate_assignment=True
    )


class ControlStrength(StrictModel):
    """How strongly and over which part of the denoising a ControlNet steers."""

    controlnet_conditioning_scale: float = Field(
        1.0,
        title="ControlNet strength",
        ge=0.0,
        le=2.0,
        description="ControlNet strength; 0 leaves the text-only result unchanged.",
    )
    control_guidance_start: float = Field(
        0.0,
        title="Guidance start",
        ge=0.0,
        le=1.0,
        description="Fraction of the steps after which the ControlNet starts to apply.",
    )
    control_guidance_end: float = Field(
        1.0,
        title="Guidance end",
        ge=0.0,
        le=1.0,
        description="Fraction of the steps after which the ControlNet stops applying.",
    )

    @model_validator(mode="after")
    def _start_before_end(self) -> ControlStrength:
        if self.control_guidance_start >= self.control_guidance_end:
            raise ValueError(
                f"Guidance start · control_guidance_start ({self.control_guidance_start}) must be below "
                f"guidance end · control_guidance_end ({self.control_guidance_end})"
            )
        return self


class ControlSettings(ControlStrength):
    """One ControlNet: which control type, its map and how strongly it steers."""

    control_type: ControlTypeName = Field(title="Control type", description=f"Which ControlNet: {spelled_out()}.")
    adapter: bool = Field(
        False,
        title="T2I-Adapter",
        description="Steer through the type's T2I-Adapter (SDXL) instead of its ControlNet: its features are "
        "computed once per generation and added from the first step to guidance end.",
    )
    image: Image.Image | None = Field(
        None, exclude=True, description="The control map (already preprocessed), at the generation size."
    )


class IPAdapterScale(StrictModel):
    """How much of a reference image the IP-Adapter uses, and where in the UNet."""

    scale: float = Field(
        0.6,
        title="IP-Adapter scale",
        ge=0.0,
        le=1.5,
        description="How strongly the reference image steers; 0 ignores it.",
    )
    mode: IPAdapterMode = Field(
        "full",
        title="IP-Adapter mode",
        description="How the reference steers: 'full' (every block), 'style' or 'layout' (InstantStyle's blocks; "
        "SD1.5, SDXL), or 'redux' (FLUX.1 Redux: the reference's image tokens beside the prompt's; FLUX.1 only).",
    )

    @property
    def runs_redux(self) -> bool:
        """Whether FLUX.1 Redux steers: mode ``redux`` at a scale above 0 (at 0 it is not run at all, so the image is
        text-only's), in the studio and in every hand-off."""
        return self.mode == "redux" and self.scale > 0


class IPAdapterSettings(IPAdapterScale):
    """The IP-Adapter image prompt: a reference image and how much of it to use."""

    image: Image.Image | None = Field(None, exclude=True, description="The reference image.")


ADAPTER_MULTIPLE = 32
"""A T2I-Adapter's features are 1/16 and 1/32 of the image: its width and height must be multiples of this."""


def check_adapters(family: str, controls: list, width: int, height: int, where: str = "") -> None:
    """ValueError (for a pydantic validator) unless the T2I-Adapter controls can run as asked: on a family with
    adapters, all or none of a generation's controls (diffusers' pipelines take adapters or ControlNets, not both),
    from the first step (an adapter has no start) to one shared end, at a size its features fit."""
    adapters = [c for c in controls if c.adapter]
    if not adapters:
        return
    served = sorted(adapted_types(family))
    if not served:
        why = (
            "TencentARC's SD1.5 adapters ship pickled .bin weights only and the studio loads safetensors only"
            if FAMILIES[family].name == "sd15"
            else f"diffusers has no T2I-Adapter pipeline for {FAMILIES[family].short}"
        )
        raise ValueError(f"{where}T2I-Adapter on {FAMILIES[family].label}: none is offered, because {why}; use SDXL")
    unserved = [c.control_type for c in adapters if c.control_type not in served]
    if unserved:
        raise ValueError(f"{where}no {FAMILIES[family].short} T2I-Adapter for {', '.join(unserved)}; "
                         f"there is one for {', '.join(served)}")  # fmt: skip
    if len(adapters) < len(controls):
        raise ValueError(
            f"{where}a T2I-Adapter and a ControlNet cannot steer one generation (diffusers runs one kind per call); "
            f"mark every control {ADAPTER_MARK} or none"
        )
    if any(c.control_guidance_start > 0 for c in adapters):
        raise ValueError(f"{where}a T2I-Adapter applies from the first step: set guidance start to 0")
    if len({c.control_guidance_end for c in adapters}) > 1:
        raise ValueError(f"{where}T2I-Adapters applied together share one guidance end, received "
                         f"{', '.join(f'{c.control_type} {c.control_guidance_end:g}' for c in adapters)}")  # fmt: skip
    if width % ADAPTER_MULTIPLE or height % ADAPTER_MULTIPLE:
        raise ValueError(
            f"{where}a T2I-Adapter needs a width and height in multiples of {ADAPTER_MULTIPLE} (its features are "
            f"1/16 and 1/32 of the image), received {width}×{height}"
        )


def check_family(
    family: str, control_types: list[str], ip_mode: str | None, width: int, height: int, where: str = ""
) -> None:
    """ValueError (for a pydantic validator) unless ``family`` can run these controls, image prompt and size: a
    family that serves only some control types (FLUX.1) refuses the others by name, one without InstantStyle blocks
    takes the IP-Adapter's ``full`` mode only, and sizes follow the family's multiple.

    Args:
        ip_mode: The IP-Adapter's mode, or None without one.
    """
    spec = FAMILIES[family]
    ip_adapter = ip_mode is not None
    unserved = [t for t in control_types if not spec.serves(t)]
    if unserved:
        raise ValueError(
            f"{where}no {spec.short} ControlNet serves {', '.join(unserved)}; on {spec.short} the studio has "
            f"{', '.join(spec.served_types())}"
        )
    if ip_adapter and ip_mode not in spec.ip_modes():
        having = " and ".join(f.short for f in FAMILIES.values() if ip_mode in f.ip_modes())
        needs = "FLUX.1 Redux's image tokens" if ip_mode == "redux" else "InstantStyle's blocks"
        raise ValueError(
            f"{where}{spec.short} takes the image-prompt modes {', '.join(spec.ip_modes())}; mode {ip_mode} needs "
            f"{needs}, which the studio has for {having} only"
        )
    if width % spec.size_multiple or height % spec.size_multiple:
        raise ValueError(
            f"{where}{spec.short} needs a width and height in multiples of {spec.size_multiple}, "
            f"received {width}×{height}"
        )


def check_one_control_per_type(types: list[str], where: str = "") -> None:
    """ValueError (for a pydantic validator) when a control type appears twice: one ControlNet per type."""
    if len(set(types)) != len(types):
        raise ValueError(f"{where}each control type may appear once, received {types}")


class CommonSettings(StrictModel):
    """Settings every generation shares, named as diffusers names them.

    ``family`` picks the model family; a request that names one but no size gets that family's native size.
    """

    family: FamilyName = Field(
        FAMILY_NAMES[0],
        description="Model family: "
        + " or ".join(f"{name} ({family.label})" for name, family in FAMILIES.items())
        + ".",
    )
    prompt: str = Field(
        "", title="Prompt", max_length=MAX_PROMPT_CHARS, description="What to draw. CLIP reads the first 77 tokens."
    )
    negative_prompt: str = Field(
        "", title="Negative prompt", max_length=MAX_PROMPT_CHARS, description="What to steer away from."
    )
    seed: int = Field(
        0, title="Seed", ge=0, le=MAX_SEED, description="Seed of the initial noise; image i uses seed + i."
    )
    num_inference_steps: int = Field(25, title="Steps", ge=1, le=150, description="Denoising steps.")
    guidance_scale: float = Field(
        7.0,
        title="Guidance scale",
        ge=0.0,
        le=30.0,
        description="How strongly the prompt steers: classifier-free guidance (CFG) on SD1.5 and SDXL, FLUX.1's "
        "distilled guidance (3.5 by default).",
    )
    width: int = Field(
        512, title="Width", ge=64, le=2048, multiple_of=8, description="Output width in pixels (multiple of 8)."
    )
    height: int = Field(
        512, title="Height", ge=64, le=2048, multiple_of=8, description="Output height in pixels (multiple of 8)."
    )
    scheduler: SchedulerName = Field("dpmpp_2m_karras", title="Sampler", description="Sampler used for denoising.")

    @model_validator(mode="before")
    @classmethod
    def _family_size(cls, data: Any) -> Any:
        # SDXL draws at 1024² natively: a request for it without a size is not asked to draw at SD1.5's 512². FLUX
        # also gets its own guidance and sampler when it names none.
        if isinstance(data, dict) and data.get("family") in FAMILIES:
            family = FAMILIES[data["family"]]
            defaults = {"width": family.default_size, "height": family.default_size}
            if family.default_guidance is not None:
                defaults["guidance_scale"] = family.default_guidance
            if family.own_sampler:
                defaults["scheduler"] = "euler"
            data = {**{name: value for name, value in defaults.items() if name not in data}, **data}
        return data

    def common(self) -> dict[str, Any]:
        """Just the shared settings, e.g. to build a :class:`GenerationRequest` from a comparison."""
        return {name: getattr(self, name) for name in CommonSettings.model_fields}


class GenerationRequest(CommonSettings):
    """Everything one generation needs: the shared settings plus the conditioning."""

    num_images_per_prompt: int = Field(
        1, title="Images per run", ge=1, le=8, description="Images generated, on seeds seed … seed+n-1."
    )
    controls: list[ControlSettings] = Field(
        title="ControlNets",
        default_factory=list,
        max_length=MAX_CONTROLS,
        description="ControlNets applied together (multi-ControlNet).",
    )
    ip_adapter: IPAdapterSettings | None = Field(
        None, title="IP-Adapter", description="IP-Adapter image prompt, if any."
    )

    @model_validator(mode="after")
    def _one_control_per_type(self) -> GenerationRequest:
        check_one_control_per_type([c.control_type for c in self.controls])
        check_adapters(self.family, self.controls, self.width, self.height)
        types = [c.control_type for c in self.controls]
        ip_mode = None if self.ip_adapter is None else self.ip_adapter.mode
        check_family(self.family, types, ip_mode, self.width, self.height)
        return self

    @property
    def method(self) -> str:
        """A short name of the conditioning used, e.g. ``text``, ``depth``, ``canny+pose+ip_adapter``."""
        parts = [part_name(c.control_type, adapter=c.adapter) for c in self.controls]
        if self.ip_adapter is not None:
            parts.append("ip_adapter")
        return "+".join(parts) or "text"

    def settings_dict(self) -> dict[str, Any]:
        """The serialisable settings (no images)."""
        return self.model_dump(mode="json")


register_titles(ControlStrength, ControlSettings, IPAdapterScale, IPAdapterSettings, CommonSettings, GenerationRequest)


def describe_errors(error: ValidationError) -> str:
    """One line per problem: which field, what was received, what is allowed."""
    lines = []
    for item in error.errors():
        where = describe_field(item["loc"])
        received = item.get("input")
        shown = repr(received)
        if len(shown) > 60:
            shown = f"{shown[:57]}… ({len(received) if hasattr(received, '__len__') else '?'} long)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message} (received {shown})")
    return "; ".join(lines)


def whole_number(value: Any) -> Any:
    """An integral float (sliders and JSON clients send ``512.0``) as an int; anything else unchanged.

    A fraction, NaN or infinity is left as it is, so the schema refuses it with the field named
    instead of it being silently rounded.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: Any, prefix: str, **options: Any) -> Model:
    """``data`` as a ``model``, or one :class:`StudioError` starting with ``prefix`` that names every problem.

    Args:
        model: The pydantic model to validate into (an instance of it is returned as it is).
        data: The untrusted input, usually a dict.
        prefix: What was being validated, e.g. ``"Invalid request — "``.
        **options: Passed to ``model_validate`` (e.g. ``strict=True``).
    """
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data, **options)
    except ValidationError as error:
        raise StudioError(prefix + describe_errors(error)) from None
    except StudioError as error:  # raised by code a validator calls, outside pydantic's own wrapping
        raise StudioError(prefix + str(error)) from None


def parse_request(data: dict[str, Any] | GenerationRequest) -> GenerationRequest:
    """Validate ``data`` into a request, raising :class:`StudioError` with a readable message."""
    return validated(GenerationRequest, data, "Invalid request — ")


class _WithoutImages(GenerateJsonSchema):
    """A JSON schema generator that leaves out fields no JSON can hold (the PIL images of a request)."""

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> JsonSchemaValue:
        raise PydanticOmit


# The JSON schema's names for pydantic's bounds, as the sliders and messages name them.
_BOUND_NAMES = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "multipleOf": "multiple_of",
}


@lru_cache(maxsize=64)
def _properties(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(schema_generator=_WithoutImages)["properties"]


def field_bounds(model: type[BaseModel], name: str) -> dict[str, Any]:
    """Bounds (``ge``, ``le``, ``gt``, ``lt``, ``multiple_of``), default and description of a numeric field,
    read from the model's JSON schema, for building UI sliders."""
    prop = _properties(model)[name]
    bounds: dict[str, Any] = {"default": prop.get("default"), "description": prop.get("description")}
    bounds.update({_BOUND_NAMES[key]: value for key, value in prop.items() if key in _BOUND_NAMES})
    return bounds
