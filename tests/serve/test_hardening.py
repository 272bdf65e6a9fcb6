"""The tile server under load and attack (issue 11, items 16-18): bounded caches and readers,
keep-alive connections kept, 0 errors at 64 concurrent clients, Host check, nosniff, CSP, HEAD."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import morecantile
import pytest
from fastapi.testclient import TestClient

from s2sr.serve.app import create_app, free_port
from s2sr.serve.config import config_from_options

from .conftest import live_server, local_client

TMS = morecantile.tms.get("WebMercatorQuad")


def _cfg(serve_data, **kw):
    return config_from_options([str(serve_data.sr)], [str(serve_data.lr)], [str(serve_data.footprint)],
                               [str(serve_data.model)], **kw)


def _tile_urls(base: str, layers: list[dict], n_per_layer: int) -> list[str]:
    urls = []
    for la in layers:
        w, s, e, nn = la["bounds"]
        tiles = list(TMS.tiles(w, s, e, nn, [la["maxzoom"]]))[:n_per_layer]
        urls += [f"{base}/tiles/{la['scene']}/{la['id']}/{t.z}/{t.x}/{t.y}.png" for t in tiles]
    return urls


# ---- item 16: bounded GDAL cache and reader pool -------------------------------------------------

def test_gdal_block_cache_is_bounded(serve_data) -> None:
    """GDAL's default cache (5 % of RAM) let the server grow to 2.7 GB; create_app caps it at 64 MB."""
    from s2sr.io.native import rasterio_library
    from s2sr.serve.limits import GDAL_CACHE_MB

    create_app(_cfg(serve_data))
    lib = rasterio_library("gdal")
    assert lib is not None
    lib.GDALGetCacheMax64.restype = ctypes.c_int64
    assert lib.GDALGetCacheMax64() == GDAL_CACHE_MB * 2**20


def test_readers_and_render_threads_are_bounded_under_concurrency(serve_data) -> None:
    """A reader per file and per worker thread (up to 40 threads) was opened and kept; now at most
    tile_threads() readers per file and as many render threads, whatever the concurrency."""
    from s2sr.serve.limits import tile_threads
    from s2sr.serve.tiles import POOL

    before = {t.ident for t in threading.enumerate()}
    app = create_app(_cfg(serve_data))
    with live_server(app) as base:
        urls = _tile_urls(base, httpx.get(base + "/layers").json(), 40) * 2

        async def hit() -> list[int]:
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as c:
                return [r.status_code for r in await asyncio.gather(*(c.get(u) for u in urls))]

        codes = asyncio.run(hit())
        render = [t for t in threading.enumerate() if t.name.startswith("s2sr-tile") and t.ident not in before]
    assert set(codes) <= {200, 204} and codes.count(200) > len(codes) // 2
    assert 0 < len(render) <= tile_threads()
    for f in (serve_data.sr, serve_data.lr):
        assert 0 < POOL.open_count(f) <= tile_threads()


def test_render_threads_hold_one_gdal_env(serve_data) -> None:
    """Each rasterio call on a render thread started and stopped its own GDAL environment (driver
    re-registration, process-wide options set and cleared) while other threads encoded tiles: once a
    PNG encode failed in CI. The tile threads now hold one environment for their life."""
    import rasterio.env

    app = create_app(_cfg(serve_data))
    futures = [app.state.tile_executor.submit(rasterio.env.hasenv) for _ in range(8)]
    assert [f.result(10) for f in futures] == [True] * 8
    assert not rasterio.env.hasenv()  # the calling thread is left as it was
    app.state.tile_executor.shutdown()


def test_a_tile_that_fails_answers_500_naming_it(serve_data, monkeypatch) -> None:
    """An error while rendering escaped the route: uvicorn closed the connection without an answer
    (the client saw httpx.ReadError). It is now a 500 naming the tile and file; other tiles still work."""
    import s2sr.serve.app as app_module

    real = app_module.render_tile

    def flaky(layer, z, x, y, *a):
        if (x + y) % 2:
            raise RuntimeError("PNG driver could not encode")
        return real(layer, z, x, y, *a)

    monkeypatch.setattr(app_module, "render_tile", flaky)
    app = create_app(_cfg(serve_data))
    with live_server(app) as base, httpx.Client(timeout=30) as c:
        urls = _tile_urls(base, [la for la in c.get(base + "/layers").json() if la["id"] == "sr_rgb"], 6)
        answers = [c.get(u) for u in urls]
    bad = [(u, r) for u, r in zip(urls, answers, strict=True) if r.status_code == 500]
    assert bad and len(bad) < len(urls)
    assert all(r.status_code in (200, 204) for r in answers if r.status_code != 500)
    u, r = bad[0]
    tile = "/".join(u.split("/")[-5:])
    assert r.json()["detail"] == (f"tile {tile} of {serve_data.sr.name} could not be rendered: "
                                  "RuntimeError: PNG driver could not encode")


def test_far_zoomed_out_tiles_do_not_hold_a_render_thread(serve_data) -> None:
    """A tile 14 levels above the data (z=1 here) took minutes to warp; with a bounded number of render
    threads a few such requests would stall the server. They answer 204 (the layer is < 1 px there)."""
    app = create_app(_cfg(serve_data))
    with live_server(app) as base:
        layer = httpx.get(base + "/layers").json()[0]
        w, s, e, n = layer["bounds"]
        for z in range(1, layer["minzoom"] - 4):
            t = TMS.tile((w + e) / 2, (s + n) / 2, z)
            r = httpx.get(f"{base}/tiles/sr/sr_rgb/{z}/{t.x}/{t.y}.png", timeout=20)
            assert r.status_code == 204, z
        z = layer["minzoom"] - 4
        t = TMS.tile((w + e) / 2, (s + n) / 2, z)
        assert httpx.get(f"{base}/tiles/sr/sr_rgb/{z}/{t.x}/{t.y}.png", timeout=20).status_code == 200


# ---- item 17: keep-alive and 64 concurrent clients ------------------------------------------------

@pytest.fixture(scope="module")
def cli_server(serve_data, tmp_path_factory) -> Iterator[str]:
    """`s2sr serve` as users start it (uvicorn settings included), in its own process."""
    port = free_port("127.0.0.1")
    log = tmp_path_factory.mktemp("cli") / "serve.log"
    cmd = [sys.executable, "-m", "s2sr", "-q", "serve", "--sr", str(serve_data.sr), "--lr", str(serve_data.lr),
           "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)


def _request(sock: socket.socket, port: int, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head


def test_idle_keep_alive_connection_survives_six_seconds(cli_server) -> None:
    """uvicorn closed idle connections after 5 s while clients still held them: requests sent on a
    connection the server was closing failed (ReadError). The server now keeps them 75 s."""
    port = int(cli_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        assert _request(s, port, "/healthz").startswith(b"HTTP/1.1 200")
        time.sleep(6)
        assert _request(s, port, "/healthz").startswith(b"HTTP/1.1 200")


def test_64_concurrent_keep_alive_clients_get_no_error(cli_server) -> None:
    layers = httpx.get(cli_server + "/layers").json()
    urls = _tile_urls(cli_server, layers, 30) * 4

    async def hit() -> list[str]:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=60)
        async with httpx.AsyncClient(timeout=120, limits=limits) as c:
            sem = asyncio.Semaphore(64)

            async def one(u: str) -> str:
                async with sem:
                    try:
                        return str((await c.get(u)).status_code)
                    except httpx.HTTPError as e:
                        return type(e).__name__

            return list(await asyncio.gather(*(one(u) for u in urls)))

    codes = asyncio.run(hit())
    assert set(codes) <= {"200", "204"}, {c: codes.count(c) for c in set(codes)}


# ---- item 18: Host check, nosniff, CSP, HEAD -------------------------------------------------------

@pytest.fixture(scope="module")
def app(serve_data):
    return create_app(_cfg(serve_data))


def test_foreign_host_is_refused_and_never_echoed(app) -> None:
    """DNS rebinding: `Host: evil.example` was answered and echoed into the /layers tile URLs."""
    for path in ("/layers", "/", "/healthz", "/tiles/sr/sr_rgb/0/0/0.png"):
        r = TestClient(app, base_url="http://evil.example").get(path)
        assert r.status_code == 400, path
        assert "evil.example" not in r.text.split("'")[0] and r.headers["x-content-type-options"] == "nosniff"
    r = TestClient(app).get("/layers", headers={"host": "evil.example:8000"})
    assert r.status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000"])
def test_loopback_names_are_served(app, host) -> None:
    r = TestClient(app).get("/layers", headers={"host": host})
    assert r.status_code == 200
    assert r.json()[0]["tiles"].startswith(f"http://{host}/tiles/")


def test_allowed_host_names() -> None:
    from s2sr.serve.hosts import allowed_hosts, host_of

    assert allowed_hosts("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("127.0.0.1", ["Map.Example"]) >= {"map.example"}
    every = allowed_hosts("0.0.0.0")
    assert {"127.0.0.1", "localhost", socket.gethostname().lower()} <= every
    assert "evil.example" not in every
    assert host_of("[::1]:8000") == "::1" and host_of("Name:80") == "name" and host_of("::1") == "::1"


def test_allow_host_option(serve_data) -> None:
    client = TestClient(create_app(_cfg(serve_data, allow_hosts=["map.example"])), base_url="http://map.example")
    assert client.get("/healthz").status_code == 200


def test_nosniff_on_every_answer_and_frame_ancestors_in_csp(app) -> None:
    c = local_client(app)
    for path, status in (("/", 200), ("/layers", 200), ("/static/leaflet/leaflet.js", 200), ("/nope", 404),
                         ("/tiles/sr/sr_rgb/25/0/0.png", 400), ("/tiles/sr/sr_rgb/a/0/0.png", 422),
                         ("/tiles/sr/sr_rgb/1/1/0.png", 204)):
        r = c.get(path)
        assert r.status_code == status, path
        assert r.headers["x-content-type-options"] == "nosniff", path
    assert "frame-ancestors 'none'" in c.get("/").headers["content-security-policy"]


def test_head_on_page_and_tiles(app, serve_data) -> None:
    """HEAD / and HEAD on a tile answered 405."""
    with live_server(app) as base:
        layer = httpx.get(base + "/layers").json()[0]
        url = _tile_urls(base, [layer], 1)[0]
        for path, ctype in (("/", "text/html; charset=utf-8"), (url[len(base):], "image/png")):
            get, head = httpx.get(base + path), httpx.head(base + path)
            assert head.status_code == get.status_code == 200, path
            assert head.headers["content-type"] == ctype and head.content == b""
            assert head.headers["x-content-type-options"] == "nosniff"
        assert httpx.head(base + "/tiles/sr/sr_rgb/1/1/0.png").status_code == 204


def test_layers_name_the_host_that_was_asked(serve_data) -> None:
    """The tile URLs use the Host only once it has been checked (here a loopback alias)."""
    app = create_app(_cfg(serve_data))
    with live_server(app) as base:
        port = base.rsplit(":", 1)[1]
        r = httpx.get(f"http://localhost:{port}/layers")
        assert r.status_code == 200 and r.json()[0]["tiles"].startswith(f"http://localhost:{port}/tiles/")
        bad = httpx.get(base + "/layers", headers={"host": f"evil.example:{port}"})
        assert bad.status_code == 400 and "tiles" not in bad.text


