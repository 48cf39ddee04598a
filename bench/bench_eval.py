"""Evaluation throughput: rows per minute of ``python -m app.eval`` with one process and with N, in one run.

Usage: python -m bench.bench_eval [--processes 2] [--seeds 0-3] [--size 128] [--steps 4]

The command reads its models from the studio's settings, as users run it: here the tiny family
(``STUDIO_MODELS=tiny``); on a GPU machine with real weights, run the two commands below by hand.

Both runs evaluate the same bundled photos × seeds × methods into fresh folders and are timed end to end (process
start, model loading, every comparison and score, the merge and the report), as a user would time the command.
On a machine without a GPU the N processes share its cores (``accelerate launch --multi_gpu``, CPU processes in a
gloo group, each with cores / N threads); on a machine with N GPUs each process gets its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.eval.rows import ROWS, read_rows
from bench.common import family_root

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")


def run(launcher: list[str], args: list[str], out: Path, env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    subprocess.run([*launcher, *args, "--out", str(out)], env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, len(read_rows(out / ROWS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--methods", default="text,canny,depth,ip_adapter")
    options = parser.parse_args()
    root = family_root("tiny")
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    photos = work / "photos"
    photos.mkdir()
    for name in PHOTOS:
        (photos / name).write_bytes((ASSETS / name).read_bytes())
    args = [str(photos), "--prompt", "an oil painting", "--references", str(ASSETS / "chelsea.png")]
    args += ["--methods", options.methods, "--seeds", options.seeds, "--width", str(options.size)]
    args += ["--height", str(options.size), "--steps", str(options.steps)]
    env = {**os.environ, "STUDIO_MODELS": "tiny", "STUDIO_CACHE_DIR": str(root.parent), "HF_HUB_OFFLINE": "1"}
    cores = os.cpu_count() or 1
    single = [sys.executable, "-m", "app.eval"]
    several = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes"]
    several += [str(options.processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    several += ["-m", "app.eval"]
    threads = {"OMP_NUM_THREADS": str(max(1, cores // options.processes))}
    one_seconds, one_rows = run(single, args, work / "one", env)
    many_seconds, many_rows = run(several, args, work / "many", {**env, **threads})
    print(f"tiny family {options.size}² {options.steps} steps · {len(PHOTOS)} photos × seeds {options.seeds}")
    print(f"1 process: {one_rows} rows in {one_seconds:.1f}s = {one_rows / one_seconds * 60:.0f} rows/min")
    print(
        f"{options.processes} processes: {many_rows} rows in {many_seconds:.1f}s = {many_rows / many_seconds * 60:.0f} "
        f"rows/min -> {one_seconds / many_seconds:.2f}× (on {cores} CPU cores shared)"
    )


if __name__ == "__main__":
    main()
