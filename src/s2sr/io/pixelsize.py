"""A raster's pixel size in metres on the ground, whatever its CRS.

Projected CRS in metres (UTM...): the transform's pixel size, exactly. Other CRS (geographic
lon/lat in degrees, Web Mercator, feet...): the image-centre pixel's sides are taken to
longitude/latitude and measured on the WGS84 ellipsoid (local radii of curvature), which is good
to well under 1 % over one pixel. No CRS: unknown (None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS

WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3
_METRE = ("metre", "meter", "m", "metres", "meters")


@dataclass(frozen=True)
class PixelSize:
    """Pixel width and height in metres; ``exact`` is False for the ellipsoid approximation."""

    x: float
    y: float
    exact: bool

    @property
    def mean(self) -> float:
        """Side of the square pixel of the same area (what a model's pixel size is compared with)."""
        return math.sqrt(self.x * self.y)

    def describe(self) -> str:
        size = f"{self.x:.3g} m" if abs(self.x / self.y - 1) < 0.01 else f"{self.x:.3g} x {self.y:.3g} m"
        return size if self.exact else f"about {size}"


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(east-west, north-south) metres per degree of longitude/latitude at latitude ``lat`` on WGS84."""
    phi = math.radians(lat)
    w = 1.0 - WGS84_E2 * math.sin(phi) ** 2
    n = WGS84_A / math.sqrt(w)  # prime vertical radius
    m = WGS84_A * (1.0 - WGS84_E2) / w**1.5  # meridional radius
    return math.radians(1.0) * n * math.cos(phi), math.radians(1.0) * m


def pixel_size_m(crs: CRS | None, transform: Affine, width: int, height: int) -> PixelSize | None:
    """Pixel size in metres of a ``width`` x ``height`` grid (None without a CRS or when it cannot be told)."""
    if crs is None or not (crs.is_projected or crs.is_geographic):
        return None  # no CRS, or a local/engineering one that cannot be put on the globe
    if crs.is_projected and (crs.linear_units or "").lower() in _METRE and not _is_mercator(crs):
        return PixelSize(math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e), True)
    c, r = width / 2.0, height / 2.0
    pts = [transform @ (c, r), transform @ (c + 1, r), transform @ (c, r + 1)]
    if crs.is_geographic:
        lon, lat = [p[0] for p in pts], [p[1] for p in pts]
    else:
        from rasterio._err import CPLE_BaseError
        from rasterio.errors import CRSError
        from rasterio.warp import transform as warp

        try:
            lon, lat = warp(crs, "EPSG:4326", [p[0] for p in pts], [p[1] for p in pts])
        except (CRSError, CPLE_BaseError):  # no known way to longitude/latitude: size unknown
            return None
    if not all(map(math.isfinite, [*lon, *lat])):
        return None
    kx, ky = metres_per_degree(lat[0])

    def side(i: int) -> float:
        return math.hypot((lon[i] - lon[0]) * kx, (lat[i] - lat[0]) * ky)

    return PixelSize(side(1), side(2), False)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat), e.g. 32631."""
    zone = min(60, max(1, int((lon + 180.0) // 6) + 1))
    return (32600 if lat >= 0 else 32700) + zone


def _is_mercator(crs: CRS) -> bool:
    """Mercator CRS (Web Mercator...): metres on the map, scale 1/cos(latitude) on the ground."""
    return crs.to_dict().get("proj") == "merc"
