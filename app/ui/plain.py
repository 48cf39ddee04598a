"""Untrusted text (a shared recipe's title, a quoted value) inside a Markdown component, shown as the plain text it is.

``html.escape`` stops tags but not Markdown: ``![p](http://host/pixel.png)`` would still make every visitor's
browser fetch that image, and ``[Sign in](http://host/phish)`` would be a link inside the studio's own notice.
CommonMark lets a backslash escape any ASCII punctuation, so escaping all of it leaves no syntax at all: no link,
image, emphasis, heading, list, code, HTML tag or entity, and no bare ``http://`` or ``www.`` for autolinking.
"""

from __future__ import annotations

import html
import string

_ESCAPED = {ord(char): "\\" + char for char in string.punctuation}
_ESCAPED.update({ord(char): " " for char in "\r\n\t\x0b\x0c\x85\u2028\u2029"})  # one line: no block syntax


def plain(text: object) -> str:
    """``text`` as Markdown that renders to exactly its characters (line breaks become spaces)."""
    return str(text).translate(_ESCAPED)


def in_toast(text: object) -> str:
    """``text`` for a ``gr.Error`` / ``gr.Warning`` toast, which gradio renders as (sanitised) HTML: escaped, so a
    value the message quotes (a file name, a received setting) is shown as typed and never fetched as an image."""
    return html.escape(str(text), quote=False)
