"""Render one XYZ WebMercator tile of a layer with rio-tiler (overviews used at low zooms).

A tile is read with nearest resampling (pixels stay honest when zoomed in), stretched to
8 bit with the layer's display stretch, and encoded as PNG or WebP with an alpha band from
the dataset mask (nodata is transparent). Tiles that do not touch the data return None.
"""

from __future__ import annotations

import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from s2sr.serve.layers import Layer
from s2sr.serve.stats import Stretch

TILE_SIZE = 256
MAX_ZOOM = 24  # WebMercatorQuad's deepest level
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp"}
# zlib level 1: 2.5x faster PNG encoding than the default 6 for ~20 % larger tiles (loopback use)
ENCODE_OPTIONS: dict[str, dict[str, int]] = {"png": {"ZLEVEL": 1}}
_local = threading.local()


def tile_in_range(z: int, x: int, y: int) -> bool:
    """True when (z, x, y) is a valid WebMercatorQuad tile."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def _reader(path: Path) -> Reader:
    """A Reader per thread and file version (rasterio datasets are not thread-safe)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    cache: dict[tuple[str, int, int], Reader] = getattr(_local, "readers", None) or {}
    _local.readers = cache
    r = cache.get(key)
    if r is None:
        for old in [k for k in cache if k[0] == key[0]]:
            cache.pop(old).close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NoOverviewWarning: small files need none
            r = Reader(str(path))
        cache[key] = r
    return r


@lru_cache(maxsize=1)
def available_formats() -> frozenset[str]:
    """Tile formats this GDAL build can encode (PNG always; WebP when GDAL has the driver)."""
    import rasterio

    with rasterio.Env() as env:
        drivers = env.drivers()
    return frozenset(f for f in MEDIA_TYPES if f.upper() in drivers)


def render_tile(layer: Layer, z: int, x: int, y: int, fmt: str = "png",
                stretch: Stretch | None = None) -> bytes | None:
    """Encoded tile bytes, or None when the tile holds no valid pixel of the layer."""
    r = _reader(layer.path)
    if not r.tile_exists(x, y, z):
        return None
    try:
        img = r.tile(x, y, z, tilesize=TILE_SIZE, indexes=layer.indexes)
    except TileOutsideBounds:
        return None
    if not img.mask.any():
        return None
    img.rescale(in_range=stretch or layer.stretch)
    options: dict[str, Any] = ENCODE_OPTIONS.get(fmt, {})
    return img.render(img_format=fmt.upper(), add_mask=True, **options)
