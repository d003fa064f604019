"""Give large freed image buffers back to the operating system at once, and keep everyday
ones for reuse.

glibc raises its mmap threshold every time a large mmapped block is freed, so after the first
big snapshot every later decoded image lands on the heap, where freeing it leaves the memory
resident: a few large images in a row kept the service ~120 MB above its working set (measured
with decompression bombs: peak 305 MB, resident 276 MB afterwards). The threshold is therefore
fixed, at the size of the largest image that does not take turns for memory
(``LARGE_DECODE_PIXELS`` × 3 bytes, 12 MB): an image that takes turns is mmapped and unmapped
when freed, while the buffers of an everyday snapshot (a 1080p image is 6 MB, the detector's
input 5 MB) are reused from the heap. Fixed at glibc's default of 128 KiB instead, every one of
those was a fresh mapping: the engine alone took about 4,400 page faults per 1080p snapshot
(18 MB of new pages) against none at 12 MB, the service 5,100 against 2,000, which on this
project's virtual machines cost about 10 ms of a 60 ms snapshot.

Freeing what model loading left on the heap (``release_free_heap``) keeps the larger threshold
from raising the resident baseline. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

from ..pipeline.decode import LARGE_DECODE_PIXELS

LOG = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = LARGE_DECODE_PIXELS * 3


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold; True when it was set."""
    libc = _libc()
    try:
        done = libc is not None and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except AttributeError:
        return False
    LOG.debug("malloc mmap threshold fixed at %d bytes: %s", MMAP_THRESHOLD_BYTES, done)
    return done


def release_free_heap() -> bool:
    """Hand the heap's free pages back (glibc's ``malloc_trim``), after the models are loaded:
    their files' buffers were freed in the middle of the heap, where they would stay resident.
    True when memory was released."""
    libc = _libc()
    try:
        return libc is not None and bool(libc.malloc_trim(0))
    except AttributeError:
        return False
