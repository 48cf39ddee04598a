"""The static guide "when each method fits", shown next to the measured verdict.

It states what each method is designed to carry (as the README's "When each method fits" table does; a control
type's words come from its spec in :mod:`app.controls`);
the fit matrix then shows whether that held on the user's own image. The
entries are data (:data:`GUIDE_ENTRIES`) so the UI may lay them out as it
likes; :data:`GUIDE` is the same text as Markdown.
"""

from __future__ import annotations

from typing import NamedTuple

from app.controls import CONTROLS
from app.fit.registry import SCORERS


class GuideEntry(NamedTuple):
    """One method in the guide."""

    method: str  # the matrix row name (``text``, ``canny``, ... ``combo`` for ControlNet + IP-Adapter)
    title: str
    carries: str
    fits_when: str
    watch_for: str
    score: str  # the fit column that shows it


GUIDE_ENTRIES: tuple[GuideEntry, ...] = (
    GuideEntry(
        "text",
        "Text only",
        "nothing but the prompt: it decides layout, style and content.",
        "you are exploring, or any layout will do.",
        "the weakest at exact structure: the layout changes with every seed.",
        "Prompt",
    ),
    *(
        GuideEntry(
            name,
            f"ControlNet {name}",
            spec.guide.carries,
            spec.guide.fits_when,
            spec.guide.watch_for,
            SCORERS[spec.scorer].label.partition(" (")[0],
        )
        for name, spec in CONTROLS.items()
    ),
    GuideEntry(
        "ip_adapter",
        "IP-Adapter",
        'a reference image\'s look (style, identity or content): "what it looks like", not "where things are".',
        "a picture says the style or subject better than words.",
        "the scale trades the reference against the prompt; too high and the prompt is drowned.",
        "Reference",
    ),
    GuideEntry(
        "t2i_adapter",
        "T2I-Adapter (SDXL)",
        "the same map as the type's ControlNet, through a lighter network whose features are computed once and "
        "added at every step.",
        "you want the map's structure at less cost per step, or a softer hold than the ControlNet's.",
        "it holds fine detail less tightly than the ControlNet on the same map; compare both on one seed.",
        "the type's own fit",
    ),
    GuideEntry(
        "combo",
        "ControlNet + IP-Adapter",
        "structure from one image and the look from another.",
        "you need both a fixed layout or pose and a reference style.",
        "two signals compete with the prompt; lower one scale if the prompt fit drops.",
        "Structure and Reference",
    ),
)

READING_NOTE = (
    "Read the fit table against the **text-only** row: its structure and reference scores are what chance "
    "gives, so the difference is what each method added; its prompt score is what the prompt alone achieves."
)


def guide_markdown() -> str:
    """The guide as Markdown: one bullet per method, then how to read the fit table."""
    lines = ["### When each method fits", ""]
    for e in GUIDE_ENTRIES:
        lines.append(
            f"- **{e.title}** carries {e.carries} Fits when {e.fits_when} Watch for: {e.watch_for} "
            f"*Measured by: {e.score}.*"
        )
    lines += ["", READING_NOTE]
    return "\n".join(lines) + "\n"


GUIDE = guide_markdown()
