"""Pixel size in metres for any CRS, checked against PROJ's own projections."""

from __future__ import annotations

import math

import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp

from s2sr.io.pixelsize import metres_per_degree, pixel_size_m, utm_epsg


def _proj_size(crs: str, t: Affine, w: int, h: int, utm: int) -> tuple[float, float]:
    """The centre pixel's sides measured in a UTM projection by PROJ (scale factor ~1 near its meridian)."""
    c, r = w / 2, h / 2
    pts = [t @ (c, r), t @ (c + 1, r), t @ (c, r + 1)]
    xs, ys = warp(crs, f"EPSG:{utm}", [p[0] for p in pts], [p[1] for p in pts])
    return math.hypot(xs[1] - xs[0], ys[1] - ys[0]), math.hypot(xs[2] - xs[0], ys[2] - ys[0])


def test_projected_metric_crs_is_exact() -> None:
    assert pixel_size_m(CRS.from_epsg(32631), Affine(10, 0, 5e5, 0, -10, 4.6e6), 100, 100) == (
        pixel_size_m(CRS.from_epsg(32631), Affine(10, 0, 0, 0, -10, 0), 1, 1))
    s = pixel_size_m(CRS.from_epsg(32631), Affine(20, 0, 5e5, 0, -10, 4.6e6), 100, 100)
    assert s is not None and (s.x, s.y, s.exact) == (20.0, 10.0, True)
    assert s.describe() == "20 x 10 m" and s.mean == pytest.approx(math.sqrt(200))


@pytest.mark.parametrize(("lon", "lat"), [(3.0, 0.2), (3.0, 45.0), (-3.0, 70.0), (-69.0, -33.0)])
def test_geographic_pixel_matches_proj(lon: float, lat: float) -> None:
    """A lon/lat grid of ~10 m pixels: within 0.2 % of the sides PROJ measures in the local UTM zone."""
    kx, ky = metres_per_degree(lat)
    t = Affine(10 / kx, 0, lon - 50 * 10 / kx, 0, -10 / ky, lat + 50 * 10 / ky)
    s = pixel_size_m(CRS.from_epsg(4326), t, 100, 100)
    assert s is not None and not s.exact
    px, py = _proj_size("EPSG:4326", t, 100, 100, utm_epsg(lon, lat))
    assert s.x == pytest.approx(px, rel=2e-3) and s.y == pytest.approx(py, rel=2e-3)
    assert s.x == pytest.approx(10, rel=1e-6) and s.describe() == "about 10 m"


def test_web_mercator_and_feet_are_measured_on_the_ground() -> None:
    """Web Mercator units are 1/cos(lat) ground metres (20 units at 60 N are 10 m); US feet are 0.3048 m."""
    y60 = warp("EPSG:4326", "EPSG:3857", [10.0], [60.0])[1][0]
    s = pixel_size_m(CRS.from_epsg(3857), Affine(20, 0, 1.1e6, 0, -20, y60 + 1000), 100, 100)
    assert s is not None and s.mean == pytest.approx(10.0, rel=5e-3)
    ft = pixel_size_m(CRS.from_epsg(2263), Affine(32.8, 0, 1e6, 0, -32.8, 2e5), 100, 100)
    assert ft is not None and ft.mean == pytest.approx(32.8 * 0.3048, rel=5e-3)


def test_unknown_without_crs_or_with_a_local_crs() -> None:
    assert pixel_size_m(None, Affine(10, 0, 0, 0, -10, 0), 10, 10) is None
    local = CRS.from_wkt('LOCAL_CS["site",UNIT["metre",1]]')
    assert pixel_size_m(local, Affine(10, 0, 0, 0, -10, 0), 10, 10) is None


def test_utm_zone() -> None:
    assert utm_epsg(3.0, 45.0) == 32631
    assert utm_epsg(-69.0, -33.0) == 32719
    assert utm_epsg(179.9, 1.0) == 32660 and utm_epsg(-180.0, 1.0) == 32601
