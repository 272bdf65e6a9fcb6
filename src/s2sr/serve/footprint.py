"""Load the training-patch footprint as RFC 7946 GeoJSON (WGS84 lon/lat, CCW exterior rings).

``prepare`` writes it that way already; an older-style file with a ``crs`` member (e.g. UTM)
is reprojected, and ring orientation is fixed, so the map and QGIS always get valid GeoJSON.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from s2sr.errors import InputError

log = logging.getLogger(__name__)

_WGS84_NAMES = ("CRS84", "EPSG:4326", "EPSG::4326")


def _signed_area(ring: list[list[float]]) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:], strict=False))


def _orient_polygon(rings: list[list[list[float]]]) -> list[list[list[float]]]:
    """Exterior counter-clockwise, holes clockwise (RFC 7946 section 3.1.6)."""
    out = []
    for i, ring in enumerate(rings):
        ccw = _signed_area(ring) > 0
        want_ccw = i == 0
        out.append(ring if ccw == want_ccw else ring[::-1])
    return out


def _orient(geom: dict[str, Any]) -> dict[str, Any]:
    if geom.get("type") == "Polygon":
        return {**geom, "coordinates": _orient_polygon(geom["coordinates"])}
    if geom.get("type") == "MultiPolygon":
        return {**geom, "coordinates": [_orient_polygon(p) for p in geom["coordinates"]]}
    return geom


def _crs_name(fc: dict[str, Any]) -> str | None:
    crs = fc.get("crs")
    if not crs:
        return None
    return str((crs.get("properties") or {}).get("name", "")) or None


def _positions(geom: dict[str, Any]) -> list[list[float]]:
    coords: Any = geom.get("coordinates", [])
    while coords and isinstance(coords[0], list) and isinstance(coords[0][0], list):
        coords = [p for part in coords for p in part]
    return coords if coords and isinstance(coords[0], list) else []


def _check_lonlat(fc: dict[str, Any], path: Path) -> None:
    for feat in fc["features"]:
        for x, y, *_ in _positions(feat.get("geometry") or {}):
            if not (-180 <= x <= 180 and -90 <= y <= 90):
                raise InputError(
                    f"{path}: coordinates ({x}, {y}) are not WGS84 lon/lat; "
                    "re-export it with ogr2ogr -t_srs EPSG:4326 (RFC 7946)"
                )


def load_footprint(path: str | Path, scene: str | None = None) -> dict[str, Any]:
    """Read, reproject if needed, orient and tag (``scene`` property) a footprint FeatureCollection."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: footprint file not found; pass the footprint.geojson written by prepare")
    try:
        fc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: not valid JSON ({e}); pass the footprint.geojson written by prepare") from None
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        raise InputError(f"{p}: not a GeoJSON FeatureCollection; pass the footprint.geojson written by prepare")
    crs = _crs_name(fc)
    feats = [f for f in fc["features"] if isinstance(f, dict) and f.get("type") == "Feature"]
    if crs and not any(crs.upper().endswith(n) for n in _WGS84_NAMES):
        from rasterio.warp import transform_geom

        log.info("%s: reprojecting footprint from %s to WGS84", p, crs)
        feats = [{**f, "geometry": json.loads(json.dumps(transform_geom(crs, "EPSG:4326", f["geometry"])))}
                 for f in feats]
    features: list[dict[str, Any]] = []
    for f in feats:
        props = dict(f.get("properties") or {})
        if scene is not None:
            props["scene"] = scene
        geom = _orient(f["geometry"]) if f.get("geometry") else None
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    out = {"type": "FeatureCollection", "features": features}
    _check_lonlat(out, p)
    return out


def merge(collections: list[dict[str, Any]]) -> dict[str, Any]:
    """One FeatureCollection with the features of all ``collections``."""
    return {"type": "FeatureCollection", "features": [f for fc in collections for f in fc["features"]]}
