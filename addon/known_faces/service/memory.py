"""Give freed image buffers back to the operating system at once.

glibc raises its mmap threshold every time a large mmapped block is freed, so after the first
big snapshot every later decoded image lands on the heap, where freeing it leaves the memory
resident: a few large images in a row kept the service ~120 MB above its working set (measured
with decompression bombs: peak 305 MB, resident 276 MB afterwards; with the threshold fixed,
214 MB and back to 155 MB). Fixing the threshold at 128 KiB, glibc's default, keeps every image
buffer mmapped, so it is unmapped when freed. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

LOG = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold; True when it was set."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False
    LOG.debug("malloc mmap threshold fixed at %d bytes: %s", MMAP_THRESHOLD_BYTES, done)
    return done
