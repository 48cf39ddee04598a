"""The recipe schema: the serialisable, versioned form of a generation or a comparison.

The models here are built *from* the request models (:mod:`app.request`,
:mod:`app.request.compare`): they inherit from them or copy their fields, bounds and
descriptions, so a recipe can never accept a value the studio would refuse, and
the UI sliders (built from the same fields) cannot drift from either.

Trust model. A recipe is data only and may come from anyone (a link, a file,
a PNG). The guarantee is structural: no field of the schema names a model, a
file, a URL or code. Every string field is one of

* a closed choice (``Literal``: model family, scheduler, control type, IP-Adapter mode, fit, mode, tab),
* a registry name checked against :data:`app.preprocess.REGISTRY` (detectors, method strings),
* a bundled-asset name checked against the files in ``assets/`` (see :mod:`app.recipes.assets`),
* or free text that only ever reaches the tokenizer or a label (prompt, negative prompt, title, description).

Free text is not filtered for "URL-like" content: people write ``a/b`` and
``https://`` in prompts, and a prompt can do nothing but be tokenised. Titles and
descriptions must be one line without control characters, and the UI shows them
as plain text. Numbers must be finite and within the request bounds; unknown
keys are refused everywhere (``extra="forbid"``).
"""

from __future__ import annotations

import copy
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo

from app.controls import ControlTypeName, part_name
from app.preprocess import DEFAULTS
from app.recipes.assets import check_asset_name
from app.request import (
    MAX_CONTROLS,
    CommonSettings,
    ControlSettings,
    ControlStrength,
    GenerationRequest,
    IPAdapterScale,
    check_adapters,
    check_family,
    check_one_control_per_type,
)
from app.request.compare import CompareRequest, check_detector, check_detector_params

SCHEMA_VERSION = 3
MAX_TITLE_CHARS = 80
MAX_DESCRIPTION_CHARS = 240

Mode = Literal["generate", "compare"]
Tab = Literal["text", "controlnet", "ip_adapter"]
AssetName = Annotated[str, AfterValidator(check_asset_name)]
ParamValue = bool | int | float

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _field(model: type[BaseModel], name: str) -> FieldInfo:
    """A copy of a request model's field: same type bounds, default and description."""
    return copy.deepcopy(model.model_fields[name])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RecipeControl(ControlStrength):
    """One ControlNet of a single generation, stored as how to make its map (never the map itself)."""

    model_config = ConfigDict(arbitrary_types_allowed=False)

    control_type: ControlTypeName = _field(ControlSettings, "control_type")
    adapter: bool = _field(ControlSettings, "adapter")
    detector: str | None = Field(
        None, max_length=40, description="Detector that makes the map from the structure photo; None: the default."
    )
    detector_params: dict[str, ParamValue] = Field(
        default_factory=dict, max_length=16, description="The detector's parameters, e.g. {'low_threshold': 50}."
    )

    # Field validators (not one model validator) so an error names ``controls.N.detector`` itself.
    @field_validator("detector")
    @classmethod
    def _known_detector(cls, detector: str | None, info: ValidationInfo) -> str | None:
        if detector is not None and "control_type" in info.data:
            check_detector(info.data["control_type"], detector)
        return detector

    @field_validator("detector_params")
    @classmethod
    def _known_params(cls, params: dict[str, ParamValue], info: ValidationInfo) -> dict[str, ParamValue]:
        if "control_type" in info.data and "detector" in info.data:
            check_detector_params(info.data["detector"] or DEFAULTS[info.data["control_type"]], params)
        return params

    @property
    def resolved_detector(self) -> str:
        """The detector name, the control type's default filled in."""
        return self.detector or DEFAULTS[self.control_type]


RecipeIPAdapter = IPAdapterScale  # the request's own model: scale and mode, never the image


class GenerationSettings(CommonSettings):
    """A single generation: the shared settings plus its ControlNets and IP-Adapter, without images."""

    model_config = ConfigDict(arbitrary_types_allowed=False)

    num_images_per_prompt: int = _field(GenerationRequest, "num_images_per_prompt")
    controls: list[RecipeControl] = Field(
        default_factory=list,
        max_length=MAX_CONTROLS,
        description="ControlNets applied together, each with its detector.",
    )
    ip_adapter: RecipeIPAdapter | None = Field(
        None, description="IP-Adapter scale and mode, if the IP-Adapter is used."
    )
    fit: Literal["crop", "pad"] = _field(CompareRequest, "fit")

    @model_validator(mode="after")
    def _one_control_per_type(self) -> GenerationSettings:
        check_one_control_per_type([c.control_type for c in self.controls], where="controls: ")
        check_adapters(self.family, self.controls, self.width, self.height, where="controls: ")
        types = [c.control_type for c in self.controls]
        ip_mode = None if self.ip_adapter is None else self.ip_adapter.mode
        check_family(self.family, types, ip_mode, self.width, self.height, where="ip_adapter/controls: ")
        return self

    @property
    def method(self) -> str:
        """The method string of this generation, e.g. ``text``, ``depth:midas+ip_adapter``."""
        parts = [part_name(c.control_type, None if c.detector in (None, DEFAULTS[c.control_type]) else c.detector,
                           c.adapter) for c in self.controls]  # fmt: skip
        return "+".join(parts + ["ip_adapter"] * (self.ip_adapter is not None)) or "text"


class CompareSettings(CompareRequest):
    """A comparison: :class:`~app.request.compare.CompareRequest` itself (it checks its detectors and parameters)."""

    model_config = ConfigDict(arbitrary_types_allowed=False)

    @property
    def method(self) -> str:
        """The methods joined by commas, for labels."""
        return ", ".join(m.name for m in self.parsed_methods())


class ImageRefs(_Strict):
    """Which bundled photos the recipe uses; None means the user supplies that image."""

    structure: AssetName | None = Field(
        None, description="Bundled photo the ControlNet maps are made from (None: the user supplies one)."
    )
    reference: AssetName | None = Field(
        None, description="Bundled photo used as the IP-Adapter reference (None: the user supplies one)."
    )


class Recipe(_Strict):
    """Everything needed to reproduce a generation or a comparison, except images the user supplies.

    Exactly one of ``generate`` / ``compare`` is set, matching ``mode``.
    """

    schema_version: Literal[3] = Field(SCHEMA_VERSION, description="Recipe format version; older ones are migrated.")
    title: str = Field("", max_length=MAX_TITLE_CHARS, description="Short name shown in the presets menu.")
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS, description="One line: what this recipe shows.")
    mode: Mode = Field(description="'generate': one generation from a tab; 'compare': several methods on one seed.")
    tab: Tab | None = Field(None, description="For 'generate': the tab it belongs to (derived when None).")
    generate: GenerationSettings | None = Field(None, description="Settings of a single generation (mode 'generate').")
    compare: CompareSettings | None = Field(None, description="Settings of a comparison (mode 'compare').")
    images: ImageRefs = Field(default_factory=ImageRefs, description="Bundled photos the recipe uses.")

    @field_validator("title", "description")
    @classmethod
    def _one_line(cls, text: str) -> str:
        if _CONTROL_CHARS.search(text):
            raise ValueError("must be one line of text without control characters")
        return text

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        other = "compare" if self.mode == "generate" else "generate"
        if getattr(self, self.mode) is None:
            raise ValueError(f"mode {self.mode!r} needs a '{self.mode}' section, received none")
        if getattr(self, other) is not None:
            raise ValueError(f"mode {self.mode!r} takes no '{other}' section; remove it or set mode to {other!r}")
        if self.tab is not None:
            if self.mode == "compare":
                raise ValueError("tab: only a 'generate' recipe belongs to a tab; remove it for 'compare'")
            self._check_tab(self.generate, self.tab)
        needs_structure, needs_reference = self.needs_images()
        if self.images.structure is not None and not needs_structure:
            raise ValueError("images.structure: this recipe uses no ControlNet, so it takes no structure photo")
        if self.images.reference is not None and not needs_reference:
            raise ValueError("images.reference: this recipe does not use the IP-Adapter, so it takes no reference")
        return self

    @staticmethod
    def _check_tab(settings: GenerationSettings, tab: str) -> None:
        if tab == "text" and (settings.controls or settings.ip_adapter is not None):
            raise ValueError("tab 'text' takes no controls and no ip_adapter; use tab 'controlnet' or 'ip_adapter'")
        if tab == "controlnet" and not settings.controls:
            raise ValueError("tab 'controlnet' needs at least one entry in generate.controls")
        if tab == "ip_adapter" and settings.ip_adapter is None:
            raise ValueError("tab 'ip_adapter' needs generate.ip_adapter")

    @property
    def settings(self) -> GenerationSettings | CompareSettings:
        """The section that ``mode`` selects."""
        return self.generate if self.mode == "generate" else self.compare  # type: ignore[return-value]

    @property
    def ui_tab(self) -> str:
        """The tab a single generation opens in (``tab``, or derived from its conditioning); ``compare`` otherwise.

        An IP-Adapter with at most one ControlNet opens in the IP-Adapter tab whatever ``tab`` says: it is
        the only tab that shows the IP-Adapter (and it holds one ControlNet).
        """
        if self.mode == "compare":
            return "compare"
        if self.generate.ip_adapter is not None and len(self.generate.controls) <= 1:
            return "ip_adapter"
        if self.tab is not None:
            return self.tab
        if self.generate.controls:
            return "controlnet"
        return "ip_adapter" if self.generate.ip_adapter is not None else "text"

    @property
    def method(self) -> str:
        """The method string (generate) or the methods (compare), for labels."""
        return self.settings.method

    def needs_images(self) -> tuple[bool, bool]:
        """Whether the recipe needs ``(a structure photo, a reference image)`` to run."""
        if self.mode == "generate":
            return bool(self.generate.controls), self.generate.ip_adapter is not None
        methods = self.compare.parsed_methods()
        return any(m.controls for m in methods), any(m.ip_adapter for m in methods)
