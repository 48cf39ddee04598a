"""How each tab turns its widgets into a recipe and back, and tags the images it returns with that recipe.

Every ``build_*_tab`` returns a :class:`TabRecipe`; :func:`app.ui.build_app` joins
them into the recipes panel's ``capture`` and ``apply``. The tabs build the
recipe from the same request dict they run, so what a PNG, a preset or a share
link records cannot drift from what was generated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from PIL import Image

from app.errors import StudioError
from app.images import content_hash, load_image
from app.recipes import ASSETS_DIR, Recipe, attach_recipe
from app.ui.plain import in_toast

logger = logging.getLogger(__name__)


def _nothing(_: Any) -> list[str]:
    return []


@dataclass
class TabRecipe:
    """A tab's recipe hooks.

    Attributes:
        tab: The tab id (``Recipe.ui_tab``): ``text``, ``controlnet``, ``ip_adapter`` or ``compare``.
        inputs: The tab's named event inputs (shared controls included), for ``inputs_kwargs``.
        to_recipe: The tab's values (named as in ``inputs``) → its recipe (``StudioError`` if it cannot).
        outputs: The tab's own widgets that :attr:`from_recipe` sets (shared controls excluded).
        from_recipe: A recipe of this tab → one update per :attr:`outputs` entry.
        capture_notes: Values → what the recipe could not record (shown when saving, sharing, generating).
        apply_notes: Recipe → what this tab cannot show of it (shown when loading).
        results: ``(run, gallery)`` of each run whose results feed the session history.
    """

    tab: str
    inputs: dict[str, gr.components.Component]
    to_recipe: Callable[[dict[str, Any]], Recipe]
    outputs: list[gr.components.Component]
    from_recipe: Callable[[Recipe], list[Any]]
    capture_notes: Callable[[dict[str, Any]], list[str]] = field(default=_nothing)
    apply_notes: Callable[[Recipe], list[str]] = field(default=_nothing)
    results: list[tuple[Any, gr.Gallery]] = field(default_factory=list)

    def skips(self) -> list[Any]:
        """Updates that leave every one of :attr:`outputs` unchanged."""
        return [gr.skip() for _ in self.outputs]


def image_ref(value: Any) -> str | Image.Image | None:
    """What a recipe records of an image input's value: the image, so a bundled photo is recognised by its pixels.

    Args:
        value: An ``ImageInput`` value (an uploaded file's path) or a decoded image.

    Returns:
        The decoded image (``recipe_from_*`` names it only if it *is* a bundled photo, else asks the user
        for one), or None for no image or a file that is not an image (the run reports that).
    """
    if value is None or isinstance(value, Image.Image):
        return value

    try:
        return load_image(value)
    except StudioError:
        return None


def same_image(first: Any, second: Any) -> bool:
    """Whether two image input values hold the same pixels (a path, a decoded image or None)."""
    first, second = image_ref(first), image_ref(second)
    if first is None or second is None:
        return first is second
    return content_hash(first.convert("RGB")) == content_hash(second.convert("RGB"))


def asset_update(name: str | None) -> Any:
    """The update that puts a recipe's bundled photo in an image input, or leaves the input as it is.

    The file itself is served (not a decoded copy): an image output is re-encoded as lossy WebP,
    and then the run would see other pixels than the recipe's photo.
    """
    return gr.update(value=str(ASSETS_DIR / name)) if name else gr.skip()


def tagged(
    items: Iterable[tuple[Image.Image, str]],
    recipe: Recipe | None,
    seeds: Sequence[int | None] | None = None,
    method: str | None = None,
) -> list[tuple[Image.Image, str]]:
    """Gallery items whose images carry ``recipe`` in PNG text chunks (gradio copies them into the PNG it serves).

    Args:
        items: ``(image, caption)`` pairs.
        recipe: The recipe that made them; None returns the items unchanged.
        seeds: Each item's own seed for the A1111 line (None entries: the recipe's seed).
        method: The method that made them, for the A1111 line (comparisons).
    """
    items = list(items)
    if recipe is None:
        return items
    seeds = list(seeds or []) + [None] * (len(items) - len(seeds or []))
    return [
        (attach_recipe(image, recipe, seed=seed, method=method), caption)
        for (image, caption), seed in zip(items, seeds, strict=False)
    ]


def try_recipe(make: Callable[[], Recipe], warn: bool = True) -> Recipe | None:
    """The recipe ``make`` builds, or None (with a warning toast) so a finished result is never lost over it."""
    try:
        return make()
    except StudioError as error:
        logger.warning("no recipe for these images: %s", error)
        if warn:
            gr.Warning(f"These images carry no recipe: {in_toast(error)}", title="No recipe")
        return None


def with_notes(text: str, notes: Sequence[str]) -> str:
    """Markdown ``text`` followed by one bullet per note."""
    return text + "".join(f"\n- {note}" for note in notes) if notes else text


__all__ = [
    "TabRecipe",
    "asset_update",
    "image_ref",
    "same_image",
    "tagged",
    "try_recipe",
    "with_notes",
]
