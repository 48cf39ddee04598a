"""The A1111-style ``parameters`` text: written so other tools show our settings, read best-effort from theirs.

The format (AUTOMATIC1111 / Forge / many viewers)::

    a photo of a cat
    Negative prompt: blurry
    Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 42, Size: 512x768, Model: ...

Reading is best-effort and never trusted beyond the schema: only prompt,
negative prompt, steps, sampler (mapped to our scheduler names when known),
CFG scale, seed and size are read, each validated against the request bounds;
a value that does not fit is left at its default and reported, and every other
key (model names and hashes, LoRAs, hires settings, ...) is ignored and listed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from app.engine.families import FAMILIES
from app.recipes.schema import GenerationSettings, Recipe
from app.request import MAX_PROMPT_CHARS, CommonSettings
from app.samplers import SCHEDULER_LABELS

# Largest parameters text read; A1111 texts are a few hundred bytes (ComfyUI workflows are another key).
MAX_PARAMETERS_CHARS = 64 * 1024

# A1111 sampler labels (old "DPM++ 2M Karras" and new "DPM++ 2M" + "Schedule type: Karras" styles) → our names.
_SAMPLERS = {
    "dpm++ 2m karras": "dpmpp_2m_karras",
    "euler a": "euler_a",
    "euler": "euler",
    "unipc": "unipc",
    "ddim": "ddim",
}
_READ = ("Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model")
# A1111's own pattern for one "key: value" item; values with commas or colons are JSON-quoted.
_ITEM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^\s*(\d{1,5})\s*x\s*(\d{1,5})\s*$")


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ',:\n"') else text


def format_parameters(recipe: Recipe, *, seed: int | None = None, method: str | None = None) -> str:
    """The A1111 ``parameters`` text of one image of ``recipe``.

    Args:
        recipe: The recipe that produced the image.
        seed: The image's own seed (``seed + i`` for image i of a batch); default the recipe's seed.
        method: The method that produced this image (comparisons); default the recipe's method.
    """
    settings = recipe.settings
    lines = [settings.prompt]
    if settings.negative_prompt:
        lines.append(f"Negative prompt: {settings.negative_prompt}")
    items = {
        "Steps": settings.num_inference_steps,
        "Sampler": SCHEDULER_LABELS.get(settings.scheduler, settings.scheduler),
        "CFG scale": settings.guidance_scale,
        "Seed": settings.seed if seed is None else seed,
        "Size": f"{settings.width}x{settings.height}",
        "Model": FAMILIES[settings.family].label,
        "Conditioning": method or recipe.method,
    }
    if isinstance(settings, GenerationSettings):
        for control in settings.controls:
            items[f"ControlNet {control.control_type}"] = (
                f"{control.resolved_detector} weight {control.controlnet_conditioning_scale:g} "
                f"from {control.control_guidance_start:g} to {control.control_guidance_end:g}"
            )
        if settings.ip_adapter is not None:
            items["IP-Adapter"] = f"scale {settings.ip_adapter.scale:g} mode {settings.ip_adapter.mode}"
    items["Version"] = f"Conditioning Studio recipe v{recipe.schema_version}"
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in items.items()))
    return "\n".join(lines)


def _split(text: str) -> tuple[str, str, dict[str, str]]:
    """(prompt, negative prompt, key → raw value) the way A1111's own parser splits them."""
    lines = text.strip().split("\n")
    items: dict[str, str] = {}
    if lines and len(_ITEM.findall(lines[-1])) >= 3:
        for key, value in _ITEM.findall(lines.pop()):
            value = value.strip()
            if value.startswith('"') and value.endswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = value[1:-1]
            items.setdefault(key.strip(), str(value))
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative
            line = line[len("Negative prompt:") :].lstrip()
        target.append(line)
    return "\n".join(prompt).strip(), "\n".join(negative).strip(), items


def parse_parameters(text: str) -> tuple[dict[str, Any], list[str]]:
    """Read the fields we understand from an A1111 ``parameters`` text.

    Args:
        text: The text chunk (untrusted).

    Returns:
        ``(settings, notes)``: settings that validate against :class:`~app.request.CommonSettings`
        (keys among prompt, negative_prompt, num_inference_steps, scheduler, guidance_scale, seed,
        width, height, family) and plain-language notes on what was cut, left at its default or ignored.
    """
    notes: list[str] = []
    if len(text) > MAX_PARAMETERS_CHARS:
        notes.append(f"the parameters text is {len(text):,} characters; only the first {MAX_PARAMETERS_CHARS:,} read")
        text = text[:MAX_PARAMETERS_CHARS]
    prompt, negative, items = _split(text)
    found: dict[str, Any] = {}
    for key, value in (("prompt", prompt), ("negative_prompt", negative)):
        if len(value) > MAX_PROMPT_CHARS:
            notes.append(f"{key} cut to {MAX_PROMPT_CHARS} characters (it had {len(value):,})")
            value = value[:MAX_PROMPT_CHARS]
        if value:
            found[key] = value
    raw: dict[str, Any] = {}
    for key, name in (("Steps", "num_inference_steps"), ("Seed", "seed")):
        if key in items:
            raw[name] = _number(items[key], int)
    if "CFG scale" in items:
        raw["guidance_scale"] = _number(items["CFG scale"], float)
    if "Size" in items:
        size = _SIZE.match(items["Size"])
        raw["width"], raw["height"] = (int(size[1]), int(size[2])) if size else (items["Size"], items["Size"])
    if "Model" in items:  # a checkpoint name: SDXL ones say so ("sd_xl_base_1.0", "juggernautXL_v9", ours)
        raw["family"] = "sdxl" if re.search(r"xl", items["Model"], re.IGNORECASE) else "sd15"
        notes.append(f"model {items['Model'][:40]!r} read as {FAMILIES[raw['family']].label}")
    if "Sampler" in items:
        sampler = items["Sampler"].strip()
        schedule = items.get("Schedule type", "").strip()
        if schedule and schedule.lower() != "automatic":
            sampler = f"{sampler} {schedule}"
        name = _SAMPLERS.get(sampler.lower())
        if name is None:
            notes.append(
                f"sampler {sampler[:40]!r} has no match here; using {SCHEDULER_LABELS['dpmpp_2m_karras']} "
                f"(known: {', '.join(SCHEDULER_LABELS.values())})"
            )
        else:
            raw["scheduler"] = name
    for name, value in raw.items():
        try:
            CommonSettings.model_validate({name: value}, strict=True)
        except ValidationError as error:
            problem = error.errors()[0]["msg"]
            notes.append(f"{name}: {str(value)[:40]!r} left at its default ({problem})")
            continue
        found[name] = value
    ignored = sorted(set(items) - set(_READ))
    if ignored:
        shown = ", ".join(ignored[:8]) + (f" and {len(ignored) - 8} more" if len(ignored) > 8 else "")
        notes.append(f"ignored: {shown}")
    return found, notes


def _number(text: str, kind: type) -> Any:
    text = text.strip()
    if len(text) > 24:
        return text  # refused by the schema with the field's name
    try:
        value = float(text)
    except ValueError:
        return text
    if kind is int and value.is_integer():
        return int(value)
    return value if kind is float else text
