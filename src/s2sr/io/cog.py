"""Cloud Optimized GeoTIFF: write with GDAL's COG driver, and check a file's COG layout.

:func:`write_cog` converts any GDAL-readable source (``fetch``'s VRT) into a tiled COG with internal overviews, DEFLATE or ZSTD
compression and a predictor, written to a temporary name and renamed at the end.
:func:`cog_problems` is a validator built on GDAL's own layout metadata. ``apply`` itself
assembles its COG from compressed blocks (:mod:`s2sr.io.cogblocks`); :func:`write_cog` is
for other sources.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from s2sr.errors import ConfigError
from s2sr.io.atomic import atomic_file
from s2sr.io.gdal_errors import gdal_writing

log = logging.getLogger(__name__)

COMPRESSIONS = ("DEFLATE", "ZSTD")


def cog_options(dtype: str, compress: str = "DEFLATE", blocksize: int = 512,
                resampling: str = "AVERAGE", threads: int | str = "ALL_CPUS") -> dict[str, str]:
    """Creation options for the COG driver."""
    compress = compress.upper()
    if compress not in COMPRESSIONS:
        raise ConfigError(f"--compress {compress!r}: choose one of {', '.join(COMPRESSIONS)}")
    predictor = "FLOATING_POINT" if np.issubdtype(np.dtype(dtype), np.floating) else "STANDARD"
    return {
        "COMPRESS": compress,
        "PREDICTOR": predictor,
        "BLOCKSIZE": str(blocksize),
        "OVERVIEWS": "IGNORE_EXISTING",
        "RESAMPLING": resampling,
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": str(threads),
    }


def write_cog(src: str | os.PathLike[str], dst: str | os.PathLike[str], dtype: str,
              compress: str = "DEFLATE", blocksize: int = 512, extra: dict[str, str] | None = None) -> Path:
    """Convert ``src`` to a COG at ``dst`` atomically (temporary name beside it, then rename).

    ``extra``: more GDAL COG creation options (``--co``), over s2sr's own."""
    import rasterio
    import rasterio.shutil

    dst = Path(dst)
    opts = {**cog_options(dtype, compress, blocksize), **(extra or {})}
    with atomic_file(dst) as tmp:
        try:
            with gdal_writing(dst), rasterio.Env(GDAL_CACHEMAX=256):
                rasterio.shutil.copy(str(src), str(tmp), driver="COG", **opts)
        finally:  # GDAL's overview scratch file, left behind when the copy fails
            tmp.with_name(tmp.name + ".ovr.tmp").unlink(missing_ok=True)
    return dst


def cog_problems(path: str | os.PathLike[str], blocksize: int = 512) -> list[str]:
    """Reasons why ``path`` is not a valid COG of the expected shape (ours: tiling, codec, predictor,
    overviews; then GDAL's ``validate_cloud_optimized_geotiff`` checks, see :mod:`s2sr.io.cogcheck`);
    empty when it is."""
    import rasterio

    from s2sr.io.cogcheck import gdal_cog_errors

    problems: list[str] = []
    with rasterio.open(path) as ds:
        struct = ds.tags(ns="IMAGE_STRUCTURE")
        if struct.get("LAYOUT", "").upper() != "COG":
            problems.append("no COG layout (IMAGE_STRUCTURE LAYOUT != COG)")
        if any(bs != (blocksize, blocksize) for bs in ds.block_shapes):
            problems.append(f"blocks {ds.block_shapes[0]} are not {blocksize}x{blocksize}")
        comp = (ds.compression.name if ds.compression else "none").upper()
        if comp not in COMPRESSIONS:
            problems.append(f"compression {comp} is not DEFLATE or ZSTD")
        if struct.get("PREDICTOR") not in ("2", "3"):
            problems.append(f"predictor {struct.get('PREDICTOR')} is not 2 or 3")
        factors = ds.overviews(1)
        if max(ds.width, ds.height) > blocksize and not factors:
            problems.append("no internal overviews although larger than one block")
        count = len(factors)
    for level in range(count):
        with rasterio.open(path, overview_level=level) as ov:
            if any(bs != (blocksize, blocksize) for bs in ov.block_shapes):
                problems.append(f"overview {level} is not tiled {blocksize}x{blocksize}")
    return problems + gdal_cog_errors(path)
