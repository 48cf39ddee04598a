""" "Stealth" metadata: A1111 text hidden in a PNG's pixels, for images whose text chunks a site stripped.

The stealth-pnginfo extension (ashen-sensored/sd_webui_stealth_pnginfo, built into Forge and reForge; NovelAI writes
the same alpha format) writes the ``parameters`` text into the lowest bit of each pixel's alpha value, or of its red,
green and blue values, read column by column (x outer, y inner):

* a 15-byte signature: ``stealth_pnginfo`` / ``stealth_pngcomp`` (alpha) or ``stealth_rgbinfo`` / ``stealth_rgbcomp``
  (RGB); ``comp`` means the text is gzip-compressed;
* the payload's length in bits, 32 bits big-endian;
* the payload: UTF-8 text, gzipped for ``comp``.

Unlike the text chunks this needs the pixels, so it is read only when nothing else is, from images of at most
:data:`MAX_STEALTH_PIXELS`, with the payload and its decompressed text capped.
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image

from app.recipes.metadata import MAX_TEXT_BYTES

MAX_STEALTH_PIXELS = 16 * 1024 * 1024
"""Largest image whose pixels are decoded to look for stealth text (4096², above any generator's output)."""
_SIGNATURES = {  # by carrier: (uncompressed, compressed)
    "alpha": (b"stealth_pnginfo", b"stealth_pngcomp"),
    "rgb": (b"stealth_rgbinfo", b"stealth_rgbcomp"),
}
_SIGNATURE_BITS, _LENGTH_BITS = 15 * 8, 32


def read_stealth(image: Image.Image) -> tuple[str | None, str | None]:
    """The stealth text hidden in ``image``'s pixels, and a problem when some was found but could not be read.

    Returns:
        ``(text, None)``; ``(None, why)`` for a signature with a damaged or oversize payload; ``(None, None)`` when
        the image carries none (or is too large to look at).
    """
    width, height = image.size
    if width * height > MAX_STEALTH_PIXELS or image.mode not in ("RGB", "RGBA", "P", "LA", "L"):
        return None, None
    has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
    pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB")).transpose(1, 0, 2)  # column by column
    carriers = {"alpha": pixels[..., 3].reshape(-1)} if has_alpha else {}
    carriers["rgb"] = pixels[..., :3].reshape(-1)
    for name, values in carriers.items():
        bits = values[: _SIGNATURE_BITS + _LENGTH_BITS] & 1
        if len(bits) < _SIGNATURE_BITS + _LENGTH_BITS:
            continue
        signature = np.packbits(bits[:_SIGNATURE_BITS]).tobytes()
        if signature not in _SIGNATURES[name]:
            continue
        length = int.from_bytes(np.packbits(bits[_SIGNATURE_BITS:]).tobytes(), "big")
        start = _SIGNATURE_BITS + _LENGTH_BITS
        if length > len(values) - start or length > 8 * MAX_TEXT_BYTES:
            return None, f"stealth {name} text of {length:,} bits is longer than the image or {MAX_TEXT_BYTES:,} bytes"
        payload = np.packbits(values[start : start + length] & 1).tobytes()
        return _decoded(payload, compressed=signature == _SIGNATURES[name][1])
    return None, None


def _decoded(payload: bytes, *, compressed: bool) -> tuple[str | None, str | None]:
    if compressed:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
        try:
            payload = inflater.decompress(payload, MAX_TEXT_BYTES + 1)
        except zlib.error:
            payload = b""
        if not inflater.eof:
            return None, "stealth text is damaged (its gzip stream does not decompress)"
        if len(payload) > MAX_TEXT_BYTES:
            return None, f"stealth text is over {MAX_TEXT_BYTES:,} bytes once decompressed"
    return payload.decode("utf-8", errors="replace"), None
