"""What a reader of another tool's metadata returns, and the one place its values are checked.

Every reader (:mod:`app.recipes.a1111`, :mod:`app.recipes.other_tools`) fills a :class:`Reading` with the values it
found, unchecked. :func:`settle` turns them into settings the studio accepts — each value checked against the same
bounds as the sliders, sampler names mapped to the studio's samplers, sizes rounded to the nearest allowed one,
control bytes stripped, the family decided from evidence — and says in plain words what it changed or left out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from app.controls import CONTROL_TYPES, type_named
from app.engine.families import FAMILIES
from app.recipes.schema import RecipeControl, RecipeIPAdapter
from app.request import MAX_CONTROLS, MAX_PROMPT_CHARS, CommonSettings, check_adapters
from app.request.generation import MAX_SEED
from app.samplers import SCHEDULER_LABELS

DEFAULT_SAMPLER = "dpmpp_2m_karras"


@dataclass
class Reading:
    """One tool's metadata, read.

    Attributes:
        tool: Where it came from, for the message ("a ComfyUI workflow").
        fields: Candidate values by request field name, unchecked; ``scheduler`` is ``(sampler, schedule)`` as the
            tool spells them.
        found: What the image records that the studio does not restore ("LoRA", "ControlNet canny strength 0.8").
        notes: Remarks on what was read.
        family_hints: Evidence for the model family: ``(family, why)``.
        controls: The ControlNets it records, unchecked.
        ip_adapter: The IP-Adapter it records, as :class:`~app.recipes.schema.RecipeIPAdapter` fields (``scale``,
            ``mode``; empty when it records none), unchecked; None: no IP-Adapter.
    """

    tool: str
    fields: dict[str, Any] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    family_hints: list[tuple[str, str]] = field(default_factory=list)
    controls: list[ReadControl] = field(default_factory=list)
    ip_adapter: dict[str, Any] | None = None


@dataclass
class ReadControl:
    """One ControlNet as a tool records it: the names that may say its type, most telling first (a union type, a
    preprocessor, a model file; see :func:`app.controls.type_named`), and its strength and guidance range, unchecked
    (None: not recorded). The map image itself is never in the metadata: the user supplies a photo."""

    names: tuple[str, ...]
    strength: Any = None
    start: Any = None
    end: Any = None


class NotThisTool(ValueError):
    """The metadata is not this reader's tool (the next reader is tried)."""


# Sampler base names as A1111, ComfyUI, InvokeAI, NovelAI and SwarmUI spell them → the studio's sampler.
_SAMPLER_NAMES = {
    "dpm++ 2m": "dpmpp_2m_karras",
    "dpmpp_2m": "dpmpp_2m_karras",
    "dpmpp_2m_k": "dpmpp_2m_karras",
    "k_dpmpp_2m": "dpmpp_2m_karras",
    "euler a": "euler_a",
    "euler_a": "euler_a",
    "euler_ancestral": "euler_a",
    "k_euler_ancestral": "euler_a",
    "euler": "euler",
    "k_euler": "euler",
    "ddim": "ddim",
    "unipc": "unipc",
    "uni_pc": "unipc",
    "uni_pc_bh2": "unipc",
}
# Schedules that are a sampler's own (A1111's "Automatic", ComfyUI's "normal", DDIM's "uniform"), not a change.
_OWN_SCHEDULES = {"", "automatic", "normal", "default", "none", "simple", "uniform", "ddim_uniform"}


def match_sampler(sampler: Any, schedule: Any = None) -> tuple[str | None, str | None]:
    """The studio's sampler for a tool's sampler and schedule names, and a note when the match is not exact.

    ``DPM++ 2M Karras`` (old A1111 style) and ``DPM++ 2M`` + ``Karras`` (new style) are one sampler; a schedule the
    studio's sampler does not use (``Euler a`` + ``Karras``) keeps the sampler and says so.
    """
    name = re.sub(r"\s+", " ", str(sampler or "")).strip().lower()[:60]
    schedule = str(schedule or "").strip().lower()[:30]
    if name.endswith(" karras"):
        name, schedule = name.removesuffix(" karras"), schedule or "karras"
    ours = _SAMPLER_NAMES.get(name)
    if ours is None:
        known = ", ".join(SCHEDULER_LABELS.values())
        shown = f"{sampler}" + (f" + {schedule}" if schedule else "")
        return None, f"sampler {shown[:50]!r} has no match here; using {SCHEDULER_LABELS[DEFAULT_SAMPLER]} ({known})"
    label = SCHEDULER_LABELS[ours]
    # A1111's "Automatic" schedule for DPM++ 2M is Karras too.
    exact = schedule in (("", "automatic", "karras") if ours == "dpmpp_2m_karras" else _OWN_SCHEDULES)
    return ours, None if exact else f"schedule {schedule!r} is not offered with {label}: its own schedule is used"


_CONTROL_BYTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SIZE_STEP = 8


def settle(reading: Reading, image_size: tuple[int, int] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The settings a reading restores, checked, and the notes on what was changed or left at its default.

    Args:
        reading: What a reader found.
        image_size: The image's own size (the size when the tool recorded none; evidence for the family).

    Returns:
        ``(settings, notes)``: settings that validate against :class:`~app.request.CommonSettings`.
    """
    raw, notes = dict(reading.fields), list(reading.notes)
    found: dict[str, Any] = {}
    for key in ("prompt", "negative_prompt"):
        text = raw.pop(key, None)
        if isinstance(text, str) and (clean := _clean_text(text, key, notes)):
            found[key] = clean
    sampler = raw.pop("scheduler", None)
    if sampler is not None and any(sampler):
        name, note = match_sampler(*sampler)
        if name is not None:
            raw["scheduler"] = name
        if note:
            notes.append(note)
    if raw.get("width") is None and raw.get("height") is None and image_size is not None:
        raw["width"], raw["height"] = image_size
    _numbers(raw, notes)
    raw["seed"] = _seed(raw.get("seed"), notes)
    family, why = decide_family(reading.family_hints, _int_or_none(raw.get("width")), _int_or_none(raw.get("height")))
    if family is not None:
        raw["family"] = family
    notes.append(why)
    found.update(_accepted(CommonSettings, raw, notes))
    controls = _controls(reading.controls, notes)
    if controls:
        found["controls"] = _adapters_kept(controls, reading.controls, found, notes)
    if reading.ip_adapter is not None:
        found["ip_adapter"] = _checked(RecipeIPAdapter, dict(reading.ip_adapter), "IP-Adapter", notes)
    return found, notes


_CONTROL_FIELDS = {"strength": "controlnet_conditioning_scale", "start": "control_guidance_start",
                   "end": "control_guidance_end"}  # fmt: skip


def _controls(read: list[ReadControl], notes: list[str]) -> list[dict[str, Any]]:
    """The recorded ControlNets as recipe controls: the type from their names, values checked against the sliders'
    bounds; one per type (the first), at most :data:`~app.request.MAX_CONTROLS`; the others said and left out."""
    controls: list[dict[str, Any]] = []
    unknown, surplus = [], []
    for control in read:
        kind, shown = type_named(*control.names), next((str(n)[:50] for n in control.names if n), "unnamed")
        if kind is None:
            unknown.append(shown)
        elif any(c["control_type"] == kind for c in controls) or len(controls) == MAX_CONTROLS:
            surplus.append(f"{shown} ({kind})")
        else:
            values = {ours: getattr(control, theirs) for theirs, ours in _CONTROL_FIELDS.items()}
            controls.append(_checked(RecipeControl, {"control_type": kind, **values}, f"ControlNet {kind}", notes))
    if unknown:
        notes.append(f"ControlNet {_some(unknown)} left out: not a type offered here ({', '.join(CONTROL_TYPES)})")
    if surplus:
        notes.append(f"ControlNet {_some(surplus)} left out: one per type, at most {MAX_CONTROLS} in all")
    return controls


def _adapters_kept(controls: list[dict[str, Any]], read: list[ReadControl], found: dict[str, Any], notes: list[str]):
    """Mark the controls a tool ran as T2I-Adapters (a name with ``t2i``) where the recipe can run them so (see
    :func:`~app.request.check_adapters`: the family, all or none, the window, the size); else they stay ControlNets
    of their type, and the note says so."""
    marked = {type_named(*c.names) for c in read if any("t2i" in str(n).lower() for n in c.names)} - {None}
    if not marked:
        return controls
    adapted = [{**c, "adapter": c["control_type"] in marked} for c in controls]
    family = found.get("family", CommonSettings.model_fields["family"].default)
    size = (found.get("width", FAMILIES[family].default_size), found.get("height", FAMILIES[family].default_size))
    try:
        check_adapters(family, [RecipeControl.model_validate(c) for c in adapted], *size)
    except ValueError as error:
        notes.append(f"T2I-Adapter {', '.join(sorted(marked))} restored as its ControlNet: {error}")
        return controls
    return adapted


def _some(names: list[str], shown: int = 3) -> str:
    """``'a', 'b', 'c' and 4 more``."""
    listed = ", ".join(repr(n) for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _accepted(
    model: type[BaseModel],
    values: dict[str, Any],
    notes: list[str],
    what: str = "",
    fixed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``values`` (None: not recorded) that ``model`` accepts each on its own, strictly, beside ``fixed``; each one
    it refuses is said (as ``what: Title`` when ``what`` names the part, else by field name) and left out."""
    kept = {}
    for name, value in values.items():
        if value is None:
            continue
        try:
            model.model_validate({**(fixed or {}), name: value}, strict=True)
        except ValidationError as error:
            shown = f"{what}: {model.model_fields[name].title or name}" if what else f"{name}:"
            notes.append(f"{shown} {str(value)[:40]!r} left at its default ({error.errors()[0]['msg']})")
            continue
        kept[name] = value
    return kept


def _checked(model: type[BaseModel], values: dict[str, Any], what: str, notes: list[str]) -> dict[str, Any]:
    """``values`` that ``model`` accepts, read as numbers; each one it refuses is said and left at its default."""
    fixed = {k: v for k, v in values.items() if k == "control_type"}
    numbers = {k: _number(v) for k, v in values.items() if k not in fixed and v is not None and v != ""}
    numbers = {k: float(v) if isinstance(v, int) else v for k, v in numbers.items()}
    kept = {**fixed, **_accepted(model, numbers, notes, what, fixed)}
    try:
        return model.model_validate(kept).model_dump()
    except ValidationError as error:  # each value fits but not together (a guidance range that ends before it starts)
        notes.append(f"{what}: {error.errors()[0]['msg']}; its defaults used")
        return model.model_validate(fixed).model_dump()


def _clean_text(text: str, key: str, notes: list[str]) -> str:
    clean = _CONTROL_BYTES.sub("", text).strip()
    if clean != text.strip():
        notes.append(f"control characters removed from the {key.replace('_', ' ')}")
    if len(clean) > MAX_PROMPT_CHARS:
        notes.append(f"{key.replace('_', ' ')} cut to {MAX_PROMPT_CHARS} characters (it had {len(clean):,})")
        clean = clean[:MAX_PROMPT_CHARS]
    return clean


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> Any:
    """A number from a tool's value (``7``, ``7.5``, ``"25"``); anything else as it was (the schema refuses it)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 24:
            return value
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return value
            return number if math.isfinite(number) else value
    return value


def _numbers(raw: dict[str, Any], notes: list[str]) -> None:
    """Sizes rounded to the nearest multiple of 8 (said), steps and CFG as numbers."""
    for name in ("width", "height"):
        value = _number(raw.get(name))
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and value % _SIZE_STEP:
            rounded = max(_SIZE_STEP, round(value / _SIZE_STEP) * _SIZE_STEP)
            notes.append(f"{name} {value} rounded to {rounded} (sizes are multiples of {_SIZE_STEP})")
            value = rounded
        raw[name] = value
    for name in ("num_inference_steps", "guidance_scale"):
        value = _number(raw.get(name))
        if name == "num_inference_steps" and isinstance(value, float) and value.is_integer():
            value = int(value)
        if name == "guidance_scale" and isinstance(value, int):
            value = float(value)
        raw[name] = value


def _seed(value: Any, notes: list[str]) -> Any:
    value = _number(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value > MAX_SEED:
        notes.append(f"seed {value} is beyond the largest the page holds exactly ({MAX_SEED:,}); left at its default")
        return None
    return value


# Pixel counts: SD1.5 works around 512² (0.26 MP), SDXL around 1024² (1.05 MP).
_SDXL_FROM_PIXELS, _SD15_UP_TO_PIXELS = 0.75 * 1024 * 1024, 0.45 * 1024 * 1024


def decide_family(hints: list[tuple[str, str]], width: int | None, height: int | None) -> tuple[str | None, str]:
    """The family the evidence points to and a note saying why; None (the default family) when unsure.

    The tool's own word and the model's architecture come first; then the size: SDXL generates about a megapixel,
    SD1.5 about a quarter of one. A checkpoint's name is never evidence.
    """
    families = {family for family, _ in hints if family in FAMILIES}
    if len(families) == 1:
        family = families.pop()
        return family, f"{FAMILIES[family].label}, from {hints[0][1]}"
    if width and height:
        pixels = width * height
        if pixels >= _SDXL_FROM_PIXELS:
            return "sdxl", f"{FAMILIES['sdxl'].label}, from its size ({width}×{height}, an SDXL size)"
        if pixels <= _SD15_UP_TO_PIXELS:
            return "sd15", f"{FAMILIES['sd15'].label}, from its size ({width}×{height}, an SD1.5 size)"
    default = FAMILIES[CommonSettings.model_fields["family"].default].label
    return None, f"model family unsure from what the image records: {default} assumed, change Model if it is wrong"
