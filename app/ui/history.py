"""This session's results, newest first: pick one to restore its settings or send its image to another tab.

Every result image the studio serves is a PNG carrying its recipe, so an entry is just the served file and its
caption: restoring reads the recipe back from the file (the recipes panel's "restore from image"), and sending
puts the file into another tab's image input. Entries live in the browser session (``gr.State``), at most
:data:`MAX_ENTRIES`. With an outputs folder (:mod:`app.outputs`, on by default locally) every result is also kept
there, and a new page starts its History from the newest kept results: they outlive a reload and a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from app.errors import StudioError
from app.outputs import Outputs
from app.ui.gallery import results_gallery
from app.ui.plain import plain
from app.ui.recipes_panel import RecipesPanel
from app.ui.runs import PRIVATE, Run

MAX_ENTRIES = 48
RESULT_MARK = " · seed "
"""Result captions say "· seed N" (maps, references and placeholders do not): only results enter the history."""


@dataclass
class SendTarget:
    """A tab's image input that a history image can be sent to."""

    label: str
    tab_id: str
    image: gr.Image


def new_results(value: Sequence[Any] | None) -> list[tuple[str, str]]:
    """The ``(path, caption)`` results in a results gallery's value (maps, references, pending tiles left out):
    files the studio served from gradio's cache only, whatever a client sends as the gallery's value."""
    cache = Path(get_upload_folder()).resolve()
    out = []
    for item in value or []:
        path, caption = item if isinstance(item, (tuple, list)) else (item, "")
        if isinstance(path, str) and isinstance(caption, str) and RESULT_MARK in caption and _inside(path, cache):
            out.append((path, caption))
    return out


def _inside(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def added(history: list[tuple[str, str]] | None, fresh: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The history with a run's results (:func:`new_results`, or their kept copies) in front, newest first, capped
    at :data:`MAX_ENTRIES`."""
    known = {path for path, _ in fresh}
    return (fresh + [entry for entry in history or [] if entry[0] not in known])[:MAX_ENTRIES]


def remembered(
    outputs: Outputs | None, history: list[tuple[str, str]] | None, value: Any
) -> tuple[list[tuple[str, str]], Any]:
    """The history with a run's results in front (kept in ``outputs`` first, when there is a folder), and the
    notice to show: a folder that could not be written is said, the results stay on screen and in this page."""
    fresh, notice = new_results(value), gr.skip()
    if outputs is not None and fresh:
        try:
            fresh = outputs.keep(fresh)
        except StudioError as error:
            notice = f"**{plain(str(error))}**"
    return added(history, fresh), notice


def build_history(
    runs: Sequence[tuple[Run, gr.Gallery]],
    tabs: gr.Tabs,
    active: gr.State,
    panel: RecipesPanel,
    targets: Sequence[SendTarget],
    outputs: Outputs | None = None,
    demo: gr.Blocks | None = None,
) -> gr.Gallery:
    """The history accordion: a gallery of this session's results, and what to do with the one picked.

    Long by design: a Blocks builder lays its components out in page order and wires their events where they are
    made; what each event does lives in the module's functions (:func:`remembered`, :func:`added`).

    Args:
        runs: Each run whose results gallery feeds the history (after the run succeeds).
        tabs: The tabs (sending an image opens its tab).
        active: The open tab's id (kept in step with ``tabs``).
        panel: The recipes panel (restoring applies a result's recipe through it, with Undo).
        targets: The image inputs a result can be sent to.
        outputs: Where results are kept (None: History holds this page's results only).
        demo: The app, whose page load fills History from ``outputs``.
    """
    entries = gr.State([])
    picked = gr.State(None)
    title = f"History: results kept in {outputs.root}" if outputs else "History: this session's results"
    with gr.Accordion(title, open=False, elem_id="history"):
        view = results_gallery("Earlier results (newest first)", elem_id="history-gallery", columns=6, type="filepath")
        about = gr.Markdown("Pick a result to restore its settings or send its image to another tab.")
        with gr.Row():
            restore = gr.Button("Restore its settings", size="sm", interactive=False, elem_id="history-restore")
            sends = [
                gr.Button(f"Send to {t.label}", size="sm", interactive=False, elem_id=f"history-send-{t.tab_id}")
                for t in targets
            ]

    buttons = [restore, *sends]

    def remember(history: list[tuple[str, str]], value: Any) -> tuple[Any, Any, Any]:
        history, notice = remembered(outputs, history, value)
        return history, history, notice

    for run, gallery in runs:
        run.event.success(remember, inputs=[entries, gallery], outputs=[entries, view, about], **PRIVATE)
    if outputs is not None and demo is not None:
        demo.load(lambda: (outputs.recent(MAX_ENTRIES),) * 2, outputs=[entries, view], **PRIVATE)

    def pick(history: list[tuple[str, str]], event: gr.SelectData) -> list[Any]:
        index = event.index if isinstance(event.index, int) else None
        if index is None or not 0 <= index < len(history or []):
            return [None, gr.skip(), *(gr.update(interactive=False) for _ in buttons)]
        caption = history[index][1]
        return [history[index][0], f"Picked: **{caption}**", *(gr.update(interactive=True) for _ in buttons)]

    view.select(pick, inputs=entries, outputs=[picked, about, *buttons], **PRIVATE)
    restore.click(
        panel.restore_png, inputs_kwargs={"path": picked, **panel.restore_inputs}, outputs=panel.restore_targets,
        **PRIVATE,
    )  # fmt: skip
    for target, button in zip(targets, sends, strict=True):
        button.click(
            lambda path, tab_id=target.tab_id: (gr.update(selected=tab_id), tab_id, path if path else gr.skip()),
            inputs=picked,
            outputs=[tabs, active, target.image],
            **PRIVATE,
        )
    return view
