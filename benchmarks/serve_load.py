"""Loopback load benchmark of `s2sr serve`: N tile requests over mixed zooms, C concurrent.

Starts the real CLI (`python -m s2sr serve`) in a subprocess on a free 127.0.0.1 port, on
seeded synthetic COGs (or on --sr/--lr you give), waits for /healthz, then sends tile
requests from an httpx async client and prints JSON: errors (goal 0), status counts,
p50/p90/p99 latency in ms and requests per second.

    .venv/bin/python benchmarks/serve_load.py [--requests 2000] [--concurrency 16] [--size 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import morecantile
import numpy as np
import rasterio
from affine import Affine

TMS = morecantile.tms.get("WebMercatorQuad")


def write_cog(path: Path, data: np.ndarray, res: float) -> Path:
    _, h, w = data.shape
    with rasterio.open(path, "w", driver="COG", width=w, height=h, count=4, dtype="uint16",
                       crs="EPSG:32631", nodata=0, blocksize=256, compress="deflate",
                       transform=Affine(res, 0, 500000.0, 0, -res, 4600000.0)) as ds:
        ds.write(data)
        ds.descriptions = ("B2", "B3", "B4", "B8")
    return path


def make_scene(folder: Path, size: int, seed: int = 0) -> tuple[Path, Path]:
    """A seeded smooth-noise SR COG (size^2 at 2.5 m) and its 4x area-mean LR (10 m)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(4, size, size)).astype(np.float32).cumsum(axis=1).cumsum(axis=2)
    base -= base.min(axis=(1, 2), keepdims=True)
    base /= base.max(axis=(1, 2), keepdims=True)
    sr = (500 + 3000 * base).astype(np.uint16)
    sr[:, :, : size // 16] = 0  # a nodata strip
    lr = sr.reshape(4, size // 4, 4, size // 4, 4).mean(axis=(2, 4)).astype(np.uint16)
    return write_cog(folder / "sr.tif", sr, 2.5), write_cog(folder / "lr.tif", lr, 10.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(sr: Path, lr: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "s2sr", "-q", "serve", "--sr", str(sr), "--lr", str(lr), "--port", str(port)]
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server did not answer /healthz within 60 s")


def plan_requests(layers: list[dict], n: int, seed: int) -> list[str]:
    """``n`` tile URLs over all layers and zooms minzoom-2 .. maxzoom+2 that touch the data."""
    rng = random.Random(seed)
    pool = []
    for la in layers:
        w, s, e, nn = la["bounds"]
        for z in range(max(0, la["minzoom"] - 2), la["maxzoom"] + 3):
            for t in TMS.tiles(w, s, e, nn, [z]):
                pool.append(la["tiles"].format(z=t.z, x=t.x, y=t.y))
    return [rng.choice(pool) for _ in range(n)]


async def run_load(urls: list[str], concurrency: int) -> tuple[list[float], dict[str, int], float]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    status: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(url: str) -> None:
            async with sem:
                t0 = time.perf_counter()
                try:
                    r = await client.get(url)
                    await r.aread()
                    key = str(r.status_code)
                except httpx.HTTPError as e:
                    key = type(e).__name__
                lat.append((time.perf_counter() - t0) * 1000)
                status[key] = status.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return lat, status, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--size", type=int, default=2048, help="synthetic SR side in pixels (multiple of 64)")
    ap.add_argument("--sr", type=Path)
    ap.add_argument("--lr", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="s2sr-bench-") as tmp:
        sr, lr = (args.sr, args.lr) if args.sr and args.lr else make_scene(Path(tmp), args.size, args.seed)
        port = free_port()
        proc = start_server(sr, lr, port)
        try:
            layers = httpx.get(f"http://127.0.0.1:{port}/layers").json()
            urls = plan_requests(layers, args.requests, args.seed)
            lat, status, wall = asyncio.run(run_load(urls, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(10)
    ok = {"200", "204"}
    result = {
        "requests": len(lat), "concurrency": args.concurrency, "size": None if args.sr else args.size,
        "errors": sum(v for k, v in status.items() if k not in ok), "status": status,
        "p50_ms": round(float(np.percentile(lat, 50)), 1), "p90_ms": round(float(np.percentile(lat, 90)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1), "max_ms": round(max(lat), 1),
        "requests_per_s": round(len(lat) / wall, 1), "wall_s": round(wall, 2),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
