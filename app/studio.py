"""The one entry point the UI, the HTTP API and scripts use to generate."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from app.comparing import ComparePreviewFn, maps_to_score_against, run_comparison, run_sweep
from app.controls import DEFAULT_TYPES
from app.engine.devices import (
    aux_placement,
    out_of_memory_as_studio_error,
    release_memory,
    resident_family_limit,
    resolve_device,
)
from app.engine.families import FAMILIES
from app.engine.models import ModelSpec
from app.engine.pipelines import PipelineCache, SharedModules
from app.engine.placement import Placement
from app.engine.previews import PreviewFn
from app.engine.result import Result
from app.engine.runner import Runner
from app.errors import StudioError
from app.fit import ClipEmbedder, FitContext, ScorerSources, advise, score_results
from app.images import load_image
from app.preprocess import DEFAULTS as DEFAULT_DETECTORS
from app.preprocess import MapResult, MapService, PreviewItem
from app.request import GenerationRequest, parse_request
from app.request.caps import check_compare_caps, check_generation_caps
from app.request.compare import (
    CompareEntry,
    CompareProgressFn,
    CompareRequest,
    Scorecard,
    check_detector,
    parse_compare_request,
)
from app.request.sweep import SweepCell, SweepRequest, SweepResult, cell_requests, parse_sweep
from app.settings import Settings, get_settings
from app.tiny import build_tiny_detectors, build_tiny_scorers, ensure_tiny_family

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
"""Called after each denoising step with (steps done, total steps)."""
"""Called with (method's index in the comparison, its preview, steps done, total steps)."""


class Studio:
    """The one entry point for the UI, the HTTP API and scripts: validates requests against this studio's caps, keeps
    each model family's :class:`PipelineCache` (least recently used goes), and hands the work on — a generation to
    the :class:`~app.engine.runner.Runner`, a comparison or sweep to :mod:`app.comparing`, maps to the
    :class:`~app.preprocess.MapService`, scoring to :mod:`app.fit`. Its length is the public API's documentation:
    every method validates and delegates."""

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
        self.runner = Runner(self.device, self.settings.preview_every)

    @property
    def embeddings(self):
        """The prompt and reference embeddings the runs share (:class:`~app.engine.embeddings.EmbeddingCache`)."""
        return self.runner.embeddings

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
                self.runner.embeddings.drop_family(evicted)
                logger.info("unloading the %s models to make room for %s", evicted, family)
                release_memory()
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
        control_types: tuple[str, ...] = DEFAULT_TYPES,
        ip_adapter: bool = True,
        aux: bool = True,
        families: Sequence[str] | None = None,
    ) -> None:
        """Load the models now instead of on first use (ZeroGPU wants them placed at start-up).

        Args:
            control_types: ControlNets to load (at most as many as the ControlNet cache holds, the last ones kept);
                default: those a new comparison uses.
            ip_adapter: Load the IP-Adapter and its image encoder.
            aux: Also load the default detector of each control type and the fit-scoring CLIP. One that
                cannot load is logged and left to report itself when it is used.
            families: The families to load; default: as many as stay resident, the default family first. A family
                that cannot load (a gated one without a token) is logged and left to say why at its first run.
        """
        for family in reversed(list(families or self.families[: self.resident_limit])):
            try:
                with self.lock:
                    self.cache_for(family).preload(control_types, ip_adapter)
            except StudioError as error:  # e.g. a gated family without a token: the others still serve
                logger.warning("preloading the %s models failed: %s", family, error)
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
        check_generation_caps(request, self.settings)
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
        with self.lock, out_of_memory_as_studio_error(self.device, request):
            started = time.perf_counter()
            cache = self.cache_for(request.family)
            return self.runner.run(cache, request, control_images, reference, started, progress, cancel, preview)

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
        check_compare_caps(request, len(methods), self.settings)
        structure = load_image(structure_image) if structure_image is not None else None
        reference = load_image(reference_image) if reference_image is not None else None
        self.check({**request.common()})  # caps on size and steps, before any work
        yield from run_comparison(self, request, methods, structure, reference, progress, cancel, preview)

    def default_batching(self) -> str:
        """How a comparison that does not say runs: batched on a GPU (one pass beats K), exact elsewhere."""
        return "batched" if torch.device(self.device).type == "cuda" else "exact"

    def generate_batch(
        self,
        requests: list[GenerationRequest],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        preview: PreviewFn | None = None,
    ) -> list[Result]:
        """Several single-image generations that differ only in their conditioning, in one pipeline call."""
        first = requests[0]
        for request in requests:
            self.check(request)
        with self.lock, out_of_memory_as_studio_error(self.device, first):
            started = time.perf_counter()
            cache = self.cache_for(first.family)
            return self.runner.run_batch(cache, requests, started, progress, cancel, preview)

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
        return run_sweep(self, sweep, planned, structure_image, reference_image, progress, cancel, on_cell)

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
        maps = maps_to_score_against(entries, request.detectors)
        reference = load_image(reference_image) if reference_image is not None else None
        return FitContext.from_maps(request.prompt, reference, maps, service=self.maps, clip=self.clip)


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


def _as_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """A control map at the generation size (maps from the preprocessors already are)."""
    image = image.convert("RGB")
    return image if image.size == (width, height) else image.resize((width, height), Image.Resampling.BICUBIC)
