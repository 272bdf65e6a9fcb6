"""The partial output: an uncompressed tiled GeoTIFF that pieces are ``pwrite``-n into.

GDAL creates the file (CRS, transform, nodata, band descriptions, tags) with every
512x512 pixel-interleaved block allocated and zero-filled; the block offsets are
then read from GDAL's ``TIFF`` metadata domain, and pieces are written into the
blocks with ``os.pwrite``. So no page of the output is ever held in process
memory (the OS page cache does not count in the RSS), writes can be fsynced
before the journal records them, and the final COG conversion reads a tiled
GeoTIFF, which GDAL turns into overviews much faster than a line-interleaved raw file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from s2sr.errors import OutputError
from s2sr.io.atomic import disk_error
from s2sr.io.gdal_errors import current_seq, gdal_writing, messages_since, write_error
from s2sr.io.raster import pixel_grids_ok

BLOCK = 512


@dataclass
class TiledScratch:
    """A (count, height, width) raster in an uncompressed tiled GeoTIFF, written block-wise."""

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    report_as: Path = field(default_factory=lambda: Path("."))  # the user's output, named in errors
    fd: int = -1
    offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    @property
    def px(self) -> int:
        return self.count * np.dtype(self.dtype).itemsize

    def create(self, transform: Affine, crs: CRS | None, nodata: float | None, descriptions: list[str],
               tags: dict[str, str], colours: list[str] | None = None) -> None:
        """Write the empty GeoTIFF (all blocks zero) with its georeferencing, metadata and colour
        interpretation (GDAL names: red, green, blue, undefined...)."""
        import rasterio
        from rasterio.enums import ColorInterp

        prof = dict(driver="GTiff", width=self.width, height=self.height, count=self.count, dtype=self.dtype,
                    crs=crs, transform=transform, nodata=nodata, tiled=True, blockxsize=BLOCK,
                    blockysize=BLOCK, interleave="pixel", compress="none", sparse_ok=False, bigtiff="IF_NEEDED")
        start = current_seq()
        with gdal_writing(self.report_as), pixel_grids_ok(), rasterio.open(self.path, "w", **prof) as ds:
            ds.descriptions = tuple(descriptions[: self.count])
            ds.update_tags(**tags)
            if colours:
                ds.colorinterp = [ColorInterp[c] for c in colours[: self.count]]
        # GDAL writes the zero blocks when it closes the file and does not report a failed write there
        blocks = -(-self.height // BLOCK) * -(-self.width // BLOCK)
        if self.path.stat().st_size < blocks * BLOCK * BLOCK * self.px:
            raise write_error(self.report_as, OSError("the partial output is shorter than its blocks"),
                              messages_since(start))

    def open(self) -> TiledScratch:
        """Read the block offsets and open the file for ``pwrite``."""
        import rasterio

        nby, nbx = -(-self.height // BLOCK), -(-self.width // BLOCK)
        with pixel_grids_ok(), rasterio.open(self.path) as ds:
            if (ds.width, ds.height, ds.count, ds.dtypes[0]) != (self.width, self.height, self.count, self.dtype):
                raise ValueError(f"{self.path}: partial output has another shape; remove it")
            offsets = [[ds.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=1) for j in range(nbx)]
                       for i in range(nby)]
        if any(o is None for row in offsets for o in row):
            raise OutputError(f"{self.path}: partial output of {self.report_as} is incomplete (a run that "
                              "failed while creating it); delete it or rerun without --resume")
        self.offsets = np.array(offsets, dtype=np.int64)
        try:
            self.fd = os.open(self.path, os.O_RDWR)
        except OSError as e:
            raise disk_error(self.report_as, e) from e
        return self

    def write(self, row: int, col: int, arr: np.ndarray) -> None:
        """Write a (count, h, w) array at fine-grid (row, col)."""
        block = np.ascontiguousarray(np.moveaxis(arr.astype(self.dtype, copy=False), 0, -1))
        h, w = block.shape[:2]
        px, line = self.px, BLOCK * self.px
        try:
            for bi in range(row // BLOCK, (row + h - 1) // BLOCK + 1):
                r0, r1 = max(row, bi * BLOCK), min(row + h, (bi + 1) * BLOCK)
                for bj in range(col // BLOCK, (col + w - 1) // BLOCK + 1):
                    c0, c1 = max(col, bj * BLOCK), min(col + w, (bj + 1) * BLOCK)
                    sub = block[r0 - row:r1 - row, c0 - col:c1 - col]
                    base = int(self.offsets[bi, bj]) + (c0 - bj * BLOCK) * px
                    for k in range(r1 - r0):
                        os.pwrite(self.fd, memoryview(sub[k]), base + (r0 - bi * BLOCK + k) * line)
        except OSError as e:
            raise disk_error(self.report_as, e) from e

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as e:
            raise disk_error(self.report_as, e) from e

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
