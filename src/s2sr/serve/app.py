"""The FastAPI app of ``s2sr serve``: map page, layer list, XYZ tiles, footprint, model card.

No URL reaches the file system: tile layers are looked up by (scene, layer id) in a dict
built at start, and static files come from a fixed allow-list (Leaflet from the installed
``django-js-lib-leaflet`` package, the page's own JS/CSS from ``s2sr/serve/static``).

Tiles outside a layer's data answer **204 No Content**; invalid tile coordinates answer 400
(422 when not integers); unknown scenes, layers or files answer 404.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from s2sr._version import __version__
from s2sr.errors import ConfigError
from s2sr.serve.card import load_card
from s2sr.serve.config import ServeConfig
from s2sr.serve.footprint import load_footprint, merge
from s2sr.serve.hosts import HostGuard, allowed_hosts
from s2sr.serve.layers import FOOTPRINT_TITLE, Layer, MapScene, build_layers, union_bounds
from s2sr.serve.limits import apply_limits, tile_threads
from s2sr.serve.stats import parse_rescale
from s2sr.serve.tiles import (
    MAX_ZOOM,
    MEDIA_TYPES,
    available_formats,
    hold_gdal_env,
    render_tile,
    tile_in_range,
)

log = logging.getLogger(__name__)

GEOJSON = "application/geo+json"
_INT = re.compile(r"-?[0-9]{1,10}")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
KEEP_ALIVE_S = 75  # idle keep-alive connections are kept longer than clients keep theirs (browsers, QGIS)


def static_files() -> dict[str, Path]:
    """The only files the app serves, by URL path below /static/."""
    allowed: dict[str, Path] = {}
    leaflet = Path(str(files("js_lib_leaflet") / "static" / "js_lib_leaflet"))
    for name in ("leaflet.js", "leaflet.css"):
        allowed[f"leaflet/{name}"] = leaflet / name
    for img in sorted((leaflet / "images").glob("*.png")):
        allowed[f"leaflet/images/{img.name}"] = img
    own = Path(str(files("s2sr.serve") / "static"))
    for f in sorted(own.iterdir()):
        if f.is_file() and f.suffix in (".js", ".css", ".png", ".svg"):
            allowed[f"s2sr/{f.name}"] = f
    return allowed


def load_scenes(cfg: ServeConfig) -> dict[str, MapScene]:
    """Validate every file of ``cfg`` and build the scenes (fails fast, one-line errors)."""
    multi = len(cfg.scenes) > 1
    scenes: dict[str, MapScene] = {}
    for sc in cfg.scenes:
        prefix = f"{sc.name}: " if multi else ""
        scene = MapScene(name=sc.name, layers=build_layers(sc, prefix))
        if sc.footprint is not None:
            scene.footprint = load_footprint(sc.footprint, sc.name)
        if sc.model is not None:
            scene.card = load_card(sc.model)
        scenes[sc.name] = scene
    return scenes


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def layer_json(layer: Layer, base: str) -> dict[str, Any]:
    """One entry of /layers: an XYZ source usable by Leaflet or QGIS."""
    return {
        "scene": layer.scene, "id": layer.id, "name": layer.name, "role": layer.role,
        "tiles": f"{base}/tiles/{layer.scene}/{layer.id}/{{z}}/{{x}}/{{y}}.png",
        "bounds": list(layer.bounds), "minzoom": layer.minzoom, "maxzoom": layer.maxzoom,
        "bands": list(layer.indexes), "rescale": [list(p) for p in layer.stretch],
        "attribution": layer.attribution,
        "legend": layer.legend,
    }


def _scene_json(scene: MapScene, base: str, prefix: str) -> dict[str, Any]:
    return {
        "name": scene.name,
        "bounds": list(union_bounds(list(scene.layers.values()))),
        "layers": list(scene.layers),
        "footprint": f"{base}/footprint/{scene.name}.geojson" if scene.footprint else None,
        "footprint_name": prefix + FOOTPRINT_TITLE,
        "model": f"{base}/model/{scene.name}" if scene.card else None,
    }


def _get(scenes: dict[str, MapScene], name: str) -> MapScene:
    scene = scenes.get(name)
    if scene is None:
        raise HTTPException(404, f"unknown scene {name!r}; see /scenes")
    return scene


def _page() -> str:
    return (files("s2sr.serve") / "templates" / "index.html").read_text(encoding="utf-8")


def _add_data_routes(app: FastAPI, scenes: dict[str, MapScene]) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "scenes": len(scenes)}

    @app.get("/scenes")
    def scene_list(request: Request) -> list[dict[str, Any]]:
        multi = len(scenes) > 1
        return [_scene_json(s, _base(request), f"{s.name}: " if multi else "") for s in scenes.values()]

    @app.get("/layers")
    def layer_list(request: Request) -> list[dict[str, Any]]:
        return [layer_json(la, _base(request)) for s in scenes.values() for la in s.layers.values()]

    @app.get("/footprint.geojson")
    def footprint_all() -> Response:
        fcs = [s.footprint for s in scenes.values() if s.footprint]
        if not fcs:
            raise HTTPException(404, "no footprint was given; start serve with --footprint")
        return JSONResponse(merge(fcs), media_type=GEOJSON)

    @app.get("/footprint/{scene}.geojson")
    def footprint_scene(scene: str) -> Response:
        fc = _get(scenes, scene).footprint
        if fc is None:
            raise HTTPException(404, f"scene {scene!r} has no footprint")
        return JSONResponse(fc, media_type=GEOJSON)

    @app.get("/model")
    def model_all() -> dict[str, Any]:
        return {name: s.card for name, s in scenes.items()}

    @app.get("/model/{scene}")
    def model_scene(scene: str) -> dict[str, Any]:
        card = _get(scenes, scene).card
        if card is None:
            raise HTTPException(404, f"scene {scene!r} has no model card; start serve with --model-card")
        return card


def _tile_ints(*values: str) -> tuple[int, ...]:
    """Tile indexes must be plain integers ('3', '-1'); '3.0', '1e2', 'a' answer 422."""
    if not all(_INT.fullmatch(v) for v in values):
        raise HTTPException(422, f"tile {'/'.join(values)}: z, x and y must be integers")
    return tuple(int(v) for v in values)


def _add_tile_route(app: FastAPI, scenes: dict[str, MapScene], executor: ThreadPoolExecutor) -> None:
    @app.api_route("/tiles/{scene}/{layer}/{z}/{x}/{y}.{fmt}", methods=["GET", "HEAD"])
    async def tile(scene: str, layer: str, z: str, x: str, y: str, fmt: str,
                   rescale: list[str] | None = Query(None)) -> Response:  # noqa: B008
        zi, xi, yi = _tile_ints(z, x, y)
        la = _get(scenes, scene).layers.get(layer)
        if la is None:
            raise HTTPException(404, f"unknown layer {layer!r} in scene {scene!r}; see /layers")
        if fmt not in available_formats():
            raise HTTPException(404, f"unknown tile format {fmt!r}; use one of {sorted(available_formats())}")
        if not tile_in_range(zi, xi, yi):
            raise HTTPException(400, f"tile {z}/{x}/{y} is not a WebMercator tile; z in 0..{MAX_ZOOM}, x and y in 0..2^z-1")
        try:
            stretch = parse_rescale(rescale, len(la.indexes)) if rescale else None
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        # rendering runs on the bounded tile threads, not on the event loop nor a thread per request
        try:
            data = await asyncio.get_running_loop().run_in_executor(executor, render_tile, la, zi, xi, yi, fmt, stretch)
        except Exception as e:  # answered as a 500 naming the tile (an escaping error drops the connection)
            log.exception("tile %s/%s/%s/%s/%s.%s failed (%s)", scene, layer, z, x, y, fmt, la.path)
            raise HTTPException(500, f"tile {scene}/{layer}/{z}/{x}/{y}.{fmt} of {la.path.name} could not be "
                                     f"rendered: {type(e).__name__}: {e}") from e
        if data is None:
            return Response(status_code=204, headers={"Cache-Control": "public, max-age=300"})
        return Response(data, media_type=MEDIA_TYPES[fmt], headers={"Cache-Control": "public, max-age=300"})


def _add_page_routes(app: FastAPI) -> None:
    allowed = static_files()
    page = _page()

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})

    @app.get("/static/{path:path}")
    def static(path: str) -> Response:
        f = allowed.get(path)
        if f is None:
            raise HTTPException(404, "not found")
        media = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        return Response(f.read_bytes(), media_type=media, headers={"Cache-Control": "public, max-age=3600"})


def create_app(cfg: ServeConfig) -> FastAPI:
    """Validate the files of ``cfg`` and build the app (does not start a server).

    The app answers only requests whose Host names ``cfg.host`` (see :mod:`s2sr.serve.hosts`).
    It bounds GDAL's cache and the tile threads of this process (:mod:`s2sr.serve.limits`).
    """
    apply_limits()
    scenes = load_scenes(cfg)
    executor = ThreadPoolExecutor(max_workers=tile_threads(), thread_name_prefix="s2sr-tile",
                                  initializer=hold_gdal_env)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="s2sr serve", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.scenes = scenes
    app.state.tile_executor = executor
    app.state.allowed_hosts = allowed_hosts(cfg.host, cfg.allow_hosts)
    app.add_middleware(HostGuard, allowed=app.state.allowed_hosts)
    _add_page_routes(app)
    _add_data_routes(app, scenes)
    _add_tile_route(app, scenes, executor)
    return app


def free_port(host: str) -> int:
    """A free TCP port on ``host`` (for ``--port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """Raise :class:`ConfigError` when ``host:port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(
                f"--host {host} --port {port}: cannot listen there ({e.strerror}); choose another --port"
            ) from None


def serve(cfg: ServeConfig) -> None:
    """Run the app with uvicorn until Ctrl-C."""
    import uvicorn

    app = create_app(cfg)
    port = cfg.port or free_port(cfg.host)
    check_port(cfg.host, port)
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: the map is reachable from other machines", cfg.host)
    log.info("s2sr map at http://%s:%d/  (XYZ layers: /layers; Ctrl-C to stop)", cfg.host, port)
    uvicorn.run(app, host=cfg.host, port=port, log_level="warning", access_log=False,
                timeout_keep_alive=KEEP_ALIVE_S)
