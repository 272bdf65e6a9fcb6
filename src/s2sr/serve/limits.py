"""Bounds that keep a long-running map server's memory flat.

Measured with ``benchmarks/serve_load.py`` (docs/serve.md): with GDAL's default block cache
(5 % of RAM), one dataset per file per worker thread (up to 40 threads) and glibc's default
malloc arenas (8 per core), the server grew from 315 MB to 2.7 GB over 14,000 tiles. Here:

* GDAL's block cache is capped at :data:`GDAL_CACHE_MB` (``GDALSetCacheMax64``);
* tiles render on :func:`tile_threads` threads, each with its own open readers (so at most
  that many readers per file);
* glibc gets one malloc arena per render thread at most, and freed heap pages go back to the
  OS after every :data:`TRIM_EVERY` tiles (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

from s2sr import glibc
from s2sr.io.native import rasterio_library

log = logging.getLogger(__name__)

GDAL_CACHE_MB = 64
TRIM_EVERY = 200
_count = {"tiles": 0}
_lock = threading.Lock()


def tile_threads() -> int:
    """Threads that render tiles: the cores, at least 2 and at most 8."""
    return max(2, min(8, os.cpu_count() or 2))


def bound_gdal_cache(mb: int = GDAL_CACHE_MB) -> None:
    """Cap GDAL's raster block cache at ``mb`` MB, also when GDAL already read rasters."""
    import rasterio.env

    rasterio.env.set_gdal_config("GDAL_CACHEMAX", mb)  # for a cache not yet created
    lib = rasterio_library("gdal")
    if lib is not None and hasattr(lib, "GDALSetCacheMax64"):
        lib.GDALSetCacheMax64.argtypes = [ctypes.c_int64]
        lib.GDALSetCacheMax64(mb * 2**20)
    else:
        log.debug("GDALSetCacheMax64 not found; GDAL_CACHEMAX=%d applies to a cache created from now on", mb)


def bound_malloc_arenas(n: int) -> None:
    """At most ``n`` glibc malloc arenas for threads started from now on (glibc only)."""
    glibc.mallopt(glibc.M_ARENA_MAX, n)


def tile_done() -> None:
    """Count a rendered tile; every :data:`TRIM_EVERY` tiles give freed heap pages back to the OS."""
    with _lock:
        _count["tiles"] += 1
        due = _count["tiles"] % TRIM_EVERY == 0
    if due:
        glibc.malloc_trim()


def apply_limits() -> None:
    """All of the above, once per server start."""
    bound_gdal_cache()
    bound_malloc_arenas(tile_threads() + 2)
