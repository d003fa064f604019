"""What makes a stored crop or vector usable, shared by the gallery's reads and the archive import.

The gallery must never hand the matcher a vector it cannot trust: a vector of the wrong length
breaks the matrix, a NaN poisons every similarity, and a vector that is not unit length scales
the cosine — a vector × 3 would name strangers as that person. A crop that does not decode to the
aligned size cannot be re-embedded. Both checks live here so that an import refuses exactly what
a gallery read would skip.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import KnownFacesError
from ..models.catalogue import MODELS
from ..pipeline.align import STORED_TEMPLATES
from ..pipeline.decode import decode_image

#: How far from 1 a stored vector's L2 norm may be. Our vectors are normalised in float32
#: (norm 1 ± 1e-6); anything further off was not written by an embedder of this project.
NORM_TOLERANCE = 1e-3

#: The crop sizes a stored face may have: the loose 224-px crop the engine stores, and the
#: 112-px ArcFace crop that galleries made before the dlib model stored (``align.STORED_CHIP``).
CROP_SIZES = frozenset(STORED_TEMPLATES)

#: Dimensions of the catalogue's embedders, for vectors whose model the caller does not run.
CATALOGUE_DIMS = {m.id: m.embedding_dim for m in MODELS if m.embedding_dim is not None}


class Unusable(ValueError):
    """A stored or imported crop or vector cannot be used; the message says why."""


def parse_vector(blob: bytes, dim: int) -> np.ndarray:
    """Raw float32 bytes → a ``dim`` unit vector; Unusable when length, values or norm are off."""
    if len(blob) != dim * 4:
        raise Unusable(f"{len(blob)} bytes where a {dim}-D float32 vector has {dim * 4}")
    vector = np.frombuffer(blob, dtype=np.float32)
    if not np.all(np.isfinite(vector)):
        raise Unusable("it holds NaN or infinite values")
    norm = float(np.linalg.norm(vector.astype(np.float64)))
    if abs(norm - 1.0) > NORM_TOLERANCE:
        raise Unusable(f"its length is {norm:.4g}, not 1")
    return vector


def check_crop(data: bytes) -> None:
    """Unusable unless ``data`` is a JPEG that decodes to a square crop of a known size.

    The size is read from the header before decoding (``decode_image``), so a small member that
    claims a huge image is refused without allocating it.
    """
    if data[:3] != b"\xff\xd8\xff":
        raise Unusable("it is not a JPEG")
    largest = max(CROP_SIZES)
    try:
        image = decode_image(data, max_pixels=largest * largest)
    except KnownFacesError as exc:
        raise Unusable(exc.message) from exc
    height, width = image.shape[:2]
    if height != width or width not in CROP_SIZES:
        sizes = ", ".join(f"{s}×{s}" for s in sorted(CROP_SIZES))
        raise Unusable(f"it is {width}×{height}, not an aligned crop ({sizes})")


def crop_digest(data: bytes) -> str:
    """A face's content identity (sha256 of its crop): the same face imported twice is one."""
    return hashlib.sha256(data).hexdigest()
