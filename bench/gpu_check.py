"""GPU check: every method, a comparison and a small sweep in half precision, with the invariants asserted.

Usage (a machine with a CUDA GPU; builds the SD1.5-sized random-weights family once, about 4 GB):

    python -m bench.gpu_check                      # 512², 20 steps, float16 then bfloat16
    python -m bench.gpu_check --dtypes float16 --steps 10
    python -m bench.gpu_check --device cpu --profile tiny --size 64 --steps 2 --dtypes float32,bfloat16  # smoke run

For each dtype it prints, measured in one run:
  - per method: studio it/s (its denoising call; prompt and reference encodings are cached across calls) next
    to a plain diffusers call of the same pipeline (string prompt, encodes everything each time), and the peak
    memory of the studio call;
  - exact comparison time / sum of the methods' solo ``generate`` calls (target about 1.0: a comparison adds no
    cost);
  - batched comparison time against exact and against the solo calls (target <= 0.5 of solo on a GPU), and the
    largest difference of a batched item from its exact run;
  - ControlNet (depth) it/s with the convolution weights in channels-last layout against contiguous, alternated
    (the ``STUDIO_CHANNELS_LAST`` lever);
and it fails (exit 1) if any resident module left the configured dtype or device after any method, a
comparison or the sweep, if a method's output is not finite, or if a batched item differs from its exact run by
more than :data:`BATCHED_BOUND` levels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.engine.models import CONTROL_TYPES
from app.preprocess import DEFAULTS as DEFAULT_DETECTORS
from app.studio import Studio
from bench.common import family_root, settings_for

METHODS = ("text", "canny", "pose", "depth", "ip_adapter", "depth+ip_adapter", "canny+depth")
PHOTO = Path(__file__).resolve().parents[1] / "assets" / "astronaut.png"


BATCHED_BOUND = 16
"""Largest difference (pixel levels) a batched item may have from its exact run here. Batched GPU kernels sum in
another order; broken per-item conditioning (a ControlNet or the IP-Adapter reaching other methods) differs by far
more. The tiny family on the CPU stays within 1 (float32) and 2 (bfloat16) levels."""


def request_for(method: str, args: argparse.Namespace, maps: dict[str, Image.Image], photo: Image.Image) -> dict:
    parts = method.split("+")
    request = {
        "prompt": "an astronaut portrait, oil painting",
        "seed": 7,
        "num_inference_steps": args.steps,
        "width": args.size,
        "height": args.size,
        "controls": [{"control_type": t, "image": maps[t]} for t in parts if t in CONTROL_TYPES],
    }
    if "ip_adapter" in parts:
        request["ip_adapter"] = {"scale": 0.6, "image": photo}
    return request


def plain_seconds(studio: Studio, request: dict) -> float:
    """A plain diffusers call of the pipeline the studio uses for ``request``: string prompt, no studio code."""
    cache = studio.cache
    controls = request["controls"]
    with cache.lock:
        pipe = cache.pipeline_for([c["control_type"] for c in controls], "ip_adapter" in request)
        kwargs = {
            "prompt": request["prompt"],
            "num_inference_steps": request["num_inference_steps"],
            "width": request["width"],
            "height": request["height"],
            "generator": torch.Generator("cpu").manual_seed(request["seed"]),
        }
        if controls:
            images = [c["image"] for c in controls]
            kwargs["image"] = images[0] if len(images) == 1 else images
        if "ip_adapter" in request:
            cache.use_ip_adapter(pipe, request["ip_adapter"]["scale"])
            kwargs["ip_adapter_image"] = request["ip_adapter"]["image"]
        try:
            synchronize(cache.device)
            started = time.perf_counter()
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


def run_dtype(args: argparse.Namespace, dtype: str, root: Path) -> list[str]:
    settings, spec = settings_for(root, device=args.device, dtype=dtype, controlnet_cache_size=3)
    studio = Studio(settings, spec)
    failures: list[str] = []
    photo = Image.open(PHOTO).convert("RGB")
    started = time.perf_counter()
    studio.preload()
    loaded = time.perf_counter() - started
    print(f"\n== {dtype} on {studio.cache.device} · {args.size}² · {args.steps} steps · preload {loaded:.1f}s")
    check(studio, "preload", failures)
    maps = {t: studio.control_map(photo, d, args.size, args.size).map for t, d in DEFAULT_DETECTORS.items()}
    print(f"{'method':<18}{'studio it/s':>12}{'plain it/s':>12}{'ratio':>8}{'peak MiB':>10}")
    solo: dict[str, float] = {}
    for method in METHODS:
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
        "prompt": "an astronaut portrait, oil painting",
        "seed": 7,
        "num_inference_steps": args.steps,
        "width": args.size,
        "height": args.size,
        "methods": list(METHODS),
    }
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
    print(channels_last_line(studio, request_for("depth", args, maps, photo), args.steps))
    check(studio, "the channels-last measurement", failures)
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
    parser.add_argument("--profile", default="sd15", choices=("tiny", "sd15"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtypes", default="float16,bfloat16")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: run this on a machine with one (or --device cpu --profile tiny for a smoke run)")
        return 2
    if args.device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()} · torch {torch.__version__}")
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
