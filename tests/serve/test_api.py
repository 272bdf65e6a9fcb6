"""HTTP API of `s2sr serve` on tiny seeded COGs: layers, tiles, nodata alpha, bad coordinates."""

from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Transformer

from s2sr.serve.app import create_app
from s2sr.serve.config import config_from_options

from .conftest import CRS, NODATA_COLS, ORIGIN, SR_RES, local_client

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def client(serve_data) -> TestClient:
    cfg = config_from_options([str(serve_data.sr)], [str(serve_data.lr)], [str(serve_data.footprint)],
                              [str(serve_data.model)])
    return local_client(create_app(cfg))


def centre_tile(layer: dict, z: int) -> morecantile.Tile:
    w, s, e, n = layer["bounds"]
    return TMS.tile((w + e) / 2, (s + n) / 2, z)


def decode(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def test_layers_are_absolute_xyz_templates(client: TestClient) -> None:
    layers = client.get("/layers").json()
    assert [la["name"] for la in layers] == [
        "S2 RGB (High-Res)", "S2 RGB (original 10 m)", "S2 false colour (High-Res)", "SR confidence"]
    sr = layers[0]
    assert sr["tiles"] == "http://127.0.0.1/tiles/sr/sr_rgb/{z}/{x}/{y}.png"
    assert sr["bands"] == [3, 2, 1] and layers[2]["bands"] == [4, 3, 2]
    # SR and original share the original's stretch, so a swipe compares like with like
    assert sr["rescale"] == layers[1]["rescale"]
    west, south, east, north = sr["bounds"]
    tr = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon0, lat1 = tr.transform(*ORIGIN)
    assert west == pytest.approx(lon0, abs=1e-6) and north == pytest.approx(lat1, abs=1e-4)
    assert south < north and west < east
    assert 0 <= sr["minzoom"] <= sr["maxzoom"] <= 24
    t = centre_tile(sr, sr["maxzoom"])
    r = client.get(sr["tiles"].format(z=t.z, x=t.x, y=t.y))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert decode(r.content).shape == (256, 256, 4)


def test_default_stretch_is_2_98_percent_of_the_original(client: TestClient, serve_data) -> None:
    import rasterio

    with rasterio.open(serve_data.lr) as ds:
        lr = ds.read()
    valid = np.all(lr != 0, axis=0)
    rescale = client.get("/layers").json()[0]["rescale"]
    for (lo, hi), band in zip(rescale, (3, 2, 1), strict=True):
        want = np.percentile(lr[band - 1][valid], [2, 98])
        assert (lo, hi) == pytest.approx(tuple(want), abs=1e-2)


def _pixel_centres_utm(t: morecantile.Tile) -> tuple[np.ndarray, np.ndarray]:
    b = TMS.xy_bounds(t)
    step = (b.right - b.left) / 256
    xs = b.left + (np.arange(256) + 0.5) * step
    ys = b.top - (np.arange(256) + 0.5) * step
    gx, gy = np.meshgrid(xs, ys)
    tr = Transformer.from_crs("EPSG:3857", CRS, always_xy=True)
    return tr.transform(gx, gy)


def test_alpha_is_transparent_over_nodata_and_outside(client: TestClient) -> None:
    sr = client.get("/layers").json()[0]
    west, south, east, north = sr["bounds"]
    t = TMS.tile(west + 0.0005, (south + north) / 2, sr["maxzoom"])  # over the nodata strip
    r = client.get(f"/tiles/sr/sr_rgb/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200
    alpha = decode(r.content)[..., 3]
    ux, uy = _pixel_centres_utm(t)
    x_valid0 = ORIGIN[0] + NODATA_COLS * SR_RES
    y_min = ORIGIN[1] - 512 * SR_RES
    margin = 2 * SR_RES  # stay clear of pixel edges
    in_nodata = (ux > ORIGIN[0] + margin) & (ux < x_valid0 - margin) & (uy > y_min + margin)
    in_data = (ux > x_valid0 + margin) & (uy > y_min + margin) & (uy < ORIGIN[1] - margin)
    outside = ux < ORIGIN[0] - margin
    assert in_nodata.sum() > 1000 and in_data.sum() > 1000
    assert (alpha[in_nodata] == 0).all()
    assert (alpha[outside] == 0).all()
    assert (alpha[in_data] == 255).all()


@pytest.mark.parametrize(("layer", "bands"), [("sr_rgb", (3, 2, 1)), ("sr_false", (4, 3, 2)),
                                              ("lr_rgb", (3, 2, 1))])
def test_tile_colours_follow_band_mapping(client: TestClient, serve_data, layer: str, bands) -> None:
    sr = client.get("/layers").json()[0]
    t = centre_tile(sr, sr["minzoom"] - 1)  # one tile holds the whole image (read from overviews)
    r = client.get(f"/tiles/sr/{layer}/{t.z}/{t.x}/{t.y}.png?rescale=0,4000")
    img = decode(r.content)
    opaque = img[..., 3] == 255
    data = serve_data.sr_data.astype(float)
    valid = np.all(serve_data.sr_data != 0, axis=0)
    for ch, band in enumerate(bands):
        want = np.clip(data[band - 1][valid] / 4000 * 255, 0, 255).mean()
        assert img[..., ch][opaque].mean() == pytest.approx(want, abs=4)


def test_every_zoom_matches_the_source_pixels(client: TestClient, serve_data) -> None:
    """Each tile, from overviews at low zooms or full resolution at high ones, shows the source."""
    sr = client.get("/layers").json()[0]
    (lo, hi) = np.array(sr["rescale"]).T
    src = serve_data.sr_data[[2, 1, 0]].astype(float)
    for z in range(sr["minzoom"] - 2, sr["maxzoom"] + 3):
        t = centre_tile(sr, z)
        img = decode(client.get(f"/tiles/sr/sr_rgb/{t.z}/{t.x}/{t.y}.png").content).astype(float)
        ux, uy = _pixel_centres_utm(t)
        col = np.floor((ux - ORIGIN[0]) / SR_RES).astype(int)
        row = np.floor((ORIGIN[1] - uy) / SR_RES).astype(int)
        inside = (col >= NODATA_COLS) & (col < 512) & (row >= 0) & (row < 512) & (img[..., 3] == 255)
        want = np.clip((src[:, row[inside], col[inside]] - lo[:, None]) / (hi - lo)[:, None] * 255, 0, 255)
        got = img[..., :3][inside].T
        assert inside.sum() > 500, z
        assert np.abs(got.mean(axis=1) - want.mean(axis=1)).max() < 6, z
        if z >= sr["maxzoom"]:  # full resolution, nearest: pixel for pixel
            assert np.median(np.abs(got - want)) <= 1.0, z


def test_rescale_parameter(client: TestClient) -> None:
    sr = client.get("/layers").json()[0]
    t = centre_tile(sr, sr["maxzoom"])
    url = f"/tiles/sr/sr_rgb/{t.z}/{t.x}/{t.y}.png"
    dark = decode(client.get(url + "?rescale=0,65535").content)
    default = decode(client.get(url).content)
    assert dark[..., :3].mean() < 20 < default[..., :3].mean()
    per_band = client.get(url + "?rescale=0,65535&rescale=0,65535&rescale=0,65535")
    assert np.array_equal(decode(per_band.content), dark)
    for bad in ("5", "a,b", "9,1", "0,1&rescale=0,2"):
        r = client.get(url + "?rescale=" + bad)
        assert r.status_code == 400, bad
        assert "rescale" in r.json()["detail"]


def test_webp_tile(client: TestClient) -> None:
    sr = client.get("/layers").json()[0]
    t = centre_tile(sr, sr["maxzoom"])
    r = client.get(f"/tiles/sr/sr_rgb/{t.z}/{t.x}/{t.y}.webp")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert decode(r.content).shape == (256, 256, 4)


def test_tile_outside_data_is_204(client: TestClient) -> None:
    for path in ("/tiles/sr/sr_rgb/10/0/0.png", "/tiles/sr/lr_rgb/0/0/0.png".replace("0/0/0", "3/7/7")):
        r = client.get(path)
        assert r.status_code == 204 and r.content == b""


@pytest.mark.parametrize(("path", "status"), [
    ("/tiles/sr/sr_rgb/25/0/0.png", 400),
    ("/tiles/sr/sr_rgb/-1/0/0.png", 400),
    ("/tiles/sr/sr_rgb/3/8/0.png", 400),
    ("/tiles/sr/sr_rgb/3/0/8.png", 400),
    ("/tiles/sr/sr_rgb/3/-1/0.png", 400),
    ("/tiles/sr/sr_rgb/3/a/0.png", 422),
    ("/tiles/sr/sr_rgb/3/0/1.5.png", 422),
    ("/tiles/sr/sr_rgb/3.0/0/0.png", 422),
    ("/tiles/sr/sr_rgb/3/0/0.jpg", 404),
    ("/tiles/sr/nope/3/0/0.png", 404),
    ("/tiles/other/sr_rgb/3/0/0.png", 404),
])
def test_bad_tile_requests_are_4xx(client: TestClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


@pytest.mark.parametrize("path", [
    "/static/../../etc/passwd",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2fetc%2fpasswd",
    "/static/leaflet/../../../../../../etc/passwd",
    "/static/leaflet/%2e%2e%2f%2e%2e%2f%2e%2e%2fleaflet.js",
    "/static/s2sr/../../app.py",
    "/static//etc/passwd",
    "/static/leaflet.js.map",
    "/tiles/sr/sr_rgb%2f..%2f..%2fetc/1/1/1.png",
    "/tiles/sr/..%2F..%2Fsr.tif/1/1/1.png",
    "/tiles/..%2Fsr/sr_rgb/1/1/1.png",
    "/footprint/..%2Ffootprint.geojson",
    "/model/..%2F..%2Fbest.pt",
])
def test_traversal_is_rejected(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert 400 <= r.status_code < 500, path
    assert b"root:" not in r.content and b"import" not in r.content


def test_static_allow_list(client: TestClient) -> None:
    r = client.get("/static/leaflet/leaflet.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert b"Leaflet" in r.content[:2000]
    assert client.get("/static/leaflet/leaflet.css").headers["content-type"].startswith("text/css")
    img = client.get("/static/leaflet/images/layers.png")
    assert img.status_code == 200 and img.content[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("map.js", "swipe.js", "map.css"):
        assert client.get(f"/static/s2sr/{name}").status_code == 200


def test_page_uses_no_external_url(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert '<script src="/static/leaflet/leaflet.js">' in r.text
    for path in ("/", "/static/s2sr/map.js", "/static/s2sr/swipe.js", "/static/s2sr/map.css"):
        body = client.get(path).text
        assert "http://" not in body and "https://" not in body and "//cdn" not in body, path


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "version": "0.1.0", "scenes": 1}
