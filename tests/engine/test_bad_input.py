"""Bad input gets a clear error and changes nothing: corrupt, empty, truncated, non-image,
oversized and decompression-bomb payloads; EXIF orientation is honoured."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from known_faces.errors import ImageTooLarge, InvalidImage
from known_faces.pipeline.decode import MAX_IMAGE_BYTES, decode_image, image_size
from known_faces.pipeline.results import FaceStatus
from known_faces.recognizer import Recognizer


def encode(image: np.ndarray, ext: str = ".jpg") -> bytes:
    """Encode an image we made ourselves."""
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF APP1 segment carrying one Orientation tag after SOI."""
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


NOISE = np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("payload", "error", "words"),
    [
        (b"", InvalidImage, "empty"),
        (b"hello, this is not an image", InvalidImage, "not a JPEG"),
        (b'{"json": true}', InvalidImage, "not a JPEG"),
        (b"\xff\xd8\xff" + bytes(200), InvalidImage, "JPEG"),
        (encode(NOISE)[:-600], InvalidImage, "truncated"),
        (encode(NOISE, ".png")[:300], InvalidImage, "PNG"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), InvalidImage, "PNG"),
        (encode(np.zeros((8000, 6000, 3), np.uint8), ".png"), ImageTooLarge, "pixel"),
        (b"\xff\xd8\xff" + bytes(MAX_IMAGE_BYTES), ImageTooLarge, "byte"),
    ],
    ids=["empty", "text", "json", "corrupt-jpeg", "truncated-jpeg", "truncated-png",
         "damaged-png-header", "decompression-bomb", "oversized"],
)
def test_bad_payloads_raise_clear_errors(payload: bytes, error: type[Exception],
                                         words: str) -> None:
    """Each payload raises its error type with a message that says what is wrong."""
    with pytest.raises(error) as raised:
        decode_image(payload)
    assert words in raised.value.message


def test_bad_payloads_change_nothing(recognizer: Recognizer) -> None:
    """A failing recognition or enrollment writes nothing to the gallery."""
    person = recognizer.gallery.create_person("Alice")
    version = recognizer.gallery.version
    for payload in (b"", b"garbage", encode(NOISE)[:-600]):
        with pytest.raises(InvalidImage):
            recognizer.recognize(payload)
        with pytest.raises(InvalidImage):
            recognizer.enroll(person.slug, payload)
    assert recognizer.gallery.version == version
    assert recognizer.gallery.unknown_sighting_count() == 0


def test_images_without_faces_give_none(recognizer: Recognizer) -> None:
    """Blank and noise images decode fine and contain no face."""
    for image in (np.zeros((480, 640, 3), np.uint8), NOISE):
        assert recognizer.recognize(encode(image)).faces == ()


def test_header_sizes_match_decoded_sizes() -> None:
    """JPEG, PNG and WebP dimensions are read from the header without decoding."""
    for ext, fmt in ((".jpg", "jpeg"), (".png", "png"), (".webp", "webp")):
        assert image_size(encode(NOISE, ext)) == (fmt, 320, 240)


def test_exif_orientation_is_respected(recognizer: Recognizer, photo: Callable[[str], bytes],
                                       faces_manifest: dict[str, Any]) -> None:
    """A sideways-stored photo whose EXIF says 'rotate 90°' is decoded upright and recognised."""
    files = faces_manifest["people"]["barack_obama"]
    person = recognizer.gallery.create_person("Barack Obama")
    recognizer.enroll(person.slug, photo(files[0]))
    upright = decode_image(photo(files[1]))
    sideways = encode(cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE))
    assert recognizer.recognize(sideways).faces[0].status is not FaceStatus.KNOWN
    tagged = with_exif_orientation(sideways, 6)
    assert decode_image(tagged).shape == upright.shape
    face = recognizer.recognize(tagged).faces[0]
    assert face.status is FaceStatus.KNOWN
    assert face.match.best.person == person.slug
