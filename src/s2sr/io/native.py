"""The C libraries that rasterio's GDAL runs on, for the few calls rasterio does not expose.

s2sr calls three functions of them through ctypes: ``GDALSetCacheMax64`` (the map server bounds
GDAL's block cache), ``GDALGetMetadataItem`` on a driver (creation options are checked against
the driver's own list) and ``TIFFSetErrorHandler`` (libtiff's messages go to the log). They must
be the copies rasterio loaded: its wheel bundles them in ``rasterio.libs``; a rasterio built
against the system's GDAL uses the system's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from functools import cache


@cache
def rasterio_library(stem: str) -> ctypes.CDLL | None:
    """``lib<stem>`` (``"gdal"``, ``"tiff"``) as rasterio uses it: the first of its wheel's bundled copies
    that loads, else the system's; None when there is neither."""
    import rasterio

    bundled = sorted(glob.glob(os.path.join(os.path.dirname(rasterio.__file__) + ".libs", f"lib{stem}*.so*")))
    system = ctypes.util.find_library(stem)
    for path in [*bundled, *([system] if system else [])]:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None
