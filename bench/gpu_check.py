"""GPU check: every method, a comparison and a small sweep in half precision, with the invariants asserted.

Usage (a machine with a CUDA GPU; builds the SD1.5-sized random-weights family once, about 4 GB):

    python -m bench.gpu_check                      # 512², 20 steps, float16 then bfloat16
    python -m bench.gpu_check --dtypes float16 --steps 10
    python -m bench.gpu_check --profile sdxl --family sdxl --size 1024  # SDXL's real sizes (built once, ~34 GB)
    python -m bench.gpu_check --profile flux --family flux --size 1024 --dtypes bfloat16  # FLUX.1's (~38 GB)
    python -m bench.gpu_check --profile tiny --family flux --dtypes bfloat16  # FLUX.1's tiny twin on the GPU
    python -m bench.gpu_check --device cpu --profile tiny --size 64 --steps 2 --dtypes float32,bfloat16  # smoke run

For each dtype it prints, measured in one run:
  - per method: studio it/s (its denoising call; prompt and reference encodings are cached across calls) next
    to a plain diffusers call of the same pipeline (string prompt, encodes everything each time), and the peak
    memory of the studio call;
  - exact comparison time / sum of the methods' solo ``generate`` calls (target about 1.0: a comparison adds no
    cost);
  - batched comparison time against exact and against the solo calls (target <= 0.5 of solo on a GPU), and the
    largest difference of a batched item from its exact run;
  - the speed levers, each against its off state and alternated: ControlNet (depth) it/s with the convolution
    weights in channels-last layout (``STUDIO_CHANNELS_LAST``); scaled-dot-product attention (diffusers' default)
    against the classic attention processor; one batched VAE decode of a comparison's latents against one decode
    per method; a batched comparison with live previews (TAESD every few steps, ``STUDIO_PREVIEWS``) against one
    without; and ``STUDIO_COMPILE`` (its first, compiling run, then it/s against eager);
and it fails (exit 1) if any resident module left the configured dtype or device after any method, a
comparison or the sweep, if a method's output is not finite, or if a batched item differs from its exact run by
more than :data:`BATCHED_BOUND` levels.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.controls import CONTROL_TYPES
from app.engine.families import FAMILIES, FAMILY_NAMES
from app.preprocess import DEFAULTS as DEFAULT_DETECTORS
from app.studio import Studio
from bench.common import PROFILES, family_root, settings_for

METHODS = ("text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "canny+depth")
FLUX_METHODS = ("text", "canny", "pose", "depth", "softedge", "ip_adapter", "depth+ip_adapter", "canny+depth")
"""FLUX.1's: its Union-Pro ControlNet's types, XLabs' IP-Adapter, and two of them together."""
REDUX_METHODS = ("redux", "canny+redux")
"""Run alone where the family has FLUX.1 Redux (the IP-Adapter in mode redux); a comparison runs the others."""


def methods_of(family: str) -> tuple[str, ...]:
    """The methods timed alone: the comparison's, then Redux's where the family has it."""
    return compared_methods(family) + (REDUX_METHODS if FAMILIES[family].redux else ())


def compared_methods(family: str) -> tuple[str, ...]:
    return FLUX_METHODS if FAMILIES[family].latent_control else METHODS


PHOTO = Path(__file__).resolve().parents[1] / "assets" / "astronaut.png"


BATCHED_BOUND = 16
"""Largest difference (pixel levels) a batched item may have from its exact run here. Batched GPU kernels sum in
another order; broken per-item conditioning (a ControlNet or the IP-Adapter reaching other methods) differs by far
more. The tiny family on the CPU stays within 1 (float32) and 2 (bfloat16) levels."""


def request_for(method: str, args: argparse.Namespace, maps: dict[str, Image.Image], photo: Image.Image) -> dict:
    parts = method.split("+")
    request = {
        "family": args.family,
        "prompt": "an astronaut portrait, oil painting",
        "seed": 7,
        "num_inference_steps": args.steps,
        "width": args.size,
        "height": args.size,
        "controls": [{"control_type": t, "image": maps[t]} for t in parts if t in CONTROL_TYPES],
    }
    if "ip_adapter" in parts:
        request["ip_adapter"] = {"scale": 0.6, "image": photo}
    if "redux" in parts:
        request["ip_adapter"] = {"scale": 0.6, "mode": "redux", "image": photo}
    return request


def plain_seconds(studio: Studio, request: dict) -> float:
    """A plain diffusers call of the pipeline the studio uses for ``request``: string prompt, no studio code."""
    cache = studio.cache
    controls = request["controls"]
    image_prompt = request.get("ip_adapter")
    redux = image_prompt is not None and image_prompt.get("mode") == "redux"
    with cache.lock:
        pipe = cache.pipeline_for([c["control_type"] for c in controls], image_prompt is not None and not redux)
        kwargs = {
            "prompt": request["prompt"],
            "num_inference_steps": request["num_inference_steps"],
            "width": request["width"],
            "height": request["height"],
            "generator": torch.Generator("cpu").manual_seed(request["seed"]),
        }
        if controls and cache.served_by_union(controls[0]["control_type"]):  # SDXL's union ControlNet, by mode
            kwargs["control_image"] = [c["image"] for c in controls]
            kwargs["control_mode"] = [cache.family.union_modes[c["control_type"]] for c in controls]
        elif controls:
            images = [c["image"] for c in controls]
            kwargs[cache.family.control_argument] = images[0] if len(images) == 1 else images
            if len(images) > 1:  # FLUX's multi-ControlNet wants a strength and window per map (scalars: one map)
                kwargs["controlnet_conditioning_scale"] = [1.0] * len(images)
                kwargs["control_guidance_start"] = [0.0] * len(images)
                kwargs["control_guidance_end"] = [1.0] * len(images)
        if image_prompt is not None and not redux:
            cache.use_ip_adapter(pipe, image_prompt["scale"])
            kwargs["ip_adapter_image"] = image_prompt["image"]
        try:
            synchronize(cache.device)
            started = time.perf_counter()
            if redux:  # as diffusers' Redux example: the prior's image tokens after the prompt's, then the call
                with torch.inference_mode():
                    embeds, pooled, _ = pipe.encode_prompt(kwargs.pop("prompt"), None, device=cache.device)
                    prior = cache.redux()
                    hidden = prior.encode_image(image_prompt["image"], cache.device, 1)
                    tokens = prior.image_embedder(hidden).image_embeds * image_prompt["scale"]
                kwargs["prompt_embeds"] = torch.cat([embeds, tokens.to(embeds.dtype)], dim=1)
                kwargs["pooled_prompt_embeds"] = pooled
            pipe(**kwargs)
            synchronize(cache.device)
            return time.perf_counter() - started
        finally:
            cache.use_ip_adapter(pipe, None)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def check(studio: Studio, after: str, failures: list[str]) -> None:
    wrong = studio.cache.misplaced()
    if wrong:
        failures.append(f"after {after}: {len(wrong)} tensors misplaced, e.g. {wrong[:3]}")


def channels_last_line(studio: Studio, request: dict, steps: int, rounds: int = 3) -> str:
    """Denoising it/s of ``request`` with the UNet, VAE and ControlNets in channels-last layout and without,
    measured alternately; the modules go back to the layout the settings chose."""
    cache = studio.cache
    modules = [cache.base().unet, cache.base().vae, *(cache.controlnet(t) for t in cache.loaded_controlnets())]
    rates: dict[str, list[float]] = {"contiguous": [], "channels-last": []}
    for _ in range(rounds):
        for name, layout in (("contiguous", torch.contiguous_format), ("channels-last", torch.channels_last)):
            for module in modules:
                module.to(memory_format=layout)
            studio.generate(request)  # warm-up: this layout's kernels
            rates[name].append(steps / studio.generate(request).seconds)
    chosen = torch.channels_last if studio.settings.channels_last else torch.contiguous_format
    for module in modules:
        module.to(memory_format=chosen)
    fast, slow = np.median(rates["channels-last"]), np.median(rates["contiguous"])
    return (
        f"channels-last (STUDIO_CHANNELS_LAST): depth {fast:.2f} it/s vs {slow:.2f} it/s contiguous = {fast / slow:.3f}"
    )


def alternated(cases: dict[str, Callable[[], float]], rounds: int = 3) -> dict[str, float]:
    """The median of each case's measure, the cases run in turn ``rounds`` times (drift hits all alike)."""
    values: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, measure in cases.items():
            values[name].append(measure())
    return {name: float(np.median(v)) for name, v in values.items()}


def sdpa_line(studio: Studio, request: dict, steps: int) -> str:
    """Text-only it/s with diffusers' scaled-dot-product attention against its classic attention processor."""
    from diffusers.models.attention_processor import AttnProcessor

    cache, unet = studio.cache, studio.cache.base().unet

    def rate(processor_of: Callable[[], object] | None) -> float:
        with cache.lock:
            if processor_of is None:
                unet.set_attn_processor(dict(cache._plain_processors))
            else:
                unet.set_attn_processor(processor_of())
        studio.generate(request)
        return steps / studio.generate(request).seconds

    try:
        rates = alternated({"sdpa": lambda: rate(None), "classic": lambda: rate(AttnProcessor)})
    finally:
        with cache.lock:
            unet.set_attn_processor(dict(cache._plain_processors))
    ratio = rates["sdpa"] / rates["classic"]
    return f"attention: SDPA {rates['sdpa']:.2f} it/s vs classic {rates['classic']:.2f} it/s = {ratio:.3f}"


def vae_line(studio: Studio, items: int, size: int) -> str:
    """Seconds to decode ``items`` latents in one batched VAE call against one call per latent."""
    cache = studio.cache
    vae = cache.base().vae
    channels = vae.config.latent_channels
    latents = torch.randn(items, channels, size // 8, size // 8, generator=torch.Generator().manual_seed(0))
    latents = latents.to(cache.device, cache.dtype)

    def timed(decode: Callable[[], object]) -> float:
        synchronize(cache.device)
        started = time.perf_counter()
        with torch.inference_mode():
            decode()
        synchronize(cache.device)
        return time.perf_counter() - started

    seconds = alternated(
        {
            "batched": lambda: timed(lambda: vae.decode(latents / vae.config.scaling_factor)),
            "one by one": lambda: timed(lambda: [vae.decode(x[None] / vae.config.scaling_factor) for x in latents]),
        }
    )
    ratio = seconds["batched"] / seconds["one by one"]
    return (
        f"VAE decode of {items} latents: batched {seconds['batched']:.3f}s vs one by one "
        f"{seconds['one by one']:.3f}s = {ratio:.3f}"
    )


def previews_line(studio: Studio, compare: dict, photo: Image.Image) -> str:
    """A batched comparison with live previews against the same without (target < 1.10)."""

    def seconds(previews: bool) -> float:
        shown = (lambda index, image, done, total: None) if previews else None
        started = time.perf_counter()
        list(studio.compare({**compare, "batching": "batched"}, photo, photo, preview=shown))
        synchronize(studio.cache.device)
        return time.perf_counter() - started

    times = alternated({"with": lambda: seconds(True), "without": lambda: seconds(False)})
    ratio = times["with"] / times["without"]
    return f"live previews: batched comparison {times['with']:.2f}s vs {times['without']:.2f}s = {ratio:.3f} (< 1.10)"


def compile_line(args: argparse.Namespace, dtype: str, root: Path, studio: Studio, request: dict) -> str:
    """``STUDIO_COMPILE=1`` on a second studio: its first (compiling) depth run, then it/s against the eager one."""
    settings, spec = settings_for(
        root, args.family, device=args.device, dtype=dtype, controlnet_cache_size=3, torch_compile=True
    )
    compiled = Studio(settings, spec)
    started = time.perf_counter()
    compiled.generate(request)
    first = time.perf_counter() - started
    rates = alternated(
        {
            "compiled": lambda: args.steps / compiled.generate(request).seconds,
            "eager": lambda: args.steps / studio.generate(request).seconds,
        }
    )
    ratio = rates["compiled"] / rates["eager"]
    return (
        f"torch.compile (STUDIO_COMPILE): first run {first:.1f}s (compiling); depth {rates['compiled']:.2f} it/s vs "
        f"{rates['eager']:.2f} it/s eager = {ratio:.3f}"
    )


def batched_lines(
    studio: Studio, compare: dict, photo: Image.Image, entries: list, solo: dict[str, float], compare_seconds: float
) -> list[str]:
    """The batched comparison against the exact one: its time, and the largest difference of an item from its
    exact run (a failure beyond :data:`BATCHED_BOUND`)."""
    failures: list[str] = []
    list(studio.compare({**compare, "batching": "batched", "seed": 8}, photo, photo))  # warm-up: batch-size kernels
    started = time.perf_counter()
    batched = list(studio.compare({**compare, "batching": "batched"}, photo, photo))
    synchronize(studio.cache.device)
    batched_seconds = time.perf_counter() - started
    failures += [f"batched comparison {e.method.name}: {e.error}" for e in batched if e.error]
    check(studio, "the batched comparison", failures)
    worst = max(
        int(np.abs(np.asarray(e.result.image, dtype=int) - np.asarray(b.result.image, dtype=int)).max())
        for e, b in zip(entries, batched, strict=True)
        if e.result is not None and b.result is not None
    )
    if worst > BATCHED_BOUND:
        failures.append(f"batched items differ from exact runs by up to {worst} levels (bound {BATCHED_BOUND})")
    print(
        f"batched comparison {batched_seconds:.2f}s = {batched_seconds / compare_seconds:.3f} of exact, "
        f"{batched_seconds / sum(solo.values()):.3f} of solo runs (target <= 0.5); largest difference from exact "
        f"{worst} levels"
    )
    return failures


def run_dtype(args: argparse.Namespace, dtype: str, root: Path) -> list[str]:
    methods = methods_of(args.family)
    unet = FAMILIES[args.family].denoiser == "unet"  # the channels-last, attention and compile levers are the UNet's
    settings, spec = settings_for(root, args.family, device=args.device, dtype=dtype, controlnet_cache_size=3)
    studio = Studio(settings, spec)
    failures: list[str] = []
    photo = Image.open(PHOTO).convert("RGB")
    started = time.perf_counter()
    studio.preload()
    loaded = time.perf_counter() - started
    print(
        f"\n== {studio.cache.family.label}, {dtype} on {studio.cache.device} · {args.size}² · {args.steps} steps · "
        f"preload {loaded:.1f}s"
    )
    check(studio, "preload", failures)
    maps = {t: studio.control_map(photo, d, args.size, args.size).map for t, d in DEFAULT_DETECTORS.items()}
    print(f"{'method':<18}{'studio it/s':>12}{'plain it/s':>12}{'ratio':>8}{'peak MiB':>10}")
    solo: dict[str, float] = {}
    for method in methods:
        request = request_for(method, args, maps, photo)
        studio.generate(request)  # warm-up: kernels, attention processors, the IP-Adapter encoding
        plain_seconds(studio, request)
        started = time.perf_counter()
        result = studio.generate(request)
        synchronize(studio.cache.device)
        solo[method] = time.perf_counter() - started  # the whole call, as the comparison pays it
        plain = plain_seconds(studio, request)
        pixels = np.asarray(result.image)
        if not np.isfinite(pixels).all() or pixels.std() == 0:
            failures.append(f"{method}: the output is blank or not finite")
        check(studio, method, failures)
        studio_rate, plain_rate = args.steps / result.seconds, args.steps / plain
        print(
            f"{method:<18}{studio_rate:>12.2f}{plain_rate:>12.2f}{studio_rate / plain_rate:>8.3f}"
            f"{result.peak_memory_bytes / 2**20:>10.0f}"
        )
    compare = {
        "family": args.family,
        "prompt": "an astronaut portrait, oil painting",
        "seed": 7,
        "num_inference_steps": args.steps,
        "width": args.size,
        "height": args.size,
        "methods": list(compared_methods(args.family)),
    }
    solo = {method: solo[method] for method in compare["methods"]}  # Redux's were timed alone only
    started = time.perf_counter()
    entries = list(studio.compare({**compare, "batching": "exact"}, photo, photo))
    synchronize(studio.cache.device)
    compare_seconds = time.perf_counter() - started
    failures += [f"comparison {e.method.name}: {e.error}" for e in entries if e.error]
    check(studio, "the comparison", failures)
    print(
        f"exact comparison {compare_seconds:.2f}s / sum of solo runs {sum(solo.values()):.2f}s = "
        f"{compare_seconds / sum(solo.values()):.3f} (target about 1.0: maps and encodings are cached)"
    )
    failures += batched_lines(studio, compare, photo, entries, solo, compare_seconds)
    depth = request_for("depth", args, maps, photo)
    if unet:
        print(channels_last_line(studio, depth, args.steps))
        check(studio, "the channels-last measurement", failures)
        print(sdpa_line(studio, request_for("text", args, maps, photo), args.steps))
    print(vae_line(studio, len(solo), args.size))
    print(previews_line(studio, compare, photo))
    check(studio, "the live previews", failures)
    if args.compile and unet:
        print(compile_line(args, dtype, root, studio, depth))
    if studio.cache.spec.adapters.get("canny"):  # SDXL: canny's ControlNet and its T2I-Adapter on one map
        pair = list(studio.compare({**compare, "methods": ["canny", "canny@t2i"], "batching": "exact"}, photo))
        failures += [f"comparison {e.method.name}: {e.error}" for e in pair if e.error]
        check(studio, "the T2I-Adapter", failures)
        if not any(e.error for e in pair):
            net, adapter = (e.result.seconds for e in pair)
            print(f"canny ControlNet {net:.2f}s vs canny T2I-Adapter {adapter:.2f}s per generation "
                  f"({adapter / net:.3f})")  # fmt: skip
    sweep = {
        "base": {**compare, "methods": ["depth"]},
        "x": {"name": "controlnet_conditioning_scale", "values": [0.5, 1.0]},
        "y": {"name": "method", "values": ["depth", "canny+ip_adapter"]},
    }
    started = time.perf_counter()
    cells = studio.sweep(sweep, photo, photo).cells
    failures += [f"sweep {c.label}: {c.entry.error}" for c in cells if c.entry.error]
    check(studio, "the sweep", failures)
    print(f"sweep 2×2 {time.perf_counter() - started:.2f}s")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sd15", choices=PROFILES)
    parser.add_argument("--family", default="sd15", choices=FAMILY_NAMES, help="the profile's SD1.5, SDXL or FLUX twin")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtypes", default="float16,bfloat16")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile lever")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: run this on a machine with one (or --device cpu --profile tiny for a smoke run)")
        return 2
    if args.device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()} · torch {torch.__version__}")
    if args.family not in PROFILES[args.profile]:
        print(f"the {args.profile} profile has no {args.family} twin: use --profile tiny or --profile {args.family}")
        return 2
    root = family_root(args.profile)
    failures = []
    for dtype in args.dtypes.split(","):
        failures += run_dtype(args, dtype.strip(), root)
    print(
        "\nOK: every method, the comparison and the sweep kept every module in its dtype and device."
        if not failures
        else "\nFAILED:\n" + "\n".join(failures)
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
