"""Tiny seeded COGs (SR 512x512 at 2.5 m, LR 128x128 at 10 m, same bounds, UTM 31N), a footprint, a model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform_geom

from s2sr.bands import DEFAULT_BANDS

CRS = "EPSG:32631"
ORIGIN = (500000.0, 4600000.0)
SR_RES, SCALE, SR_SIZE = 2.5, 4, 512
NODATA_COLS = 64  # SR columns 0..63 (LR 0..15) are nodata: a 160 m strip on the west edge


@dataclass(frozen=True)
class ServeData:
    sr: Path
    lr: Path
    footprint: Path
    model: Path
    card_md: Path
    sr_data: np.ndarray
    unc: Path  # sr.uncertainty.tif beside sr.tif (found by serve on its own)
    unc_data: np.ndarray


def _field(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(4, SR_SIZE, SR_SIZE)).cumsum(axis=1).cumsum(axis=2)
    lo = base.min(axis=(1, 2), keepdims=True)
    hi = base.max(axis=(1, 2), keepdims=True)
    base = (base - lo) / (hi - lo)
    offsets = np.array([800, 600, 400, 2500]).reshape(4, 1, 1)  # B8 brighter: vegetation-like
    return (offsets + 2000 * base).astype(np.uint16) + 1


def write_cog(path: Path, data: np.ndarray, res: float, descriptions: tuple[str, ...] = DEFAULT_BANDS,
              tags: dict[str, str] | None = None) -> Path:
    _, h, w = data.shape
    with rasterio.open(path, "w", driver="COG", width=w, height=h, count=data.shape[0],
                       dtype="uint16", crs=CRS, nodata=0, blocksize=256,
                       transform=Affine(res, 0, ORIGIN[0], 0, -res, ORIGIN[1])) as ds:
        ds.write(data)
        ds.descriptions = descriptions[: data.shape[0]]
        ds.update_tags(**(tags or {}))
    return path


def uncertainty_field() -> np.ndarray:
    """Half-widths rising from west (10) to east (410), the SR's nodata strip kept."""
    u = np.broadcast_to(10 + np.linspace(0, 400, SR_SIZE)[None, None].round(), (4, SR_SIZE, SR_SIZE))
    u = u.astype(np.uint16).copy()
    u[:, :, :NODATA_COLS] = 0
    return u


def patch_polygon(col: int, row: int, size_m: float) -> dict:
    x0, y1 = ORIGIN[0] + col, ORIGIN[1] - row
    ring = [[x0, y1 - size_m], [x0 + size_m, y1 - size_m], [x0 + size_m, y1], [x0, y1], [x0, y1 - size_m]]
    return {"type": "Polygon", "coordinates": [ring]}


def write_footprint(path: Path) -> Path:
    feats = []
    for i, (split, col) in enumerate((("train", 200), ("val", 600), ("test", 1000))):
        geom = transform_geom(CRS, "EPSG:4326", patch_polygon(col, 300, 160.0))
        feats.append({"type": "Feature", "geometry": geom, "properties": {"id": i, "split": split, "pair": 0}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


@pytest.fixture(scope="session")
def serve_data(tmp_path_factory: pytest.TempPathFactory, bundle_factory: Callable[..., Any]) -> ServeData:
    d = tmp_path_factory.mktemp("serve")
    sr = _field(7)
    sr[:, :, :NODATA_COLS] = 0
    lr = sr.reshape(4, SR_SIZE // SCALE, SCALE, SR_SIZE // SCALE, SCALE).mean(axis=(2, 4)).round().astype(np.uint16)
    model = bundle_factory(mean=0.0, std=1000.0, metrics={
        "val_psnr": 31.5, "bicubic_psnr": 30.25, "val_sam": 2.0, "bicubic_sam": 1.5, "steps": 100}).save(d / "best.pt")
    card = d / "MODEL_CARD.md"
    card.write_text("# Model card\n\nbicubic test bundle <script>alert(1)</script>\n")
    unc = uncertainty_field()
    unc_path = write_cog(d / "sr.uncertainty.tif", unc, SR_RES,
                         tuple(f"{b}: half-width of the 90 % interval (output units)" for b in DEFAULT_BANDS),
                         {"S2SR_UNCERTAINTY_LEVEL": "0.9"})
    return ServeData(sr=write_cog(d / "sr.tif", sr, SR_RES), lr=write_cog(d / "lr.tif", lr, SR_RES * SCALE),
                     footprint=write_footprint(d / "footprint.geojson"), model=model, card_md=card,
                     sr_data=sr, unc=unc_path, unc_data=unc)


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Run ``app`` with a real uvicorn server on a free loopback port in a thread; yield its URL."""
    import uvicorn

    from s2sr.serve.app import free_port

    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                          access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def served(serve_data: ServeData) -> Iterator[str]:
    """A live server on the test COGs, footprint and model (session-wide)."""
    from s2sr.serve.app import create_app
    from s2sr.serve.config import config_from_options

    cfg = config_from_options([str(serve_data.sr)], [str(serve_data.lr)], [str(serve_data.footprint)],
                              [str(serve_data.model)])
    with live_server(create_app(cfg)) as url:
        yield url


def local_client(app: Any) -> Any:
    """A TestClient that talks to ``app`` as http://127.0.0.1 (the app refuses other Host names)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1")
