"""Render one XYZ WebMercator tile of a layer with rio-tiler (overviews used at low zooms).

A tile is read with nearest resampling (pixels stay honest when zoomed in), stretched to
8 bit with the layer's display stretch, and encoded as PNG or WebP with an alpha band from
the dataset mask (nodata is transparent). Tiles that do not touch the data return None.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from s2sr.serve.layers import Layer
from s2sr.serve.limits import tile_done, tile_threads
from s2sr.serve.stats import Stretch

TILE_SIZE = 256
MAX_ZOOM = 24  # WebMercatorQuad's deepest level
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp"}
# Zoomed out further than this below a layer's minzoom, the whole layer covers a few pixels of
# a tile, while reading it costs 4x more per level (0.15 s at 4 levels, 27 s at 7, minutes at 9,
# measured on the test COG): such tiles answer 204 instead of holding a render thread.
ZOOM_OUT_LEVELS = 4
# zlib level 1: 2.5x faster PNG encoding than the default 6 for ~20 % larger tiles (loopback use)
ENCODE_OPTIONS: dict[str, dict[str, int]] = {"png": {"ZLEVEL": 1}}


def tile_in_range(z: int, x: int, y: int) -> bool:
    """True when (z, x, y) is a valid WebMercatorQuad tile."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


class ReaderPool:
    """Open rio-tiler Readers, reused across requests: at most ``size`` idle ones per file.

    A reader serves one request at a time (rasterio datasets are not thread-safe); tiles render
    on at most ``size`` threads (:func:`s2sr.serve.limits.tile_threads`), so no more than
    ``size`` readers per file are ever open. A file replaced on disk gets fresh readers.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: dict[str, list[tuple[tuple[int, int], Reader]]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def reader(self, path: Path) -> Iterator[Reader]:
        st = path.stat()
        version = (st.st_mtime_ns, st.st_size)
        r = None
        with self._lock:
            idle = self._idle.setdefault(str(path), [])
            stale = [x for x in idle if x[0] != version]
            idle[:] = [x for x in idle if x[0] == version]
            if idle:
                r = idle.pop()[1]
        for _, old in stale:
            old.close()
        if r is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NoOverviewWarning: small files need none
                r = Reader(str(path))
        try:
            yield r
        finally:
            with self._lock:
                idle = self._idle.setdefault(str(path), [])
                keep = len(idle) < self.size
                if keep:
                    idle.append((version, r))
            if not keep:
                r.close()

    def open_count(self, path: Path) -> int:
        """Idle readers held for ``path``."""
        with self._lock:
            return len(self._idle.get(str(path), []))


POOL = ReaderPool(tile_threads())
_thread_env = threading.local()


def hold_gdal_env() -> None:
    """Enter one rasterio/GDAL environment for the life of the calling (render) thread.

    Without it every rasterio call on a thread with no environment starts and stops its own:
    it re-registers all drivers and sets then clears process-wide options (GDAL_DATA, PROJ paths)
    while other render threads encode tiles; once in a CI run a PNG encode failed that way.
    Used as the ``initializer`` of the tile thread pool.
    """
    import rasterio

    env = rasterio.Env()
    env.__enter__()
    _thread_env.env = env  # kept (not exited) until the thread ends with the server


@lru_cache(maxsize=1)
def available_formats() -> frozenset[str]:
    """Tile formats this GDAL build can encode (PNG always; WebP when GDAL has the driver)."""
    import rasterio

    with rasterio.Env() as env:
        drivers = env.drivers()
    return frozenset(f for f in MEDIA_TYPES if f.upper() in drivers)


def render_tile(layer: Layer, z: int, x: int, y: int, fmt: str = "png",
                stretch: Stretch | None = None) -> bytes | None:
    """Encoded tile bytes, or None when the tile holds no valid pixel of the layer, or when it is more
    than :data:`ZOOM_OUT_LEVELS` levels coarser than the layer's own minimum zoom."""
    if z < layer.minzoom - ZOOM_OUT_LEVELS:
        return None
    try:
        with POOL.reader(layer.path) as r:
            if not r.tile_exists(x, y, z):
                return None
            try:
                img = r.tile(x, y, z, tilesize=TILE_SIZE, indexes=layer.indexes)
            except TileOutsideBounds:
                return None
        if not img.mask.any():
            return None
        if layer.role == "conf":  # the SR confidence layer: a colour ramp, see s2sr.serve.confidence
            from s2sr.serve.confidence import render as render_confidence

            lo, hi = (stretch or layer.stretch)[0]
            return render_confidence(img.array, lo, hi, fmt)
        img.rescale(in_range=stretch or layer.stretch)
        options: dict[str, Any] = ENCODE_OPTIONS.get(fmt, {})
        return img.render(img_format=fmt.upper(), add_mask=True, **options)
    finally:
        tile_done()
