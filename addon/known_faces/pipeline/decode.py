"""Decode snapshot bytes into a BGR image, safely (DESIGN §3).

The dimensions are read from the file header before any pixel is decoded, so a decompression
bomb (a small file that claims a huge image) is refused without allocating it. OpenCV applies the
EXIF orientation while decoding, so phone photos come out upright.

Memory is bounded whatever arrives (measured: OpenCV needs about twice the decoded size while
decoding). A large JPEG is decoded at 1/2, 1/4 or 1/8 scale by the JPEG decoder itself when the
result keeps at least ``min_long_side`` pixels: the detector sees a letterboxed
``detector_size`` image anyway, so a face small enough to suffer cannot be found at full size
either. PNG and WebP cannot be decoded reduced, so they have a lower pixel limit. And at most
one large image is decoded and analysed at a time in the process (``memory_slot``), so several
workers cannot add their peaks up.
"""

from __future__ import annotations

import struct
import threading
from contextlib import AbstractContextManager, nullcontext

import cv2
import numpy as np

from ..errors import ImageTooLarge, InvalidImage

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_LOSSLESS_PIXELS = 3840 * 2160  # 4K UHD
LARGE_DECODE_PIXELS = 4_000_000
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}
_LARGE_IMAGES = threading.BoundedSemaphore(1)

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the frame header; None when the data ends before it or the
    entropy-coded data after the first scan header has no end-of-image marker (truncated)."""
    offset, size = 2, None
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _JPEG_SOF and offset + 9 <= len(data):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: the image data must end with EOI
            # Searched from the end, where a whole file has it: a forward search read the
            # whole entropy-coded data of every snapshot (0.3 ms a 1080p JPEG, twice).
            return size if data.rfind(b"\xff\xd9", offset + 2 + length) >= 0 else None
        offset += 2 + length
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; InvalidImage for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        fmt, size = "jpeg", _jpeg_size(data)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        fmt, size = "png", _png_size(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        fmt, size = "webp", _webp_size(data)
    else:
        raise InvalidImage("not a JPEG, PNG or WebP image")
    if size is None:
        raise InvalidImage(f"damaged or truncated {fmt.upper()} data")
    return fmt, size[0], size[1]


def checked_size(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES,
                 max_pixels: int = MAX_PIXELS) -> tuple[str, int, int]:
    """(format, width, height) of an image the limits allow; InvalidImage / ImageTooLarge
    with the reason otherwise. Reads headers only."""
    if not data:
        raise InvalidImage("empty payload")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    fmt, width, height = image_size(data)
    if width == 0 or height == 0:
        raise InvalidImage(f"{fmt.upper()} header declares an empty image")
    if width * height > max_pixels:
        raise ImageTooLarge(f"{width}×{height} is over the {max_pixels:,}-pixel limit")
    if fmt != "jpeg" and width * height > MAX_LOSSLESS_PIXELS:
        raise ImageTooLarge(
            f"{width}×{height} is over the {MAX_LOSSLESS_PIXELS:,}-pixel limit for "
            f"{fmt.upper()} images (they cannot be decoded reduced); send a JPEG or a smaller "
            "image")
    return fmt, width, height


def reduction(fmt: str, width: int, height: int, min_long_side: int) -> int:
    """The JPEG decoder's scale (1, 2, 4 or 8) that keeps the long side ≥ ``min_long_side``;
    1 for formats that cannot be decoded reduced."""
    scale = 1
    if fmt == "jpeg":
        while scale < 8 and max(width, height) // (scale * 2) >= min_long_side:
            scale *= 2
    return scale


def memory_slot(data: bytes, min_long_side: int) -> AbstractContextManager[object]:
    """Hold this while an image is decoded and analysed: large images take turns, so their
    memory peaks never add up. Small ones pass at once; bad headers are left to the decoder."""
    try:
        fmt, width, height = image_size(data)
    except InvalidImage:
        return nullcontext()
    scale = reduction(fmt, width, height, min_long_side)
    if width * height // (scale * scale) > LARGE_DECODE_PIXELS:
        return _LARGE_IMAGES
    return nullcontext()


def decode_reduced(data: bytes, min_long_side: int, *, max_bytes: int = MAX_IMAGE_BYTES,
                   max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int]:
    """Bytes → (BGR image, scale): a large JPEG decoded at 1/``scale`` while its long side
    stays ≥ ``min_long_side``; everything else at full size (scale 1)."""
    fmt, width, height = checked_size(data, max_bytes=max_bytes, max_pixels=max_pixels)
    scale = reduction(fmt, width, height, min_long_side)
    return _decode(data, fmt, _REDUCED.get(scale, cv2.IMREAD_COLOR)), scale


def decode_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES,
                 max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bytes → ``H×W×3`` BGR uint8 at full size, upright. InvalidImage / ImageTooLarge on bad
    input."""
    fmt, _, _ = checked_size(data, max_bytes=max_bytes, max_pixels=max_pixels)
    return _decode(data, fmt, cv2.IMREAD_COLOR)


def _decode(data: bytes, fmt: str, flag: int) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if image is None:
        raise InvalidImage(f"corrupt or truncated {fmt.upper()} data")
    return np.asarray(image)
