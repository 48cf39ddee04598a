"""The generation metadata an image carries, read without decoding a pixel: PNG text chunks and EXIF comments.

Tools store what made an image in different places: PNG text chunks (the studio's recipe, A1111's ``parameters``,
ComfyUI's ``prompt`` graph, InvokeAI's ``invokeai_metadata``, NovelAI's ``Comment``), or an EXIF ``UserComment``
(A1111 and Fooocus JPEG and WebP files, and PNGs whose EXIF travels in an ``eXIf`` chunk). :func:`read_metadata`
returns all of them by name, with the image's size from its header.

Nothing here trusts the file: PNG chunks are walked by length (no pixel is decompressed, no decompression bomb), a
text is decoded only under its size cap (compressed ones included), a damaged text chunk is skipped and named, and
a download cut short keeps the chunks that arrived before the cut.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field

from PIL import Image

from app.errors import StudioError
from app.images import MAX_BYTES

MAX_TEXT_BYTES = 1024 * 1024
"""Largest metadata text read (a ComfyUI graph is tens of KB; a 5 MB chunk is refused)."""
MAX_TEXTS = 64
"""Most text chunks looked at: real images carry a handful."""
USER_COMMENT = "exif:UserComment"
"""The name the EXIF ``UserComment`` is filed under in :attr:`Metadata.texts`."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_EXIF_IFD, _USER_COMMENT_TAG = 0x8769, 0x9286


@dataclass
class Metadata:
    """What an image file says about itself.

    Attributes:
        format: ``PNG``, ``JPEG`` or ``WEBP``.
        texts: Text by name: PNG text chunks by keyword (the first of each), the EXIF comment as
            :data:`USER_COMMENT`.
        size: ``(width, height)`` from the header; None when the header could not be read.
        problems: Texts skipped and why (damaged, oversize, not text), for the message when nothing else is read.
    """

    format: str
    texts: dict[str, str] = field(default_factory=dict)
    size: tuple[int, int] | None = None
    problems: list[str] = field(default_factory=list)


def read_metadata(data: bytes) -> Metadata:
    """The metadata of a PNG, JPEG or WebP file's bytes.

    Raises:
        StudioError: another kind of file, or one over :data:`app.images.MAX_BYTES`.
    """
    if len(data) > MAX_BYTES:
        raise StudioError(f"The file is over {MAX_BYTES // 2**20} MiB; refused.")
    if data.startswith(_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8") or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return _exif_image(data)
    raise StudioError(
        "This file is not a PNG, JPEG or WebP image; recipes are read from those (or from JSON recipe files)."
    )


def _png(data: bytes) -> Metadata:
    meta = Metadata("PNG")
    offset, seen = len(_SIGNATURE), 0
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        start, end = offset + 8, offset + 8 + length
        if end + 4 > len(data):  # a download cut short: what arrived before the cut still counts
            meta.problems.append("the file ends in the middle of a chunk (a download cut short?)")
            break
        if kind == b"IEND":
            break
        if kind == b"IHDR" and length >= 8:
            meta.size = struct.unpack(">II", data[start : start + 8])
        elif kind in _TEXT_CHUNKS and seen < MAX_TEXTS:
            seen += 1
            _png_text(meta, kind, data[offset + 4 : end], data[end : end + 4], length)
        elif kind == b"eXIf" and USER_COMMENT not in meta.texts:
            _exif_comment(meta, lambda raw=data[start:end]: _loaded(raw))
        offset = end + 4
    return meta


def _loaded(raw: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(raw)
    return exif


def _png_text(meta: Metadata, kind: bytes, typed: bytes, crc: bytes, length: int) -> None:
    body = typed[4:]
    keyword = body[:80].split(b"\0", 1)[0].decode("latin-1")
    if keyword in meta.texts:
        return
    if length > MAX_TEXT_BYTES:
        meta.problems.append(f"its {keyword!r} text is {length:,} bytes, over the {MAX_TEXT_BYTES:,} read")
        return
    if zlib.crc32(typed) != struct.unpack(">I", crc)[0]:
        meta.problems.append(f"its {keyword!r} text chunk is damaged (checksum mismatch)")
        return
    try:
        meta.texts[keyword] = _chunk_text(kind, body, keyword)
    except StudioError as error:
        meta.problems.append(str(error))


def _chunk_text(kind: bytes, body: bytes, name: str) -> str:
    _, _, rest = body.partition(b"\0")
    if kind == b"tEXt":
        return rest.decode("latin-1")
    if kind == b"zTXt":
        return _inflate(rest[1:], name).decode("latin-1")
    compressed, method = rest[0:1] == b"\x01", rest[1:2]  # iTXt: flag, method, language\0, keyword\0, text
    _, _, rest = rest[2:].partition(b"\0")
    _, _, text = rest.partition(b"\0")
    if compressed and method != b"\x00":
        raise StudioError(f"its {name!r} text chunk uses an unknown compression method")
    try:
        return (_inflate(text, name) if compressed else text).decode("utf-8")
    except UnicodeDecodeError:
        raise StudioError(f"its {name!r} text chunk is not UTF-8 text") from None


def _inflate(data: bytes, name: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_TEXT_BYTES + 1)
    except zlib.error:
        raise StudioError(f"its {name!r} text chunk is not valid compressed data") from None
    if len(text) > MAX_TEXT_BYTES or inflater.unconsumed_tail:
        raise StudioError(f"its {name!r} text chunk expands past {MAX_TEXT_BYTES:,} bytes")
    return text


def _exif_image(data: bytes) -> Metadata:
    """A JPEG's or WebP's header and EXIF (Pillow reads them without decoding the pixels)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            meta = Metadata(image.format or "image", size=image.size)
            _exif_comment(meta, image.getexif)
    except Image.DecompressionBombError:
        raise StudioError("This image declares more pixels than an image may have here; refused.") from None
    except Exception as error:  # Pillow raises many kinds on a hostile header: each is a refusal, not a crash
        raise StudioError(
            f"This image's header could not be read ({type(error).__name__}); is the file complete?"
        ) from None
    return meta


def _exif_comment(meta: Metadata, exif_of) -> None:
    """File the EXIF ``UserComment`` (in the Exif IFD, or at the top level where some writers put it)."""
    try:
        with warnings.catch_warnings(record=True) as caught:  # Pillow warns "Corrupt EXIF data" and reads on
            warnings.simplefilter("always")
            exif = exif_of()
            raw = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT_TAG) or exif.get(_USER_COMMENT_TAG)
    except Exception as error:  # Pillow's EXIF parser raises many kinds on a broken block
        meta.problems.append(f"its EXIF block is damaged ({type(error).__name__})")
        return
    if raw is None and caught:
        meta.problems.append("its EXIF block is damaged")
    if raw is None:
        return
    if isinstance(raw, str):
        meta.texts[USER_COMMENT] = raw
    elif isinstance(raw, bytes) and len(raw) <= MAX_TEXT_BYTES:
        meta.texts[USER_COMMENT] = decode_user_comment(raw)
    else:
        meta.problems.append("its EXIF comment is too long or not text")


def decode_user_comment(raw: bytes) -> str:
    """An EXIF ``UserComment``: an 8-byte character code, then the text.

    ``UNICODE`` is UTF-16 whose byte order writers disagree on (A1111 through piexif writes big-endian; some write
    little-endian), told apart by where the zero bytes of ASCII text fall.
    """
    code, text = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        if len(text) >= 2 and text[0] == 0 and text[1] != 0:
            encoding = "utf-16-be"
        elif len(text) >= 2 and text[1] == 0 and text[0] != 0:
            encoding = "utf-16-le"
        else:
            encoding = "utf-16-be"
        return text.decode(encoding, errors="replace").rstrip("\0")
    if code.startswith(b"ASCII") or code == b"\0" * 8:
        return text.decode("utf-8", errors="replace").rstrip("\0")
    return raw.decode("utf-8", errors="replace").rstrip("\0")  # no character code: the text itself
