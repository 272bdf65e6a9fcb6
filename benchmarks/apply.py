"""Benchmarks of ``s2sr apply`` on this machine; writes JSON (and prints it).

    python benchmarks/apply.py [--out benchmarks/apply.json] [--quick] [--size 2048] [--before OLD_SRC]

Measured in one run, so ratios compare like with like (random weights, synthetic uint16 4-band scenes,
x4, default tile/threads/codec unless said otherwise):
- model-only throughput on the run's own tiles, for the best thread split (1 worker x N threads or
  N workers x 1 thread), for light, srresnet and equisr (the shipped model's architecture);
- ``s2sr apply`` end to end on the same scene: stream, COG assembly, scratch bytes, COG bytes, each as a
  ratio to model-only; codecs (ZSTD, DEFLATE) and thread splits for the light model;
- a tile sweep for equisr (its 42 px receptive field makes the tile size matter);
- peak RSS (fresh subprocess, ``VmHWM``) at 8k and 16k output;
- Dask with 2 workers x 1 thread against the local run (time and bytes), light and equisr;
- with ``--before OLD_SRC`` (a ``src`` folder of an older s2sr): that version on the same scene;
- an extrapolation to a 72k x 72k x 4 output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine

from s2sr.archs import build_arch
from s2sr.bundle import ModelBundle
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.budget import usable_cores
from s2sr.infer.tilework import fill_invalid, pad_input
from s2sr.infer.tiling import make_plan
from s2sr.sensor import SensorModel

BANDS = ["B2", "B3", "B4", "B8"]
ARCH_KW = {"equisr": {"width": 64, "depth": 16, "blocks": "res"}}  # the shipped s2-rgbn-x4 architecture
HERE = Path(__file__).resolve().parent


def make_scene(path: Path, size: int, seed: int = 0) -> Path:
    """A size x size 4-band uint16 GeoTIFF (tiled, DEFLATE) written block by block."""
    rng = np.random.default_rng(seed)
    prof = dict(driver="GTiff", width=size, height=size, count=4, dtype="uint16", crs="EPSG:32633",
                transform=Affine(10, 0, 400000, 0, -10, 5000000), nodata=0, tiled=True,
                blockxsize=256, blockysize=256, compress="DEFLATE")
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    with rasterio.open(path, "w", **prof) as ds:
        for r in range(0, size, 256):
            for c in range(0, size, 256):
                h, w = min(256, size - r), min(256, size - c)
                base = 1500 + 800 * np.sin(6 * (xx + c / 256)) * np.cos(5 * (yy + r / 256))
                block = base[None] + rng.normal(0, 150, (4, 256, 256))
                ds.write(np.clip(block[:, :h, :w], 1, 65535).astype("uint16"),
                         window=rasterio.windows.Window(c, r, w, h))
    return path


def bundle(arch: str) -> ModelBundle:
    import torch

    torch.manual_seed(0)
    kw = {"in_ch": 4, "scale": 4, **ARCH_KW.get(arch, {})}
    return ModelBundle(arch=arch, arch_kwargs=kw, scale=4, bands=BANDS, mean=np.full(4, 1500, np.float32),
                       std=np.full(4, 800, np.float32), module=build_arch(arch, **kw).eval(),
                       sensor=SensorModel(4), input_res=10.0)


def default_tile(b: ModelBundle) -> int:
    return ApplyConfig().tile_for(b.receptive_field)


def tile_inputs(b: ModelBundle, src: Path, tile: int, limit: int | None = None) -> list[np.ndarray]:
    with rasterio.open(src) as ds:
        plan = make_plan(ds.width, ds.height, 4, tile, min(16, tile // 2), b.receptive_field)
        out = []
        for t in list(plan.tiles)[:limit]:
            data = ds.read(window=plan.read(t).window)
            x = pad_input(fill_invalid(data, np.ones(data.shape[1:], bool)), plan.read(t).pad, "reflect")
            out.append(np.ascontiguousarray(x[None]))
    return out


def model_only(b: ModelBundle, inputs: list[np.ndarray], precision: str, workers: int, threads: int) -> float:
    """Seconds the model alone needs for ``inputs`` with ``workers`` threads of ``threads`` intra-op threads."""
    import torch

    from s2sr.infer.backends import TorchPredictor

    before = torch.get_num_threads()
    pred = TorchPredictor(b, precision, threads)
    for x in {x.shape: x for x in inputs}.values():  # warm-up: oneDNN builds primitives per input shape
        pred(x)
    todo, lock = iter(inputs), threading.Lock()

    def run() -> None:
        while True:
            with lock:
                x = next(todo, None)
            if x is None:
                return
            pred(x)

    t0 = time.perf_counter()
    th = [threading.Thread(target=run) for _ in range(workers)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    secs = time.perf_counter() - t0
    torch.set_num_threads(before)
    return secs


def best_split(b: ModelBundle, src: Path, tile: int, precision: str, n: int) -> dict[str, Any]:
    """Model-only on the whole scene for the faster of 1 x n and n x 1 threads (chosen on a sample)."""
    sample = tile_inputs(b, src, tile, limit=max(2 * n, 8))
    splits = {f"{w}x{n // w}": model_only(b, sample, precision, w, n // w) for w in (1, n)}
    best = min(splits, key=lambda k: splits[k])
    w = int(best.split("x")[0])
    secs = model_only(b, tile_inputs(b, src, tile), precision, w, n // w)
    return {"sample_s": {k: round(v, 3) for k, v in splits.items()}, "split": best, "model_only_s": round(secs, 3)}


def run_apply(model: Any, src: Path, out: Path, **kw: Any) -> dict[str, Any]:
    res = apply_model(model, src, out, ApplyConfig(progress=False, **kw))
    mpx = res.width * res.height / 1e6
    return {"total_s": round(res.seconds, 3), "stream_s": round(res.stream_seconds, 3),
            "cog_s": round(res.cog_seconds, 3), "out_mpx": round(mpx, 2), "mpx_per_s": round(mpx / res.seconds, 3),
            "scratch_bytes": res.scratch_bytes, "cog_bytes": res.cog_bytes, "tiles": res.tiles_computed,
            "split": f"{res.budget.workers}x{res.budget.model_threads}" if res.budget else "dask"}


def with_ratios(row: dict[str, Any], mo: float) -> dict[str, Any]:
    """Each stage as a ratio to model-only (time), and end-to-end throughput over model-only throughput."""
    return {**row, "model_only_s": round(mo, 3),
            "stream_over_model_only": round(row["stream_s"] / mo, 3),
            "cog_over_model_only": round(row["cog_s"] / mo, 3),
            "e2e_throughput_over_model_only": round(mo / row["total_s"], 3),
            "scratch_over_cog": round(row["scratch_bytes"] / row["cog_bytes"], 3)}


def bench_models(tmp: Path, scene: Path, n: int, archs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    rows = []
    for arch, prec in archs:
        b = bundle(arch)
        tile = default_tile(b)
        mo = best_split(b, scene, tile, prec, n)
        row = run_apply(b, scene, tmp / f"{arch}-{prec}.tif", precision=prec)
        (tmp / f"{arch}-{prec}.tif").unlink()
        rows.append({"arch": arch, "precision": prec, "tile": tile, "model_split": mo["split"],
                     "model_split_sample_s": mo["sample_s"], **with_ratios(row, mo["model_only_s"])})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def bench_light_options(tmp: Path, scene: Path, n: int) -> list[dict[str, Any]]:
    """Codecs and thread splits, light bf16, end to end."""
    b = bundle("light")
    rows = []
    for opts in ({"compress": "ZSTD"}, {"compress": "DEFLATE"}, {"compress": "DEFLATE", "compress_level": 6},
                 {"compress": "ZSTD", "compress_level": 9}, {"workers": 1}, {"workers": n}):
        out = tmp / "opt.tif"
        row = run_apply(b, scene, out, precision="bf16", threads=n, **opts)
        out.unlink()
        rows.append({"options": opts, **row})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def bench_tiles(tmp: Path, scene: Path, n: int, tiles: list[int]) -> list[dict[str, Any]]:
    """equisr bf16: model-only (best split) and end to end per tile size."""
    b = bundle("equisr")
    rows = []
    for tile in tiles:
        mo = best_split(b, scene, tile, "bf16", n)
        row = run_apply(b, scene, tmp / "t.tif", precision="bf16", tile=tile)
        (tmp / "t.tif").unlink()
        rows.append({"tile": tile, "model_split": mo["split"], **with_ratios(row, mo["model_only_s"])})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


# peak RSS of the child itself: VmHWM (ru_maxrss of a child started by fork + exec starts at the parent's
# peak, which made every size in earlier versions of this benchmark read the same)
HWM = 'int([v for v in open("/proc/self/status") if v.startswith("VmHWM")][0].split()[1]) / 1024'
RSS_CHILD = """
import sys, json
from pathlib import Path
sys.path.insert(0, {bench_dir!r})
from apply import bundle
from s2sr.infer.apply import ApplyConfig, apply_model
r = apply_model(bundle({arch!r}), Path({src!r}), Path({dst!r}), ApplyConfig(precision="bf16", progress=False))
print(json.dumps({{"peak_rss_mb": {hwm}, "total_s": r.seconds,
                  "stream_s": r.stream_seconds, "cog_s": r.cog_seconds, "out_w": r.width, "out_h": r.height,
                  "scratch_bytes": r.scratch_bytes, "cog_bytes": r.cog_bytes}}))
"""


def bench_rss(tmp: Path, sizes: list[int], arch: str = "light") -> list[dict[str, Any]]:
    rows = []
    for out_size in sizes:
        lr = out_size // 4
        src = make_scene(tmp / f"rss{lr}.tif", lr, seed=1)
        dst = tmp / f"rss{lr}_sr.tif"
        code = RSS_CHILD.format(bench_dir=str(HERE), arch=arch, src=str(src), dst=str(dst), hwm=HWM)
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        row = json.loads(p.stdout.strip().splitlines()[-1])
        rows.append({"arch": arch, **{k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}})
        print(rows[-1], file=sys.stderr, flush=True)
        src.unlink()
        dst.unlink()
    return rows


def bench_dask(tmp: Path, scene: Path, n: int, arch: str = "light", pairs: int = 2) -> dict[str, Any]:
    """Dask local:n against the local run, in alternating pairs; every run writes a new file (replacing a
    480 MB output costs its rename 0.25-0.6 s here, which the first version of this benchmark charged
    to the Dask run only)."""
    from distributed import LocalCluster

    b = bundle(arch)
    out: dict[str, Any] = {"arch": arch, "pairs": []}
    local, dask = tmp / "local.tif", tmp / "dask.tif"
    t0 = time.perf_counter()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out["cluster_start_s"] = round(time.perf_counter() - t0, 3)
        addr = cluster.scheduler_address
        run_apply(b, scene, dask, precision="bf16", dask=addr, tile=64)  # warm-up: model to workers
        for _ in range(pairs):
            for f in (local, dask):
                f.unlink(missing_ok=True)
            pair: dict[str, Any] = {"local": run_apply(b, scene, local, precision="bf16", threads=n)}
            c0 = time.process_time()
            pair[f"dask_{n}x1"] = run_apply(b, scene, dask, precision="bf16", dask=addr)
            cpu = time.process_time() - c0  # the client (and the scheduler, in this process): paste, sums, encode
            pair["client_cpu_s"] = round(cpu, 3)
            pair["client_cpu_s_per_out_mpx"] = round(cpu / pair[f"dask_{n}x1"]["out_mpx"], 4)
            pair["dask_over_local_throughput"] = round(pair["local"]["total_s"] / pair[f"dask_{n}x1"]["total_s"], 3)
            pair["bit_identical"] = local.read_bytes() == dask.read_bytes()
            out["pairs"].append(pair)
            print(pair, file=sys.stderr, flush=True)
    tot = {k: sum(p[k]["total_s"] for p in out["pairs"]) for k in ("local", f"dask_{n}x1")}
    out["dask_over_local_throughput"] = round(tot["local"] / tot[f"dask_{n}x1"], 3)
    out["bit_identical"] = all(p["bit_identical"] for p in out["pairs"])
    return out


BEFORE_CHILD = """
import sys, json, os, threading, time
sys.path.insert(0, {old_src!r})
from pathlib import Path
import numpy as np, torch
import s2sr
from s2sr.archs import build_arch
from s2sr.bundle import ModelBundle
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.sensor import SensorModel
assert s2sr.__file__.startswith({old_src!r}), s2sr.__file__
def bundle(arch):  # as in benchmarks/apply.py (that module needs the newer s2sr)
    torch.manual_seed(0)
    kw = {{"in_ch": 4, "scale": 4}}
    return ModelBundle(arch=arch, arch_kwargs=kw, scale=4, bands=["B2", "B3", "B4", "B8"],
                       mean=np.full(4, 1500, np.float32), std=np.full(4, 800, np.float32),
                       module=build_arch(arch, **kw).eval(), sensor=SensorModel(4), input_res=10.0)
part = Path({dst!r}).with_name("." + Path({dst!r}).name + ".partial.tif")
peak = {{"partial": 0}}
stop = threading.Event()
def watch():
    while not stop.is_set():
        if part.exists():
            peak["partial"] = max(peak["partial"], part.stat().st_size)
        time.sleep(0.05)
th = threading.Thread(target=watch, daemon=True); th.start()
r = apply_model(bundle("light"), Path({src!r}), Path({dst!r}), ApplyConfig(precision="bf16", progress=False))
stop.set(); th.join()
print(json.dumps({{"peak_rss_mb": {hwm}, "total_s": r.seconds,
                  "stream_s": r.stream_seconds, "cog_s": r.cog_seconds, "scratch_bytes": peak["partial"],
                  "cog_bytes": os.path.getsize({dst!r})}}))
"""


def bench_before(tmp: Path, scene: Path, old_src: Path, mo: float) -> dict[str, Any]:
    """The older pipeline (its own defaults: tile 128, DEFLATE via GDAL's COG driver), light bf16."""
    dst = tmp / "before.tif"
    code = BEFORE_CHILD.format(old_src=str(old_src), src=str(scene), dst=str(dst), hwm=HWM)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    row = json.loads(p.stdout.strip().splitlines()[-1])
    dst.unlink()
    out = {"arch": "light", "precision": "bf16", "tile": 128, **{k: round(v, 3) if isinstance(v, float) else v
                                                                 for k, v in row.items()}}
    out["model_only_s_same_tiles_as_after"] = round(mo, 3)
    print(out, file=sys.stderr, flush=True)
    return out


def extrapolate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    mpx = 72000 * 72000 / 1e6
    out: dict[str, Any] = {"out_mpx": mpx}
    for row in rows:
        out[f"{row['arch']}_{row['precision']}_min"] = round(mpx / row["mpx_per_s"] / 60, 1)
        out[f"{row['arch']}_{row['precision']}_scratch_gb"] = round(row["scratch_bytes"] / row["out_mpx"] * mpx / 1e9, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/apply.json")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    ap.add_argument("--size", type=int, default=2048, help="LR size of the main scene (x4: 8192 output)")
    ap.add_argument("--rss", default="8192,16384", help="output sizes (pixels per side) for the RSS runs")
    ap.add_argument("--before", type=Path, help="src folder of an older s2sr to measure on the same scene")
    args = ap.parse_args()
    import torch

    n = usable_cores()
    res: dict[str, Any] = {"cores": n, "torch": torch.__version__, "idle_flag": Path("/work/notes/IDLE").exists(),
                           "loadavg_start": os.getloadavg()}
    size = 128 if args.quick else args.size
    rss_sizes = [512, 1024] if args.quick else [int(v) for v in args.rss.split(",")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="s2sr-bench-", dir=".") as d:
        tmp = Path(d)
        scene = make_scene(tmp / "scene.tif", size)
        small = make_scene(tmp / "small.tif", size // 2, seed=3)
        res["scene_lr"], res["tile_sweep_scene_lr"] = size, size // 2
        res["models"] = bench_models(tmp, scene, n, [("light", "bf16"), ("light", "fp32"), ("equisr", "bf16"),
                                                     ("srresnet", "bf16")])
        res["light_options"] = bench_light_options(tmp, scene, n)
        res["equisr_tiles"] = bench_tiles(tmp, small, n, [64, 128] if args.quick else [128, 192, 256, 384, 512])
        res["dask"] = bench_dask(tmp, scene, n)  # the fastest model: the largest share of output work
        res["dask_equisr"] = bench_dask(tmp, scene, n, "equisr")  # the shipped model's architecture
        if args.before:
            light = next(r for r in res["models"] if r["arch"] == "light" and r["precision"] == "bf16")
            mo128 = best_split(bundle("light"), scene, 128, "bf16", n)["model_only_s"]
            res["before"] = bench_before(tmp, scene, args.before.resolve(), mo128)
            res["before"]["model_only_s_tile_128"] = mo128
            res["before"]["after_light_bf16_total_s"] = light["total_s"]
        res["rss"] = bench_rss(tmp, rss_sizes)
        res["extrapolated_72k"] = extrapolate(res["models"])
    res["bench_seconds"] = round(time.perf_counter() - t0, 1)
    res["loadavg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
