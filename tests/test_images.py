"""Input normalisation: every awkward input gives the right RGB image or a clear StudioError."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from app.errors import StudioError
from app.images import MAX_PIXELS, check_size, content_hash, fit_to_size, load_image


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels, with almost no pixel data (a bomb's shape)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photo_png() -> bytes:
    return _encode(Image.fromarray(data.astronaut()), "PNG")


def test_plain_photo_round_trips(photo_png):
    image = load_image(photo_png)
    assert image.mode == "RGB" and image.size == (512, 512)
    assert np.array_equal(np.asarray(image), data.astronaut())


def test_exif_orientation_is_applied():
    stored = np.zeros((96, 160, 3), dtype=np.uint8)
    stored[:, :80] = (255, 0, 0)  # left half red
    stored[:, 80:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    raw = _encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)
    image = np.asarray(load_image(raw)).astype(int)
    assert image.shape == (160, 96, 3)
    top, bottom = image[20, 48], image[140, 48]
    assert top[0] > 200 and top[2] < 60, top  # the stored left (red) is on top once displayed
    assert bottom[2] > 200 and bottom[0] < 60, bottom


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_becomes_rgb(fmt):
    cmyk = Image.new("CMYK", (80, 80), (0, 255, 255, 0))  # pure red in CMYK
    image = load_image(_encode(cmyk, fmt))
    assert image.mode == "RGB"
    r, g, b = np.asarray(image)[40, 40].astype(int)
    assert r > 220 and g < 40 and b < 40


def test_palette_with_transparency_is_composited_on_white():
    palette_image = Image.new("P", (80, 80), 0)
    palette_image.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)  # index 0 black, 1 green
    palette_image.paste(1, (0, 0, 40, 80))
    raw = _encode(palette_image, "PNG", transparency=0)  # index 0 is fully transparent
    image = np.asarray(load_image(raw))
    assert tuple(image[10, 10]) == (0, 128, 0)
    assert tuple(image[10, 70]) == (255, 255, 255)  # transparent → white, not black


def test_rgba_half_transparent_blends_with_white():
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 128))
    image = np.asarray(load_image(_encode(rgba, "PNG")))
    assert 120 <= image[0, 0, 0] <= 135


def test_16bit_greyscale_png_is_scaled_not_clipped():
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16).repeat(64, axis=0).repeat(16, axis=1)
    raw = _encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(raw)).mode.startswith("I")
    image = np.asarray(load_image(raw))
    row = image[0, ::16, 0].tolist()
    assert row == [0, 4, 128, 255]
    assert np.all(image[..., 0] == image[..., 1])


def test_16bit_rgb_png_is_scaled():
    values = np.zeros((64, 64, 3), dtype=np.uint16)
    values[..., 2] = 65535  # cv2 writes BGR: this is red
    values[..., 1] = 32768
    ok, encoded = cv2.imencode(".png", values)
    assert ok
    r, g, b = np.asarray(load_image(encoded.tobytes()))[0, 0].tolist()
    assert r == 255 and 126 <= g <= 128 and b == 0


def test_greyscale_and_arrays():
    assert load_image(Image.new("L", (64, 64), 200)).getpixel((0, 0)) == (200, 200, 200)
    assert load_image(np.full((64, 64), 65535, dtype=np.uint16)).getpixel((0, 0)) == (255, 255, 255)
    assert load_image(np.full((64, 64, 3), 0.5, dtype=np.float32)).getpixel((0, 0)) == (128, 128, 128)
    with pytest.raises(StudioError, match="shape"):
        load_image(np.zeros((64, 64, 2), dtype=np.uint8))


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (64, 64), (255, 0, 0)), Image.new("RGB", (64, 64), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = load_image(buffer.getvalue())
    r, _, b = image.getpixel((32, 32))
    assert r > 240 and b < 20


def test_path_input(tmp_path, photo_png):
    path = tmp_path / "photo.png"
    path.write_bytes(photo_png)
    assert load_image(path).size == (512, 512)
    assert load_image(str(path)).size == (512, 512)
    with pytest.raises(StudioError, match="no image file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty file"),
        (b"this is plain text, not a picture", "not an image"),
        (_encode(Image.new("RGB", (1, 1)), "PNG"), "at least 64 px"),
        (_encode(Image.new("RGB", (300, 20)), "PNG"), "at least 64 px"),
        (_png_header_only(9000, 9000), "at most 50,000,000 pixels"),
        (_png_header_only(30000, 30000), "too large|at most"),
    ],
    ids=["zero-bytes", "non-image", "1x1", "thin", "bomb-over-cap", "bomb-over-pillow-limit"],
)
def test_bad_inputs_raise_clear_errors(payload, message):
    with pytest.raises(StudioError, match=message):
        load_image(payload)


def test_truncated_file_is_refused(photo_png):
    with pytest.raises(StudioError, match="truncated or corrupt"):
        load_image(photo_png[: len(photo_png) // 2])


def test_bomb_refused_before_decoding():
    # A decoded 9000² RGB image would need 243 MB; refusing it must not allocate that.
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(StudioError):
        load_image(_png_header_only(9000, 9000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 * 2**20
    assert MAX_PIXELS < 9000 * 9000


def test_unsupported_type():
    with pytest.raises(StudioError, match="give bytes, a file path"):
        load_image(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_fit_to_size_exact_and_aspect_kept(mode):
    wide = Image.new("RGB", (400, 100), (255, 255, 255))
    out = fit_to_size(wide, 256, 128, mode)
    assert out.size == (256, 128)
    pixels = np.asarray(out)
    if mode == "crop":
        assert pixels.min() == 255  # the white image covers everything
    else:
        # 400×100 fits as 256×64: 32 px black bands above and below.
        assert pixels[:30].max() == 0 and pixels[-30:].max() == 0 and pixels[64, 128].min() == 255


def test_fit_to_size_refuses_bad_sizes_and_modes():
    image = Image.new("RGB", (64, 64))
    with pytest.raises(StudioError, match="multiple of 8"):
        fit_to_size(image, 100, 64)
    with pytest.raises(StudioError, match="fit mode"):
        fit_to_size(image, 64, 64, "stretch")
    assert check_size(512, 768) == (512, 768)


def test_content_hash_tracks_pixels():
    a = Image.new("RGB", (64, 64), (1, 2, 3))
    b = Image.new("RGB", (64, 64), (1, 2, 3))
    c = Image.new("RGB", (64, 64), (1, 2, 4))
    assert content_hash(a) == content_hash(b) != content_hash(c)
