"""Live runs: a studio call in a worker thread, while the event's handler streams what it reports to the page.

A diffusers call blocks until its last step; its step callback is the only way in. So the call runs in a worker
thread (with the event's context, so gradio's progress bar and cancel checks still find their event) and
publishes what it has (previews, finished comparison entries) to a queue. The handler drains the queue, applies
everything that arrived, and yields one page update per batch: when the page is slower than the previews, it skips
stale ones instead of falling behind.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

import gradio as gr
from PIL import Image

if TYPE_CHECKING:  # both pull in torch: keep it off the path that serves the page
    from app.engine.previews import PreviewFn
    from app.engine.result import Result

R = TypeVar("R")
T = TypeVar("T")

LIVE_PREVIEWS_INFO = "Watch each image take shape every few steps (a tiny decoder; the final images are unchanged)."
_DONE = object()


def while_running(work: Callable[[Callable[[Any], None]], R], cancel: threading.Event) -> Generator[list[Any], None, R]:
    """Run ``work(publish)`` in a worker thread; yield each batch of what it published meanwhile; return its result.

    The worker's exception is raised here, in the handler's thread. If the handler stops listening (the generator
    is closed: the page left, the event was cancelled), ``cancel`` is set and the worker is joined, so its call
    ends at its next step and the next job never waits on an orphan.
    """
    published: queue.SimpleQueue = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(published.put)
        except BaseException as error:  # handed to the handler's thread, which raises it
            outcome["error"] = error
        finally:
            published.put(_DONE)

    worker = threading.Thread(target=contextvars.copy_context().run, args=(target,), name="studio-run", daemon=True)
    worker.start()
    finished = False
    try:
        while not finished:
            batch = [published.get()]
            while True:
                try:
                    batch.append(published.get_nowait())
                except queue.Empty:
                    break
            finished = batch[-1] is _DONE  # the worker publishes nothing after it
            batch = [item for item in batch if item is not _DONE]
            if batch:
                yield batch
    finally:
        if not finished:
            cancel.set()
        worker.join()
    if "error" in outcome:
        raise outcome.pop("error")
    return outcome["result"]


def relay(
    source: Generator[T, None, R], shape: Callable[[T], Any], skip: Callable[[], bool] | None = None
) -> Generator[Any, None, R]:
    """Yield ``shape(item)`` for each item of ``source`` (none while ``skip()`` is true) and return its result;
    closing this closes ``source``."""
    try:
        while True:
            try:
                item = next(source)
            except StopIteration as stop:
                return stop.value
            if skip is None or not skip():
                yield shape(item)
    finally:
        source.close()


def generate_live(job: Any, data: dict[str, Any], label: str, live: bool) -> Generator[list[Any], None, Result]:
    """``studio.generate`` for a tab: yields gallery items of each batch of previews (when ``live``), returns the
    result. Tiles are captioned "<label> · step 4/12 (preview)"."""

    def work(publish: Callable[[Any], None]) -> Result:
        preview: PreviewFn | None = (lambda images, done, total: publish((images, done, total))) if live else None
        return job.studio.generate(data, progress=job.steps(label), cancel=job.cancel, preview=preview)

    def items(batch: list[tuple[list[Image.Image], int, int]]) -> list[tuple[Image.Image, str]]:
        images, done, total = batch[-1]  # only the newest matters
        return [(image, f"{label} · step {done}/{total} (preview)") for image in images]

    # Stop tidies the gallery at once (its tiles marked stopped): a preview still queued must not draw the running
    # tiles back over them (seen under load: the page then showed "step 41/100" for good).
    return (yield from relay(while_running(work, job.cancel), items, skip=job.cancel.is_set))


def live_previews_checkbox(enabled: bool) -> gr.Checkbox:
    """The page's one switch for live previews (hidden when the operator turned them off)."""
    return gr.Checkbox(
        value=enabled, visible=enabled, label="Live previews", info=LIVE_PREVIEWS_INFO, elem_id="live-previews"
    )


def previews_on(values: dict[str, Any]) -> bool:
    """Whether an event's caller asked for previews (API callers that leave it out get them)."""
    return values.get("live_previews") is not False


__all__ = ["generate_live", "live_previews_checkbox", "previews_on", "relay", "while_running"]
