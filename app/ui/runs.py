"""Run and Stop buttons: feedback where the user clicked, failures said where they happened, Stop that tidies up.

A run is three events on one click, so the page answers at once and never leaves a stale state behind:

1. off the queue, the button turns into a disabled "Generating…" and the tab's status line is cleared (a faded
   "Stopped" or error line never overlaps the next run's progress);
2. the run itself (the API endpoint), its progress bar on the results only (one bar, not one per output);
3. afterwards, the button comes back; if the run failed, the status line says what failed and why, and the outputs
   lose the bare red "Error" badge gradio leaves on them (the toast fades, the status line stays).

API clients call step 2 by its name and still receive the error as an exception.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from app.ui.cancel import JobKey
from app.ui.jobs import STOPPED_TITLE, StudioHandle, job_key, request_in
from app.ui.shared import placeholder

STOPPED = "**Stopped.** The run ends at its next step and shows nothing; change what you like and run again."

RUN_BUTTON_CLASS = "run-button"
"""Marks each tab's main button: Ctrl/Cmd+Enter clicks the one in the open tab."""

PRIVATE = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
"""Event options of the page's own bookkeeping events: instant, out of the API, no progress animation."""


MAX_NOTES = 1000

FAILURE_MARK = "<!-- stale once an input changes -->"
"""Ends a failure note in a status line: invisible, and how the page knows to clear it when an input changes."""
CLEAR_STALE_FAILURE = f"(text) => (typeof text === 'string' && text.endsWith({FAILURE_MARK!r})) ? '' : text"
"""Browser-side: a failure note goes once the inputs it was about change; any other status (a cost line) stays."""


class FailureNotes:
    """The last failure of each (session, tab), kept in the serving process until the page asks for it."""

    def __init__(self) -> None:
        self._notes: dict[JobKey, str] = {}
        self._lock = threading.Lock()

    def record(self, key: JobKey, error: Exception) -> None:
        if isinstance(error, gr.Error):
            title = error.title if error.title and error.title != "Error" else "Cannot run this"
            text = f"**{title}.** {error.message}"
        else:
            text = f"**Something went wrong.** {type(error).__name__}: {str(error)[:300]}"
        with self._lock:
            self._notes.pop(key, None)
            self._notes[key] = text
            while len(self._notes) > MAX_NOTES:  # API clients never read theirs: keep only the newest
                self._notes.pop(next(iter(self._notes)))

    def take(self, key: JobKey) -> str | None:
        with self._lock:
            return self._notes.pop(key, None)


FAILURES = FailureNotes()
"""The serving process's failure notes (session hashes are unique, so one registry serves every app)."""

PAGE_STOPS: set[JobKey] = set()
"""Jobs the page's Stop button stopped: they end quietly, the page has said so. Any other stop (an API client's
own job stopped from elsewhere) still ends in the "Cancelled after n of m steps" error its caller waits for."""


def remembering_failures(
    handler: Callable[..., Any], notes: FailureNotes, tab: str, outputs: int = 1
) -> Callable[..., Any]:
    """``handler``, recording any exception it raises under the caller's (session, tab) before re-raising it.

    A job the page's Stop button stopped ends quietly instead, leaving its ``outputs`` as they are: the page has
    said so, and the stopped job's error could otherwise still reach the page as a notice titled "Error" when it
    arrives before gradio's cancel. Wraps the outermost handler (after ZeroGPU's), so the record is made in the
    serving process.
    """

    def stopped(error: Exception, key: JobKey) -> bool:
        if not (isinstance(error, gr.Error) and error.title == STOPPED_TITLE and key in PAGE_STOPS):
            return False
        PAGE_STOPS.discard(key)
        return True

    unchanged = gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))

    def key_of(args: tuple, values: dict[str, Any]) -> JobKey:
        return job_key(tab, request_in(args, values))

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(*args: Any, **values: Any) -> Iterator[Any]:
            key = key_of(args, values)
            PAGE_STOPS.discard(key)  # a new run: an old Stop is not about it
            try:
                yield from handler(*args, **values)
            except Exception as error:
                if stopped(error, key):
                    # gradio re-sends a stream's last value when it ends: make that "leave everything as it is",
                    # or it would put the pending tiles back over what Stop tidied.
                    yield unchanged
                    return
                notes.record(key, error)
                raise

        return stream

    @functools.wraps(handler)
    def call(*args: Any, **values: Any) -> Any:
        key = key_of(args, values)
        PAGE_STOPS.discard(key)  # a new run: an old Stop is not about it
        try:
            return handler(*args, **values)
        except Exception as error:
            if stopped(error, key):
                return unchanged
            notes.record(key, error)
            raise

    return call


@dataclass
class Run:
    """One wired run: its button (and the label to restore) and the event that runs it."""

    button: gr.Button
    label: str
    event: Any

    def idle(self) -> Any:
        return gr.update(value=self.label, interactive=True)


def wire_run(
    button: gr.Button,
    handler: Callable[..., Any],
    *,
    tab: str,
    status: gr.Markdown,
    outputs: Sequence[gr.components.Component],
    progress_on: gr.components.Component | None = None,
    busy: str = "Generating…",
    clear_status: bool = True,
    stale: Sequence[gr.components.Component] = (),
    stale_when: Sequence[gr.components.Component] = (),
    **event: Any,
) -> Run:
    """Wire a run button: busy label at once, the run (an API endpoint), then the button back and any failure shown.

    Args:
        button: The button (its label comes back after the run).
        handler: The event handler (already wrapped for ZeroGPU).
        tab: The tab id (failures are kept per session and tab).
        status: The tab's status line: cleared when the run starts, the failure's message if it fails.
        outputs: The run's outputs (``status`` among them or not).
        progress_on: Where the progress bar shows (default: the first output).
        busy: The button's label while the run is queued or running.
        clear_status: Clear the status line when the run starts (off for map previews, which keep the cost line).
        stale: Outputs that belong to the inputs that made them (a map preview): emptied when one of
            ``stale_when`` changes (the inputs that made them).
        **event: The run event's own arguments (``inputs_kwargs``, ``api_name``, ``concurrency_id``, ...).
    """
    started = button.click(
        lambda: (gr.update(value=busy, interactive=False), "" if clear_status else gr.skip()),
        outputs=[button, status],
        **PRIVATE,
    )
    endpoint = remembering_failures(handler, FAILURES, tab, len(outputs))
    if event.get("api_name"):  # MCP clients see the function's name as the tool's: make it the endpoint's
        endpoint.__name__ = endpoint.__qualname__ = event["api_name"]
    run = started.then(
        endpoint,
        outputs=list(outputs),
        show_progress_on=progress_on or outputs[0],
        **event,
    )
    wired = Run(button, button.value, run)
    run.success(wired.idle, outputs=button, **PRIVATE)
    targets = [status, *(o for o in outputs if o is not status)]

    def show_failure(request: gr.Request) -> list[Any]:
        note = FAILURES.take(job_key(tab, request))
        # Every output is touched (skipped), so gradio drops the error badge it put on each.
        shown = note + FAILURE_MARK if note is not None else gr.skip()
        return [wired.idle(), shown, *(gr.skip() for _ in targets[1:])]

    run.failure(show_failure, outputs=[button, *targets], **PRIVATE)
    makers = {id(c) for c in stale_when}
    emptied = f"(text) => [({CLEAR_STALE_FAILURE})(text){', null' * len(stale)}]"
    for component in _watched(event):
        if stale and id(component) in makers:
            component.change(None, inputs=status, outputs=[status, *stale], js=emptied, **PRIVATE)
        else:
            component.change(None, inputs=status, outputs=status, js=CLEAR_STALE_FAILURE, **PRIVATE)
    return wired


def _watched(event: dict[str, Any]) -> list[gr.components.Component]:
    """The run's inputs a user changes (not its session state), each once."""
    inputs = event.get("inputs_kwargs") or {}
    components = inputs.values() if isinstance(inputs, dict) else inputs
    states = (gr.State, gr.BrowserState)
    return list({id(c): c for c in components if hasattr(c, "change") and not isinstance(c, states)}.values())


SEED_IN_COST_LINE = re.compile(r"\bseeds? (\d+)")


def remember_seed(run: Run, cost_line: gr.Markdown, last_seed: gr.State) -> None:
    """After a run succeeds, keep the seed its cost line reports, for "Reuse last seed".

    The run itself outputs no State: gradio's MCP server drops State outputs by position from a queued event's
    result, which has none, and fails every tool call ("pop index out of range").
    """

    def seed_of(text: str | None) -> Any:
        found = SEED_IN_COST_LINE.search(text or "")
        return int(found.group(1)) if found else gr.skip()

    run.event.success(seed_of, inputs=cost_line, outputs=last_seed, **PRIVATE)


def add_stop(
    button: gr.Button,
    studio: StudioHandle,
    tab: str,
    runs: Sequence[Run],
    status: gr.Markdown,
    message: str = STOPPED,
    tidy: tuple[gr.components.Component, Callable[[Any], Any]] | None = None,
) -> None:
    """Wire a Stop button: set the job's cancel event (it stops at its next step) and cancel the runs' events.

    The message goes to the tab's own status line (the click skips the queue, and gradio shows neither
    ``gr.Info`` from an unqueued event nor the cancelled job's error), and the run buttons come back at once.

    Args:
        button: The Stop button.
        studio: The studio handle.
        tab: The tab id.
        runs: The tab's runs, whose events it cancels.
        status: The tab's status line.
        message: What the status line says when a job was stopped.
        tidy: ``(component, fn)``: ``fn`` maps the component's value to what it shows after a stop
            (e.g. pending tiles marked as stopped).
    """
    extra = [tidy[0]] if tidy else []

    def stop(request: gr.Request, value: Any = None) -> list[Any]:
        key = job_key(tab, request)
        PAGE_STOPS.add(key)  # before the job can see its cancel signal
        stopped = studio.stop(tab, request)
        if not stopped:
            PAGE_STOPS.discard(key)
        updates = [message if stopped else gr.skip(), *(run.idle() for run in runs)]
        if tidy:
            updates.append(tidy[1](value) if stopped else gr.skip())
        return updates

    button.click(
        stop,
        inputs=extra,
        outputs=[status, *(run.button for run in runs), *extra],
        cancels=[run.event for run in runs],
        **PRIVATE,
    )


def stopped_tiles(
    items: Sequence[Any] | None, pending: tuple[str, ...] = ("pending", "(preview)"), label: str = "stopped"
) -> list[Any]:
    """Gallery items with each tile still pending or showing a live preview replaced by a grey "stopped" tile."""
    out = []
    for item in items or []:
        image, caption = item if isinstance(item, (tuple, list)) else (item, None)
        if caption and any(word in caption for word in pending):
            size = _size_of(image)
            method = caption.split(" · ")[0].split(":")[0]
            out.append((placeholder(label, *size), f"{method} · {label}"))
        else:
            out.append((image, caption))
    return out


def _size_of(image: Any) -> tuple[int, int]:
    if isinstance(image, Image.Image):
        return image.size
    try:
        with Image.open(image) as opened:
            return opened.size
    except Exception:  # a tile that cannot be read: a small one stands in
        return (256, 256)


KEYBOARD_JS = f"""
() => {{
  // Ctrl/Cmd+Enter runs the open tab, as in A1111, ComfyUI and Fooocus.
  document.addEventListener('keydown', (event) => {{
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) return;
    const buttons = [...document.querySelectorAll('.{RUN_BUTTON_CLASS}')];
    const visible = buttons.find((b) => b.offsetParent !== null && !b.disabled);
    if (visible) {{ event.preventDefault(); visible.click(); }}
  }});
}}
"""

ALT_TEXT_JS = """
() => {
  // Every visible image says what it is: its caption in a gallery, else its component's label (gradio leaves
  // alt empty on uploads, examples and sliders).
  const describe = (img) => {
    const item = img.closest('.thumbnail-item, .gallery-item, button');
    const caption = item?.querySelector('.caption-label')?.innerText || item?.getAttribute('aria-label');
    const block = img.closest('.block');
    const label = block?.querySelector('[data-testid="block-label"]')?.innerText || block?.getAttribute('aria-label');
    // An example thumbnail has neither: its file's name says what it is ("astronaut").
    const path = (img.getAttribute('src') || '').split('?')[0];
    const file = decodeURIComponent(path.split('/').pop()).replace(/\\.[a-z]+$/i, '');
    const text = (caption || label || (file && `example: ${file}`) || '').trim();
    if (text) img.setAttribute('alt', text);
  };
  let queued = false;
  const sweep = () => {
    queued = false;
    document.querySelectorAll('img:not([alt]), img[alt=""]').forEach(describe);
  };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(sweep); } })
    .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'alt']});
  sweep();
}
"""

PAGE_JS = f"() => {{ ({KEYBOARD_JS.strip()})(); ({ALT_TEXT_JS.strip()})(); }}"
"""The page's own script, run once on load: the keyboard shortcut and alt text."""
