"""A Cloud Optimized GeoTIFF assembled from tiles that are already compressed.

The layout is the one GDAL's COG driver writes (and ``validate_cloud_optimized_geotiff``
checks): TIFF header, GDAL's structural-metadata "ghost" area, the IFD of the full
resolution then those of the overviews (largest first), then the tile data, smallest
overview first and full resolution last, each level row-major, every tile preceded by
its size (uint32) and followed by a copy of its last 4 bytes. Nothing is re-encoded: the
tiles are copied as they are. The georeferencing and metadata tags (GeoKeys, pixel scale,
tie point, GDAL_METADATA with band descriptions and tags, GDAL_NODATA) are those GDAL writes
into a 1x1 GeoTIFF of the same grid, so they are GDAL's own bytes. BigTIFF when the file
would not fit classic TIFF.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from s2sr.errors import ConfigError
from s2sr.io.tiff import LONG, LONG8, Ifd, Tag, header, read_tags
from s2sr.io.tiffcodec import TileCodec

_STRUCT = ("LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n"
           "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ")
GHOST = f"GDAL_STRUCTURAL_METADATA_SIZE={len(_STRUCT):06d} bytes\n{_STRUCT}".encode("ascii")
# tags taken from GDAL's template: per image (all IFDs) and georeferencing/metadata (full resolution only)
IMAGE_TAGS = (258, 262, 277, 284, 338, 339, 42113)
GEO_TAGS = (33550, 33922, 34264, 34735, 34736, 34737, 42112)
CLASSIC_LIMIT = 4_000_000_000  # below 2**32 with room to spare, like GDAL's BIGTIFF=IF_SAFER


@dataclass(frozen=True)
class Level:
    """One resolution level: its pixel size and the byte length of each tile, row-major."""

    width: int
    height: int
    lengths: np.ndarray  # (rows of tiles, cols of tiles) int64


def level_sizes(width: int, height: int, block: int = 512, overviews: int | None = None) -> list[tuple[int, int]]:
    """(width, height) of the full resolution and of each overview (halved, rounded up) until one
    fits in a single tile, as GDAL's COG driver does; with ``overviews`` (its ``OVERVIEW_COUNT``),
    that many overviews (fewer only when a level is down to 1x1)."""
    sizes = [(width, height)]
    while (max(sizes[-1]) > block) if overviews is None else (len(sizes) <= overviews and max(sizes[-1]) > 1):
        w, h = sizes[-1]
        sizes.append(((w + 1) // 2, (h + 1) // 2))
    return sizes


def template_tags(meta: dict[str, Any], count: int, dtype: str) -> dict[int, Tag]:
    """The tags GDAL writes for a 1x1 GeoTIFF with this grid, nodata, band descriptions, tags and
    colour interpretation.

    ``meta``: ``transform``, ``crs``, ``nodata``, ``descriptions``, ``tags``, ``colours`` (GDAL
    names: red, green, blue, undefined...; GDAL keeps them in the photometric tags or GDAL_METADATA)."""
    from rasterio.enums import ColorInterp
    from rasterio.io import MemoryFile

    from s2sr.io.raster import pixel_grids_ok

    with MemoryFile() as mf:
        with pixel_grids_ok(), mf.open(driver="GTiff", width=1, height=1, count=count, dtype=dtype,
                                       crs=meta.get("crs"), transform=meta["transform"], nodata=meta.get("nodata"),
                                       interleave="pixel") as ds:
            ds.descriptions = tuple(meta.get("descriptions", ())[:count]) or (None,) * count
            ds.update_tags(**meta.get("tags", {}))
            if meta.get("colours"):
                ds.colorinterp = [ColorInterp[c] for c in meta["colours"][:count]]
        data = bytes(mf.getbuffer())
    return read_tags(data)


def _ifds(levels: Sequence[Level], tmpl: dict[int, Tag], codec: TileCodec, block: int,
          big: bool) -> list[Ifd]:
    ifds = []
    for k, lv in enumerate(levels):
        tags = {t: tmpl[t] for t in IMAGE_TAGS + (GEO_TAGS if k == 0 else ()) if t in tmpl}
        n = lv.lengths.size
        tags.update({
            256: Tag.short_or_long(lv.width), 257: Tag.short_or_long(lv.height),
            259: Tag.of(3, [codec.tiff_compression]), 317: Tag.of(3, [codec.predictor]),
            322: Tag.of(3, [block]), 323: Tag.of(3, [block]),
            # placeholders of the right size; filled in once the data offsets are known
            324: Tag(LONG8 if big else LONG, n, bytes((8 if big else 4) * n)),
            325: Tag.of(LONG8 if big else LONG, [int(v) for v in lv.lengths.ravel()]),
        })
        if k > 0:
            tags[254] = Tag.of(LONG, [1])  # reduced-resolution image
        ifds.append(Ifd(tags))
    return ifds


def _layout(levels: Sequence[Level], tmpl: dict[int, Tag], codec: TileCodec, block: int,
            big: bool) -> tuple[list[Ifd], list[int], int]:
    """IFDs, their file offsets, and where the tile data starts."""
    ifds = _ifds(levels, tmpl, codec, block, big)
    pos = len(header(big, 0)) + len(GHOST)
    pos += pos & 1
    offsets = []
    for ifd in ifds:
        offsets.append(pos)
        pos += ifd.size(big)
    return ifds, offsets, pos


def layout_size(levels: Sequence[Level], tmpl: dict[int, Tag], codec: TileCodec, block: int = 512,
                big: bool = False) -> int:
    """Size in bytes of the COG."""
    _, _, data0 = _layout(levels, tmpl, codec, block, big)
    return data0 + sum(int(lv.lengths.sum()) + 8 * lv.lengths.size for lv in levels)


def write_layout(fh: IO[bytes], levels: Sequence[Level], tmpl: dict[int, Tag], codec: TileCodec,
                 read_tile: Callable[[int, int], bytes], block: int = 512, bigtiff: bool | None = None) -> int:
    """Write the COG to the binary file ``fh``; ``read_tile(level, index)`` gives a tile's bytes
    (index row-major within its level). ``bigtiff``: True or False as asked (``BIGTIFF=YES|NO``),
    None when the file needs it. Returns the number of bytes written."""
    size = layout_size(levels, tmpl, codec, block)
    big = size > CLASSIC_LIMIT if bigtiff is None else bigtiff
    if not big and size >= 2**32:
        raise ConfigError(f"--co BIGTIFF=NO: the COG needs {size / 2**30:.1f} GiB, more than a classic TIFF "
                          "holds (4 GiB); run again without it, with --resume (the computed blocks are kept)")
    ifds, ifd_at, pos = _layout(levels, tmpl, codec, block, big)
    fmt = "<{}Q" if big else "<{}I"
    for k in reversed(range(len(levels))):  # data offsets: smallest overview first
        lengths = levels[k].lengths.ravel()
        starts = pos + 4 + np.concatenate([[0], np.cumsum(lengths + 8)[:-1]]).astype(np.int64)
        ifds[k].tags[324] = Tag(ifds[k].tags[324].type, lengths.size, struct.pack(fmt.format(lengths.size),
                                                                                  *(int(s) for s in starts)))
        pos += int(lengths.sum()) + 8 * lengths.size
    out = bytearray(header(big, ifd_at[0]) + GHOST)
    out += b"\0" * (ifd_at[0] - len(out))
    for k, ifd in enumerate(ifds):
        out += ifd.encode(ifd_at[k], ifd_at[k + 1] if k + 1 < len(ifds) else 0, big)
    fh.write(out)
    written = len(out)
    for k in reversed(range(len(levels))):
        lengths = levels[k].lengths.ravel()
        for i in range(lengths.size):
            data = read_tile(k, i)
            if len(data) != lengths[i]:
                raise ValueError(f"tile {i} of level {k}: {len(data)} bytes, the table says {lengths[i]}")
            fh.write(struct.pack("<I", len(data)))
            fh.write(data)
            fh.write(data[-4:])
            written += len(data) + 8
    return written


def tiles_per_axis(size: int, block: int = 512) -> int:
    return max(1, math.ceil(size / block))
