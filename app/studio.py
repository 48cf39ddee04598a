"""The one entry point the UI, the HTTP API and scripts use to generate."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from app.controls import CONTROL_TYPES
from app.engine.calls import (
    batch_arguments,
    batch_time_shares,
    call_arguments,
    net_seconds,
    reference_rows,
    run_call,
    step_callback,
)
from app.engine.devices import aux_placement, resident_family_limit, resolve_device
from app.engine.embeddings import EmbeddingCache
from app.engine.families import FAMILIES
from app.engine.models import ModelSpec
from app.engine.pipelines import PipelineCache, SharedModules
from app.engine.placement import Placement
from app.engine.previews import PreviewFn
from app.engine.result import Result
from app.engine.schedulers import make_scheduler
from app.errors import RETRYABLE, Cancelled, OutOfMemory, StudioError
from app.fit import ClipEmbedder, FitContext, ScorerSources, advise, score_results
from app.images import load_image
from app.preprocess import DEFAULTS as DEFAULT_DETECTORS
from app.preprocess import MapResult, MapService, PreviewItem
from app.request import ControlSettings, GenerationRequest, IPAdapterSettings, parse_request
from app.request.compare import (
    LEFT_OUT,
    CompareEntry,
    CompareProgressFn,
    CompareRequest,
    Method,
    Scorecard,
    check_detector,
    parse_compare_request,
)
from app.request.labels import describe_field
from app.request.sweep import SweepCell, SweepRequest, SweepResult, cell_label, cell_requests, parse_sweep, sweep_grid
from app.settings import Settings, get_settings
from app.tiny import build_tiny_detectors, build_tiny_scorers, ensure_tiny_family

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
"""Called after each denoising step with (steps done, total steps)."""
ComparePreviewFn = Callable[[int, Image.Image, int, int], None]
"""Called with (method's index in the comparison, its preview, steps done, total steps)."""


class Studio:
    """Validates requests, runs them on the shared :class:`PipelineCache` and reports their cost."""

    def __init__(
        self,
        settings: Settings | None = None,
        spec: ModelSpec | Sequence[ModelSpec] | None = None,
        maps: MapService | None = None,
    ):
        """
        Args:
            settings: Operator settings; default: the process's.
            spec: The model families to serve, one spec each (the first is the default family); default: the
                families the settings name, from the Hub or the tiny family.
            maps: The detector service; default: the spec's (the tiny family ships its own detectors).
        """
        self.settings = settings or get_settings()
        specs = [spec] if isinstance(spec, ModelSpec) else list(spec or specs_for(self.settings))
        self.specs: dict[str, ModelSpec] = {s.family: s for s in specs}
        self.spec = specs[0]
        self.device, self.dtype = resolve_device(self.settings)
        # One lock for every family's cache: they share the device, so one call at a time uses it.
        self.lock = threading.RLock()
        self._caches: OrderedDict[str, PipelineCache] = OrderedDict()  # loaded families, least recently used first
        self._shared_modules = SharedModules()
        self.resident_limit = resident_family_limit(self.settings, self.device, len(self.specs))
        self.aux = aux_placement(self.settings)  # detectors and CLIP: the studio's device unless kept on the CPU
        self.maps = maps or _map_service_for(self.spec, self.aux)
        self.clip = ClipEmbedder(_scorer_sources_for(self.spec), placement=self.aux)  # loads on first scoring
        self.embeddings = EmbeddingCache()

    @property
    def families(self) -> tuple[str, ...]:
        """The model families this studio serves, the default first."""
        return tuple(self.specs)

    @property
    def default_family(self) -> str:
        return self.spec.family

    @property
    def cache(self) -> PipelineCache:
        """The default family's pipeline cache."""
        return self.cache_for(self.default_family)

    def cache_for(self, family: str) -> PipelineCache:
        """The pipeline cache of a served family. Loading another family beyond :attr:`resident_limit` unloads
        the least recently used one first (under the lock, so never while one of its calls runs).

        Raises:
            StudioError: the family is not served.
        """
        self.check_family(family)
        with self.lock:
            if family in self._caches:
                self._caches.move_to_end(family)
                return self._caches[family]
            while len(self._caches) >= self.resident_limit:
                evicted, _ = self._caches.popitem(last=False)
                self.embeddings.drop_family(evicted)
                logger.info("unloading the %s models to make room for %s", evicted, family)
                _release_memory()
            cache = PipelineCache(self.specs[family], self.settings, lock=self.lock, shared=self._shared_modules)
            self._caches[family] = cache
            return cache

    def loaded_families(self) -> list[str]:
        """The families whose cache is live, least recently used first."""
        return list(self._caches)

    def check_family(self, family: str) -> None:
        """Raises :class:`StudioError` naming the served families when ``family`` is not one of them."""
        if family not in self.specs:
            served = ", ".join(f"{name} ({FAMILIES[name].label})" for name in self.specs)
            label = FAMILIES[family].label if family in FAMILIES else "an unknown family"
            raise StudioError(
                f"Model family {family!r} ({label}) is not served by this studio; it serves {served}. "
                "Pick a served family (the operator sets them with STUDIO_FAMILIES)."
            )

    def preload(
        self,
        control_types: tuple[str, ...] = CONTROL_TYPES,
        ip_adapter: bool = True,
        aux: bool = True,
        families: Sequence[str] | None = None,
    ) -> None:
        """Load the models now instead of on first use (ZeroGPU wants them placed at start-up).

        Args:
            control_types: ControlNets to load (at most as many as the ControlNet cache holds).
            ip_adapter: Load the IP-Adapter and its image encoder.
            aux: Also load the default detector of each control type and the fit-scoring CLIP. One that
                cannot load is logged and left to report itself when it is used.
            families: The families to load; default: as many as stay resident, the default family first.
        """
        for family in reversed(list(families or self.families[: self.resident_limit])):
            with self.lock:
                cache = self.cache_for(family)
                cache.base()
                served = [t for t in control_types if t in cache.spec.controlnets or cache.served_by_union(t)]
                for control_type in served[-self.settings.controlnet_cache_size :]:
                    cache.controlnet(control_type)  # the union ControlNet, where it serves the type
                if ip_adapter:
                    cache.pipeline_for([], ip_adapter=True)
        if aux:
            loaders = {f"{t} detector": self.maps.detector(DEFAULT_DETECTORS[t]).load for t in control_types}
            for what, load in {**loaders, "fit-scoring CLIP": self.clip.load}.items():
                try:
                    load()
                except StudioError as error:
                    logger.warning("preloading the %s failed: %s", what, error)

    # -- maps --------------------------------------------------------------------------------------

    def control_map(
        self,
        image: Any,
        detector: str,
        width: int,
        height: int,
        fit: str = "crop",
        params: dict[str, Any] | None = None,
        control_type: str | None = None,
    ) -> MapResult:
        """The control map of a photo at the generation size (cached by content, detector and parameters).

        Raises:
            StudioError: for a bad image or parameters, or a detector that does not make ``control_type`` maps.
        """
        if control_type is not None:
            try:
                check_detector(control_type, detector)
            except ValueError as error:
                raise StudioError(f"Invalid control — {error}.") from None
        return self.maps.get_map(image, detector, (width, height), fit, params)

    def preview_maps(
        self,
        image: Any,
        detectors: list[str] | None = None,
        width: int = 512,
        height: int = 512,
        fit: str = "crop",
        params: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, PreviewItem]:
        """Every requested map at once, each with its time or the reason it failed."""
        return self.maps.preview(image, detectors, (width, height), fit, params)

    # -- validation --------------------------------------------------------------------------------

    def check(self, request: GenerationRequest | dict[str, Any]) -> GenerationRequest:
        """Validate a request against the schema and this studio's caps.

        Raises:
            StudioError: naming the field, the value received and what is allowed.
        """
        request = parse_request(request)
        self.check_family(request.family)
        caps = self.settings
        problems = []
        for name in ("width", "height"):
            value = getattr(request, name)
            if value > caps.max_side:
                problems.append(
                    f"{describe_field([name])}: received {value}, this studio allows at most {caps.max_side} pixels"
                )
        for name, cap in (("num_inference_steps", caps.max_steps), ("num_images_per_prompt", caps.max_images)):
            value = getattr(request, name)
            if value > cap:
                problems.append(f"{describe_field([name])}: received {value}, this studio allows at most {cap}")
        for index, control in enumerate(request.controls):
            if control.image is None:
                problems.append(
                    f"{describe_field(['controls', index])}: the {control.control_type} ControlNet needs a control "
                    "image, received none"
                )
        if request.ip_adapter is not None and request.ip_adapter.image is None:
            problems.append("IP-Adapter · ip_adapter.image: the IP-Adapter needs a reference image, received none")
        if problems:
            raise StudioError("Invalid request — " + "; ".join(problems))
        return request

    # -- generation --------------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest | dict[str, Any],
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        preview: PreviewFn | None = None,
    ) -> Result:
        """Generate the images a request describes.

        Args:
            request: The request, or a dict that validates into one.
            progress: Called after each step with (steps done, total).
            cancel: When set during the run, the run stops at the next step and raises :class:`Cancelled`.
            preview: Called every few steps with a cheap preview of each image (see :mod:`app.engine.previews`).

        Returns:
            The images with their seeds, maps, timings and peak memory.

        Raises:
            StudioError: for a request that breaks the schema or the caps, or a model that cannot load.
        """
        request = self.check(request)
        control_images = [_as_size(c.image, request.width, request.height) for c in request.controls]
        reference = request.ip_adapter.image.convert("RGB") if request.ip_adapter else None
        with self.lock, self._out_of_memory_as_studio_error(request):
            started = time.perf_counter()
            cache = self.cache_for(request.family)
            pipe = cache.pipeline_for([c.control_type for c in request.controls], reference is not None)
            embeds, notes = self.embeddings.prompt(cache, request, self.device)
            preview, preview_notes = self._previewer(cache, preview)
            load_seconds = time.perf_counter() - started
            on_step_end = self._step_callback(request, progress, cancel, preview)
            kwargs = call_arguments(cache, request, control_images, embeds, on_step_end)
            pipe.scheduler = make_scheduler(request.scheduler, cache.base().scheduler.config)
            try:
                if reference is not None:
                    cache.use_ip_adapter(pipe, request.ip_adapter.scale, request.ip_adapter.mode)
                    embeds = self.embeddings.reference(cache, pipe, reference, request, self.device)
                    kwargs["ip_adapter_image_embeds"] = embeds
                images, seconds, memory = run_call(pipe, kwargs, self.device)
            finally:
                cache.use_ip_adapter(pipe, None)
            model_bytes = cache.parameter_bytes(pipe, reference is not None)
        return Result(
            images=images,
            seeds=[request.seed + i for i in range(request.num_images_per_prompt)],
            method=request.method,
            settings=request.settings_dict(),
            control_images=control_images,
            reference_image=reference,
            seconds=seconds,
            load_seconds=load_seconds,
            peak_memory_bytes=memory.peak_bytes,
            memory_kind=memory.kind,
            model_bytes=model_bytes,
            notes=notes + preview_notes,
        )

    # -- comparison --------------------------------------------------------------------------------

    def compare(
        self,
        request: CompareRequest | dict[str, Any],
        structure_image: Any = None,
        reference_image: Any = None,
        progress: CompareProgressFn | None = None,
        cancel: threading.Event | None = None,
        preview: ComparePreviewFn | None = None,
    ) -> Iterator[CompareEntry]:
        """Run every method of a comparison on the same seed, yielding each result as it finishes.

        The comparison is fair by construction: every method goes through
        :meth:`generate` with the same shared settings, so it starts from the
        same initial latents (same seeded CPU generators), reuses the same
        prompt embeddings (encoded once), and gets a fresh scheduler of the
        same kind. Maps come from the map cache, so each is computed once.

        Args:
            request: The comparison, or a dict that validates into one.
            structure_image: The photo that ControlNet maps are made from (needed by control methods).
            reference_image: The IP-Adapter reference (needed by methods with ``ip_adapter``).
            progress: Called with (fraction done, label of the running method).
            cancel: When set, the running method stops at its next step and :class:`Cancelled` is raised.
            preview: Called every few steps with each running method's preview (all of a batched pass's at once).

        Yields:
            One :class:`CompareEntry` per method, in request order. A method that cannot run (no photo for a
            ControlNet, no reference for the IP-Adapter, no person found for pose) yields an entry with ``error``
            saying why it was left out, and the others still run.

        Raises:
            StudioError: for an invalid request, an image that is not one, or more methods than this studio allows.
        """
        request = parse_compare_request(request)
        methods = request.parsed_methods()
        if request.seed_count > self.settings.max_seeds:
            raise StudioError(
                f"Invalid comparison — seed_count: received {request.seed_count} seeds per method, this studio allows "
                f"at most {self.settings.max_seeds} (STUDIO_MAX_SEEDS)"
            )
        if len(methods) > self.settings.max_methods:
            raise StudioError(
                f"Invalid comparison — methods: received {len(methods)}, this studio allows at most "
                f"{self.settings.max_methods} per comparison"
            )
        structure = load_image(structure_image) if structure_image is not None else None
        reference = load_image(reference_image) if reference_image is not None else None
        self.check({**request.common()})  # caps on size and steps, before any work
        runs = len(methods) * request.seed_count
        if (request.batching or self.default_batching()) == "batched" and runs > 1:
            yield from self._compare_batched(request, methods, structure, reference, progress, cancel, preview)
            return
        for index, method in enumerate(methods):
            maps: list[MapResult] = []
            try:
                _check_inputs(method, structure, reference)
                for _, detector in method.controls:
                    maps.append(self._method_map(request, detector, structure))
                generation = self._method_request(request, method, maps, reference)
                if progress is not None:
                    progress(index / len(methods), f"{method.label}: starting")
                results = []
                for offset, run in enumerate(_on_seeds(generation, request.seeds)):  # exact: each its solo run

                    def step(
                        done: int, steps: int, before=index * request.seed_count + offset, label=method.label
                    ) -> None:
                        if progress is not None:
                            progress((before * steps + done) / (runs * steps), f"{label}: step {done}/{steps}")

                    shown = None if preview is None or offset else _for_methods(preview, [index])
                    results.append(self.generate(run, step, cancel, shown))
                yield CompareEntry(method, Result.of_seeds(results), maps)
            except Cancelled:
                raise
            except Exception as error:
                yield _failed_entry(method, maps, error)

    def default_batching(self) -> str:
        """How a comparison that does not say runs: batched on a GPU (one pass beats K), exact elsewhere."""
        return "batched" if torch.device(self.device).type == "cuda" else "exact"

    def _method_map(self, request: CompareRequest, detector: str, structure: Image.Image | None) -> MapResult:
        """One control map of a comparison's method, from the map cache."""
        return self.control_map(
            structure, detector, request.width, request.height, request.fit, request.detector_params.get(detector)
        )

    @staticmethod
    def _method_request(
        request: CompareRequest, method: Method, maps: list[MapResult], reference: Image.Image | None
    ) -> GenerationRequest:
        """The generation one method of a comparison is: the shared settings, its maps, the reference if it uses it."""
        return GenerationRequest(
            **request.common(),
            controls=[
                ControlSettings(control_type=t, image=m.map, **request.control.model_dump())
                for (t, _), m in zip(method.controls, maps, strict=True)
            ],
            ip_adapter=IPAdapterSettings(**request.ip_adapter.model_dump(), image=reference)
            if method.ip_adapter
            else None,
        )

    def _compare_batched(
        self,
        request: CompareRequest,
        methods: list[Method],
        structure: Image.Image | None,
        reference: Image.Image | None,
        progress: CompareProgressFn | None,
        cancel: threading.Event | None,
        preview: ComparePreviewFn | None = None,
    ) -> Iterator[CompareEntry]:
        """:meth:`compare` in passes of up to ``settings.compare_batch`` methods (see :mod:`app.engine.batched`).

        A method whose map fails is left out of the pass with its reason; a pass that fails costs its methods only.
        """
        entries: list[CompareEntry | None] = [None] * len(methods)
        ready: list[tuple[int, GenerationRequest, list[MapResult]]] = []
        for index, method in enumerate(methods):
            maps: list[MapResult] = []
            try:
                _check_inputs(method, structure, reference)
                for _, detector in method.controls:
                    maps.append(self._method_map(request, detector, structure))
                ready.append((index, self._method_request(request, method, maps, reference), maps))
            except Exception as error:
                entries[index] = _failed_entry(method, maps, error)
        # A method using a union ControlNet in several modes at once runs on its own (see app.engine.batched).
        cache = self.cache_for(request.family)
        fused = [r for r in ready if sum(cache.served_by_union(c.control_type) for c in r[1].controls) > 1]
        ready = [r for r in ready if r not in fused]
        for index, generation, maps in fused:
            try:
                results = []
                for offset, run in enumerate(_on_seeds(generation, request.seeds)):
                    shown = None if preview is None or offset else _for_methods(preview, [index])
                    results.append(self.generate(run, None, cancel, shown))
                result = Result.of_seeds(results)
                result.notes.append("Ran on its own: the union ControlNet fuses its control types in one call.")
                entries[index] = CompareEntry(methods[index], result, maps)
            except Cancelled:
                raise
            except Exception as error:
                entries[index] = _failed_entry(methods[index], maps, error)
        # One row per (method, seed), method-major; passes of up to compare_batch rows.
        rows = [
            (index, run, maps, offset)
            for index, generation, maps in ready
            for offset, run in enumerate(_on_seeds(generation, request.seeds))
        ]
        done: dict[int, list[Result]] = {}
        failed: dict[int, Exception] = {}
        size = self.settings.compare_batch
        for start in range(0, len(rows), size):
            group = [row for row in rows[start : start + size] if row[0] not in failed]
            if not group:
                continue

            def step(done_steps: int, steps: int, start=start, group=group) -> None:
                if progress is not None:
                    names = ", ".join(dict.fromkeys(methods[i].label for i, _, _, _ in group))
                    fraction = (start + len(group) * done_steps / steps) / len(rows)
                    progress(fraction, f"{names}: step {done_steps}/{steps}")

            shown = None if preview is None else _for_rows(preview, [i if not o else None for i, _, _, o in group])
            try:
                results = self._generate_batch([g for _, g, _, _ in group], step, cancel, shown)
            except Cancelled:
                raise
            except Exception as error:  # the pass's fault costs its methods only
                for index, _, _, _ in group:
                    failed.setdefault(index, error)
                continue
            for (index, _, _, _), result in zip(group, results, strict=True):
                done.setdefault(index, []).append(result)
        for index, _, maps in ready:
            if index in failed:
                entries[index] = _failed_entry(methods[index], maps, failed[index])
            else:
                entries[index] = CompareEntry(methods[index], Result.of_seeds(done[index]), maps)
        yield from (entry for entry in entries if entry is not None)

    def _generate_batch(
        self,
        requests: list[GenerationRequest],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        preview: PreviewFn | None = None,
    ) -> list[Result]:
        """Several single-image generations that differ only in their conditioning, in one pipeline call."""
        first, items = requests[0], len(requests)
        types = [t for t in CONTROL_TYPES if any(t == c.control_type for r in requests for c in r.controls)]
        users = [[k for k, r in enumerate(requests) if any(c.control_type == t for c in r.controls)] for t in types]
        reference = next((r.ip_adapter for r in requests if r.ip_adapter is not None), None)
        for request in requests:
            self.check(request)
        with self.lock, self._out_of_memory_as_studio_error(first):
            started = time.perf_counter()
            cache = self.cache_for(first.family)
            pipe = cache.pipeline_for_batch(types, users, items, reference is not None)
            embeds, notes = self.embeddings.prompt(cache, first, self.device)
            preview, preview_notes = self._previewer(cache, preview)
            notes = notes + preview_notes
            load_seconds = time.perf_counter() - started
            # The shared settings' call, made into one with a row per request.
            common = GenerationRequest(**first.common())
            kwargs = call_arguments(cache, common, [], embeds, self._step_callback(common, progress, cancel, preview))
            kwargs = batch_arguments(kwargs, cache, requests, types, embeds)
            pipe.scheduler = make_scheduler(first.scheduler, cache.base().scheduler.config)
            try:
                if reference is not None:
                    cache.use_ip_adapter(pipe, reference.scale, reference.mode)
                    image = reference.image.convert("RGB")
                    reference_rows(
                        kwargs,
                        requests,
                        self.embeddings.reference(cache, pipe, image, first, self.device),
                        cache.device,
                    )
                net_seconds(pipe, len(types))  # from zero: an earlier call that failed may have left some
                images, seconds, memory = run_call(pipe, kwargs, self.device)
                shares = batch_time_shares(seconds, items, users, net_seconds(pipe, len(types)))
            finally:
                cache.use_ip_adapter(pipe, None)
            model_bytes = cache.parameter_bytes(pipe, reference is not None)
        shared = (
            f"Ran batched: {items} methods in one {seconds:.1f} s pass. The time shown is this method's cost in it: "
            "its ControlNets' own time on its rows plus an equal share of the rest (UNet, VAE, IP-Adapter attention)."
        )
        return [
            Result(
                images=[image],
                seeds=[request.seed],
                method=request.method,
                settings=request.settings_dict(),
                control_images=[c.image for c in request.controls],
                reference_image=request.ip_adapter.image.convert("RGB") if request.ip_adapter else None,
                seconds=share,
                load_seconds=load_seconds,
                peak_memory_bytes=memory.peak_bytes,
                memory_kind=memory.kind,
                model_bytes=model_bytes,
                notes=[*notes, shared],
            )
            for request, image, share in zip(requests, images, shares, strict=True)
        ]

    def sweep(
        self,
        request: SweepRequest | dict[str, Any],
        structure_image: Any = None,
        reference_image: Any = None,
        progress: CompareProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_cell: Callable[[SweepCell], None] | None = None,
    ) -> SweepResult:
        """Run an X/Y sweep: a labelled grid of one-method comparisons and the fit of every cell.

        ``on_cell`` is called with each cell as it finishes (row by row), e.g. to draw the grid as it fills.

        Raises:
            StudioError: for an invalid sweep, e.g. an axis value outside its bounds (checked before any run).
        """
        sweep = parse_sweep(request)
        planned = cell_requests(sweep)
        for *_, cell_request in planned:  # this studio's caps (steps, size) too, before the first cell runs
            self.check(cell_request.common())
        cells: list[SweepCell] = []
        for index, (x_value, y_value, cell_request) in enumerate(planned):

            def cell_progress(fraction: float, label: str, index=index) -> None:
                if progress is not None:
                    progress((index + fraction) / len(planned), f"cell {index + 1}/{len(planned)} · {label}")

            entry = next(iter(self.compare(cell_request, structure_image, reference_image, cell_progress, cancel)))
            cells.append(SweepCell(x_value, y_value, cell_label(sweep, x_value, y_value), entry))
            if on_cell is not None:
                on_cell(cells[-1])
        ran = {cell.label: cell.entry for cell in cells if cell.entry.result is not None}
        scorecard = self.score(ran, sweep.base, reference_image) if ran else None
        return SweepResult(sweep, cells, sweep_grid(sweep, cells), scorecard)

    def score(
        self,
        entries: Iterable[CompareEntry] | Mapping[str, CompareEntry],
        request: CompareRequest | dict[str, Any],
        reference_image: Any = None,
    ) -> Scorecard:
        """Score every result of a comparison on every applicable fit, and read advice from the matrix.

        Rows are keyed by method name, or by the mapping's keys when ``entries`` is a mapping (sweep cells).
        Each control type is scored against one map: the one made by the request's detector for that
        type when a method used it, else the first one used.
        """
        keyed = dict(entries) if isinstance(entries, Mapping) else {e.method.name: e for e in entries}
        context = self.fit_context(keyed.values(), request, reference_image)
        results = {key: e.result for key, e in keyed.items() if e.result is not None}
        matrix = score_results(results, context)
        matrix.family = request.get("family") if isinstance(request, Mapping) else getattr(request, "family", None)
        return Scorecard(matrix, advise(matrix))

    def fit_context(
        self, entries: Iterable[CompareEntry], request: CompareRequest | dict[str, Any], reference_image: Any = None
    ) -> FitContext:
        """What a comparison's outputs are scored against: its prompt, reference and one map per control type
        (the request's detector's where a method used it, else the first used). :meth:`score` reads it; the
        evaluation reads it again for the published protocols (:mod:`app.fit.anchors`)."""
        request = parse_compare_request(request)
        maps: dict[str, MapResult] = {}
        for entry in entries:
            for map_result in entry.maps:
                preferred = map_result.detector == request.detectors.get(map_result.control_type)
                if preferred or map_result.control_type not in maps:
                    maps.setdefault(map_result.control_type, map_result)
                    if preferred:
                        maps[map_result.control_type] = map_result
        reference = load_image(reference_image) if reference_image is not None else None
        return FitContext.from_maps(request.prompt, reference, maps, service=self.maps, clip=self.clip)

    @contextmanager
    def _out_of_memory_as_studio_error(self, request: GenerationRequest) -> Iterator[None]:
        """Turn an accelerator out-of-memory error into an :class:`OutOfMemory` that says what to reduce.

        The failed call's tensors are freed and the CUDA cache emptied first, so the next request runs
        as if this one had never started (the models and their dtype are untouched by an OOM).
        """
        try:
            yield
        except Exception as error:
            if not _is_out_of_memory(error):
                raise
            del error  # its traceback holds the failed call's activations
            _release_memory()
            raise OutOfMemory(
                f"Out of memory on {self.device} running {request.method} at {request.width}×{request.height}, "
                f"{request.num_inference_steps} steps, {request.num_images_per_prompt} image(s). Reduce the size, the "
                "images per prompt, the steps or the number of methods (or start the studio with STUDIO_LOW_VRAM=1), "
                "then run again."
            ) from None

    def _previewer(
        self, cache: PipelineCache, preview: PreviewFn | None
    ) -> tuple[Callable[[torch.Tensor, int, int], None] | None, list]:
        """What a run's step callback calls with its latents to show previews (None: no previews), and the note
        that says why previews are off when they were asked for and cannot be made. Call under the cache lock."""
        if preview is None:
            return None, []
        decoder = cache.preview_decoder()
        if decoder is None:
            reason = cache.preview_error
            return None, [f"Live previews are off: {reason}."] if reason else []

        def show(latents: torch.Tensor, done: int, total: int) -> None:
            preview(decoder.decode(latents), done, total)

        return show, []

    def _step_callback(self, request: GenerationRequest, progress, cancel, preview) -> Callable:
        return step_callback(request.num_inference_steps, cancel, progress, preview, self.settings.preview_every)


def specs_for(settings: Settings) -> list[ModelSpec]:
    """The spec of each family the settings serve, the default first: the Hub defaults (or their overrides), or
    the tiny family, built on first use."""
    if settings.model_source == "tiny":
        root = ensure_tiny_family(settings.cache_dir)
        return [FAMILIES[family].tiny_spec(root) for family in settings.model_families]
    return [FAMILIES[family].real_spec() for family in settings.model_families]


def _map_service_for(spec: ModelSpec, placement: Placement) -> MapService:
    """Detectors for the family (the tiny family ships its own), running where ``placement`` says."""
    if spec.root is not None:
        return MapService(build_tiny_detectors(Path(spec.root) / "detectors"), placement=placement)
    return MapService(placement=placement)


def _scorer_sources_for(spec: ModelSpec) -> ScorerSources:
    """The CLIP model for fit scores: the tiny family's own, else the environment's."""
    if spec.root is not None:
        return build_tiny_scorers(Path(spec.root) / "scorers")
    return ScorerSources.from_env()


def _for_methods(preview: ComparePreviewFn, indices: list[int]) -> PreviewFn:
    """A run's preview callback that hands each batch item's preview to the comparison's, by method index."""
    return _for_rows(preview, list(indices))


def _for_rows(preview: ComparePreviewFn, indices: list[int | None]) -> PreviewFn:
    """A run's preview callback: each batch row's preview to the comparison's by method index; rows marked None
    (a method's later seeds: its tile previews its first) are not shown."""

    def show(images: list[Image.Image], done: int, total: int) -> None:
        for index, image in zip(indices, images, strict=True):
            if index is not None:
                preview(index, image, done, total)

    return show


def _on_seeds(generation: GenerationRequest, seeds: list[int]) -> list[GenerationRequest]:
    """One method's generation on each of a comparison's seeds (``generation`` itself on its own seed)."""
    return [generation if seed == generation.seed else generation.model_copy(update={"seed": seed}) for seed in seeds]


def _check_inputs(method: Method, structure: Image.Image | None, reference: Image.Image | None) -> None:
    """Refuse one method of a comparison whose image is missing (the others still run); the message starts with
    :data:`LEFT_OUT`.

    Raises:
        StudioError: saying which image it needs, received none.
    """
    missing = []
    if method.controls and structure is None:
        missing.append("a structure photo (its maps are made from it)")
    if method.ip_adapter and reference is None:
        missing.append("a reference image")
    if missing:
        raise StudioError(f"{LEFT_OUT} {method.label} needs {' and '.join(missing)}, received none.")


def _failed_entry(method: Method, maps: list[MapResult], error: Exception) -> CompareEntry:
    """The entry of a comparison's method that could not run. A studio error says why; anything else (a kernel
    error, a detector bug) is logged and named, and costs only that method. Call in the ``except`` block."""
    if isinstance(error, StudioError):
        return CompareEntry(method, None, maps, str(error), retry=isinstance(error, RETRYABLE))
    logger.exception("method %s of a comparison failed", method.name)
    if _is_out_of_memory(error):  # e.g. a detector on the GPU, before generate's own handling
        _release_memory()
    return CompareEntry(method, None, maps, f"{method.label} failed: {type(error).__name__}: {error}"[:500], retry=True)


def _is_out_of_memory(error: BaseException) -> bool:
    """CUDA's ``torch.OutOfMemoryError``, or a backend's RuntimeError saying it ran out of memory (MPS, CPU)."""
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    )


def _release_memory() -> None:
    """Free what a failed call left behind, so the next request starts from the same memory state."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _as_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """A control map at the generation size (maps from the preprocessors already are)."""
    image = image.convert("RGB")
    return image if image.size == (width, height) else image.resize((width, height), Image.Resampling.BICUBIC)
