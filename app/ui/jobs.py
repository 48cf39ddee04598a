"""From an event to the core: the studio handle (built lazily), a job's lifecycle and its cancel signal, the GPU
reservation on ZeroGPU, and studio errors shown as messages, never tracebacks."""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from app.engine.families import FAMILIES, FAMILY_NAMES
from app.errors import Cancelled, StudioError
from app.images import load_image
from app.serving.zerogpu import MIN_SECONDS, count_of, estimate_gpu_seconds, gpu_task
from app.settings import Settings
from app.ui.cancel import JobCancel, JobKey, gradio_event_alive, raise_flag, watch_for_cancel
from app.ui.plain import in_toast

if TYPE_CHECKING:  # importing the studio pulls in torch: keep it off the path that serves the page
    from app.studio import Studio

logger = logging.getLogger(__name__)

STOPPED_TITLE = "Stopped"
"""The title of the message a stopped job raises (the Stop button has already said so in the page)."""

GPU_QUEUE = "gpu"
"""The one ``concurrency_id`` every generating event shares: one job on the accelerator at a time."""

PROGRESS = gr.Progress()
"""Default of every handler's ``progress`` parameter: it only marks the parameter, gradio makes a tracker per call."""

MAX_UPLOAD = "20mb"
"""Largest upload ``launch(max_file_size=...)`` accepts; bigger files are refused in the browser."""


# -- the studio, built lazily ---------------------------------------------------------------------


@dataclass
class Job:
    """One running generation: the studio, its cancel event and its progress bar."""

    studio: Studio
    cancel: threading.Event
    progress: gr.Progress

    def steps(self, label: str) -> Callable[[int, int], None]:
        """A ``studio.generate`` progress callback that moves the bar step by step."""

        def report(done: int, total: int) -> None:
            if not self.cancel.is_set():  # a stopped run's bar is gone: a late step must not draw it back
                self.progress((done, total), desc=f"{label}: step {done}/{total}", unit="steps")

        return report

    def fraction(self, fraction: float, label: str) -> None:
        """A ``studio.compare`` progress callback: overall fraction and the running method."""
        if not self.cancel.is_set():
            self.progress(min(max(fraction, 0.0), 1.0), desc=label)


class StudioHandle:
    """The process-wide :class:`~app.studio.Studio` as the UI sees it.

    The studio (and torch with it) is built on first use or in a background
    thread after the page is served, so the page never waits for models.
    Each running job gets its own cancel event, found by (session, tab), so a
    Stop button stops its own tab's job and a new job never clears an old one's
    event before that job has seen it.
    """

    def __init__(self, settings: Settings, studio: Studio | None = None) -> None:
        self.settings = settings
        self._studio = studio
        self._build_lock = threading.Lock()
        self._jobs: dict[tuple[str, str], JobCancel] = {}
        self._jobs_lock = threading.Lock()
        self.warm = False  # a generation has finished: models are in memory

    def get(self) -> Studio:
        """The studio, built on first call (thread-safe).

        Raises:
            StudioError: the settings name models that cannot be prepared.
        """
        with self._build_lock:
            if self._studio is None:
                from app.studio import Studio

                self._studio = Studio(self.settings)
            return self._studio

    def prepare_in_background(self) -> threading.Thread:
        """Import torch and build the studio in a daemon thread (no model weights are loaded)."""

        def prepare() -> None:
            try:
                self.get()
            except Exception:  # the first event reports it to the user
                logger.exception("preparing the studio failed")

        thread = threading.Thread(target=prepare, name="studio-prepare", daemon=True)
        thread.start()
        return thread

    @contextmanager
    def job(self, tab: str, request: gr.Request | None, progress: gr.Progress) -> Iterator[Job]:
        """Run one job: a fresh cancel event, a visible "loading" step, core errors as ``gr.Error``.

        Args:
            tab: Which tab runs it (its Stop button stops it).
            request: The Gradio request (its session identifies the user).
            progress: The event's progress bar.
        """
        key = job_key(tab, request)
        cancel = JobCancel(key, gradio_event_alive())
        with self._jobs_lock:
            self._jobs[key] = cancel
        try:
            with studio_errors():
                progress(0, desc="Starting…" if self.warm else "Loading models (first use)…")
                yield Job(self.get(), cancel, progress)
                self.warm = True
        finally:
            with self._jobs_lock:
                if self._jobs.get(key) is cancel:
                    del self._jobs[key]
                    cancel.close()
            cancel.ended.set()

    def stop(self, tab: str, request: gr.Request | None) -> bool:
        """Ask the session's running job on ``tab`` to stop at its next step; False if none runs.

        A job in this process is waited for (up to :data:`STOP_WAIT_SECONDS`): once it is over it publishes no more
        previews, so the page's tidy-up, sent after this returns, is not drawn over by a preview still on its way
        (seen under load: "step 41/100" left on the page for good). The job may also run, on ZeroGPU, in a worker
        process this one is waiting for: its flag is raised and not waited for.
        """
        key = job_key(tab, request)
        with self._jobs_lock:
            event = self._jobs.get(key)
        if event is not None:
            event.set()
            event.ended.wait(STOP_WAIT_SECONDS)
            return True
        with _GPU_CALLS_LOCK:
            waiting = key in _GPU_CALLS
        if waiting:
            raise_flag(key)
        return waiting


STOP_WAIT_SECONDS = 15.0
"""How long Stop waits for the stopped job to end (it stops at its next denoising step: well under a second on a
GPU, a second or two at 512² on a CPU)."""


def job_key(tab: str, request: gr.Request | None) -> JobKey:
    """Which job: the session's (one per browser tab or API client) on ``tab``."""
    return (getattr(request, "session_hash", None) or "", tab)


_GPU_CALLS: set[JobKey] = set()
_GPU_CALLS_LOCK = threading.Lock()
"""Jobs this process waits for while a ZeroGPU worker runs them, so Stop knows to raise their flag."""


@contextmanager
def _gpu_call(key: JobKey) -> Iterator[None]:
    with _GPU_CALLS_LOCK:
        _GPU_CALLS.add(key)
    try:
        with watch_for_cancel(key):
            yield
    finally:
        with _GPU_CALLS_LOCK:
            _GPU_CALLS.discard(key)


def gpu_seconds_for(values: dict[str, Any]) -> int:
    """GPU seconds an event's job needs, from its named inputs (steps, size, images, methods)."""
    raw = values.get("family")  # raw input, not yet validated: anything at all
    family = raw if isinstance(raw, str) and raw in FAMILIES else FAMILY_NAMES[0]
    methods = values.get("methods")
    return estimate_gpu_seconds(
        steps=count_of(values.get("num_inference_steps"), 25),
        methods=len(methods) if isinstance(methods, (list, tuple)) and methods else 1,
        width=count_of(values.get("width"), FAMILIES[family].default_size),
        height=count_of(values.get("height"), FAMILIES[family].default_size),
        # A comparison makes one image per method and seed; a generation, its images per prompt.
        images=count_of(values.get("seed_count"), 1) if methods else count_of(values.get("num_images_per_prompt"), 1),
        # ZeroGPU runs on CUDA, where a comparison that does not ask for exact runs is batched.
        batched=bool(methods) and values.get("batching") != "exact",
        family=family,
    )


def preview_gpu_seconds(values: dict[str, Any]) -> int:
    """GPU seconds a map preview needs: detectors only (they run on the GPU with the diffusion models)."""
    return MIN_SECONDS


def on_gpu(
    handler: Callable[..., Any], tab: str, seconds: Callable[[dict[str, Any]], int] = gpu_seconds_for
) -> Callable:
    """Run a generating handler inside ``spaces.GPU`` on ZeroGPU, asking for the time its inputs need.

    Elsewhere the handler is returned unchanged. On ZeroGPU, an abort (the job outran its GPU time)
    reaches the user as a plain message saying what to reduce, and the job on ``tab`` stays stoppable:
    Stop and gradio's cancel reach the worker process through the job's flag (:mod:`app.ui.cancel`).
    """

    wrapped = gpu_task(lambda *args, **values: seconds(values))(handler)
    if wrapped is handler:
        return handler

    def explain(error: Exception) -> gr.Error:
        return gr.Error(
            f"ZeroGPU stopped this job: {in_toast(str(error)[:200])}. Try fewer steps, a smaller size or fewer "
            "methods.",
            title="GPU time ran out",
        )

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(*args: Any, **values: Any) -> Iterator[Any]:
            try:
                with _gpu_call(job_key(tab, request_in(args, values))):
                    yield from wrapped(*args, **values)
            except gr.Error:
                raise
            except Exception as error:
                raise explain(error) from None

        return stream

    @functools.wraps(handler)
    def call(*args: Any, **values: Any) -> Any:
        try:
            with _gpu_call(job_key(tab, request_in(args, values))):
                return wrapped(*args, **values)
        except gr.Error:
            raise
        except Exception as error:
            raise explain(error) from None

    return call


def request_in(args: tuple, values: dict[str, Any]) -> gr.Request | None:
    """The gradio request among a handler's arguments (positional or named), or None."""
    return next((a for a in (*args, *values.values()) if isinstance(a, gr.Request)), None)


@contextmanager
def studio_errors() -> Iterator[None]:
    """Show core errors as ``gr.Error`` messages in the page, never as a stack trace."""
    try:
        yield
    except gr.Error:
        raise
    except Cancelled as error:
        raise gr.Error(in_toast(error), title=STOPPED_TITLE) from None
    except StudioError as error:
        raise gr.Error(in_toast(error), title="Cannot run this") from None
    except Exception as error:
        logger.exception("unexpected error in a studio event")
        raise gr.Error(
            f"Unexpected {type(error).__name__}: {in_toast(str(error)[:300])} (details are in the server log).",
            title="Something went wrong",
        ) from None


def check_uploads(*images: gr.Image) -> None:
    """Check each image as it is uploaded: one that is not a usable image (not an image, too small, a
    decompression bomb) is cleared at once with the reason in a warning, instead of at the next Generate."""

    def check(value: Any) -> Any:
        if value is None:
            return gr.skip()
        try:
            load_image(value)
        except StudioError as error:
            gr.Warning(in_toast(error), title="Not a usable image")
            return None
        return gr.skip()

    for image in images:
        # Queued (so the warning shows) on its own unlimited queue: never behind a generation.
        image.upload(
            check, inputs=image, outputs=image, concurrency_id="uploads", concurrency_limit=None,
            api_visibility="private",
        )  # fmt: skip
