"""The A1111-style ``parameters`` text: written so other tools show our settings, read best-effort from theirs.

The format (AUTOMATIC1111 / Forge / many viewers)::

    a photo of a cat
    Negative prompt: blurry
    Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 42, Size: 512x768, Model: ...

Reading is best-effort and never trusted beyond the schema: only prompt, negative prompt, steps, sampler, CFG scale,
seed, size and the ControlNet units (sd-webui-controlnet's, the studio's own) are read (:func:`read_parameters`),
each checked by :func:`app.recipes.reading.settle` against the request bounds; a value that does not fit is left at
its default and reported, and every other key (model names and hashes, LoRAs, hires settings, ...) is ignored and
listed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.engine.families import FAMILIES
from app.recipes.reading import NotThisTool, ReadControl, Reading, settle
from app.recipes.schema import GenerationSettings, Recipe
from app.samplers import SCHEDULER_LABELS

# Largest parameters text read; A1111 texts are a few hundred bytes (ComfyUI workflows are another key).
MAX_PARAMETERS_CHARS = 64 * 1024

_READ = ("Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model", "VAE", "Distilled CFG Scale")
DISTILLED_KEY = "Distilled CFG Scale"
"""Forge's item for FLUX's distilled guidance (its "CFG scale" is then 1: no classifier-free guidance)."""
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
        "CFG scale": 1 if FAMILIES[settings.family].distilled_guidance else settings.guidance_scale,
        **({DISTILLED_KEY: settings.guidance_scale} if FAMILIES[settings.family].distilled_guidance else {}),
        "Seed": settings.seed if seed is None else seed,
        "Size": f"{settings.width}x{settings.height}",
        "Model": FAMILIES[settings.family].label,
        "Conditioning": method or recipe.method,
    }
    if isinstance(settings, GenerationSettings):
        for control in settings.controls:
            items[f"{ADAPTER_KEY if control.adapter else 'ControlNet'} {control.control_type}"] = (
                f"{control.resolved_detector} weight {control.controlnet_conditioning_scale:g} "
                f"from {control.control_guidance_start:g} to {control.control_guidance_end:g}"
            )
        if settings.ip_adapter is not None:
            items["IP-Adapter"] = f"scale {settings.ip_adapter.scale:g} mode {settings.ip_adapter.mode}"
    items["Version"] = f"Conditioning Studio recipe v{recipe.schema_version}"
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in items.items()))
    return "\n".join(lines)


def _split(text: str) -> tuple[str, str, dict[str, str], str]:
    """(prompt, negative prompt, key → raw value, text after the settings line) as A1111 writes them.

    The settings line is the last line that starts with ``Steps:`` (A1111 always starts it so), else the last line
    when it holds three or more ``key: value`` items; lines after it (old Dynamic Prompts templates) are returned
    apart instead of turning the settings into the negative prompt.
    """
    lines = text.strip().split("\n")
    at = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("Steps: ")), None)
    if at is None and lines and len(_ITEM.findall(lines[-1])) >= 3:
        at = len(lines) - 1
    items: dict[str, str] = {}
    after = ""
    if at is not None:
        after = "\n".join(lines[at + 1 :]).strip()
        for key, value in _ITEM.findall(lines[at]):
            value = value.strip()
            if value.startswith('"') and value.endswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = value[1:-1]
            items.setdefault(key.strip(), str(value))
        lines = lines[:at]
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative
            line = line[len("Negative prompt:") :].lstrip()
        target.append(line)
    return "\n".join(prompt).strip(), "\n".join(negative).strip(), items, after


def read_parameters(text: str) -> Reading:
    """What an A1111 ``parameters`` text records, unchecked (:func:`app.recipes.reading.settle` checks it).

    Raises:
        NotThisTool: the text holds neither a prompt nor a settings line.
    """
    reading = Reading("A1111-style parameters")
    if len(text) > MAX_PARAMETERS_CHARS:
        reading.notes.append(
            f"the parameters text is {len(text):,} characters; only the first {MAX_PARAMETERS_CHARS:,} read"
        )
        text = text[:MAX_PARAMETERS_CHARS]
    prompt, negative, items, after = _split(text)
    if not prompt and not items:
        raise NotThisTool("the parameters text holds no prompt or settings")
    if after:
        reading.notes.append(f"text after the settings line ignored ({after[:40]!r})")
    size = _SIZE.match(items.get("Size", ""))
    reading.fields.update(
        prompt=prompt,
        negative_prompt=negative,
        num_inference_steps=items.get("Steps"),
        seed=items.get("Seed"),
        guidance_scale=items.get("CFG scale"),
        width=int(size[1]) if size else items.get("Size"),
        height=int(size[2]) if size else items.get("Size"),
    )
    if "Sampler" in items:
        reading.fields["scheduler"] = (items["Sampler"], items.get("Schedule type"))
    family = next((f.name for f in FAMILIES.values() if items.get("Model") == f.label), None)
    if family is not None:  # the studio's own images name their family exactly
        reading.family_hints.append((family, "the family the image names"))
    if DISTILLED_KEY in items:  # Forge's FLUX images (and the studio's): the guidance FLUX takes is this one
        reading.fields["guidance_scale"] = items[DISTILLED_KEY]
        reading.family_hints.append(("flux", f"its {DISTILLED_KEY} (FLUX's guidance)"))
    if "sdxl" in items.get("VAE", "").lower():
        reading.family_hints.append(("sdxl", f"its SDXL VAE ({items['VAE'][:40]})"))
    ignored = sorted(set(items) - set(_READ) - _read_conditioning(items, reading))
    if ignored:
        reading.found.append(", ".join(ignored[:8]) + (f" and {len(ignored) - 8} more" if len(ignored) > 8 else ""))
    return reading


# sd-webui-controlnet's keys: "ControlNet 0: "Module: canny, Model: …, Weight: 1, Guidance Start: 0, …"" (1.1+), and
# "ControlNet Module: canny" / "ControlNet-0 Module: canny" before it; the studio's own "ControlNet canny: canny
# weight 1 from 0 to 1" (``T2I-Adapter canny: …`` through its T2I-Adapter) and "IP-Adapter: scale 0.6 mode full".
_UNIT = re.compile(r"^ControlNet(?:[ -](\d+))?(?: (Module|Model|Weight|Guidance Start|Guidance End|Enabled))?$")
_OURS = re.compile(r"^(\S+) weight (\S+) from (\S+) to (\S+)$")
ADAPTER_KEY = "T2I-Adapter"
"""The studio's own item for a map applied through a T2I-Adapter: ``T2I-Adapter canny: canny weight 1 from 0 to 1``."""
_OUR_IP_ADAPTER = re.compile(r"^scale (\S+) mode (\S+)$")


def _read_conditioning(items: dict[str, str], reading: Reading) -> set[str]:
    """The ControlNet and IP-Adapter units ``items`` record, into ``reading``; returns the keys read."""
    units: dict[str, dict[str, str]] = {}
    used: set[str] = set()
    for key, value in items.items():
        if (unit := _UNIT.match(key)) is not None:
            fields = dict(_ITEM.findall(value)) if unit[2] is None else {unit[2]: value}
            units.setdefault(unit[1] or "", {}).update({k.strip(): v.strip() for k, v in fields.items()})
            used.add(key)
        elif key.startswith(("ControlNet ", f"{ADAPTER_KEY} ")) and (ours := _OURS.match(value)) is not None:
            through, _, kind = key.partition(" ")  # a T2I-Adapter's names say so (see reading._adapters_kept)
            names = (kind, ours[1], *(["t2i-adapter"] if through == ADAPTER_KEY else []))
            reading.controls.append(ReadControl(names, *ours.group(2, 3, 4)))
            used.add(key)
        elif key == "IP-Adapter" and (ours := _OUR_IP_ADAPTER.match(value)) is not None:
            reading.ip_adapter = {"scale": ours[1], "mode": ours[2]}
            used.add(key)
    for unit in units.values():
        names = tuple(n for n in (unit.get("Module", ""), unit.get("Model", "")) if n and n.lower() != "none")
        if unit.get("Enabled", "True") != "True" or not names:
            continue
        if any(word in name.lower() for name in names for word in ("ip-adapter", "ip_adapter")):
            if reading.ip_adapter is None:
                reading.ip_adapter = {"scale": unit.get("Weight")}
            continue
        reading.controls.append(
            ReadControl(names, unit.get("Weight"), unit.get("Guidance Start"), unit.get("Guidance End"))
        )
    return used


def parse_parameters(text: str) -> tuple[dict[str, Any], list[str]]:
    """Read the fields the studio restores from an A1111 ``parameters`` text.

    Args:
        text: The text chunk (untrusted).

    Returns:
        ``(settings, notes)``: settings that validate against :class:`~app.request.CommonSettings`
        (keys among prompt, negative_prompt, num_inference_steps, scheduler, guidance_scale, seed,
        width, height, family) and plain-language notes on what was cut, left at its default or ignored.
    """
    try:
        reading = read_parameters(text)
    except NotThisTool:
        return {}, []
    fields, notes = settle(reading)
    if reading.found:
        notes.append(f"ignored: {'; '.join(reading.found)}")
    return fields, notes
