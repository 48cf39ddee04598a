"""Preprocessor timings on CPU at 512 × 512: cold load, first map, repeat (cache hit).

For every detector: the time its model takes to load (cold, imports done),
the first map of a photo, and the same request again, which must be a cache
hit (target < 5 ms). The default sources are the tiny offline set: the
``openpose`` and ``midas`` files there hold the *real* architectures (random
weights), so their map times are representative of real inference; the
tiny ViTPose / RT-DETR / Depth Anything are far smaller than the real ones,
so their figures show only the pipeline's own overhead. Run with
``--sources env`` where the real weights are reachable.

Usage: ``.venv/bin/python bench/bench_preprocess.py [--sources tiny|env] [--repeats 20]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.preprocess import REGISTRY, MapService
from app.preprocess.sources import DetectorSources
from app.tiny import build_tiny_detectors

SIZE = 512
HIT_TARGET_S = 0.005
# Thresholds at zero so the random tiny ViTPose "finds" people and the map is drawn.
PARAMS = {"vitpose": {"person_threshold": 0.0, "keypoint_threshold": 0.0}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", choices=("tiny", "env"), default="tiny")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.astronaut())

    started = time.perf_counter()
    import controlnet_aux.open_pose  # noqa: F401
    import torch
    import transformers  # noqa: F401

    imports = time.perf_counter() - started
    if args.sources == "tiny":
        started = time.perf_counter()
        sources = build_tiny_detectors(Path(tempfile.mkdtemp(prefix="bench-detectors-")), force=True)
        built = time.perf_counter() - started
        print(f"tiny detector folder built in {built:.2f} s")
    else:
        sources = DetectorSources.from_env()
    print(f"imports (torch, transformers, controlnet-aux): {imports:.2f} s; torch threads: {torch.get_num_threads()}")
    print(f"sources: {sources.label}; image 512×512 astronaut; map {SIZE}×{SIZE}; repeats {args.repeats}\n")

    header = f"{'detector':<16}{'cold load':>11}{'first map':>11}{'hit median':>12}{'hit max':>10}  hit < 5 ms"
    print(header)
    print("-" * len(header))
    all_ok = True
    for name in REGISTRY:
        service = MapService(sources)  # a fresh service: nothing loaded, nothing cached
        detector = service.detector(name)
        started = time.perf_counter()
        try:
            detector.load()
        except Exception as exc:
            print(f"{name:<16}failed to load: {exc}")
            continue
        load = time.perf_counter() - started
        first = service.get_map(photo, name, SIZE, params=PARAMS.get(name))
        assert not first.cached
        hits = []
        for _ in range(args.repeats):
            result = service.get_map(photo, name, SIZE, params=PARAMS.get(name))
            assert result.cached
            hits.append(result.seconds)
        ok = statistics.median(hits) < HIT_TARGET_S
        all_ok &= ok
        print(
            f"{name:<16}{load * 1000:>9.0f}ms{first.seconds * 1000:>9.0f}ms"
            f"{statistics.median(hits) * 1000:>10.2f}ms{max(hits) * 1000:>8.2f}ms  {'yes' if ok else 'NO'}"
        )
    print("\ncache hits include input normalisation and hashing of the 512×512 photo and a copy of the map.")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
