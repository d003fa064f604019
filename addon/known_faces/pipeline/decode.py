"""Decode snapshot bytes into a BGR image, safely (DESIGN §3).

The dimensions are read from the file header before any pixel is decoded, so a decompression
bomb (a small file that claims a huge image) is refused without allocating it. OpenCV applies the
EXIF orientation while decoding, so phone photos come out upright.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from ..errors import ImageTooLarge, InvalidImage

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000

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
            return size if data.find(b"\xff\xd9", offset + 2 + length) >= 0 else None
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


def decode_image(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Bytes → ``H×W×3`` BGR uint8, upright. InvalidImage / ImageTooLarge on bad input."""
    if not data:
        raise InvalidImage("empty payload")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    fmt, width, height = image_size(data)
    if width == 0 or height == 0:
        raise InvalidImage(f"{fmt.upper()} header declares an empty image")
    if width * height > max_pixels:
        raise ImageTooLarge(f"{width}×{height} is over the {max_pixels:,}-pixel limit")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidImage(f"corrupt or truncated {fmt.upper()} data")
    return image
