"""Engine benchmark: studio overhead, parameter sharing and method-switch latency, measured in one run.

Usage: python -m bench.bench_engine [--profile tiny|sd15|sdxl|flux] [--family sd15|sdxl|flux] [--size 256]
       [--steps 4] [--repeats 5] [--dtype auto]

``--profile sdxl --family sdxl`` runs SDXL at its real sizes (random weights; about 5 B parameters with the union
ControlNet and the ViT-H encoder: use ``--dtype bfloat16`` on a CPU with less than 32 GB). ``--profile flux --family
flux`` runs FLUX.1 [dev]'s real sizes (about 19 B parameters with its ControlNet: a GPU machine's memory);
``--profile tiny --family flux`` its tiny twin.

Prints three ratios/figures with their targets:
  (a) studio generate time / hand-written plain diffusers call, same settings (target <= 1.03);
  (b) parameters resident with every method loaded / sum of the unique components' parameters
      (target <= 1.05); resident parameters are counted by tensor storage, so a copied UNet would count twice;
  (c) extra latency of switching method after warm-up (target < 10 ms).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.engine.families import FAMILY_NAMES
from app.request import parse_request
from app.studio import Studio
from bench.common import PROFILES, family_root, median_seconds, settings_for


def resident_parameters(studio: Studio) -> int:
    """Parameters reachable from every loaded pipeline and model, each storage counted once."""
    cache = studio.cache
    modules = []
    for pipe in (cache._base, *cache._derived.values()):
        if pipe is not None:
            modules += [m for m in pipe.components.values() if isinstance(m, torch.nn.Module)]
    modules += list(cache._controlnets.values())
    if cache._ip_parts is not None:
        modules.append(cache._ip_parts.projection)
        modules += [p for p in cache._ip_parts.processors.values() if isinstance(p, torch.nn.Module)]
    seen, total = set(), 0
    for module in modules:
        for tensor in module.parameters():
            key = tensor.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                total += tensor.numel()
    return total


def component_files(spec, half_vae: bool) -> list[Path]:
    """The weight files of the family's components: base pipeline (its VAE, or the float16 one that replaces it),
    ControlNets, IP-Adapter and its image encoder; full precision only (not the NAME.fp16.safetensors copies)."""
    # One folder may serve several control types (FLUX's Union-Pro): each counted once.
    folders = [
        Path(spec.base),
        *map(Path, dict.fromkeys(spec.controlnets.values())),
        *([Path(spec.union)] if spec.union else []),
    ]
    files = [f for folder in folders for f in folder.rglob("*.safetensors")]
    if half_vae and spec.half_vae:
        files = [f for f in files if f.parent.name != "vae"] + list(Path(spec.half_vae).rglob("*.safetensors"))
    ip = spec.ip_adapter
    if ip.image_encoder_repo:  # an encoder in a repository of its own (FLUX's: all of CLIP ViT-L/14)
        encoder = Path(ip.image_encoder_repo) / ip.image_encoder_folder
    else:
        folder = ip.image_encoder_folder
        encoder = Path(ip.repo) / (folder if "/" in folder else f"{ip.subfolder}/{folder}")
    files += [Path(ip.repo) / ip.subfolder / ip.weight_name, *encoder.glob("*.safetensors")]
    return [f for f in files if len(f.suffixes) == 1]


ENCODER_KEYS = ("vision_model.", "visual_projection.")
"""What an IP-Adapter loads of a whole CLIP checkpoint (FLUX's reads CLIP ViT-L/14's, text half included)."""


def unique_component_parameters(spec, half_vae: bool = False) -> int:
    """Sum of parameters of each component file on disk (base + ControlNets + IP-Adapter)."""
    from safetensors import safe_open

    whole_clip = spec.ip_adapter.image_encoder_repo
    total = 0
    for path in component_files(spec, half_vae):
        vision_only = whole_clip is not None and path.is_relative_to(whole_clip)
        with safe_open(str(path), "pt") as weights:
            for key in weights.keys():  # noqa: SIM118 - safe_open has no __iter__
                if not vision_only or key.startswith(ENCODER_KEYS):
                    total += int(np.prod(weights.get_slice(key).get_shape()))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny", choices=PROFILES)
    parser.add_argument("--family", default="sd15", choices=FAMILY_NAMES)
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    root = family_root(args.profile)
    settings, spec = settings_for(root, args.family, controlnet_cache_size=3, dtype=args.dtype)
    studio = Studio(settings, spec)
    request = {
        "family": args.family,
        "prompt": "a lighthouse on a cliff at dusk",
        "seed": 5,
        "num_inference_steps": args.steps,
        "width": args.size,
        "height": args.size,
        "scheduler": "unipc",
    }
    print(
        f"profile={args.profile} family={args.family} dtype={args.dtype} size={args.size}² steps={args.steps} "
        f"device={studio.cache.device} "
        f"threads={torch.get_num_threads()}"
    )

    # (a) overhead against a plain diffusers call on the very same pipeline object and settings.
    pipe = studio.cache.base()
    studio.generate(request)  # warm-up (loads, encodes the prompt once)

    def plain() -> None:
        pipe.scheduler = studio.cache.scheduler("unipc")[0]  # UniPC, or FLUX's own flow-matching Euler
        with torch.inference_mode():
            pipe(
                prompt=request["prompt"],
                num_inference_steps=args.steps,
                guidance_scale=parse_request(request).guidance_scale,  # FLUX's distilled 3.5, else 7
                width=args.size,
                height=args.size,
                generator=torch.Generator("cpu").manual_seed(5),
            )

    plain()

    def studio_cold_prompt() -> None:
        studio.embeddings.clear()  # encode the prompt again, as the plain call does
        studio.generate(request)

    studio_times, cold_times, plain_times = [], [], []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
        studio_times.append(median_seconds(lambda: studio.generate(request), 1))
        cold_times.append(median_seconds(studio_cold_prompt, 1))
        plain_times.append(median_seconds(plain, 1))
    plain_median = statistics.median(plain_times)
    print(
        f"(a) studio / plain diffusers time: {statistics.median(studio_times):.3f}s / {plain_median:.3f}s = "
        f"{statistics.median(studio_times) / plain_median:.3f} with the prompt-embedding cache, "
        f"{statistics.median(cold_times) / plain_median:.3f} encoding the prompt each time  (target <= 1.03)"
    )

    # (b) every method loaded: base + three ControlNets + IP-Adapter.
    control = Image.fromarray(np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8))
    small = {**request, "num_inference_steps": 1}
    for control_type in ("canny", "pose", "depth"):
        studio.generate({**small, "controls": [{"control_type": control_type, "image": control}]})
    studio.generate({**small, "ip_adapter": {"scale": 0.6, "image": control}})
    resident = resident_parameters(studio)
    unique = unique_component_parameters(spec, half_vae=studio.cache.dtype == torch.float16)
    print(f"(b) resident / unique parameters: {resident:,} / {unique:,} = {resident / unique:.4f}  (target <= 1.05)")

    # (c) switching: attach a method's ControlNet / IP-Adapter and restore, as generate() does.
    cache = studio.cache
    methods = [([], False), (["canny"], False), (["depth"], False), ([], True), (["pose"], True), ([], False)]
    switch_times = []
    for _ in range(50):
        for types, ip in methods:
            started = time.perf_counter()
            with cache.lock:
                chosen = cache.pipeline_for(types, ip)
                chosen.scheduler = cache.scheduler("unipc")[0]
                cache.use_ip_adapter(chosen, 0.6 if ip else None)
                cache.use_ip_adapter(chosen, None)
            switch_times.append(time.perf_counter() - started)
    same_times = []
    for _ in range(300):
        started = time.perf_counter()
        with cache.lock:
            chosen = cache.pipeline_for([], False)
            chosen.scheduler = cache.scheduler("unipc")[0]
            cache.use_ip_adapter(chosen, None)
        same_times.append(time.perf_counter() - started)
    extra_ms = (statistics.median(switch_times) - statistics.median(same_times)) * 1000
    print(
        f"(c) method switch: {statistics.median(switch_times) * 1000:.2f} ms vs same method "
        f"{statistics.median(same_times) * 1000:.2f} ms -> extra {extra_ms:.2f} ms  (target < 10 ms)"
    )


if __name__ == "__main__":
    main()
