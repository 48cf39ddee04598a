"""``python -m app.eval``: the Compare tab's fair comparison, scored, across a folder of photos and several seeds.

One process::

    python -m app.eval assets/ --prompt "an oil painting" --methods text,canny,depth --seeds 0,1 --out runs/demo

Several GPUs (or CPU processes), with accelerate's own configuration (``accelerate config``)::

    accelerate launch -m app.eval assets/ --prompts prompts.jsonl --out runs/demo
    accelerate launch --multi_gpu --num_processes 4 -m app.eval ...   # four GPUs of one machine
    accelerate launch --multi_gpu --num_processes 2 -m app.eval ...   # on a machine without a GPU: two CPU processes

(``accelerate launch --cpu`` starts one process unless given an MPI hostfile; ``torchrun --nproc_per_node N -m
app.eval`` works too.)

Each process takes its share of the (photo, seed) items (``PartialState().split_between_processes``), runs them on
its own device and appends rows to its shard; the main process merges the shards into ``rows.jsonl``. A rerun
into the same ``--out`` skips the items already written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from app.engine.families import FAMILIES
from app.errors import RETRYABLE, StudioError, clipped
from app.eval.inputs import Item, find_photos, parse_seeds, plan, read_prompts
from app.eval.report import write_report
from app.eval.rows import (
    RUN_FILE,
    SKIPPED,
    append_rows,
    done_keys,
    merge,
    read_run_file,
    shard_path,
    write_rows,
)
from app.eval.runner import RunConfig, evaluate_item, failed_rows
from app.images import load_image
from app.request import CommonSettings, IPAdapterMode
from app.request.compare import DEFAULT_METHODS, parse_method
from app.settings import MODEL_FAMILIES, get_settings

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.eval", description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("photos", nargs="+", help="photo files and/or folders of photos")
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="one prompt for every photo")
    prompt.add_argument("--prompts", type=Path, help='JSONL, one {"photo": ..., "prompt": ..., "reference": ...}')
    parser.add_argument("--references", type=Path, help="a reference image for all, or a folder (same file names)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS), help="comma-separated, as in Compare")
    parser.add_argument("--seeds", default="0", help="e.g. 0,1,2 or 0-3")
    parser.add_argument(
        "--family", choices=MODEL_FAMILIES, help="model family (default: the studio's first, STUDIO_FAMILIES)"
    )
    parser.add_argument("--width", type=int, help="default: the family's native size (512 SD1.5, 1024 SDXL)")
    parser.add_argument("--height", type=int, help="default: the family's native size")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument(
        "--guidance", type=float, help="guidance scale (default: the family's own, 7; FLUX.1's distilled 3.5)"
    )
    parser.add_argument("--ip-scale", type=float, help="the image prompt's scale (default 0.6)")
    parser.add_argument(
        "--ip-mode", choices=get_args(IPAdapterMode), help="the image prompt's mode (default full; FLUX.1: redux too)"
    )
    parser.add_argument("--batching", choices=("exact", "batched"), help="default: batched on a GPU, else exact")
    parser.add_argument("--save-images", action="store_true", help="write every result as a PNG with its recipe")
    parser.add_argument("--out", type=Path, required=True, help="results folder (a rerun resumes it)")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace) -> tuple[RunConfig, list[Item], dict[str, str]]:
    """The run's settings and items, every input checked before a model loads; photos that are not usable
    images are left out with their reason.

    Raises:
        StudioError: inputs or settings the run cannot use, saying which and why.
    """
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    family = args.family or get_settings().model_families[0]
    native = FAMILIES[family].default_size
    guidance = args.guidance
    if guidance is None:
        guidance = FAMILIES[family].default_guidance or CommonSettings.model_fields["guidance_scale"].default
    image_prompt = {
        name: value for name, value in (("scale", args.ip_scale), ("mode", args.ip_mode)) if value is not None
    }
    config = RunConfig(
        methods,
        args.width or native,
        args.height or native,
        args.steps,
        guidance,
        args.batching,
        args.save_images,
        family,
        image_prompt or None,
    )
    if args.references is not None and not args.references.exists():
        raise StudioError(f"References: {str(args.references)!r} is neither a file nor a folder.")
    prompts = read_prompts(args.prompts) if args.prompts else None
    items, left_out = plan(find_photos(args.photos), parse_seeds(args.seeds), args.prompt, prompts, args.references)
    for photo, path in {item.photo: item.path for item in items}.items():
        try:
            load_image(path)
        except StudioError as error:
            left_out[photo] = str(error)
    items = [item for item in items if item.photo not in left_out]
    if items:
        config.request(items[0])  # every field in bounds (the same for every item but its prompt)
    return config, items, left_out


def check_out(out: Path, config: RunConfig, settings: dict, create: bool = True) -> None:
    """Check that a run already in ``out`` used these settings; else (``create``) make ``out`` and its ``run.json``.

    Every process checks (so all refuse together and none waits for a main process that gave up); the main
    process creates. A folder that holds anything but a run of this command is never written into.

    Raises:
        StudioError: ``out`` is a file, holds other files or another run, or cannot be created.
    """
    if out.exists() and not out.is_dir():
        raise StudioError(f"--out {str(out)!r} is a file; give a folder for the results (created if missing).")
    wanted = {"config": config.describe(), "models": settings}
    target = out / RUN_FILE
    if target.is_file():
        found = read_run_file(out)
        if {k: found.get(k) for k in wanted} != wanted:
            raise StudioError(
                f"{out} holds a run with other settings ({json.dumps(found.get('config'))[:300]}); resume it with the "
                "same options, or choose another --out."
            )
        return
    if not create:
        return
    try:
        others = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    except OSError as error:
        raise StudioError(f"--out {str(out)!r} cannot be read ({error.strerror or error}).") from None
    if others:
        shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
        raise StudioError(
            f"--out {str(out)!r} holds {len(others)} other file(s) ({shown}) and no {RUN_FILE}; give an empty or new "
            "folder, or the folder of an earlier run of this command to resume it."
        )
    text = json.dumps({**wanted, "started": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2) + "\n"
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = out / f".{RUN_FILE}.tmp"
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, target)  # other processes read it whole or not at all
    except OSError as error:
        raise StudioError(f"--out {str(out)!r} cannot be written ({error.strerror or error}).") from None


def main(argv: list[str] | None = None) -> int:
    """Run an evaluation (this process's share of it); 0 when done, 2 when the inputs or settings cannot run."""
    args = parse_args(argv)
    import torch
    from accelerate import PartialState

    # Without a GPU, processes started by accelerate (or torchrun) join a CPU process group (gloo).
    cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if state.is_main_process else (lambda text: None)
    try:
        config, items, left_out = prepare(args)
        studio = _studio(state)
        studio.check_family(config.family)
        models = {"family": studio.settings.model_source, "dtype": str(studio.dtype).removeprefix("torch.")}
        check_out(args.out, config, models, create=state.is_main_process)
        if state.is_main_process:  # what this run left out, rewritten each run (a rerun skips the same photos)
            write_rows(args.out / SKIPPED, [{"photo": p, "reason": r} for p, r in sorted(left_out.items())])
        done = done_keys(args.out)
    except StudioError as error:
        say(f"Cannot run this evaluation: {error}")
        return 2
    for photo, reason in sorted(left_out.items()):
        say(f"skipped {photo}: {reason}")
    state.wait_for_everyone()
    todo = [item for item in items if item.key not in done]
    say(
        f"{len(items)} comparisons ({len({i.photo for i in items})} photos × {len({i.seed for i in items})} seeds), "
        f"{len(items) - len(todo)} already written; {len(todo)} to run on {state.num_processes} process(es)"
    )
    started = time.perf_counter()
    run_share(state, studio, todo, config, args.out)
    state.wait_for_everyone()
    if not state.is_main_process:
        return 0
    rows = merge(args.out, [parse_method(m).name for m in config.methods])
    minutes = (time.perf_counter() - started) / 60
    rate = f", {len(todo) * len(config.methods) / minutes:.1f} rows/min" if todo and minutes > 0 else ""
    say(f"{len(rows)} rows in {args.out / 'rows.jsonl'}{rate}; {failures(rows)}; {len(left_out)} photo(s) skipped")
    if any(row.get("retry") for row in rows):
        say("Rows marked to retry (a model that did not load, memory, a fault) run again on a rerun into this --out.")
    try:
        report, problems = write_report(args.out)
        for problem in problems:
            say(problem)
        say(f"report: {report}")
    except StudioError as error:
        say(f"No report: {error}")
    if not any(scored(row) for row in rows):
        say("No row produced a fit score, so nothing here answers the question: see why above.")
        return 1
    return 0


def run_share(state: Any, studio: Any, todo: list, config: Any, out: Path) -> None:
    """This process's share of ``todo``, each item's rows appended to its shard as soon as they exist. A failed
    item is written as failed rows (retried on a rerun where the fault may pass), never losing the others."""
    from tqdm.auto import tqdm

    with state.split_between_processes(todo) as mine:
        label = f"process 1 of {state.num_processes}"
        for item in tqdm(mine, desc=label, unit="photo×seed", disable=not state.is_main_process):
            try:
                rows = evaluate_item(studio, item, config, out)
            except StudioError as error:  # e.g. a reference that is not an image: the item is reported, not run
                rows = failed_rows(item, config, str(error), retry=isinstance(error, RETRYABLE))
            except Exception as error:  # a fault costs its item, never the rows of the others; a rerun retries it
                logger.exception("item %s seed %s failed", item.photo, item.seed)
                rows = failed_rows(item, config, f"{type(error).__name__}: {error}"[:500], retry=True)
            append_rows(shard_path(out, state.process_index), rows)


def scored(row: dict) -> bool:
    """Whether a row holds at least one fit score."""
    return any(value is not None for value in (row.get("scores") or {}).values())


def failures(rows: list[dict]) -> str:
    """How many rows failed, and the most common reason, in a few words."""
    errors = Counter(str(row["error"]) for row in rows if row.get("error"))
    if not errors:
        return "none failed"
    (reason, count), total = errors.most_common(1)[0], sum(errors.values())
    return f"{total} failed (most often, {count}×: {clipped(reason, 200)})"


def _studio(state):
    """The studio of this process, on this process's device (accelerate gives each its own)."""
    import torch

    from app.settings import Settings
    from app.studio import Studio

    settings = Settings.from_env()
    if state.device.type == "cuda":
        torch.cuda.set_device(state.device)  # "cuda" in the studio now means this process's GPU
    elif settings.device == "auto":
        settings = replace(settings, device=state.device.type)
    return Studio(settings)


__all__ = ["main", "prepare"]
