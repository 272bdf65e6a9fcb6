"""``footprint.geojson``: one polygon per patch, in WGS84 lon/lat (RFC 7946).

Each polygon is the patch's LR bounds with its four corners reprojected (exactly,
no rounding), as a counter-clockwise ring. Inputs without a CRS cannot be placed
on the globe: the file is then an empty FeatureCollection (and ``prepare.json``
says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.warp import transform

WGS84 = CRS.from_epsg(4326)


@dataclass
class PatchRecord:
    id: int
    pair: int
    split: str
    bounds: tuple[float, float, float, float]  # left, bottom, right, top in the pair's LR CRS


def ring(bounds: tuple[float, float, float, float], crs: CRS) -> list[list[float]]:
    """Closed counter-clockwise lon/lat ring of ``bounds`` reprojected from ``crs``."""
    left, bottom, right, top = bounds
    xs = [left, right, right, left, left]
    ys = [bottom, bottom, top, top, bottom]
    lon, lat = transform(crs, WGS84, xs, ys)
    pts = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    if _signed_area(pts) < 0:
        pts.reverse()
    return pts


def _signed_area(pts: list[list[float]]) -> float:
    a = np.asarray(pts)
    return float(0.5 * np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1]))


def write_footprint(path: Path, records: list[PatchRecord], crs_of_pair: dict[int, CRS | None]) -> str:
    """Write the FeatureCollection; return a one-line note for ``prepare.json``."""
    features: list[dict[str, Any]] = []
    missing = sorted({r.pair for r in records if crs_of_pair.get(r.pair) is None})
    for rec in records:
        crs = crs_of_pair.get(rec.pair)
        if crs is None:
            continue
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring(rec.bounds, crs)]},
            "properties": {"id": rec.id, "split": rec.split, "pair": rec.pair},
        })
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    if missing:
        return (f"pairs {missing} have no CRS: their patches are not in the footprint "
                "(it cannot be placed in WGS84)")
    return f"{len(features)} patch polygons in WGS84 lon/lat"
