"""How a running job learns that it should stop, wherever it runs.

A job stops at its next denoising step when its cancel signal is set. Three things set it:

- the tab's Stop button (:meth:`JobCancel.set` through the handle's job registry);
- gradio cancelling the event — an API client's ``cancel()``, a Stop that cancels the event, a closed tab. gradio
  cancels only the asyncio task that waits for the handler; the handler's worker thread would run on to its last
  step and keep the GPU queue busy. So the signal also asks gradio's queue whether the event is still active;
- on ZeroGPU the handler runs in a forked worker process, where neither the Stop button's event nor gradio's queue
  state reach. There a flag file named after (session, tab) carries the request across the process boundary: Stop
  and a watcher thread in the serving process (:func:`watch_for_cancel`) write it, the worker's signal reads it.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

FLAG_DIR = Path(tempfile.gettempdir()) / "conditioning-studio-cancel"
WATCH_SECONDS = 0.25
"""How often the serving process checks whether gradio still runs a ZeroGPU job's event."""

JobKey = tuple[str, str]
"""(session hash, tab): which user's job on which tab."""


def flag_path(key: JobKey) -> Path:
    """The flag file that asks the job ``key`` to stop, readable from any process on this machine."""
    digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]
    return FLAG_DIR / f"{digest}.stop"


def raise_flag(key: JobKey) -> None:
    """Ask the job ``key`` to stop, in whichever process it runs."""
    FLAG_DIR.mkdir(parents=True, exist_ok=True)
    flag_path(key).touch()


def gradio_event_alive() -> Callable[[], bool]:
    """A check that says whether the gradio event running this handler is still active in the queue.

    Call it in the handler's thread (gradio's context names the event there). Outside a gradio event, or in a
    process whose gradio queue does not run the event (a ZeroGPU worker), the check always answers True.
    """
    from gradio.context import LocalContext

    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)
    if queue is None or event_id is None:
        return lambda: True

    def alive() -> bool:
        # gradio frees the event's slot in active_jobs as soon as it cancels the event's task.
        return any(event._id == event_id for job in list(queue.active_jobs) if job for event in job)

    # An event that is not in the queue now (run without it) has nothing to watch.
    return alive if alive() else lambda: True


class JobCancel(threading.Event):
    """The cancel signal of one job: set by Stop, by gradio dropping the event, or by the job's flag file."""

    def __init__(self, key: JobKey, alive: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.key = key
        # Set when the job is over (its handler left the job): what Stop waits for before it tidies the page.
        self.ended = threading.Event()
        self._alive = alive or (lambda: True)
        flag_path(key).unlink(missing_ok=True)  # a Stop meant for an earlier job must not stop this one

    def set(self) -> None:
        super().set()
        raise_flag(self.key)

    def is_set(self) -> bool:
        if super().is_set():
            return True
        if not self._alive() or flag_path(self.key).exists():
            super().set()
            return True
        return False

    def close(self) -> None:
        """Remove the flag file once the job is over."""
        flag_path(self.key).unlink(missing_ok=True)


@contextmanager
def watch_for_cancel(key: JobKey) -> Iterator[None]:
    """While the block runs (a ZeroGPU call), raise the job's flag when gradio stops running its event."""
    alive = gradio_event_alive()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(WATCH_SECONDS):
            if not alive():
                raise_flag(key)
                return

    watcher = threading.Thread(target=watch, name="cancel-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
