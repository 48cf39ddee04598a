"""Labelled image grids, for sweeps: column labels on top, row labels on the left."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

LABEL_HEIGHT = 28
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
MISSING = (235, 235, 235)


LABEL_FONTS = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf")
"""System fonts tried first: Pillow's built-in font draws a space 2 px wide at label sizes, so "ControlNet strength"
read as "ControlNetstrength"."""


def _font(size: int) -> ImageFont.ImageFont:
    for name in LABEL_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:  # not installed here
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without sized default fonts
        return ImageFont.load_default()


def _fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, font) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def labelled_grid(
    cells: list[list[Image.Image | None]], column_labels: list[str], row_labels: list[str] | None = None
) -> Image.Image:
    """Compose ``cells[row][column]`` into one image with labels.

    Args:
        cells: Rows of images, all of one size; None draws an empty (grey) cell, e.g. a failed run.
        column_labels: One label per column, drawn above it.
        row_labels: One label per row, drawn to its left (omitted for a single unlabelled row).

    Returns:
        The grid as an RGB image.
    """
    sample = next(image for row in cells for image in row if image is not None)
    cell_w, cell_h = sample.size
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    size = max(11, min(16, cell_w // 12))
    font = _font(size)
    # Shrink (down to 9 px) until every column label fits its cell, before cutting any label short.
    while size > 9 and max(measure.textlength(label, font=font) for label in column_labels) > cell_w - 8:
        size -= 1
        font = _font(size)
    left = 0
    if row_labels:
        left = min(cell_w, int(max(measure.textlength(label, font=font) for label in row_labels)) + 16)
    grid = Image.new("RGB", (left + cell_w * len(column_labels), LABEL_HEIGHT + cell_h * len(cells)), BACKGROUND)
    draw = ImageDraw.Draw(grid)
    for column, label in enumerate(column_labels):
        text = _fit_text(draw, label, cell_w - 8, font)
        x = left + column * cell_w + (cell_w - draw.textlength(text, font=font)) / 2
        draw.text((x, LABEL_HEIGHT / 2), text, fill=INK, font=font, anchor="lm")
    for row, images in enumerate(cells):
        top = LABEL_HEIGHT + row * cell_h
        if row_labels:
            text = _fit_text(draw, row_labels[row], left - 8, font)
            draw.text((4, top + cell_h / 2), text, fill=INK, font=font, anchor="lm")
        for column, image in enumerate(images):
            box = (left + column * cell_w, top)
            if image is None:
                draw.rectangle([box, (box[0] + cell_w - 1, box[1] + cell_h - 1)], fill=MISSING)
            else:
                grid.paste(image.convert("RGB").resize((cell_w, cell_h)), box)
    return grid
