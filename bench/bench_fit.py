"""How much time the fit scoring adds per result (tiny model family, CPU).

Scores a five-method comparison at 512 × 512 with every scorer applicable
(prompt and reference CLIP, canny F1, pose PCK, depth Spearman), on the tiny
CLIP and the tiny detectors, and prints the time per result: cold (models
loading) and warm, in total and per scorer. Tiny models are small, so these
figures are mostly the scorers' own overhead (image preprocessing, Canny,
ranking); real CLIP ViT-B/32, ViTPose and Depth Anything add their inference.

Usage: ``.venv/bin/python bench/bench_fit.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.fit import ClipEmbedder, FitContext, default_scorers, score_results
from app.tiny import build_tiny_detectors, build_tiny_scorers

SIZE = 512
METHODS = ("text", "canny", "pose", "depth", "ip_adapter")


def photos() -> tuple[Image.Image, Image.Image, dict[str, Image.Image]]:
    from skimage import data

    control = Image.fromarray(data.astronaut()).resize((SIZE, SIZE))
    reference = Image.fromarray(data.chelsea()).resize((SIZE, SIZE))
    rng = np.random.default_rng(0)
    outputs = {
        m: Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)) if i % 2 else control
        for i, m in enumerate(METHODS)
    }
    return control, reference, outputs


def build_context(root: Path, control: Image.Image, reference: Image.Image) -> tuple[FitContext, str]:
    clip = ClipEmbedder(build_tiny_scorers(root / "scorers"))
    try:
        from app.preprocess import MapService
    except ImportError:
        return FitContext(prompt="an astronaut", reference=reference, clip=clip), "no tiny detectors: CLIP only"
    service = MapService(build_tiny_detectors(root / "detectors"))
    maps = {
        "canny": service.get_map(control, "canny", SIZE),
        "depth": service.get_map(control, "depth_anything", SIZE),
        "pose": service.get_map(control, "vitpose", SIZE, params={"keypoint_threshold": 0.0}),
    }
    return FitContext.from_maps("an astronaut on a spacewalk", reference, maps, service, clip), "all scorers"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm comparisons to time")
    args = parser.parse_args()
    control, reference, outputs = photos()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        ctx, what = build_context(Path(folder), control, reference)
        setup = time.perf_counter() - started

        started = time.perf_counter()
        cold = score_results(outputs, ctx)
        cold_total = time.perf_counter() - started

        warm_per_result: list[float] = []
        per_scorer: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            ctx.get_clip().clear()  # a new comparison: prompt and reference are encoded again
            matrix = score_results(outputs, ctx)
            warm_per_result.extend(matrix.scoring_seconds.values())
            for scorer in default_scorers():
                if not scorer.applies(ctx):
                    continue
                ctx.get_clip().clear()
                single = score_results(outputs, ctx, scorers=[scorer])
                per_scorer.setdefault(scorer.label, []).extend(single.scoring_seconds.values())

    print(f"fit scoring, tiny family, CPU, {SIZE}x{SIZE}, {len(METHODS)} methods per comparison ({what})")
    print(f"  columns: {', '.join(c.name for c in cold.columns)}")
    print(f"  setup (build tiny models, control maps): {setup:.2f} s")
    print(
        f"  cold comparison (models load on first use): {cold_total:.2f} s = {cold_total / len(METHODS):.3f} s/result"
    )
    print(
        f"  warm: {statistics.mean(warm_per_result):.3f} s/result mean, {statistics.median(warm_per_result):.3f} s "
        f"median, {max(warm_per_result):.3f} s max (n={len(warm_per_result)})"
    )
    for label, times in per_scorer.items():
        print(f"    {label:<18} {statistics.mean(times) * 1000:8.1f} ms/result")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
