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


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: float, font, max_lines: int) -> list[str]:
    """``text`` in lines at most ``width`` wide, broken between words (inside a word only when the word alone is too
    wide, "ControlNe-" / "t"), at most ``max_lines``; only text past the last line is cut ("…")."""
    lines: list[str] = []
    for word in text.split():
        line = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(line, font=font) <= width:
            lines[-1] = line
            continue
        while draw.textlength(word, font=font) > width and len(word) > 1:  # a word wider than the cell
            cut = next(
                (i for i in range(len(word) - 1, 1, -1) if draw.textlength(word[:i] + "-", font=font) <= width), 1
            )
            lines.append(word[:cut] + "-")
            word = word[cut:]
        lines.append(word)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last + "…"]
    return lines or [""]


MAX_LABEL_LINES = 3
"""Lines a column label may take before it is cut (a narrow cell's "ControlNet strength" takes two)."""


def labelled_grid(
    cells: list[list[Image.Image | None]], column_labels: list[str], row_labels: list[str] | None = None
) -> Image.Image:
    """Compose ``cells[row][column]`` into one image with labels.

    Labels too wide for their cell wrap onto more lines (the label band grows) instead of being cut.

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
    # Shrink (down to 9 px) until every column label fits its cell, before wrapping any label.
    while size > 9 and max(measure.textlength(label, font=font) for label in column_labels) > cell_w - 8:
        size -= 1
        font = _font(size)
    line_height = size + 3
    columns = [_wrap(measure, label, cell_w - 8, font, MAX_LABEL_LINES) for label in column_labels]
    band = max(LABEL_HEIGHT, max(len(lines) for lines in columns) * line_height + 8)
    left = 0
    if row_labels:
        left = min(cell_w, int(max(measure.textlength(label, font=font) for label in row_labels)) + 16)
    rows = [_wrap(measure, label, left - 8, font, max(1, cell_h // line_height)) for label in row_labels or []]
    grid = Image.new("RGB", (left + cell_w * len(column_labels), band + cell_h * len(cells)), BACKGROUND)
    draw = ImageDraw.Draw(grid)
    for column, lines in enumerate(columns):
        top = (band - len(lines) * line_height) / 2
        for number, text in enumerate(lines):
            x = left + column * cell_w + (cell_w - draw.textlength(text, font=font)) / 2
            draw.text((x, top + (number + 0.5) * line_height), text, fill=INK, font=font, anchor="lm")
    for row, images in enumerate(cells):
        top = band + row * cell_h
        if rows:
            lines = rows[row]
            first = top + (cell_h - len(lines) * line_height) / 2
            for number, text in enumerate(lines):
                draw.text((4, first + (number + 0.5) * line_height), text, fill=INK, font=font, anchor="lm")
        for column, image in enumerate(images):
            box = (left + column * cell_w, top)
            if image is None:
                draw.rectangle([box, (box[0] + cell_w - 1, box[1] + cell_h - 1)], fill=MISSING)
            else:
                grid.paste(image.convert("RGB").resize((cell_w, cell_h)), box)
    return grid
