"""GDAL VRT files that stack single bands of several rasters on one grid (no pixel copied).

A :class:`StackBand` names one band of one GDAL-readable source (a local file, a
``/vsicurl/`` URL...). :func:`write_stack_vrt` writes the XML; every source must lie on
the same grid. A radiometric offset (Sentinel-2 ``BOA_ADD_OFFSET`` / ``RADIO_ADD_OFFSET``,
e.g. -1000) is applied by GDAL through a look-up table: ``DN + offset``, valid pixels
kept >= 1 so that they never turn into nodata 0. A window (``SrcRect``) clips every
source without resampling, so the VRT is a crop on the sources' own pixel grid.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from s2sr.io.atomic import atomic_file

GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
              "float32": "Float32", "float64": "Float64"}


@dataclass(frozen=True)
class StackBand:
    """One output band: band ``band`` of ``source``, described as ``name``."""

    source: str  # GDAL path of the source raster
    name: str  # band description, e.g. B2
    band: int = 1
    offset: int = 0  # added to valid pixels (DN + offset), clipped to >= 1
    colour: str = "undefined"  # GDAL colour interpretation


@dataclass(frozen=True)
class StackGrid:
    """The common grid of the sources: CRS, transform, size, data type, nodata, block size."""

    crs: CRS | None
    transform: Affine
    width: int
    height: int
    dtype: str
    nodata: float | None
    block: tuple[int, int] = (512, 512)
    tags: dict[str, str] = field(default_factory=dict)


def offset_lut(offset: int, dtype: str) -> str:
    """GDAL LUT (``in:out`` pairs, linear between them) for ``DN + offset`` with valid pixels kept in
    1..max (0 stays 0: nodata)."""
    top = 65535 if dtype == "uint16" else 255 if dtype == "uint8" else 32767
    if offset < 0:
        return f"0:0,1:1,{1 - offset}:1,{top}:{top + offset}"
    return f"0:0,1:{1 + offset},{top - offset}:{top},{top}:{top}"


def write_stack_vrt(path: Path, grid: StackGrid, bands: list[StackBand], window: Window | None = None) -> Path:
    """Write a VRT stacking ``bands`` (all on ``grid``), optionally clipped to ``window`` (pixels of the grid)."""
    win = window or Window(0, 0, grid.width, grid.height)
    w, h = int(win.width), int(win.height)
    t = grid.transform @ Affine.translation(int(win.col_off), int(win.row_off))
    root = ET.Element("VRTDataset", rasterXSize=str(w), rasterYSize=str(h))
    if grid.crs is not None:
        ET.SubElement(root, "SRS", dataAxisToSRSAxisMapping="1,2").text = grid.crs.to_wkt()
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    if grid.tags:
        md = ET.SubElement(root, "Metadata")
        for k, v in grid.tags.items():
            ET.SubElement(md, "MDI", key=k).text = str(v)
    gtype = GDAL_TYPES[grid.dtype]
    for i, b in enumerate(bands, 1):
        vb = ET.SubElement(root, "VRTRasterBand", dataType=gtype, band=str(i))
        ET.SubElement(vb, "Description").text = b.name
        if grid.nodata is not None:
            ET.SubElement(vb, "NoDataValue").text = repr(float(grid.nodata))
        ET.SubElement(vb, "ColorInterp").text = b.colour.capitalize()
        src = ET.SubElement(vb, "ComplexSource" if b.offset else "SimpleSource")
        ET.SubElement(src, "SourceFilename", relativeToVRT="0").text = b.source
        ET.SubElement(src, "SourceBand").text = str(b.band)
        ET.SubElement(src, "SourceProperties", RasterXSize=str(grid.width), RasterYSize=str(grid.height),
                      DataType=gtype, BlockXSize=str(grid.block[0]), BlockYSize=str(grid.block[1]))
        ET.SubElement(src, "SrcRect", xOff=str(int(win.col_off)), yOff=str(int(win.row_off)), xSize=str(w),
                      ySize=str(h))
        ET.SubElement(src, "DstRect", xOff="0", yOff="0", xSize=str(w), ySize=str(h))
        if b.offset:
            if grid.nodata is not None:
                ET.SubElement(src, "NODATA").text = repr(float(grid.nodata))
            ET.SubElement(src, "LUT").text = offset_lut(b.offset, grid.dtype)
    ET.indent(root)
    with atomic_file(path) as tmp:
        Path(tmp).write_text(ET.tostring(root, encoding="unicode") + "\n")
    return path
