"""A local STAC catalog served over HTTP from the test itself (loopback only, no internet).

``stac_site`` writes, with pystac, a static catalog of Sentinel-2 L2A items whose band
assets (blue, green, red, nir) are COGs of seeded synthetic scenes, and serves its folder
on 127.0.0.1 with HTTP range requests (what GDAL's /vsicurl/ needs to read COG windows).
The same server answers a minimal STAC API item search (``/api``) over the same items.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.warp import transform_bounds

CRS = "EPSG:32631"
ORIGIN = (399960.0, 5000040.0)  # a Sentinel-2 tile corner (31TCJ area), 10 m pixels
SIZE = 512  # px a side of every item's grid
KEYS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}


@dataclass
class ItemSpec:
    id: str
    date: str
    cloud: float
    seed: int
    collection: str = "sentinel-2-l2a"
    props: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()  # asset keys left out of the item
    missing_files: tuple[str, ...] = ()  # asset keys whose file is not on the server (HTTP 404)
    image: Path | None = None  # a real 4-band B2,B3,B4,B8 GeoTIFF (shared data) instead of a synthetic scene


ITEMS = [
    ItemSpec("S2A_31TCJ_20230605_0_L2A", "2023-06-05T10:56:21Z", 42.0, 1,
             props={"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}),
    ItemSpec("S2B_31TCJ_20230610_0_L2A", "2023-06-10T10:56:19Z", 3.5, 2,
             props={"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": False}),
    ItemSpec("S2B_31TCJ_20230720_0_L2A", "2023-07-20T10:56:19Z", 0.5, 3,  # outside June
             props={"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}),
    ItemSpec("S2B_MSIL1C_20230611", "2023-06-11T10:56:19Z", 0.0, 4, collection="sentinel-2-l1c",
             props={"s2:processing_baseline": "05.09"}),
]


@dataclass
class StacSite:
    root: Path  # served folder
    url: str  # http://127.0.0.1:PORT
    data: dict[str, np.ndarray]  # item id -> (4, SIZE, SIZE) uint16 B2,B3,B4,B8 as stored in its assets
    requests: list[tuple[str, str]]  # (path, Range header) of every GET

    @property
    def catalog(self) -> str:
        return f"{self.url}/catalog.json"

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    def bytes_read(self, name: str) -> int:
        """Bytes the server sent for files named ``name`` (from the Range headers; whole file when none)."""
        total = 0
        for path, rng in self.requests:
            if path.endswith(name):
                if rng.startswith("bytes="):
                    a, b = rng[6:].split("-")
                    total += int(b) - int(a) + 1
                else:
                    total += (self.root / path.lstrip("/")).stat().st_size
        return total


def scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(SIZE, SIZE)).cumsum(axis=0).cumsum(axis=1)
    base = (base - base.min()) / np.ptp(base)
    low = np.array([1100, 1300, 1200, 2500])[:, None, None]  # L2A DNs with the +1000 offset in them
    img = low + np.array([900, 1100, 1500, 2500])[:, None, None] * base + rng.integers(0, 80, (4, SIZE, SIZE))
    img = img.astype(np.uint16)
    img[:, :3, :] = 0  # a nodata strip along the top, as at a swath edge
    return img


DEFAULT_GRID = (CRS, Affine(10.0, 0, ORIGIN[0], 0, -10.0, ORIGIN[1]))


def write_cog(path: Path, band: np.ndarray, grid: tuple[Any, Affine] = DEFAULT_GRID) -> None:
    crs, t = grid
    h, w = band.shape
    with rasterio.MemoryFile() as mem:
        with mem.open(driver="GTiff", width=w, height=h, count=1, dtype="uint16", crs=crs, transform=t,
                      nodata=0) as ds:
            ds.write(band[None])
        rasterio.shutil.copy(mem.name, str(path), driver="COG", BLOCKSIZE=128, COMPRESS="DEFLATE",
                             OVERVIEWS="NONE")


def _item_data(sp: ItemSpec) -> tuple[np.ndarray, tuple[Any, Affine]]:
    if sp.image is None:
        return scene(sp.seed), DEFAULT_GRID
    with rasterio.open(sp.image) as ds:
        return ds.read(), (ds.crs, ds.transform)


def _lonlat_box(img: np.ndarray, grid: tuple[Any, Affine]) -> tuple[float, float, float, float]:
    crs, t = grid
    h, w = img.shape[1:]
    return transform_bounds(crs, "EPSG:4326", t.c, t.f + t.e * h, t.c + t.a * w, t.f)


def build_catalog(root: Path, specs: list[ItemSpec]) -> dict[str, np.ndarray]:
    import pystac

    cat = pystac.Catalog(id="local-s2", description="Sentinel-2 items made by the test (synthetic scenes)")
    cols: dict[str, pystac.Collection] = {}
    data, grids = {}, {}
    for sp in specs:
        data[sp.id], grids[sp.id] = _item_data(sp)
        w, s, e, n = _lonlat_box(data[sp.id], grids[sp.id])
        geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        if sp.collection not in cols:
            ext = pystac.Extent(pystac.SpatialExtent([[w, s, e, n]]), pystac.TemporalExtent([[None, None]]))
            cols[sp.collection] = pystac.Collection(id=sp.collection, description=sp.collection, extent=ext)
            cat.add_child(cols[sp.collection])
        props = {"eo:cloud_cover": sp.cloud, "platform": "sentinel-2b", **sp.props}
        item = pystac.Item(id=sp.id, geometry=geom, bbox=[w, s, e, n],
                           datetime=datetime.fromisoformat(sp.date.replace("Z", "+00:00")), properties=props)
        cols[sp.collection].add_item(item)
    cat.normalize_hrefs(str(root))
    for sp in specs:
        item = cols[sp.collection].get_item(sp.id)
        folder = Path(item.get_self_href()).parent
        folder.mkdir(parents=True, exist_ok=True)
        img = data[sp.id]
        for i, (key, band) in enumerate(KEYS.items()):
            if key in sp.drop:
                continue
            if key not in sp.missing_files:
                write_cog(folder / f"{band}.tif", img[i], grids[sp.id])
            item.add_asset(key, pystac.Asset(href=str(folder / f"{band}.tif"),
                                             media_type=pystac.MediaType.COG, roles=["data"],
                                             extra_fields={"eo:bands": [{"name": band, "common_name": key}]}))
    cat.make_all_asset_hrefs_relative()
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return data


class _Handler(SimpleHTTPRequestHandler):
    """Static files with single byte ranges, plus a tiny STAC API item search under /api."""

    site: StacSite

    def log_message(self, *args: Any) -> None:  # quiet: the test asserts on self.site.requests
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.site.requests.append((self.path, self.headers.get("Range", "")))
        url = urlparse(self.path)
        if url.path.rstrip("/") == "/api":
            return self._json(_landing(self.site.url))
        if url.path == "/api/search":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            return self._json(_search(self.site, q))
        rng = self.headers.get("Range", "")
        path = Path(self.translate_path(url.path))
        if rng.startswith("bytes=") and path.is_file():
            return self._range(path, rng)
        return super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        self.site.requests.append((self.path, "POST"))
        q = {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in body.items()}
        self._json(_search(self.site, q))

    def _range(self, path: Path, rng: str) -> None:
        size = path.stat().st_size
        a, _, b = rng[6:].partition("-")
        start, end = int(a), min(int(b) if b else size - 1, size - 1)
        with open(path, "rb") as f:
            f.seek(start)
            chunk = f.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(chunk)

    def _json(self, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _landing(base: str) -> dict[str, Any]:
    return {"type": "Catalog", "id": "local-api", "description": "test STAC API", "stac_version": "1.0.0",
            "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"],
            "links": [{"rel": "self", "href": f"{base}/api"}, {"rel": "root", "href": f"{base}/api"},
                      {"rel": "search", "href": f"{base}/api/search", "type": "application/geo+json",
                       "method": "GET"},
                      {"rel": "search", "href": f"{base}/api/search", "type": "application/geo+json",
                       "method": "POST"}]}


def _search(site: StacSite, q: dict[str, Any]) -> dict[str, Any]:
    """Server-side filter of the catalog's items by collections, bbox and datetime (the API's job)."""
    feats = []
    cols = set(str(q["collections"]).split(",")) if q.get("collections") else None
    bbox = [float(v) for v in str(q["bbox"]).split(",")] if q.get("bbox") else None
    start, end = (str(q.get("datetime", "../..")).split("/") + [".."])[:2]
    for f in sorted(site.root.rglob("*.json")):
        doc = json.loads(f.read_text())
        if doc.get("type") != "Feature" or (cols and doc.get("collection") not in cols):
            continue
        b, t = doc["bbox"], _t(doc["properties"]["datetime"])
        if bbox and not (b[0] < bbox[2] and bbox[0] < b[2] and b[1] < bbox[3] and bbox[1] < b[3]):
            continue
        if (start not in ("", "..") and t < _t(start)) or (end not in ("", "..") and t > _t(end)):
            continue
        rel = f.parent.relative_to(site.root)
        for a in doc["assets"].values():  # absolute hrefs, as an API gives them
            a["href"] = f"{site.url}/{rel}/{a['href'].removeprefix('./')}"
        doc["links"] = [{"rel": "self", "href": f"{site.url}/{f.relative_to(site.root)}"}]
        feats.append(doc)
    return {"type": "FeatureCollection", "features": feats, "links": []}


def _t(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@pytest.fixture
def serve_folder() -> Iterator[Callable[[Path, dict[str, np.ndarray]], StacSite]]:
    """Factory: serve a folder on 127.0.0.1 (a free port) for the test; stopped at teardown."""
    servers: list[ThreadingHTTPServer] = []

    def _serve(root: Path, data: dict[str, np.ndarray]) -> StacSite:
        site = StacSite(root, "", data, [])
        handler = type("Handler", (_Handler,), {"site": site})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
        site.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return site

    yield _serve
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def stac_site(tmp_path: Path, serve_folder: Callable[..., StacSite]) -> StacSite:
    """The default local catalog (see ITEMS) served over HTTP."""
    root = tmp_path / "stac"
    return serve_folder(root, build_catalog(root, ITEMS))


@pytest.fixture
def make_stac_site(tmp_path: Path, serve_folder: Callable[..., StacSite]) -> Callable[..., StacSite]:
    """Factory ``make_stac_site([dict(id=, date=, cloud=, seed=, ...), ...])``: a served catalog of other
    items (the keys of :class:`ItemSpec`)."""

    def _make(specs: list[dict[str, Any]]) -> StacSite:
        root = tmp_path / "stac-custom"
        return serve_folder(root, build_catalog(root, [ItemSpec(**s) for s in specs]))

    return _make


@pytest.fixture
def closed_port_url() -> str:
    """An http://127.0.0.1 URL where nothing listens (a port bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/catalog.json"
