"""A comparison's run: every method on every seed, exactly (one solo run each) or in batched passes; and a sweep's,
cell by cell.

:meth:`app.studio.Studio.compare` validates the request and hands it here. A method whose image is missing or whose
map fails is left out with its reason (:func:`failed_entry`) and the others run; in batched mode a pass that fails
costs its own methods only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from PIL import Image

from app.engine.devices import is_out_of_memory, release_memory
from app.engine.families import FAMILIES
from app.engine.previews import PreviewFn
from app.engine.result import Result
from app.errors import RETRYABLE, Cancelled, StudioError
from app.preprocess import MapResult
from app.request import ControlSettings, GenerationRequest, IPAdapterSettings, check_adapters, check_family
from app.request.compare import LEFT_OUT, CompareEntry, CompareProgressFn, CompareRequest, Method
from app.request.sweep import SweepCell, SweepRequest, SweepResult, cell_label, sweep_grid

logger = logging.getLogger(__name__)

ComparePreviewFn = Callable[[int, Image.Image, int, int], None]


def run_comparison(
    studio: Any,
    request: CompareRequest,
    methods: list[Method],
    structure: Image.Image | None,
    reference: Image.Image | None,
    progress: CompareProgressFn | None = None,
    cancel: threading.Event | None = None,
    preview: ComparePreviewFn | None = None,
) -> Iterator[CompareEntry]:
    """A validated comparison on ``studio`` (:meth:`app.studio.Studio.compare` checks it first): each method on
    every seed, exactly (one solo run each) or batched, yielding each method's entry as it finishes."""
    runs = len(methods) * request.seed_count
    if (request.batching or studio.default_batching()) == "batched" and runs > 1:
        yield from _compare_batched(studio, request, methods, structure, reference, progress, cancel, preview)
        return
    for index, method in enumerate(methods):
        maps: list[MapResult] = []
        try:
            check_inputs(method, structure, reference, request)
            for _, detector in method.controls:
                maps.append(method_map(studio, request, detector, structure))
            generation = method_request(request, method, maps, reference)
            if progress is not None:
                progress(index / len(methods), f"{method.label}: starting")
            results = []
            for offset, run in enumerate(on_seeds(generation, request.seeds)):  # exact: each its solo run

                def step(done: int, steps: int, before=index * request.seed_count + offset, label=method.label) -> None:
                    if progress is not None:
                        progress((before * steps + done) / (runs * steps), f"{label}: step {done}/{steps}")

                shown = None if preview is None or offset else for_methods(preview, [index])
                results.append(studio.generate(run, step, cancel, shown))
            yield CompareEntry(method, Result.of_seeds(results), maps)
        except Cancelled:
            raise
        except Exception as error:
            yield failed_entry(method, maps, error)


FUSED_NOTE = "Ran on its own: the union ControlNet fuses its control types in one call."


def alone_note(generation: GenerationRequest) -> str | None:
    """Why a method of a batched comparison must run on its own, or None when it can share a pass: a T2I-Adapter
    method (diffusers' adapter pipeline adds its features to every row of a call), a Redux one (a longer prompt),
    and an IP-Adapter one on a family whose IP attention takes no per-row masks (FLUX). A union ControlNet fusing
    several modes is decided by the cache (:data:`FUSED_NOTE`)."""
    if any(c.adapter for c in generation.controls):
        return "Ran on its own: the T2I-Adapter pipeline steers every row of a call."
    if generation.ip_adapter is not None and generation.ip_adapter.mode == "redux":
        return "Ran on its own: Redux lengthens the prompt by its image tokens, which other rows do not have."
    if generation.ip_adapter is not None and not FAMILIES[generation.family].ip_adapter_masks:
        return f"Ran on its own: {FAMILIES[generation.family].short}'s IP-Adapter reaches every row of a call."
    return None


def method_map(studio: Any, request: CompareRequest, detector: str, structure: Image.Image | None) -> MapResult:
    """One control map of a comparison's method, from the map cache."""
    return studio.control_map(
        structure, detector, request.width, request.height, request.fit, request.detector_params.get(detector)
    )


def method_request(
    request: CompareRequest, method: Method, maps: list[MapResult], reference: Image.Image | None
) -> GenerationRequest:
    """The generation one method of a comparison is: the shared settings, its maps, the reference if it uses it.

    Raises:
        StudioError: the method's family cannot run it so (a T2I-Adapter on SD1.5): its tile says why.
    """
    controls = [
        ControlSettings(
            control_type=t, adapter=t in method.adapters, image=m.map, **request.control_for(t).model_dump()
        )
        for (t, _), m in zip(method.controls, maps, strict=True)
    ]
    try:
        check_adapters(request.family, controls, request.width, request.height)
    except ValueError as error:
        raise StudioError(f"{str(error)[:1].upper()}{str(error)[1:]}.") from None
    return GenerationRequest(
        **request.common(),
        controls=controls,
        ip_adapter=IPAdapterSettings(**request.ip_adapter.model_dump(), image=reference) if method.ip_adapter else None,
    )


def _compare_batched(
    studio: Any,
    request: CompareRequest,
    methods: list[Method],
    structure: Image.Image | None,
    reference: Image.Image | None,
    progress: CompareProgressFn | None,
    cancel: threading.Event | None,
    preview: ComparePreviewFn | None = None,
) -> Iterator[CompareEntry]:
    """:func:`run_comparison` in passes of up to ``settings.compare_batch`` methods (see :mod:`app.engine.batched`).

    A method whose map fails is left out of the pass with its reason; a pass that fails costs its methods only.
    """
    entries: list[CompareEntry | None] = [None] * len(methods)
    ready: list[tuple[int, GenerationRequest, list[MapResult]]] = []
    for index, method in enumerate(methods):
        maps: list[MapResult] = []
        try:
            check_inputs(method, structure, reference, request)
            for _, detector in method.controls:
                maps.append(method_map(studio, request, detector, structure))
            ready.append((index, method_request(request, method, maps, reference), maps))
        except Exception as error:
            entries[index] = failed_entry(method, maps, error)
    # A method using a union ControlNet in several modes at once runs on its own (see app.engine.batched), as do
    # the methods alone_note names.
    cache = studio.cache_for(request.family)
    fused = [r for r in ready if sum(cache.served_by_union(c.control_type) for c in r[1].controls) > 1]
    alone = [r for r in ready if r not in fused and alone_note(r[1]) is not None]
    ready = [r for r in ready if r not in fused and r not in alone]
    for index, generation, maps in fused + alone:
        try:
            results = []
            for offset, run in enumerate(on_seeds(generation, request.seeds)):
                shown = None if preview is None or offset else for_methods(preview, [index])
                results.append(studio.generate(run, None, cancel, shown))
            result = Result.of_seeds(results)
            result.notes.append(alone_note(generation) or FUSED_NOTE)
            entries[index] = CompareEntry(methods[index], result, maps)
        except Cancelled:
            raise
        except Exception as error:
            entries[index] = failed_entry(methods[index], maps, error)
    done, failed = _run_passes(studio, request, methods, ready, progress, cancel, preview)
    for index, _, maps in ready:
        if index in failed:
            entries[index] = failed_entry(methods[index], maps, failed[index])
        else:
            entries[index] = CompareEntry(methods[index], Result.of_seeds(done[index]), maps)
    yield from (entry for entry in entries if entry is not None)


def _run_passes(
    studio: Any,
    request: CompareRequest,
    methods: list[Method],
    ready: list[tuple[int, GenerationRequest, list[MapResult]]],
    progress: CompareProgressFn | None,
    cancel: threading.Event | None,
    preview: ComparePreviewFn | None,
) -> tuple[dict[int, list[Result]], dict[int, Exception]]:
    """The ready methods' rows in batched passes: each method's results (seed order) and why a method failed."""
    # One row per (method, seed), method-major; passes of up to compare_batch rows.
    rows = [
        (index, run, maps, offset)
        for index, generation, maps in ready
        for offset, run in enumerate(on_seeds(generation, request.seeds))
    ]
    done: dict[int, list[Result]] = {}
    failed: dict[int, Exception] = {}
    size = studio.settings.compare_batch
    for start in range(0, len(rows), size):
        group = [row for row in rows[start : start + size] if row[0] not in failed]
        if not group:
            continue

        def step(done_steps: int, steps: int, start=start, group=group) -> None:
            if progress is not None:
                names = ", ".join(dict.fromkeys(methods[i].label for i, _, _, _ in group))
                fraction = (start + len(group) * done_steps / steps) / len(rows)
                progress(fraction, f"{names}: step {done_steps}/{steps}")

        shown = None if preview is None else for_rows(preview, [i if not o else None for i, _, _, o in group])
        try:
            results = studio.generate_batch([g for _, g, _, _ in group], step, cancel, shown)
        except Cancelled:
            raise
        except Exception as error:  # the pass's fault costs its methods only
            for index, _, _, _ in group:
                failed.setdefault(index, error)
            continue
        for (index, _, _, _), result in zip(group, results, strict=True):
            done.setdefault(index, []).append(result)
    return done, failed


def for_methods(preview: ComparePreviewFn, indices: list[int]) -> PreviewFn:
    """A run's preview callback that hands each batch item's preview to the comparison's, by method index."""
    return for_rows(preview, list(indices))


def for_rows(preview: ComparePreviewFn, indices: list[int | None]) -> PreviewFn:
    """A run's preview callback: each batch row's preview to the comparison's by method index; rows marked None
    (a method's later seeds: its tile previews its first) are not shown."""

    def show(images: list[Image.Image], done: int, total: int) -> None:
        for index, image in zip(indices, images, strict=True):
            if index is not None:
                preview(index, image, done, total)

    return show


def on_seeds(generation: GenerationRequest, seeds: list[int]) -> list[GenerationRequest]:
    """One method's generation on each of a comparison's seeds (``generation`` itself on its own seed)."""
    return [generation if seed == generation.seed else generation.model_copy(update={"seed": seed}) for seed in seeds]


def check_inputs(
    method: Method, structure: Image.Image | None, reference: Image.Image | None, request: CompareRequest | None = None
) -> None:
    """Refuse one method of a comparison whose image is missing, or that ``request``'s family cannot run (the others
    still run); the message starts with :data:`LEFT_OUT`.

    Raises:
        StudioError: saying which image it needs, received none; or what the family lacks.
    """
    if request is not None:
        try:
            types = [t for t, _ in method.controls]
            ip_mode = request.ip_adapter.mode if method.ip_adapter else None
            check_family(request.family, types, ip_mode, request.width, request.height)
        except ValueError as error:
            raise StudioError(f"{LEFT_OUT} {method.label}: {error}.") from None
    missing = []
    if method.controls and structure is None:
        missing.append("a structure photo (its maps are made from it)")
    if method.ip_adapter and reference is None:
        missing.append("a reference image")
    if missing:
        raise StudioError(f"{LEFT_OUT} {method.label} needs {' and '.join(missing)}, received none.")


def failed_entry(method: Method, maps: list[MapResult], error: Exception) -> CompareEntry:
    """The entry of a comparison's method that could not run. A studio error says why; anything else (a kernel
    error, a detector bug) is logged and named, and costs only that method. Call in the ``except`` block."""
    if isinstance(error, StudioError):
        return CompareEntry(method, None, maps, str(error), retry=isinstance(error, RETRYABLE))
    logger.exception("method %s of a comparison failed", method.name)
    if is_out_of_memory(error):  # e.g. a detector on the GPU, before generate's own handling
        release_memory()
    return CompareEntry(method, None, maps, f"{method.label} failed: {type(error).__name__}: {error}"[:500], retry=True)


def run_sweep(
    studio: Any,
    sweep: SweepRequest,
    planned: list,
    structure_image: Any,
    reference_image: Any,
    progress: CompareProgressFn | None,
    cancel: threading.Event | None,
    on_cell: Callable[[SweepCell], None] | None,
) -> SweepResult:
    """A validated sweep on ``studio`` (:meth:`app.studio.Studio.sweep` checks it first): each planned cell a
    one-method comparison, in order, then the fit of every cell that ran."""
    cells: list[SweepCell] = []
    for index, (x_value, y_value, cell_request) in enumerate(planned):

        def cell_progress(fraction: float, label: str, index=index) -> None:
            if progress is not None:
                progress((index + fraction) / len(planned), f"cell {index + 1}/{len(planned)} · {label}")

        entry = next(iter(studio.compare(cell_request, structure_image, reference_image, cell_progress, cancel)))
        cells.append(SweepCell(x_value, y_value, cell_label(sweep, x_value, y_value), entry))
        if on_cell is not None:
            on_cell(cells[-1])
    ran = {cell.label: cell.entry for cell in cells if cell.entry.result is not None}
    scorecard = studio.score(ran, sweep.base, reference_image) if ran else None
    return SweepResult(sweep, cells, sweep_grid(sweep, cells), scorecard)


def maps_to_score_against(entries: Iterable[CompareEntry], detectors: Mapping[str, str]) -> dict[str, MapResult]:
    """One map per control type for scoring a comparison: the one made by ``detectors``' choice for that type
    where a method used it, else the first one used."""
    maps: dict[str, MapResult] = {}
    for entry in entries:
        for made in entry.maps:
            if made.detector == detectors.get(made.control_type) or made.control_type not in maps:
                maps[made.control_type] = made
    return maps
