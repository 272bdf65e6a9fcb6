"""TIFF tile codecs: the predictor and DEFLATE/ZSTD compression of one pixel-interleaved tile.

:func:`encode_tile` produces exactly the bytes a TIFF reader (libtiff, GDAL) expects for a
tile with ``Compression`` 8 (Adobe DEFLATE, a zlib stream) or 50000 (ZSTD) and
``Predictor`` 2 (horizontal differencing, integers) or 3 (floating point: byte planes, most
significant first, then byte differencing), little-endian. :func:`decode_tile` inverts it.
DEFLATE runs on libdeflate (``deflate``), ZSTD on ``zstandard``; both release the GIL, so
tiles encode in parallel threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from s2sr.errors import ConfigError

TIFF_COMPRESSION = {"DEFLATE": 8, "ZSTD": 50000}
# measured on 4-band uint16 model output (benchmarks/apply.py): the fastest level of each codec
# compresses about as well as GDAL's defaults (ZLEVEL 6, ZSTD_LEVEL 9) on noisy data, at 2-20x the speed
DEFAULT_LEVEL = {"DEFLATE": 1, "ZSTD": 1}
LEVELS = {"DEFLATE": (1, 12), "ZSTD": (1, 22)}

_local = threading.local()


@dataclass(frozen=True)
class TileCodec:
    """How tiles of one raster are encoded: ``compress`` (DEFLATE|ZSTD) at ``level``, for ``dtype``."""

    compress: str
    dtype: str
    level: int = 0  # 0: DEFAULT_LEVEL of the codec

    def __post_init__(self) -> None:
        comp = self.compress.upper()
        if comp not in TIFF_COMPRESSION:
            raise ConfigError(f"--compress {self.compress!r}: choose one of {', '.join(TIFF_COMPRESSION)}")
        object.__setattr__(self, "compress", comp)
        lo, hi = LEVELS[comp]
        if self.level == 0:
            object.__setattr__(self, "level", DEFAULT_LEVEL[comp])
        elif not lo <= self.level <= hi:
            raise ConfigError(f"--compress-level {self.level}: {comp} takes {lo}..{hi}")

    @property
    def floating(self) -> bool:
        return bool(np.issubdtype(np.dtype(self.dtype), np.floating))

    @property
    def predictor(self) -> int:
        """TIFF ``Predictor`` tag: 3 (floating point) for floats, else 2 (horizontal)."""
        return 3 if self.floating else 2

    @property
    def tiff_compression(self) -> int:
        return TIFF_COMPRESSION[self.compress]


def _zstd(level: int, decompress: bool = False):  # noqa: ANN202 - a zstandard (de)compressor object
    """A per-thread zstandard object (they are not thread-safe)."""
    import zstandard

    key = ("d", 0) if decompress else ("c", level)
    cache = _local.__dict__.setdefault("zstd", {})
    if key not in cache:
        cache[key] = zstandard.ZstdDecompressor() if decompress else zstandard.ZstdCompressor(level=level)
    return cache[key]


def predict(tile: np.ndarray, floating: bool) -> np.ndarray:
    """Apply the TIFF predictor to a (rows, cols, samples) tile; returns the bytes to compress as uint8/ints."""
    rows, cols, spp = tile.shape
    if not floating:
        a = tile.astype(tile.dtype.newbyteorder("<"), copy=False)
        d = np.empty_like(a)
        d[:, :1] = a[:, :1]
        np.subtract(a[:, 1:], a[:, :-1], out=d[:, 1:])  # wraps around in the integer type, as libtiff does
        return d
    bps = tile.dtype.itemsize
    b = np.ascontiguousarray(tile, dtype=tile.dtype.newbyteorder("<")).view(np.uint8)
    planes = b.reshape(rows, cols * spp, bps)[:, :, ::-1].transpose(0, 2, 1).reshape(rows, -1)  # MSB plane first
    d = np.empty_like(planes)
    d[:, :spp] = planes[:, :spp]
    np.subtract(planes[:, spp:], planes[:, :-spp], out=d[:, spp:])
    return d


def unpredict(raw: np.ndarray, rows: int, cols: int, spp: int, dtype: np.dtype, floating: bool) -> np.ndarray:
    """Invert :func:`predict`: the decompressed bytes of a tile to (rows, cols, samples) of ``dtype``."""
    dt = np.dtype(dtype).newbyteorder("<")
    if not floating:
        d = raw.view(dt).reshape(rows, cols, spp)
        return np.cumsum(d, axis=1, dtype=dt).astype(np.dtype(dtype), copy=False)
    bps = dt.itemsize
    d = raw.reshape(rows, cols * spp * bps // spp, spp)
    planes = np.cumsum(d, axis=1, dtype=np.uint8).reshape(rows, bps, cols * spp)
    b = np.ascontiguousarray(planes.transpose(0, 2, 1)[:, :, ::-1])
    return b.view(dt).reshape(rows, cols, spp).astype(np.dtype(dtype), copy=False)


def encode_tile(tile: np.ndarray, codec: TileCodec) -> bytes:
    """Compressed bytes of a (rows, cols, samples) tile, as stored in a TIFF."""
    data = np.ascontiguousarray(predict(tile, codec.floating)).view(np.uint8).data
    if codec.compress == "DEFLATE":
        import deflate

        return bytes(deflate.zlib_compress(data, codec.level))
    return bytes(_zstd(codec.level).compress(data))


class BlockDecodeError(ValueError):
    """Stored bytes that do not decode to a tile (corrupt or truncated data)."""


def decode_tile(data: bytes, shape: tuple[int, int, int], codec: TileCodec) -> np.ndarray:
    """Invert :func:`encode_tile` for a tile of ``shape`` (rows, cols, samples); :class:`BlockDecodeError`
    when the bytes do not decode to exactly that tile."""
    rows, cols, spp = shape
    size = rows * cols * spp * np.dtype(codec.dtype).itemsize
    try:
        if codec.compress == "DEFLATE":
            import zlib

            raw = zlib.decompress(data, bufsize=size)
        else:
            raw = _zstd(0, decompress=True).decompress(data, max_output_size=size)
    except Exception as e:  # zlib.error, zstandard.ZstdError
        raise BlockDecodeError(f"{codec.compress} {(str(e).splitlines() or [type(e).__name__])[0][:80]}") from None
    if len(raw) != size:
        raise BlockDecodeError(f"tile decodes to {len(raw)} bytes, expected {size}")
    return unpredict(np.frombuffer(raw, np.uint8), rows, cols, spp, np.dtype(codec.dtype), codec.floating)
