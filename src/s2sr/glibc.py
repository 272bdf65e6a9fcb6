"""glibc's allocator controls (``mallopt``, ``malloc_trim``): Linux only, no-ops elsewhere.

Used where s2sr keeps memory flat or fast: the apply pipeline gives freed tile arrays back
(:func:`malloc_trim`), the map server bounds its arenas, Dask workers restore the adaptive
thresholds a nanny's environment turns off (:func:`s2sr.cluster.setup_worker`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


@lru_cache(maxsize=1)
def libc() -> ctypes.CDLL | None:
    """The C library, or None off Linux or when it cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def mallopt(param: int, value: int) -> None:
    """glibc ``mallopt(param, value)`` when there is one."""
    lib = libc()
    if lib is not None and hasattr(lib, "mallopt"):
        lib.mallopt(param, value)


def malloc_trim() -> None:
    """Give freed heap pages back to the OS (glibc ``malloc_trim(0)``) when there is one."""
    lib = libc()
    if lib is not None and hasattr(lib, "malloc_trim"):
        lib.malloc_trim(0)
