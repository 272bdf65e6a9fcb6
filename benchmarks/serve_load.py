"""Loopback load benchmark of `s2sr serve`: tile requests in batches, keep-alive on, RSS after each batch.

Starts the real CLI (`python -m s2sr serve`) in a subprocess on a free 127.0.0.1 port, on
seeded synthetic COGs (or on --sr/--lr you give), waits for /healthz, then, for each
concurrency level (default 16 then 64), sends ``--batches`` batches of ``--batch`` tile
requests over all layers and zooms from one httpx async client whose connections are kept
alive (as a browser or QGIS does: idle connections are kept 60 s, longer than any server
timeout). After each batch it records the server's resident memory (RSS, psutil), errors
(anything but 200/204, including transport errors), status counts and latency percentiles.
Prints JSON (and writes it to --out).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py [--batch 2000] [--batches 5] \
        [--concurrency 16 64] [--size 2048] [--out benchmarks/serve_load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import psutil
import rasterio
from affine import Affine

TMS = morecantile.tms.get("WebMercatorQuad")
OK = {"200", "204"}


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


def plan_requests(layers: list[dict], n: int, rng: random.Random) -> list[str]:
    """``n`` tile URLs over all layers and zooms minzoom-2 .. maxzoom+2 that touch the data."""
    pool = []
    for la in layers:
        w, s, e, nn = la["bounds"]
        for z in range(max(0, la["minzoom"] - 2), la["maxzoom"] + 3):
            for t in TMS.tiles(w, s, e, nn, [z]):
                pool.append(la["tiles"].format(z=t.z, x=t.x, y=t.y))
    return [rng.choice(pool) for _ in range(n)]


async def run_batch(client: httpx.AsyncClient, urls: list[str], concurrency: int) -> tuple[list[float], dict[str, int], float]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    status: dict[str, int] = {}

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


def _pct(lat: list[float], q: float) -> float:
    return round(float(np.percentile(lat, q)), 1)


def _mb(proc: psutil.Process) -> float:
    return round(proc.memory_info().rss / 2**20, 1)


async def run_phase(layers: list[dict], server: psutil.Process, concurrency: int, batches: int, batch: int,
                    rng: random.Random) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=60)
    rows, all_lat, errors = [], [], 0
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for i in range(batches):
            lat, status, wall = await run_batch(client, plan_requests(layers, batch, rng), concurrency)
            err = sum(v for k, v in status.items() if k not in OK)
            errors += err
            all_lat += lat
            rows.append({"batch": i + 1, "requests": len(lat), "errors": err, "status": status,
                         "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "requests_per_s": round(len(lat) / wall, 1),
                         "rss_mb": _mb(server)})
            print(json.dumps({"concurrency": concurrency, **rows[-1]}), file=sys.stderr, flush=True)
    return {"concurrency": concurrency, "requests": len(all_lat), "errors": errors, "p50_ms": _pct(all_lat, 50),
            "p90_ms": _pct(all_lat, 90), "p99_ms": _pct(all_lat, 99), "max_ms": round(max(all_lat), 1),
            "batches": rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=2000, help="requests per batch (default 2000)")
    ap.add_argument("--batches", type=int, default=5, help="batches per concurrency level (default 5)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--size", type=int, default=2048, help="synthetic SR side in pixels (multiple of 64)")
    ap.add_argument("--sr", type=Path)
    ap.add_argument("--lr", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="s2sr-bench-") as tmp:
        sr, lr = (args.sr, args.lr) if args.sr and args.lr else make_scene(Path(tmp), args.size, args.seed)
        port = free_port()
        proc = start_server(sr, lr, port)
        try:
            server = psutil.Process(proc.pid)
            layers = httpx.get(f"http://127.0.0.1:{port}/layers").json()
            rss0 = _mb(server)
            phases = [asyncio.run(run_phase(layers, server, c, args.batches, args.batch, rng))
                      for c in args.concurrency]
            rss1 = _mb(server)
        finally:
            proc.terminate()
            proc.wait(10)
    result = {
        "what": "s2sr serve tile load, keep-alive on; RSS of the server process after each batch",
        "size": None if args.sr else args.size, "requests_total": sum(p["requests"] for p in phases),
        "rss_mb_after_start": rss0, "rss_mb_end": rss1, "max_rss_mb": max(r["rss_mb"] for p in phases for r in p["batches"]),
        "phases": phases,
        "machine": {"cpus": os.cpu_count(), "loadavg_end": [round(v, 2) for v in os.getloadavg()],
                    "python": platform.python_version(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
