"""The checks of GDAL's ``validate_cloud_optimized_geotiff.py``, on GDAL's own layout metadata.

GDAL reports where each IFD and each tile of a TIFF sits (``IFD_OFFSET``,
``BLOCK_OFFSET_x_y``, ``BLOCK_SIZE_x_y`` in the ``TIFF`` metadata domain). From those, as the
GDAL script does: the full-resolution IFD comes right after the header and the ghost area
of structural metadata; overview IFDs follow at increasing offsets; tile data starts after
the last IFD, smallest overview first and full resolution last; with ``full_check``, tiles
are in row-major order and, where the ghost area declares them, each tile is preceded by
its size and followed by its last 4 bytes.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

_PATTERN = "GDAL_STRUCTURAL_METADATA_SIZE="


def _ghost(path: Path) -> tuple[int, str]:
    """(expected offset of the first IFD, structural metadata text)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
        pos = 16 if head[2:4] in (b"+\0", b"\0+") else 8
        fh.seek(pos)
        line = fh.read(len(_PATTERN) + 13).decode("latin-1")
        if not line.startswith(_PATTERN):
            return pos, ""
        size = int(line[len(_PATTERN):len(_PATTERN) + 6])
        meta = fh.read(size).decode("latin-1")
    pos += len(line) + size
    return pos + pos % 2, meta


def _blocks(ds: Any, ovr: int | None) -> list[tuple[int, int]]:
    """(offset, size) of every tile of band 1 of a level, row-major; (0, 0) for an absent tile."""
    shape = ds.block_shapes[0]
    ny, nx = -(-ds.height // shape[0]), -(-ds.width // shape[1])
    out = []
    for y in range(ny):
        for x in range(nx):
            off = ds.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=1, ovr=ovr)
            size = ds.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=1, ovr=ovr)
            out.append((int(off or 0), int(size or 0)))
    return out


def _full_check(path: Path, name: str, blocks: list[tuple[int, int]], meta: str) -> list[str]:
    errors: list[str] = []
    leader, trailer = "BLOCK_LEADER=SIZE_AS_UINT4" in meta, "BLOCK_TRAILER=LAST_4_BYTES_REPEATED" in meta
    last = 0
    with open(path, "rb") as fh:
        for i, (off, size) in enumerate(blocks):
            if not off:
                continue
            if "BLOCK_ORDER=ROW_MAJOR" in meta and off < last:
                errors.append(f"{name}: tile {i} is before the previous one (not row-major)")
            last = off
            if leader:
                fh.seek(off - 4)
                if struct.unpack("<I", fh.read(4))[0] != size:
                    errors.append(f"{name}: tile {i} has a wrong leader size")
            if trailer and size >= 4:
                fh.seek(off + size - 4)
                tail, repeated = fh.read(4), fh.read(4)
                if tail != repeated:
                    errors.append(f"{name}: tile {i} has a wrong trailer")
    return errors


def gdal_cog_errors(path: str | os.PathLike[str], full_check: bool = True) -> list[str]:
    """The errors GDAL's ``validate_cloud_optimized_geotiff.py`` reports for ``path`` (empty: valid)."""
    import rasterio

    path = Path(path)
    errors: list[str] = []
    expected, meta = _ghost(path)
    if "KNOWN_INCOMPATIBLE_EDITION=YES" in meta:
        errors.append("KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file")
    with rasterio.open(path) as ds:
        if ds.driver != "GTiff":
            return ["the file is not a GeoTIFF"]
        if ds.block_shapes[0][1] == ds.width and ds.width > 1024:
            errors.append("the file is greater than 512xH or Wx512, but is not tiled")
        n_ovr = len(ds.overviews(1))
        ifds = [int(ds.get_tag_item("IFD_OFFSET", "TIFF", bidx=1))]
        if ifds[0] != expected:
            errors.append(f"the offset of the main IFD should be {expected}; it is {ifds[0]} instead")
        levels = [_blocks(ds, None)]
        for i in range(n_ovr):
            ifds.append(int(ds.get_tag_item("IFD_OFFSET", "TIFF", bidx=1, ovr=i)))
            if ifds[-1] < ifds[-2]:
                errors.append(f"the IFD of overview {i} is at {ifds[-1]}, before the previous one ({ifds[-2]})")
            levels.append(_blocks(ds, i))
    firsts = [next((o for o, _ in lv if o), 0) for lv in levels]
    if firsts[-1] and firsts[-1] < ifds[-1]:
        errors.append("the first tile of the smallest overview (or of the image) should be after its IFD")
    for i in range(len(firsts) - 2, 0, -1):
        if firsts[i] and firsts[i] < firsts[i + 1]:
            errors.append(f"the first tile of overview {i - 1} should be after the one of overview {i}")
    if len(firsts) >= 2 and firsts[0] and firsts[0] < firsts[1]:
        errors.append(f"the first tile of the full resolution should be after the one of overview {n_ovr - 1}")
    if full_check:
        for i, lv in enumerate(levels):
            errors += _full_check(path, "full resolution" if i == 0 else f"overview {i - 1}", lv, meta)
    return errors
