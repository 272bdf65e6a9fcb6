"""Find Sentinel-2 items over a box and a time range in a STAC API or a static STAC catalog.

A root whose ``conformsTo`` includes STAC item search is searched by the server
(pystac-client); any other root (a static ``catalog.json``, local or served over HTTP) is
walked with pystac and filtered here, by collection, box, time and cloud cover, the same
way. The least cloudy item wins; ties go to the most recent, then to the smallest id.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from s2sr.errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import pystac

log = logging.getLogger(__name__)

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
DEFAULT_COLLECTION = "sentinel-2-l2a"
ROOT_TIMEOUT_S = 30
MAX_ITEMS = 1000  # server-side search cap (about 7 years of one tile at a 5-day revisit, two orbits)


@dataclass(frozen=True)
class Query:
    """What to look for: a lon/lat box, a time range, a collection and a cloud cover limit (%)."""

    bbox: tuple[float, float, float, float]  # west, south, east, north (degrees, WGS 84)
    datetime: str  # "A/B", open ends as "..", or one date
    collection: str | None = DEFAULT_COLLECTION
    max_cloud: float = 100.0


def parse_bbox(spec: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` in degrees -> a checked tuple."""
    try:
        w, s, e, n = (float(v) for v in spec.split(","))
    except ValueError:
        raise ConfigError(f"--bbox {spec!r}: expected 4 comma-separated numbers W,S,E,N in degrees "
                          "(longitude, latitude), e.g. --bbox 2.25,48.81,2.42,48.90") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ConfigError(f"--bbox {spec!r}: need -180 <= W < E <= 180 and -90 <= S < N <= 90 (degrees, W,S,E,N)")
    return w, s, e, n


def place_bbox(path: str) -> tuple[float, float, float, float]:
    """The lon/lat bounds of every geometry of a GeoJSON file (``--place-geojson``)."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--place-geojson {path}: file not found; pass a GeoJSON file (WGS 84 lon/lat)")
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"--place-geojson {path}: not JSON ({e}); pass a GeoJSON file") from None
    crs = ((doc.get("crs") or {}).get("properties") or {}).get("name", "") if isinstance(doc, dict) else ""
    if crs and not any(k in crs.upper() for k in ("CRS84", "4326")):
        raise ConfigError(f"--place-geojson {path}: CRS {crs}; GeoJSON must be WGS 84 lon/lat (ogr2ogr -t_srs EPSG:4326)")
    xs: list[float] = []
    ys: list[float] = []
    _coords(doc, xs, ys)
    if not xs:
        raise ConfigError(f"--place-geojson {path}: no coordinates; pass a GeoJSON Feature(Collection) or geometry")
    return parse_bbox(f"{min(xs)},{min(ys)},{max(xs)},{max(ys)}")


def _coords(obj: Any, xs: list[float], ys: list[float]) -> None:
    if isinstance(obj, dict):
        if "coordinates" in obj:
            _flat(obj["coordinates"], xs, ys)
        for key in ("features", "geometries"):
            for sub in obj.get(key) or []:
                _coords(sub, xs, ys)
        if obj.get("geometry"):
            _coords(obj["geometry"], xs, ys)


def _flat(c: Any, xs: list[float], ys: list[float]) -> None:
    if isinstance(c, list | tuple) and len(c) >= 2 and all(isinstance(v, int | float) for v in c[:2]):
        xs.append(float(c[0]))
        ys.append(float(c[1]))
    elif isinstance(c, list | tuple):
        for sub in c:
            _flat(sub, xs, ys)


def parse_interval(spec: str) -> tuple[datetime | None, datetime | None]:
    """``"2023-06-01/2023-06-30"`` (dates or RFC 3339 times, ``..`` for an open end; one date = that day)
    -> aware UTC bounds, both inclusive (a date as end means the end of that day)."""
    parts = spec.split("/")
    if len(parts) == 1:
        parts = [parts[0], parts[0]]
    if len(parts) != 2:
        raise ConfigError(f"--datetime {spec!r}: expected START/END, e.g. 2023-06-01/2023-08-31 ('..' for open)")
    start, end = (_when(p, spec, end=i == 1) for i, p in enumerate(parts))
    if start and end and start > end:
        raise ConfigError(f"--datetime {spec!r}: the start is after the end")
    return start, end


def _when(s: str, spec: str, end: bool) -> datetime | None:
    s = s.strip()
    if s in ("", ".."):
        return None
    try:
        if len(s) == 10:
            d = datetime.fromisoformat(s)
            return datetime.combine(d.date(), time.max if end else time.min, tzinfo=UTC)
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"--datetime {spec!r}: {s!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None


def api_datetime(spec: str) -> str:
    """The ``--datetime`` range in the form STAC APIs take (dates become whole days, UTC)."""
    start, end = parse_interval(spec)
    return "/".join(t.isoformat().replace("+00:00", "Z") if t else ".." for t in (start, end))


def find_items(stac: str, q: Query) -> list[pystac.Item]:
    """Items of ``q.collection`` over ``q.bbox`` in ``q.datetime`` with cloud cover <= ``q.max_cloud``."""
    root = _read_root(stac)
    items = _search_api(stac, q) if _is_api(root) else _walk_static(stac, q)
    clouds = [_cloud(it) for it in items]
    # items without eo:cloud_cover only pass without a cloud limit (and rank last)
    keep = [it for it, c in zip(items, clouds, strict=True)
            if (c is None and q.max_cloud >= 100) or (c is not None and c <= q.max_cloud)]
    log.info("%s: %d item(s) of %s over %s in %s, %d with cloud cover <= %g %%", stac, len(items),
             q.collection or "any collection", ",".join(f"{v:g}" for v in q.bbox), q.datetime, len(keep), q.max_cloud)
    return sorted(keep, key=_rank)


def _rank(it: pystac.Item) -> tuple[float, float, str]:
    c = _cloud(it)
    t = it.datetime or it.common_metadata.start_datetime
    return (c if c is not None else math.inf, -(t.timestamp() if t else 0.0), it.id)


def _cloud(it: pystac.Item) -> float | None:
    v = it.properties.get("eo:cloud_cover")
    return float(v) if isinstance(v, int | float) else None


def _read_root(url: str) -> dict[str, Any]:
    """The root document, read once without retries (a dead endpoint fails at once, in one line)."""
    import urllib.error
    import urllib.request
    from pathlib import Path

    try:
        if url.startswith(("http://", "https://")):
            with urllib.request.urlopen(url, timeout=ROOT_TIMEOUT_S) as r:  # noqa: S310 (the user's --stac URL)
                text = r.read().decode()
        else:
            text = Path(url.removeprefix("file://")).read_text()
        doc = json.loads(text)
    except urllib.error.HTTPError as e:
        raise InputError(f"{url}: the STAC endpoint answers HTTP {e.code} ({e.reason}); check --stac") from None
    except OSError as e:
        raise InputError(f"{url}: cannot reach the STAC endpoint ({_reason(e)}); check --stac and the network") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{url}: not a STAC JSON document; pass a STAC API root or a catalog.json") from None
    if not isinstance(doc, dict):
        raise InputError(f"{url}: not a STAC JSON document; pass a STAC API root or a catalog.json")
    return doc


def _reason(e: BaseException) -> str:
    r = getattr(e, "reason", None) or e
    return (str(r).splitlines() or [type(e).__name__])[0]


def _is_api(root: dict[str, Any]) -> bool:
    return any("item-search" in str(c) for c in root.get("conformsTo") or [])


def _search_api(url: str, q: Query) -> list[pystac.Item]:
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    try:
        client = Client.open(url)
        search = client.search(collections=[q.collection] if q.collection else None, bbox=list(q.bbox),
                               datetime=api_datetime(q.datetime), max_items=MAX_ITEMS)
        items = list(search.items())
    except (OSError, APIError) as e:
        raise InputError(f"{url}: the STAC search failed ({_reason(e)}); check --stac, --collection and the "
                         "network") from None
    if len(items) >= MAX_ITEMS:
        log.warning("%s: search stopped at %d items; narrow --datetime or --bbox", url, MAX_ITEMS)
    return items


def _walk_static(url: str, q: Query) -> list[pystac.Item]:
    import pystac
    from urllib3.exceptions import HTTPError as Urllib3Error

    start, end = parse_interval(q.datetime)
    try:
        cat = pystac.Catalog.from_file(url)
        items = list(cat.get_items(recursive=True))
    except (OSError, Urllib3Error, pystac.STACError, KeyError, ValueError) as e:
        raise InputError(f"{url}: cannot read the static catalog ({_reason(e)}); check its links") from None
    log.info("%s: static catalog (no item search): %d item(s) filtered here", url, len(items))
    return [it for it in items if _matches(it, q, start, end)]


def _matches(it: pystac.Item, q: Query, start: datetime | None, end: datetime | None) -> bool:
    if q.collection and it.collection_id != q.collection:
        return False
    if it.bbox is None or not _overlaps(it.bbox, q.bbox):
        return False
    t0 = it.datetime or it.common_metadata.start_datetime
    t1 = it.datetime or it.common_metadata.end_datetime
    if t0 is None or t1 is None:
        return False
    return (end is None or t0 <= end) and (start is None or t1 >= start)


def _overlaps(a: list[float], b: tuple[float, float, float, float]) -> bool:
    w, s, e, n = (a[0], a[1], a[3], a[4]) if len(a) == 6 else a[:4]
    return w < b[2] and b[0] < e and s < b[3] and b[1] < n
