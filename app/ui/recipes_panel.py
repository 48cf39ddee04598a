"""The recipes panel: presets menu, save as preset (and JSON download), load JSON, share link, restore from PNG.

The panel knows nothing about the tabs' widgets. The app passes two functions:

* ``capture(values) -> Recipe``: the current state as a recipe, from the named
  ``capture_inputs`` values (use :func:`app.recipes.recipe_from_generation` /
  :func:`~app.recipes.recipe_from_compare`);
* ``apply(recipe) -> list`` of updates for ``apply_outputs``: the widgets set from a
  recipe (switch tab, fill controls, put bundled photos in the image inputs
  with :func:`app.recipes.load_asset`; :func:`shared_values` gives the shared fields).

and, optionally, ``capture_notes(values)`` / ``apply_notes(recipe)``: lines for
the notice saying what a saved recipe could not record, or what the page cannot
show of a loaded one.

Every way a recipe comes in (preset menu, uploaded JSON, a PNG dropped on
"restore", the ``?recipe=`` link read in ``demo.load``) goes through the core's
untrusted parsing and ends in ``apply`` plus a one-line notice (what was loaded,
and which image the user still has to supply). Failures become notices or
``gr.Error`` messages; the page keeps working.

Why not ``gr.DeepLinkButton``: it links to a snapshot of the server-side session,
which includes the user's uploaded photos (shared with whoever gets the link) and
vanishes when the server restarts. The recipe link is self-contained, carries no
images and survives restarts, so the share link is built from the recipe, in the
browser (``window.location``, which is right behind any proxy).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from app.errors import StudioError
from app.recipes import (
    MAX_DOCUMENT_BYTES,
    SHARE_PARAM,
    Recipe,
    decode_share,
    encode_share,
    load_presets,
    parse_recipe,
    recipe_from_image,
    recipe_notice,
    recipe_to_dict,
    recipe_to_json,
)
from app.request import CommonSettings
from app.ui.downloads import cached_file
from app.ui.plain import plain

MAX_USER_PRESETS = 50
MAX_NAME_CHARS = 40
STORAGE_KEY = "conditioning-studio-presets"
# Fixed, not gradio's random per-process default, so a server restart does not make browsers forget their
# presets. The store holds only recipes, which are parsed as untrusted input whatever the encryption says.
STORAGE_SECRET = "conditioning-studio-presets-v1"
_SHIPPED, _MINE = "preset:", "mine:"

# Runs in the browser after the token is made: the link is this page's own address plus ?recipe=.
_SHARE_JS = f"""
(token) => {{
    if (!token || token.startsWith("http")) return token;
    const url = new URL(window.location.href);
    url.searchParams.delete("deep_link");
    url.searchParams.set("{SHARE_PARAM}", token);
    return url.toString();
}}
"""

Capture = Callable[[dict[str, Any]], Recipe]
Apply = Callable[[Recipe], Sequence[Any]]
Notes = Callable[[Any], Sequence[str]]


@dataclass
class RecipesPanel:
    """The panel's components, for layout tweaks and tests."""

    menu: gr.Dropdown
    name: gr.Textbox
    save: gr.Button
    download: gr.DownloadButton
    upload: gr.UploadButton
    share: gr.Button
    link: gr.Textbox
    restore: gr.File
    notice: gr.Markdown
    store: gr.BrowserState
    undo: gr.Button
    restore_png: Callable[..., list[Any]]
    """``restore_png(path, **values)`` → updates for :attr:`restore_targets`: a PNG's recipe applied, undoable."""
    restore_targets: list[Any]
    restore_inputs: dict[str, Any]


def shared_values(recipe: Recipe) -> dict[str, Any]:
    """The shared settings of a recipe by field name (prompt, seed, steps, ..., images per run).

    Feed it to ``SharedControls.updates`` in ``apply``.
    """
    settings = recipe.settings
    values = {name: getattr(settings, name) for name in CommonSettings.model_fields}
    if recipe.mode == "generate":
        values["num_images_per_prompt"] = settings.num_images_per_prompt
    return values


# -- handlers (plain functions: testable without a browser) ---------------------------------------


def user_presets(store: Any) -> dict[str, Recipe]:
    """The valid presets in the browser store; anything else there is ignored (the store is user-editable)."""
    presets: dict[str, Recipe] = {}
    if not isinstance(store, Mapping):
        return presets
    for name, document in list(store.items())[:MAX_USER_PRESETS]:
        if isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS:
            try:
                presets[name] = parse_recipe(document)
            except StudioError:
                continue
    return presets


def menu_choices(store: Any) -> list[tuple[str, str]]:
    """``(label, value)`` of every preset: the shipped ones, then the user's own."""
    shipped = [(recipe.title, f"{_SHIPPED}{name}") for name, recipe in load_presets().items()]
    mine = [(f"★ {name}", f"{_MINE}{name}") for name in user_presets(store)]
    return shipped + mine


def find_preset(choice: str | None, store: Any) -> Recipe:
    """The recipe a menu value names.

    Raises:
        StudioError: no such preset.
    """
    choice = choice or ""
    if choice.startswith(_SHIPPED):
        presets = load_presets()
        name = choice.removeprefix(_SHIPPED)
    else:
        presets = user_presets(store)
        name = choice.removeprefix(_MINE)
    if name not in presets:
        raise StudioError(f"There is no preset {name[:MAX_NAME_CHARS]!r}; pick one from the menu.")
    return presets[name]


def loaded_notice(
    recipe: Recipe, source: str, notes: Sequence[str] = (), on_screen: dict[str, Any] | None = None
) -> str:
    """The one-line notice after loading: what was loaded, what it shows, and any image the user must supply.

    Args:
        recipe: The loaded recipe.
        source: Where it came from, e.g. "the shared link".
        notes: What the page cannot show of it, one line each.
        on_screen: The page's values (``<tab>__photo``, ``<tab>__reference``): an image already in the tab the
            recipe opens is not asked for (loading keeps it).
    """
    title = f" “{plain(recipe.title)}”" if recipe.title else ""
    text = f"Loaded{title} from {source}."
    if recipe.description:
        text += f" {plain(recipe.description)}"
    tab = recipe.ui_tab
    images = [(on_screen or {}).get(f"{tab}__{name}") for name in ("photo", "reference")]
    needed = recipe_notice(recipe, *images)
    return text + (f"\n\n**{plain(needed)}**" if needed else "") + noted(notes)


def noted(notes: Sequence[str]) -> str:
    """Notes as Markdown bullets after a blank line (escaped: they may quote a recipe); empty for none."""
    return "\n\n" + "\n".join(f"- {plain(note)}" for note in notes) if notes else ""


def save_preset(name: str, store: Any, recipe: Recipe) -> tuple[dict[str, Any], str]:
    """Add ``recipe`` to the store under ``name`` (replacing one of that name).

    Returns:
        The new store and the path of the recipe as a JSON file, for the download button.

    Raises:
        StudioError: the name is empty or too long, or the store is full.
    """
    name = normalise_name(name)
    if not name or len(name) > MAX_NAME_CHARS:
        raise StudioError(f"Name the preset (1–{MAX_NAME_CHARS} characters), received {len(name)} characters.")
    kept = {k: v for k, v in (store.items() if isinstance(store, Mapping) else []) if k in user_presets(store)}
    if name not in kept and len(kept) >= MAX_USER_PRESETS:
        raise StudioError(f"You have {MAX_USER_PRESETS} presets already; delete one (or download it) first.")
    if not recipe.title:
        recipe = recipe.model_copy(update={"title": name})
    kept[name] = recipe_to_dict(recipe)
    return kept, write_json(recipe, name)


def normalise_name(name: Any) -> str:
    """A preset name with its whitespace collapsed (names are one line)."""
    return " ".join(str(name or "").split())


def delete_preset(choice: str | None, store: Any) -> dict[str, Any]:
    """The store without the user's preset that ``choice`` names (shipped presets cannot be deleted)."""
    kept = dict(store) if isinstance(store, Mapping) else {}
    if choice and choice.startswith(_MINE):
        kept.pop(choice.removeprefix(_MINE), None)
    return kept


def write_json(recipe: Recipe, name: str) -> str:
    """The recipe written as ``<name>.json`` for download, in gradio's pruned cache (keyed by its content, so
    saving or sharing the same recipe again reuses its file)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:MAX_NAME_CHARS] or "recipe"
    return cached_file(recipe_to_json(recipe).encode("utf-8"), f"{slug}.json")


def read_uploaded_json(path: str | None) -> Recipe:
    """The recipe in an uploaded JSON file (size checked before reading)."""
    if not path:
        raise StudioError("No file was received; choose a recipe .json file.")
    file = Path(path)
    if file.stat().st_size > MAX_DOCUMENT_BYTES:
        raise StudioError(
            f"The file is {file.stat().st_size:,} bytes; a recipe is at most {MAX_DOCUMENT_BYTES:,} bytes."
        )
    return parse_recipe(file.read_bytes())


def recipe_from_query(params: Mapping[str, Any] | None) -> Recipe | None:
    """The shared recipe in the page's query parameters, or None when there is none.

    Raises:
        StudioError: the ``recipe`` parameter is present but not a valid recipe.
    """
    token = (params or {}).get(SHARE_PARAM)
    return decode_share(str(token)) if token else None


# -- the panel ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Widgets:
    """The panel's components, laid out."""

    notice: gr.Markdown
    undo: gr.Button
    before: gr.State
    store: gr.BrowserState
    menu: gr.Dropdown
    remove: gr.Button
    name: gr.Textbox
    save: gr.Button
    download: gr.DownloadButton
    upload: gr.UploadButton
    share: gr.Button
    link: gr.Textbox
    restore: gr.File


def _lay_out() -> _Widgets:
    """The panel's components, in page order, inside the current Blocks layout."""
    # Outside the accordion, so a shared link's notice ("supply a photo") is seen even while it is closed.
    with gr.Row(equal_height=True):
        notice = gr.Markdown(elem_id="recipes-notice", latex_delimiters=[])  # recipe text is never math
        # Loading a preset, a JSON, an image or a history entry replaces what was on screen: one click brings it back.
        undo = gr.Button("Undo load", size="sm", visible=False, scale=0, min_width=120, elem_id="recipes-undo")
    before = gr.State(None)  # the recipe on screen before the last load
    # Outside too: a closed accordion does not mount its children, and the store reads local storage on mount.
    store = gr.BrowserState({}, storage_key=STORAGE_KEY, secret=STORAGE_SECRET)
    with gr.Accordion("Recipes: presets, save, share, restore", open=False):
        with gr.Row(equal_height=True):
            menu = gr.Dropdown(
                choices=menu_choices({}),
                value=None,
                label="Presets",
                info="Shipped presets teach when each method fits; ★ are your own (kept in this browser).",
                scale=3,
                elem_id="recipes-menu",
            )
            remove = gr.Button("Delete ★", size="sm", scale=1, elem_id="recipes-delete")
        with gr.Row(equal_height=True):
            name = gr.Textbox(
                label="Preset name",
                placeholder="my depth restyle",
                max_length=MAX_NAME_CHARS,
                scale=3,
                elem_id="recipes-name",
            )
            save = gr.Button("Save as preset", scale=1, elem_id="recipes-save")
            download = gr.DownloadButton("Download JSON", visible=False, scale=1, elem_id="recipes-download")
        with gr.Row(equal_height=True):
            upload = gr.UploadButton("Load JSON…", file_types=[".json"], type="filepath", elem_id="recipes-upload")
            share = gr.Button("Make share link", elem_id="recipes-share")
        link = gr.Textbox(label="Share link", interactive=False, buttons=["copy"], elem_id="recipes-link")
        restore = gr.File(
            label="Restore from image: a PNG, JPEG or WebP made here, or by A1111/Forge, ComfyUI, InvokeAI, Fooocus…",
            file_types=[".png", ".jpg", ".jpeg", ".webp"],
            type="filepath",
            height=120,
            elem_id="recipes-restore",
        )
    return _Widgets(notice, undo, before, store, menu, remove, name, save, download, upload, share, link, restore)


REFUSED = (gr.skip(), gr.skip())
"""The updates of ``before`` and ``undo`` when nothing was loaded: both stay as they are."""


@dataclass(frozen=True)
class _Handlers:
    """The panel's event handlers. A load returns updates for ``[*outputs, notice, before, undo]``: the recipe on
    screen, the notice, and what was on screen before (kept for Undo)."""

    capture: Capture
    apply: Apply
    output_count: int
    capture_notes: Notes | None
    apply_notes: Notes | None

    def skip_all(self) -> list[Any]:
        return [gr.skip()] * self.output_count

    def applied(self, recipe: Recipe, source: str, message: str = "", values: dict[str, Any] | None = None) -> list:
        notes = list(self.apply_notes(recipe)) if self.apply_notes else []
        text = loaded_notice(recipe, source, notes, values) + (f"\n\n{plain(message)}" if message else "")
        try:
            previous = self.capture(values) if values is not None else None
        except (StudioError, KeyError):  # nothing recordable on screen (e.g. a tab without recipes): no undo
            previous = None
        undo_update = gr.update(visible=previous is not None)
        return [*self.apply(recipe), text, previous if previous is not None else gr.skip(), undo_update]

    def captured(self, values: dict[str, Any]) -> tuple[Recipe, str]:
        return self.capture(values), noted(self.capture_notes(values) if self.capture_notes else [])

    def on_pick(self, **values: Any) -> list[Any]:
        choice, stored = values.pop("recipes__menu"), values.pop("recipes__store")
        if not choice:
            return [*self.skip_all(), gr.skip(), *REFUSED]
        try:
            recipe = find_preset(choice, stored)
        except StudioError as error:
            return [*self.skip_all(), plain(str(error)), *REFUSED]
        return self.applied(recipe, "the presets", values=values)

    def on_save(self, **values: Any) -> tuple[Any, ...]:
        preset_name, stored = normalise_name(values.pop("recipes__name")), values.pop("recipes__store")
        try:
            recipe, notes = self.captured(values)
            stored, path = save_preset(preset_name, stored, recipe)
        except StudioError as error:  # said in the notice: an unqueued event's gr.Error shows only a bare badge
            return gr.skip(), gr.skip(), gr.skip(), f"**Not saved:** {plain(str(error))}"
        return (
            stored,
            gr.update(choices=menu_choices(stored), value=f"{_MINE}{preset_name}"),
            gr.update(value=path, visible=True),
            f"Saved “{plain(preset_name)}” in this browser; download the JSON to keep or share it.{notes}",
        )

    def on_delete(self, choice: str | None, stored: Any) -> tuple[Any, ...]:
        if not choice or not choice.startswith(_MINE):  # said, not silently ignored
            text = "Pick one of your own presets (★) to delete; the shipped presets stay." if choice else gr.skip()
            return gr.skip(), gr.skip(), text
        kept = delete_preset(choice, stored)
        deleted = f"Deleted “{plain(choice.removeprefix(_MINE))}” from this browser."
        return kept, gr.update(choices=menu_choices(kept), value=None), deleted

    def on_upload(self, **values: Any) -> list[Any]:
        path = values.pop("recipes__upload")
        try:
            return self.applied(read_uploaded_json(path), "the JSON file", values=values)
        except StudioError as error:
            return [*self.skip_all(), f"**Not loaded:** {plain(str(error))}", *REFUSED]

    def on_restore(self, path: str | None = None, **values: Any) -> list[Any]:
        if not path:
            return [*self.skip_all(), gr.skip(), *REFUSED]
        try:
            recipe, message = recipe_from_image(path)
        except StudioError as error:
            return [*self.skip_all(), f"**Not restored:** {plain(str(error))}", *REFUSED]
        return self.applied(recipe, "the image", message, values=values)

    def on_undo(self, previous: Recipe | None) -> list[Any]:
        if previous is None:
            return [*self.skip_all(), gr.skip(), None, gr.update(visible=False)]
        text = "Back to what was on screen before the last load."
        return [*self.apply(previous), text, None, gr.update(visible=False)]

    def on_share(self, **values: Any) -> tuple[Any, ...]:
        try:
            recipe, notes = self.captured(values)
            token = encode_share(recipe)
        except StudioError as error:
            return "", gr.skip(), f"**No share link made:** {plain(str(error))}"
        download = gr.update(value=write_json(recipe, recipe.title or "recipe"), visible=True)
        # A fresh notice: the last one was about another action (a save, a load); say what the link cannot carry.
        return token, download, f"Share link made: copy it from the box below.{notes}"

    def on_load(self, stored: Any, request: gr.Request) -> list[Any]:
        choices = gr.update(choices=menu_choices(stored))
        try:
            recipe = recipe_from_query(getattr(request, "query_params", None))
        except StudioError as error:
            text = f"**The shared link could not be loaded:** {plain(str(error))}"
            return [choices, *self.skip_all(), text, *REFUSED]
        if recipe is None:
            return [choices, *self.skip_all(), gr.skip(), *REFUSED]
        return [choices, *self.applied(recipe, "the shared link")]


def build_recipes_panel(
    *,
    capture_inputs: Mapping[str, gr.components.Component],
    capture: Capture,
    apply_outputs: Sequence[gr.components.Component],
    apply: Apply,
    demo: gr.Blocks | None = None,
    capture_notes: Notes | None = None,
    apply_notes: Notes | None = None,
) -> RecipesPanel:
    """Build the panel inside the current Blocks layout and wire its events.

    Args:
        capture_inputs: Named components whose values ``capture`` needs (for ``inputs_kwargs``).
        capture: Values → the current :class:`~app.recipes.Recipe` (raise ``StudioError`` if it cannot).
        apply_outputs: Components ``apply`` updates.
        apply: Recipe → one update per ``apply_outputs`` entry (``gr.skip()`` to leave one unchanged).
        demo: The Blocks app; when given, its ``load`` event fills the menu and restores a ``?recipe=`` link.
        capture_notes: Values → what the captured recipe could not record (shown after save and share).
        apply_notes: Recipe → what ``apply`` could not show of it (shown after loading).

    Returns:
        The panel's components.
    """
    w = _lay_out()
    on = _Handlers(capture, apply, len(apply_outputs), capture_notes, apply_notes)
    inputs = dict(capture_inputs)
    targets = [*apply_outputs, w.notice, w.before, w.undo]
    private = {"queue": False, "api_visibility": "private"}
    # ``select``: only an explicit choice applies a preset (``input`` also fired when the open menu lost focus,
    # re-applying the shown preset over the user's edits).
    w.menu.select(
        on.on_pick, inputs_kwargs={**inputs, "recipes__menu": w.menu, "recipes__store": w.store}, outputs=targets,
        **private,
    )  # fmt: skip
    w.remove.click(on.on_delete, inputs=[w.menu, w.store], outputs=[w.store, w.menu, w.notice], **private)
    w.save.click(
        on.on_save,
        inputs_kwargs={**inputs, "recipes__name": w.name, "recipes__store": w.store},
        outputs=[w.store, w.menu, w.download, w.notice],
        **private,
    )
    w.upload.upload(on.on_upload, inputs_kwargs={**inputs, "recipes__upload": w.upload}, outputs=targets, **private)
    w.restore.upload(on.on_restore, inputs_kwargs={**inputs, "path": w.restore}, outputs=targets, **private)
    w.undo.click(on.on_undo, inputs=w.before, outputs=targets, **private)
    # The token lands in the link box, then the browser turns it into a URL (gr.State never reaches the browser).
    w.share.click(on.on_share, inputs_kwargs=inputs, outputs=[w.link, w.download, w.notice], **private).then(
        None, inputs=w.link, outputs=w.link, js=_SHARE_JS, **private
    )
    if demo is not None:
        demo.load(on.on_load, inputs=w.store, outputs=[w.menu, *targets], **private)
    return RecipesPanel(
        w.menu, w.name, w.save, w.download, w.upload, w.share, w.link, w.restore, w.notice, w.store, w.undo,
        on.on_restore, targets, inputs,
    )  # fmt: skip
