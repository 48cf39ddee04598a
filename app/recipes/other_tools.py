"""Reading what other tools wrote into an image: A1111/Forge, ComfyUI, InvokeAI, NovelAI, Fooocus and SwarmUI.

Each reader turns one tool's metadata into a :class:`Reading`: the candidate values of the fields the studio
restores (prompt, negative prompt, seed, steps, CFG, sampler, size, family), the ControlNets (type, strength, range)
and IP-Adapter (weight) it records, what it found and does not restore (LoRAs, upscalers, model names), and notes.
:func:`settle` then checks every value against the sliders' bounds, maps sampler names, rounds sizes, strips control
bytes and decides the family from evidence; nothing read ever names a file, a model repository or code to load.

Why not a general reader package such as ``sd-parsers``: its ComfyUI reader needs the UI ``workflow`` chunk (an
image made through ComfyUI's API carries only the ``prompt`` graph) and finds no ControlNet or IP-Adapter nodes,
and its readers parse JSON of any size and depth. The formats are small; each is one function here, behind the
bounded reading of :mod:`app.recipes.metadata`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from app.engine.families import FAMILIES
from app.recipes.a1111 import read_parameters
from app.recipes.comfyui import WEIGHT_TYPES
from app.recipes.metadata import USER_COMMENT
from app.recipes.reading import NotThisTool, ReadControl, Reading

MAX_JSON_DEPTH = 64
"""Deepest JSON nesting read (real metadata nests a few levels; deeper is refused before parsing)."""
MAX_GRAPH_NODES = 2000
"""Most ComfyUI nodes looked at."""


def load_json(text: str, what: str) -> Any:
    """JSON from untrusted metadata, refusing nesting deeper than :data:`MAX_JSON_DEPTH` before parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                raise NotThisTool(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except ValueError:
        raise NotThisTool(f"{what} is not valid JSON") from None


# -- A1111 / Forge ---------------------------------------------------------------------------------------------------


def read_a1111(text: str) -> Reading:
    """A1111's ``parameters`` text (PNG chunk or EXIF comment): see :func:`app.recipes.a1111.read_parameters`."""
    if text.lstrip().startswith("{"):
        raise NotThisTool("JSON, not A1111 text")
    return read_parameters(text)


# -- ComfyUI ---------------------------------------------------------------------------------------------------------

_TEXT_INPUTS = ("text", "text_g", "text_l", "prompt")
_CONDITIONING_INPUTS = ("conditioning", "conditioning_1", "conditioning_2", "conditioning_to", "conditioning_from")
_NOT_READ = {
    "LoraLoader": "LoRA",
    "LoraLoaderModelOnly": "LoRA",
    "UpscaleModelLoader": "upscaler",
    "ImageUpscaleWithModel": "upscaler",
    "LatentUpscale": "latent upscale (hires fix)",
    "LatentUpscaleBy": "latent upscale (hires fix)",
    "VAELoader": "its own VAE",
    "FreeU": "FreeU",
    "FreeU_V2": "FreeU",
}


def read_comfyui(prompt_text: str) -> Reading:
    """ComfyUI's ``prompt`` chunk (the API graph that ran): the first sampler's seed, steps, CFG, sampler and
    scheduler, the texts its positive and negative inputs trace back to, the latent size, and the ControlNet and
    IP-Adapter nodes on the way."""
    graph = load_json(prompt_text, "the ComfyUI prompt")
    if not isinstance(graph, dict) or not graph or not all(isinstance(n, dict) for n in graph.values()):
        raise NotThisTool("not a ComfyUI prompt graph")
    nodes = {str(k): v for k, v in list(graph.items())[:MAX_GRAPH_NODES]}
    samplers = [k for k, n in nodes.items() if _is_sampler(n)]
    if not samplers:
        raise NotThisTool("the ComfyUI graph has no sampler node")
    reading = Reading("a ComfyUI workflow")
    first = min(samplers, key=lambda k: (not _starts_empty(nodes, k), _node_order(k)))
    inputs = _sampler_inputs(nodes, _inputs(nodes[first]))
    values = {name: _value(nodes, inputs.get(name)) for name in ("seed", "noise_seed", "steps", "cfg")}
    reading.fields.update(
        seed=values["seed"] if values["seed"] is not None else values["noise_seed"],
        num_inference_steps=values["steps"],
        guidance_scale=values["cfg"],
    )
    reading.fields["scheduler"] = (_value(nodes, inputs.get("sampler_name")), _value(nodes, inputs.get("scheduler")))
    for role, name in (("positive", "prompt"), ("negative", "negative_prompt")):
        texts = _trace_texts(nodes, inputs.get(role), reading, role)
        if texts:
            reading.fields[name] = "\n".join(dict.fromkeys(texts))
    reading.controls.reverse()  # traced from the sampler back: the first applied comes last
    size = _latent_size(nodes, inputs.get("latent_image"))
    if size is not None:
        reading.fields["width"], reading.fields["height"] = size
    if len(samplers) > 1:
        reading.found.append(f"{len(samplers) - 1} more sampler pass(es)")
    flux_guidance = False
    # A diffusion model loaded on its own (FLUX) always comes with its VAE loader: that one is not "its own VAE".
    separate = any(str(n.get("class_type", "")) == "UNETLoader" for n in nodes.values())
    for node in nodes.values():
        kind = str(node.get("class_type", ""))
        if kind in _NOT_READ and not (kind == "VAELoader" and separate):
            reading.found.append(_NOT_READ[kind])
        if kind.startswith("CLIPTextEncodeSDXL"):
            reading.family_hints.append(("sdxl", "its SDXL text encoder node"))
        title = str((node.get("_meta") or {}).get("title", "")) if isinstance(node.get("_meta"), dict) else ""
        for family in FAMILIES.values():  # a workflow the studio wrote names its family in the model loader's title
            if kind in ("CheckpointLoaderSimple", "UNETLoader") and title.endswith(f"({family.label})"):
                reading.family_hints.append((family.name, "the family its model node names"))
        if kind == "FluxGuidance" or (kind == "DualCLIPLoader" and _value(nodes, _inputs(node).get("type")) == "flux"):
            reading.family_hints.append(("flux", f"its {kind} node"))
        if kind == "FluxGuidance" and not flux_guidance:  # FLUX's guidance; its sampler's CFG is 1
            flux_guidance = True
            reading.fields["guidance_scale"] = _value(nodes, _inputs(node).get("guidance"))
        if kind == "StyleModelApply":  # FLUX.1 Redux (ComfyUI's core node; older ones have no strength: 1)
            _read_redux(nodes, _inputs(node), reading)
        if ("IPAdapter" in kind and "Apply" in kind) or kind in ("IPAdapter", "IPAdapterAdvanced"):
            inputs = _inputs(node)  # ComfyUI_IPAdapter_plus's "weight", XLabs' FLUX node's "ip_scale"
            weight = _value(nodes, inputs.get("weight", inputs.get("ip_scale")))
            kind = _value(nodes, inputs.get("weight_type"))
            if reading.ip_adapter is None:
                reading.ip_adapter = {"scale": weight}
                modes = {theirs: ours for ours, theirs in WEIGHT_TYPES.items()}
                if kind in modes:
                    reading.ip_adapter["mode"] = modes[kind]
                elif kind is not None:
                    reading.found.append(f"IP-Adapter weight type {str(kind)[:30]!r}")
            else:
                reading.found.append(f"another IP-Adapter (weight {weight})")
    reading.found = list(dict.fromkeys(reading.found))
    return reading


def _is_sampler(node: Any) -> bool:
    """A KSampler-like node (steps, CFG and sampler name as inputs) or a custom sampler (its parts as links)."""
    inputs = _inputs(node)
    return ({"steps", "cfg", "sampler_name"} <= set(inputs)) or (
        {"sampler", "sigmas", "latent_image"} <= set(inputs) and ("guider" in inputs or "cfg" in inputs)
    )


def _sampler_inputs(nodes: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """A sampler's inputs with a custom sampler's parts brought up to the KSampler's names: ``SamplerCustom`` and
    ``SamplerCustomAdvanced`` take the seed from a noise node, steps and scheduler from a sigmas node, the sampler
    name from a sampler node and CFG with the conditionings from a guider node."""
    flat = dict(inputs)
    for part in ("noise", "guider", "sampler", "sigmas"):
        flat.update({k: v for k, v in _inputs(nodes.get(_link(inputs.get(part)) or "")).items() if k not in flat})
    if "conditioning" in flat and "positive" not in flat:  # a guider without CFG (FLUX's BasicGuider)
        flat["positive"] = flat["conditioning"]
    if "guidance" in flat and "cfg" not in flat:
        flat["cfg"] = flat["guidance"]
    return flat


def _inputs(node: Any) -> dict[str, Any]:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _node_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1 << 62, key)


def _link(value: Any) -> str | None:
    """The node a ``[node id, output]`` input links to."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)):
        return str(value[0])
    return None


def _value(nodes: dict[str, Any], value: Any, hops: int = 8) -> Any:
    """A literal input, following links through value nodes (a seed or number node) up to ``hops`` deep."""
    for _ in range(hops):
        target = _link(value)
        if target is None:
            return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        literals = [v for v in _inputs(nodes.get(target)).values() if _link(v) is None]
        links = [v for v in _inputs(nodes.get(target)).values() if _link(v) is not None]
        if len(literals) == 1:
            value = literals[0]
        elif len(links) == 1 and not literals:
            value = links[0]
        else:
            return None
    return None


def _starts_empty(nodes: dict[str, Any], sampler: str) -> bool:
    """Whether a sampler starts from an empty latent (the first pass, not a hires-fix or refiner pass)."""
    target = _link(_inputs(nodes.get(sampler)).get("latent_image"))
    return target is not None and "Empty" in str(nodes.get(target, {}).get("class_type", ""))


def _latent_size(nodes: dict[str, Any], value: Any) -> tuple[Any, Any] | None:
    seen = 0
    while (target := _link(value)) is not None and seen < 16:
        seen += 1
        inputs = _inputs(nodes.get(target))
        if "width" in inputs and "height" in inputs:
            return _value(nodes, inputs["width"]), _value(nodes, inputs["height"])
        value = inputs.get("samples") or inputs.get("latent") or inputs.get("latent_image")
    return None


def _read_redux(nodes: dict[str, Any], inputs: dict[str, Any], reading: Reading) -> None:
    """A ``StyleModelApply`` node as the studio's Redux image prompt: its strength is the scale where it multiplies
    the tokens (ComfyUI's other strength type biases attention instead, which the studio does not do)."""
    strength = _value(nodes, inputs.get("strength", 1.0))
    strength_type = _value(nodes, inputs.get("strength_type", "multiply"))
    reading.family_hints.append(("flux", "its StyleModelApply (FLUX.1 Redux) node"))
    if reading.ip_adapter is not None:
        reading.found.append(f"another image prompt (Redux, strength {strength})")
        return
    reading.ip_adapter = {"scale": strength, "mode": "redux"}
    if strength_type != "multiply":
        reading.found.append(f"Redux strength type {str(strength_type)[:30]!r} (read as multiply)")


def _trace_texts(nodes: dict[str, Any], start: Any, reading: Reading, role: str = "positive") -> list[str]:
    """The prompt texts a sampler's ``role`` input (``positive`` or ``negative``) traces back to (breadth first,
    each node once), noting the ControlNets on the positive one.

    A node that carries both conditionings (``ControlNetApplyAdvanced``, an all-in-one loader such as the
    efficiency pack's, a prompt styler) is followed, or read, through its input for ``role`` only.
    """
    texts: list[str] = []
    queue, seen = [start], set()
    while queue and len(seen) < MAX_GRAPH_NODES:
        target = _link(queue.pop(0))
        if target is None or target in seen or target not in nodes:
            continue
        seen.add(target)
        kind, inputs = str(nodes[target].get("class_type", "")), _inputs(nodes[target])
        if "ControlNet" in kind and "Apply" in kind and role == "positive":  # an advanced apply node is on both
            reading.controls.append(_controlnet(nodes, inputs))
        for name in (*_TEXT_INPUTS, f"text_{role}", role):
            text = _value(nodes, inputs.get(name)) if name != role or _link(inputs.get(name)) is None else None
            if isinstance(text, str) and text.strip():
                texts.append(text.strip())
        if "positive" in inputs and "negative" in inputs:
            queue.append(inputs[role])
        else:
            queue += [inputs[n] for n in (*_CONDITIONING_INPUTS, "positive", "negative") if n in inputs]
    return texts


def _controlnet(nodes: dict[str, Any], inputs: dict[str, Any]) -> ReadControl:
    """A ControlNet apply node's strength and range, and the names that say its type: a union network's type node,
    the preprocessor node that made its image, the loader's file name (a name only: nothing is ever loaded)."""
    names, source = [], _inputs(nodes.get(_link(inputs.get("control_net")) or ""))
    if isinstance(source.get("type"), str):  # SetUnionControlNetType
        names.append(source["type"])
        source = _inputs(nodes.get(_link(source.get("control_net")) or ""))
    image = _inputs(nodes.get(_link(inputs.get("image")) or "")), nodes.get(_link(inputs.get("image")) or "")
    if isinstance(image[1], dict) and image[1].get("class_type") != "LoadImage":
        names.append(str(image[1].get("class_type", "")))
    names.append(str(_value(nodes, source.get("control_net_name")) or ""))
    if isinstance(image[0].get("image"), str):  # a loaded map's file name ("lineart-map.png"): the weakest word
        names.append(image[0]["image"])
    strength, start, end = (_value(nodes, inputs.get(k)) for k in ("strength", "start_percent", "end_percent"))
    return ReadControl(tuple(n for n in names if n), strength, start, end)


# -- InvokeAI, NovelAI, Fooocus, SwarmUI -----------------------------------------------------------------------------


def read_invokeai(texts: dict[str, str]) -> Reading:
    """InvokeAI 3+ (``invokeai_metadata``) or 2.x (``sd-metadata``)."""
    if "invokeai_metadata" in texts:
        data = load_json(texts["invokeai_metadata"], "InvokeAI's metadata")
        if not isinstance(data, dict):
            raise NotThisTool("InvokeAI's metadata is not an object")
        reading = Reading("InvokeAI metadata")
        reading.fields.update(_take(data, "scheduler", prompt="positive_prompt", guidance_scale="cfg_scale"))
        model = data.get("model") if isinstance(data.get("model"), dict) else {}
        base = model.get("base") or model.get("base_model")  # InvokeAI 4+ / 3
        if base in ("sdxl", "sd-1"):
            reading.family_hints.append(("sdxl" if base == "sdxl" else "sd15", f"InvokeAI's model base {base!r}"))
        if data.get("loras"):
            reading.found.append("LoRA")
        _invokeai_adapters(data, reading)
        return reading
    data = load_json(texts["sd-metadata"], "InvokeAI's sd-metadata")
    image = data.get("image") if isinstance(data, dict) else None
    if not isinstance(image, dict):
        raise NotThisTool("InvokeAI's sd-metadata has no image record")
    prompt = image.get("prompt")
    if isinstance(prompt, list):
        prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
    reading = Reading("InvokeAI metadata")
    reading.fields.update(_take(image, "sampler", negative_prompt=None, guidance_scale="cfg_scale"), prompt=prompt)
    return reading


def _invokeai_adapters(data: dict[str, Any], reading: Reading) -> None:
    """InvokeAI's ``controlnets`` and ``ipAdapters`` (model, weight, begin and end step percent) into ``reading``;
    its T2I-Adapters are named, not restored."""
    for unit in _records(data.get("controlnets")):
        model = unit.get("control_model") if isinstance(unit.get("control_model"), dict) else {}
        name = model.get("name") or model.get("model_name") or ""  # InvokeAI 4+ / 3
        weight = unit.get("control_weight")  # a list is a per-step schedule: not one strength
        reading.controls.append(
            ReadControl(
                (str(name),),
                weight if not isinstance(weight, list) else None,
                unit.get("begin_step_percent"),
                unit.get("end_step_percent"),
            )
        )
    if _records(data.get("t2iAdapters")):
        reading.found.append("T2I-Adapter")
    adapters = _records(data.get("ipAdapters"))
    if adapters:
        weight = adapters[0].get("weight")
        reading.ip_adapter = {"scale": weight if not isinstance(weight, list) else None}
    if len(adapters) > 1:
        reading.found.append(f"{len(adapters) - 1} more IP-Adapter(s)")


def _records(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list (at most 16), nothing else."""
    return [v for v in value[:16] if isinstance(v, dict)] if isinstance(value, list) else []


def read_novelai(texts: dict[str, str]) -> Reading:
    """NovelAI: the prompt in ``Description``, the settings as JSON in ``Comment``."""
    data = load_json(texts["Comment"], "NovelAI's Comment")
    if not isinstance(data, dict) or "steps" not in data:
        raise NotThisTool("not NovelAI's settings")
    reading = Reading("NovelAI metadata")
    reading.fields.update(_take(data, "sampler", "noise_schedule", negative_prompt="uc", guidance_scale="scale"))
    reading.fields["prompt"] = texts.get("Description") or data.get("prompt")
    reading.found.append("NovelAI's own model")
    return reading


def read_json_parameters(text: str) -> Reading:
    """JSON in ``parameters``: Fooocus's or SwarmUI's (``sui_image_params``)."""
    data = load_json(text, "the parameters JSON")
    if not isinstance(data, dict):
        raise NotThisTool("the parameters JSON is not an object")
    if isinstance(data.get("sui_image_params"), dict):
        params = data["sui_image_params"]
        reading = Reading("SwarmUI parameters")
        reading.fields.update(
            _take(params, "sampler", "scheduler", negative_prompt="negativeprompt", guidance_scale="cfgscale")
        )
        if params.get("loras"):
            reading.found.append("LoRA")
        return reading
    if "prompt" in data and ("guidance_scale" in data or "base_model" in data):
        reading = Reading("Fooocus parameters")
        reading.fields.update(_take(data, "sampler", "scheduler"))  # its seed is text: settle reads the number
        resolution = re.findall(r"\d+", str(data.get("resolution", "")))
        if (data.get("width") is None or data.get("height") is None) and len(resolution) == 2:
            reading.fields["width"], reading.fields["height"] = int(resolution[0]), int(resolution[1])
        reading.family_hints.append(("sdxl", "Fooocus generates with SDXL"))
        if data.get("loras") or data.get("lora_combined_1"):
            reading.found.append("LoRA")
        return reading
    raise NotThisTool("JSON parameters from an unknown tool")


# Where most tools keep each field, by the studio's field name; a reader names only the keys its tool spells
# otherwise (None: the tool records no such field).
_KEYS = {
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "seed": "seed",
    "num_inference_steps": "steps",
    "guidance_scale": "guidance_scale",
    "width": "width",
    "height": "height",
}


def _take(data: dict[str, Any], sampler: str, schedule: str | None = None, **keys: str | None) -> dict[str, Any]:
    """The fields a JSON record holds (unchecked), under the studio's names; ``scheduler`` is the pair of the
    tool's sampler and schedule names."""
    names = {**_KEYS, **keys}
    fields = {ours: data.get(theirs) for ours, theirs in names.items() if theirs is not None}
    fields["scheduler"] = (data.get(sampler), data.get(schedule) if schedule else None)
    return fields


READERS: tuple[tuple[tuple[str, ...], Callable[[dict[str, str]], Reading]], ...] = (
    (("prompt",), lambda t: read_comfyui(t["prompt"])),
    (("invokeai_metadata",), read_invokeai),
    (("sd-metadata",), read_invokeai),
    (("Comment",), read_novelai),
    (("parameters",), lambda t: read_json_parameters(t["parameters"])),
    (("parameters",), lambda t: read_a1111(t["parameters"])),
    ((USER_COMMENT,), lambda t: read_json_parameters(t[USER_COMMENT])),
    ((USER_COMMENT,), lambda t: read_a1111(t[USER_COMMENT])),
)
"""Each tool's reader, by the texts it needs, most specific first."""


def read_other_tool(texts: dict[str, str]) -> tuple[Reading | None, list[str]]:
    """The first reader that recognises ``texts``, and why the others did not (for the message when none does)."""
    why: list[str] = []
    for keys, reader in READERS:
        if all(k in texts for k in keys):
            try:
                return reader(texts), why
            except NotThisTool as error:
                why.append(str(error))
    return None, why
