"""Comparison benchmark: one 5-method comparison (exact and batched) vs 5 separate plain diffusers runs.

Usage: python -m bench.bench_compare [--profile tiny|sd15|sdxl|flux] [--family sd15|sdxl|flux] [--dtype auto]
       [--size 256] [--steps 4] [--repeats 3] [--methods ...] [--seed-count S]

``--seed-count 4`` compares S seeds × K methods (one comparison with ``seed_count`` S, batched and exact) against
S × K plain diffusers runs, each making its own map and encodings as separate scripts would.

``--profile sdxl --family sdxl`` compares on SDXL at its real sizes (random weights; the union ControlNet serves
canny, pose and depth there): use ``--dtype bfloat16`` on a CPU with less than 32 GB.

Both sides run warm on the same loaded pipelines and detectors. A plain run does
what a script calling diffusers does for one method: make its control map with
the detector, encode the prompt (and the reference image), and call the
pipeline. The comparison shares the prompt and reference encodings across
methods and takes maps from the map cache. Exact comparisons (one run per
method) are printed in three cases: first (empty caches), after "Preview all
maps" (maps cached), and a repeat with a new seed (maps and encodings cached).
The batched comparison (every method in one denoising pass) is measured after
"Preview all maps" too, against exact and against the plain runs. Live previews
(TAESD every few steps, as the UI shows them) are measured on both modes against
the same mode without them. All cases are measured interleaved in one run.
Targets: exact <= 0.9 × plain on the CPU; batched no slower than exact on the CPU
and <= 0.5 × plain on a GPU; previews add < 10 %. The time fit scoring adds per
result is printed too. On a family with a canny T2I-Adapter (SDXL), canny's ControlNet and its T2I-Adapter are
timed on the same map: one generation each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from PIL import Image
from skimage import data

from app.engine.families import FAMILY_NAMES
from app.request.compare import parse_method
from app.studio import Studio
from bench.common import PROFILES, family_root, settings_for

# OpenPose and MiDaS keep their real architectures in the tiny family (random weights), so their
# maps cost on the CPU what real ones do; the tiny ViTPose / Depth Anything would make maps nearly free.
METHODS = ["text", "canny", "pose:openpose", "depth:midas", "ip_adapter"]


def plain_runs(
    studio: Studio, photo: Image.Image, reference: Image.Image, shared: dict, methods: list[str], seed_count: int = 1
) -> None:
    """One independent diffusers call per method and seed, each making its own map and encodings."""
    for offset in range(seed_count):
        _plain_runs(studio, photo, reference, {**shared, "seed": shared["seed"] + offset}, methods)


def _plain_runs(studio: Studio, photo: Image.Image, reference: Image.Image, shared: dict, methods: list[str]) -> None:
    cache = studio.cache_for(shared["family"])
    size = (shared["width"], shared["height"])
    for name in methods:
        method = parse_method(name)
        control_types = [t for t, _ in method.controls]
        with cache.lock:
            pipe = cache.pipeline_for(control_types, method.ip_adapter)
            pipe.scheduler = cache.scheduler(shared["scheduler"])[0]  # FLUX: its own flow-matching Euler
            kwargs = {
                "prompt": shared["prompt"],
                "num_inference_steps": shared["num_inference_steps"],
                "guidance_scale": 3.5 if cache.family.distilled_guidance else 7.0,
                "width": size[0],
                "height": size[1],
                "generator": torch.Generator("cpu").manual_seed(shared["seed"]),
            }
            if method.controls:
                (control_type, detector), *more = method.controls
                assert not more, "the benchmark compares single-control methods"
                image = studio.maps.detector(detector).detect(photo, size)
                if cache.served_by_union(control_type):  # SDXL's union ControlNet, in the type's mode
                    kwargs["control_image"], kwargs["control_mode"] = [image], [cache.family.union_modes[control_type]]
                else:
                    kwargs[cache.family.control_argument] = image
            if method.ip_adapter:
                cache.use_ip_adapter(pipe, 0.6)
                kwargs["ip_adapter_image"] = reference
            try:
                with torch.inference_mode():
                    pipe(**kwargs)
            finally:
                cache.use_ip_adapter(pipe, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny", choices=PROFILES)
    parser.add_argument("--family", default="sd15", choices=FAMILY_NAMES)
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated method strings")
    parser.add_argument("--seed-count", type=int, default=1, help="seeds per method (S × K rows)")
    args = parser.parse_args()
    methods = args.methods.split(",")

    root = family_root(args.profile)
    settings, spec = settings_for(root, args.family, controlnet_cache_size=3, dtype=args.dtype)
    studio = Studio(settings, spec)
    photo, reference = Image.fromarray(data.astronaut()), Image.fromarray(data.chelsea())
    shared = {
        "family": args.family,
        "prompt": "an astronaut portrait, oil painting",
        "seed": 3,
        "num_inference_steps": args.steps,
        "width": args.size,
        "height": args.size,
        "scheduler": "unipc",
    }
    request = {**shared, "methods": methods, "seed_count": args.seed_count}
    print(
        f"profile={args.profile} family={args.family} dtype={args.dtype} size={args.size}² steps={args.steps} "
        f"device={studio.device} methods={methods} seeds per method={args.seed_count}"
    )

    def comparison(seed: int, batching: str = "exact", previews: bool = False) -> list:
        shown = (lambda index, image, done, total: None) if previews else None
        return list(studio.compare({**request, "seed": seed, "batching": batching}, photo, reference, preview=shown))

    def reset() -> None:
        studio.maps.cache.clear()
        studio.embeddings.clear()

    comparison(0)  # warm-up: load every model and detector on both sides
    comparison(0, "batched", previews=True)
    plain_runs(studio, photo, reference, shared, methods, args.seed_count)
    print("warmed up; measuring", flush=True)

    plain, first, previewed, repeat, batched, exact_live, batched_live = [], [], [], [], [], [], []
    for repeat_number in range(1, args.repeats + 1):  # interleaved, so drift in machine load hits all alike
        started = time.perf_counter()
        plain_runs(studio, photo, reference, shared, methods, args.seed_count)
        plain.append(time.perf_counter() - started)
        print(f"repeat {repeat_number}: plain runs {plain[-1]:.2f}s", flush=True)  # a run cut short still says this

        reset()
        started = time.perf_counter()
        comparison(shared["seed"])
        first.append(time.perf_counter() - started)

        reset()
        detectors = [d for m in methods for _, d in parse_method(m).controls]
        studio.preview_maps(photo, detectors, args.size, args.size)
        started = time.perf_counter()
        comparison(shared["seed"])
        previewed.append(time.perf_counter() - started)

        started = time.perf_counter()
        entries = comparison(shared["seed"] + 1)
        repeat.append(time.perf_counter() - started)

        reset()
        studio.preview_maps(photo, detectors, args.size, args.size)
        started = time.perf_counter()
        comparison(shared["seed"], "batched")
        batched.append(time.perf_counter() - started)
        print(
            f"repeat {repeat_number}: exact after preview {previewed[-1]:.2f}s "
            f"({previewed[-1] / plain[-1]:.3f} of plain), batched {batched[-1]:.2f}s ({batched[-1] / plain[-1]:.3f})",
            flush=True,
        )

        started = time.perf_counter()  # maps still cached: the same case as above, with live previews
        comparison(shared["seed"], "batched", previews=True)
        batched_live.append(time.perf_counter() - started)
        started = time.perf_counter()
        comparison(shared["seed"], "exact", previews=True)
        exact_live.append(time.perf_counter() - started)

    base = statistics.median(plain)
    print(f"{args.seed_count} × {len(methods)} plain diffusers runs: {base:.2f}s")
    for label, times in (
        ("comparison, empty caches", first),
        ("comparison after 'Preview all maps'", previewed),
        ("comparison repeated with a new seed", repeat),
    ):
        print(
            f"{label}: {statistics.median(times):.2f}s -> ratio {statistics.median(times) / base:.3f}  (target <= 0.9)"
        )
    together = statistics.median(batched)
    print(
        f"batched comparison after 'Preview all maps': {together:.2f}s -> ratio {together / base:.3f} to plain runs "
        f"(target <= 0.5 on a GPU), {together / statistics.median(previewed):.3f} to exact (target <= 1.0 on the CPU)"
    )

    for label, live, without in (("exact", exact_live, previewed), ("batched", batched_live, batched)):
        seconds, ratio = statistics.median(live), statistics.median(live) / statistics.median(without)
        print(f"{label} comparison with live previews: {seconds:.2f}s -> ratio {ratio:.3f} (target < 1.10)")

    if studio.cache_for(args.family).spec.adapters.get("canny"):
        adapter_against_controlnet(studio, photo, shared, args.repeats)
    studio.score(entries, request, reference)  # load CLIP and detectors once
    started = time.perf_counter()
    studio.score(entries, {**request, "prompt": shared["prompt"] + " "}, reference)
    per_result = (time.perf_counter() - started) / len(entries)
    print(f"fit scoring adds {per_result:.3f}s per result (warm, every score for every result)")


def adapter_against_controlnet(studio: Studio, photo: Image.Image, shared: dict, repeats: int) -> None:
    """Canny's ControlNet and its T2I-Adapter on the same map and seed (exact runs, map cached): each generation's
    seconds as its cost column shows them. The ControlNet runs every step, the adapter once per generation."""
    request = {**shared, "methods": ["canny", "canny@t2i"], "batching": "exact"}
    list(studio.compare(request, photo))  # load the adapter
    seconds: dict[str, list[float]] = {"canny": [], "canny@t2i": []}
    for _ in range(repeats):
        for entry in studio.compare(request, photo):
            seconds[entry.method.name].append(entry.result.seconds)
    net, adapter = (statistics.median(seconds[m]) for m in ("canny", "canny@t2i"))
    print(
        f"one generation on the same canny map: ControlNet {net:.2f}s, T2I-Adapter {adapter:.2f}s -> ratio "
        f"{adapter / net:.3f} (the adapter's features are computed once, the ControlNet runs every step)"
    )


if __name__ == "__main__":
    main()
