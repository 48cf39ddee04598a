"""Input normalisation shared by every image the studio accepts.

Every uploaded image (a photo for a detector, a user's own control map, an
IP-Adapter reference) goes through :func:`load_image`, which returns an 8-bit
RGB ``PIL.Image`` or raises :class:`~app.errors.StudioError` saying what was
received and what is allowed. :func:`fit_to_size` then brings it to the
generation size without distorting it.

Fit modes (``FIT_MODES``):

* ``"crop"`` (default): scale so the image *covers* the target, then crop the
  centre. Nothing is distorted; the edges of the longer side are lost.
* ``"pad"``: scale so the image *fits inside* the target, then pad the centre
  with a fill colour (black by default, which reads as "no signal" in every
  ControlNet map). Nothing is lost; the borders carry no content.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from app.errors import StudioError

# A pixel cap checked from the header, before any pixel is decoded: a
# decompression bomb is refused without allocating its memory. 50 MP admits
# every phone camera (48 MP sensors) with room to spare.
MAX_PIXELS = 50_000_000
# Files larger than this are refused before decoding (a 50 MP PNG is ~100 MB at worst).
MAX_BYTES = 200 * 1024 * 1024
# Smaller images carry too little for a detector or an image encoder.
MIN_SIDE = 64
# Stable Diffusion's VAE downsamples by 8: generation sizes must be multiples of it.
SIZE_MULTIPLE = 8
FIT_MODES = ("crop", "pad")
ALLOWED_FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF"

ImageSource = bytes | bytearray | memoryview | str | Path | Image.Image | np.ndarray

_SRGB = None


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Decode and normalise any accepted image to 8-bit RGB.

    Applies EXIF orientation; converts palette, alpha (composited on white),
    CMYK and ICC-tagged images to sRGB, 16-bit and float images (scaled, not
    clipped) and greyscale to 8-bit RGB; uses the first frame of animations.

    Args:
        source: Encoded bytes, a file path, a ``PIL.Image`` or a numpy array
            (``HxW``, ``HxWx3`` or ``HxWx4``; uint8, uint16, bool or float in 0–1).
        max_pixels: Largest width × height accepted, checked before decoding.
        min_side: Smallest accepted width or height in pixels.

    Returns:
        A fully loaded RGB image, independent of the source.

    Raises:
        StudioError: The input is empty, not an image, truncated, too large
            (a decompression bomb) or too small.
    """
    if isinstance(source, Image.Image):
        image = source
        _check_pixels(image.size, max_pixels)
        image = _first_frame(image)
    elif isinstance(source, np.ndarray):
        image = _from_array(source)
        _check_pixels(image.size, max_pixels)
    else:
        image = _open(source, max_pixels)
    image = _orient(image)
    rgb = to_rgb(image)
    if min(rgb.size) < min_side:
        raise StudioError(
            f"the image is {rgb.width}×{rgb.height} px; its smallest side must be at least {min_side} px."
        )
    return rgb


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise StudioError(f"no image file at {str(path)!r}; give an existing {ALLOWED_FORMATS} file.")
        if path.stat().st_size > MAX_BYTES:
            raise StudioError(
                f"the file {path.name!r} is {path.stat().st_size / 2**20:.0f} MiB; "
                f"at most {MAX_BYTES // 2**20} MiB is allowed."
            )
        data = path.read_bytes()
    else:
        raise StudioError(
            f"received a {type(source).__name__} as an image; give bytes, a file path, a PIL image or a numpy array."
        )
    if not data:
        raise StudioError(f"received an empty file (0 bytes); give a {ALLOWED_FORMATS} image.")
    if len(data) > MAX_BYTES:
        raise StudioError(f"the file is {len(data) / 2**20:.0f} MiB; at most {MAX_BYTES // 2**20} MiB is allowed.")
    return data


def _open(source: ImageSource, max_pixels: int) -> Image.Image:
    data = _read_bytes(source)
    try:
        # Image.open reads only the header; the pixel cap is checked before load().
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise StudioError(f"the image is too large to decode safely ({exc}); at most {max_pixels:,} pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise StudioError(
            f"received {len(data)} bytes that are not an image this studio can read; give a {ALLOWED_FORMATS} file."
        ) from None
    _check_pixels(image.size, max_pixels)
    try:
        image.seek(0)  # animated GIF/WebP/APNG and multi-page TIFF: the first frame
        image.load()
    except Exception as exc:
        raise StudioError(
            f"the {image.format or 'image'} file is truncated or corrupt ({type(exc).__name__}: {exc}); "
            "upload the complete file."
        ) from None
    return image


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise StudioError(f"the image is {width}×{height} px; it has no pixels.")
    if width * height > max_pixels:
        raise StudioError(
            f"the image is {width}×{height} px ({width * height:,} pixels); at most {max_pixels:,} pixels "
            "are allowed. Downscale it before uploading."
        )


def _first_frame(image: Image.Image) -> Image.Image:
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image.load()
    return image


def _orient(image: Image.Image) -> Image.Image:
    try:
        oriented = ImageOps.exif_transpose(image)
    except Exception:
        return image
    return oriented if oriented is not None else image


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise StudioError(f"received an array of shape {array.shape}; allowed shapes are HxW, HxWx3 or HxWx4.")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype == np.uint16:
        array = _scale_to_uint8(array, 65535.0)
    elif np.issubdtype(array.dtype, np.floating):
        array = _scale_to_uint8(np.nan_to_num(array), 1.0)
    else:
        raise StudioError(f"received an array of dtype {array.dtype}; allowed: uint8, uint16, bool or float (0–1).")
    mode = "L" if array.ndim == 2 else ("RGB" if array.shape[2] == 3 else "RGBA")
    return Image.fromarray(np.ascontiguousarray(array), mode=mode)


def _scale_to_uint8(array: np.ndarray, full_scale: float) -> np.ndarray:
    scaled = np.clip(array.astype(np.float64), 0.0, full_scale) * (255.0 / full_scale)
    return np.round(scaled).astype(np.uint8)


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    global _SRGB
    if _SRGB is None:
        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB


def _icc_to_srgb(image: Image.Image) -> Image.Image | None:
    """Convert an ICC-tagged RGB/CMYK image to sRGB; None if there is no usable profile."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "CMYK"):
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, profile, _srgb_profile(), outputMode="RGB")
    except Exception:
        return None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a decoded image of any mode to 8-bit RGB.

    Alpha is composited on white (what a transparent PNG looks like in a
    browser); 16-bit and 32-bit integer greyscale are scaled from 0–65535;
    float images are read as 0–1; palettes are expanded; ICC profiles
    (CMYK or wide-gamut RGB) are converted to sRGB where present.

    Args:
        image: A loaded PIL image in any mode.

    Returns:
        A new RGB image (never the same object as ``image``).
    """
    mode = image.mode
    if mode in ("RGB", "CMYK"):
        converted = _icc_to_srgb(image)
        if converted is not None:
            return converted
        return image.convert("RGB") if mode == "CMYK" else image.copy()
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        image = image.convert("RGBA" if has_alpha else "RGB")
        if not has_alpha:
            return image
        mode = "RGBA"
    if mode == "PA":
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = _scale_to_uint8(np.asarray(image), 65535.0)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "F":
        grey = _scale_to_uint8(np.nan_to_num(np.asarray(image)), 1.0)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "L" and image.info.get("transparency") is not None:
        return to_rgb(image.convert("LA"))
    if mode == "RGB" or mode in ("1", "L", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError):
        raise StudioError(
            f"images in mode {mode!r} cannot be converted to RGB; give an RGB or greyscale image."
        ) from None


def check_size(width: int, height: int) -> tuple[int, int]:
    """Validate a generation size.

    Args:
        width: Target width in pixels.
        height: Target height in pixels.

    Returns:
        ``(width, height)`` unchanged.

    Raises:
        StudioError: A side is not a multiple of 8 or is below 64 px.
    """
    for label, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise StudioError(f"{label} must be a whole number of pixels; received {value!r}.")
        if value < MIN_SIDE or value % SIZE_MULTIPLE:
            raise StudioError(
                f"{label}={value} is not allowed; use a multiple of {SIZE_MULTIPLE} of at least {MIN_SIDE} px."
            )
    return int(width), int(height)


def fit_to_size(
    image: Image.Image,
    width: int,
    height: int,
    mode: str = "crop",
    *,
    fill: tuple[int, int, int] = (0, 0, 0),
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """Resize to exactly ``width`` × ``height`` keeping the aspect ratio.

    Args:
        image: An RGB image (see :func:`load_image`).
        width: Target width, a multiple of 8.
        height: Target height, a multiple of 8.
        mode: ``"crop"`` covers the target and crops the centre; ``"pad"``
            fits inside it and pads the centre with ``fill``.
        fill: Padding colour for ``"pad"``.
        resample: PIL resampling filter.

    Returns:
        A new image of exactly ``(width, height)``.

    Raises:
        StudioError: The size or the mode is not allowed.
    """
    width, height = check_size(width, height)
    if mode not in FIT_MODES:
        raise StudioError(f"fit mode {mode!r} is not allowed; use one of {', '.join(FIT_MODES)}.")
    if image.size == (width, height):
        return image.copy()
    if mode == "crop":
        return ImageOps.fit(image, (width, height), method=resample, centering=(0.5, 0.5))
    return ImageOps.pad(image, (width, height), method=resample, color=fill, centering=(0.5, 0.5))


def content_hash(image: Image.Image) -> str:
    """A short digest of an image's pixels, mode and size (cache keys).

    Args:
        image: Any loaded PIL image.

    Returns:
        32 hex characters; equal images give equal digests.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()
