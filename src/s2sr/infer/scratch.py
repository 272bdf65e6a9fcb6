"""The partial output: a raw pixel-interleaved file written with ``pwrite`` and described by a VRT.

Pieces are written in place with ``os.pwrite`` (no page of the output is ever held
in process memory, and the OS page cache does not count in the RSS), fsynced
before the journal records them, and turned into a COG by GDAL at the end
through a ``VRTRawRasterBand`` description that carries CRS, transform, nodata,
band descriptions and tags.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.dtypes import _gdal_typename

from s2sr.io.atomic import disk_error


@dataclass
class RawScratch:
    """A (height, width, count) pixel-interleaved raw raster on disk."""

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    report_as: Path = field(default_factory=lambda: Path("."))  # the user's output, named in errors
    fd: int = -1

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        return self.width * self.height * self.count * self.itemsize

    def open(self, keep: bool) -> RawScratch:
        """Open for writing; ``keep`` reuses an existing file of the right size (resume)."""
        try:
            flags = os.O_RDWR | os.O_CREAT | (0 if keep else os.O_TRUNC)
            self.fd = os.open(self.path, flags, 0o644)
            os.ftruncate(self.fd, self.nbytes)
        except OSError as e:
            raise disk_error(self.report_as, e) from e
        return self

    def write(self, row: int, col: int, arr: np.ndarray) -> None:
        """Write a (count, h, w) block at fine-grid (row, col)."""
        block = np.ascontiguousarray(np.moveaxis(arr.astype(self.dtype, copy=False), 0, -1))
        h, w = block.shape[:2]
        line = self.width * self.count * self.itemsize
        px = self.count * self.itemsize
        try:
            for i in range(h):
                os.pwrite(self.fd, block[i].tobytes(), (row + i) * line + col * px)
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

    def vrt_xml(
        self,
        transform: Affine,
        crs: CRS | None,
        nodata: float | None,
        descriptions: list[str],
        tags: dict[str, str],
    ) -> str:
        """A GDAL VRT describing the raw file (relative path, so it must sit beside it)."""
        gt = ", ".join(repr(float(v)) for v in transform.to_gdal())
        lines = [f'<VRTDataset rasterXSize="{self.width}" rasterYSize="{self.height}">']
        if crs is not None:
            lines.append(f'  <SRS dataAxisToSRSAxisMapping="1,2">{escape(crs.to_wkt())}</SRS>')
        lines.append(f"  <GeoTransform>{gt}</GeoTransform>")
        if tags:
            lines.append("  <Metadata>")
            lines += [f'    <MDI key="{escape(k)}">{escape(str(v))}</MDI>' for k, v in tags.items()]
            lines.append("  </Metadata>")
        px = self.count * self.itemsize
        for b in range(self.count):
            lines.append(f'  <VRTRasterBand dataType="{_gdal_typename(self.dtype)}" band="{b + 1}" '
                         'subClass="VRTRawRasterBand">')
            if b < len(descriptions) and descriptions[b]:
                lines.append(f"    <Description>{escape(descriptions[b])}</Description>")
            if nodata is not None:
                lines.append(f"    <NoDataValue>{nodata!r}</NoDataValue>")
            lines.append(f'    <SourceFilename relativeToVRT="1">{escape(self.path.name)}</SourceFilename>')
            lines.append(f"    <ImageOffset>{b * self.itemsize}</ImageOffset>")
            lines.append(f"    <PixelOffset>{px}</PixelOffset>")
            lines.append(f"    <LineOffset>{self.width * px}</LineOffset>")
            lines.append(f"    <ByteOrder>{'LSB' if sys.byteorder == 'little' else 'MSB'}</ByteOrder>")
            lines.append("  </VRTRasterBand>")
        lines.append("</VRTDataset>")
        return "\n".join(lines) + "\n"
