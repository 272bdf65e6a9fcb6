"""GPU benchmark of ``s2sr apply`` (run it where CUDA is present; writes JSON and prints it).

    python benchmarks/apply_gpu.py [--out benchmarks/apply_gpu.json] [--size 2048] [--quick]

Measured in one run on one GPU, synthetic uint16 4-band scene (``apply.py``'s), x4, random weights
except the shipped model:
- model-only: the run's own tiles through the model in batches of ``--batch``, counted from host
  array to host array (pinned copy in, result back), and the model alone on tensors already on the
  device (no copies), both after a warm-up;
- ``s2sr apply --device cuda`` end to end (read, model, blend, encode, COG), as a ratio to model-only;
- for light and equisr, end-to-end output MP/s for 1, 2 or 4 feeder threads x batches of 2, 4 or 8;
- whether the GPU output equals the CPU output of the same model on a small window (max |diff|).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apply import bundle, default_tile, make_scene, tile_inputs  # noqa: E402

from s2sr.bundle import ModelBundle  # noqa: E402
from s2sr.infer.apply import ApplyConfig, apply_model  # noqa: E402
from s2sr.infer.budget import usable_cores  # noqa: E402


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def model_only(b: ModelBundle, inputs: list[np.ndarray], precision: str, batch: int) -> dict[str, float]:
    """Seconds for ``inputs`` host -> host (TorchPredictor, as apply runs it) and device -> device."""
    import torch

    device = b.device.type

    from s2sr.infer.backends import TorchPredictor

    pred = TorchPredictor(b, precision)
    xs = [np.ascontiguousarray(np.concatenate(inputs[i:i + batch])) for i in range(0, len(inputs), batch)]
    for x in {x.shape: x for x in xs}.values():  # warm-up per shape (cuDNN picks its kernels)
        pred(x)
    _sync(device)
    t0 = time.perf_counter()
    for x in xs:
        pred(x)  # returns a host array: synchronises
    host = time.perf_counter() - t0
    dev = [torch.from_numpy(x).to(device).contiguous(memory_format=torch.channels_last) for x in xs]
    _sync(device)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x in dev:
            b.predict_batch(x, precision)
    _sync(device)
    return {"host_to_host_s": round(host, 3), "on_device_s": round(time.perf_counter() - t0, 3)}


def run(model: Any, src: Path, out: Path, device: str, **kw: Any) -> dict[str, Any]:
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    res = apply_model(model, src, out, ApplyConfig(progress=False, device=device, **kw))
    mpx = res.width * res.height / 1e6
    b = res.budget
    return {"total_s": round(res.seconds, 3), "stream_s": round(res.stream_seconds, 3),
            "cog_s": round(res.cog_seconds, 3), "out_mpx": round(mpx, 2), "mpx_per_s": round(mpx / res.seconds, 2),
            "budget": f"{b.workers} feeder, {b.post} output threads, batch {b.batch}" if b else None,
            "gpu_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None}


def cpu_gpu_diff(tmp: Path, path: Path, scene: Path, device: str) -> int:
    """Max |GPU - CPU| (output DN) of ``s2sr apply`` on a 256 px window of ``scene``, same model."""
    small = tmp / "small.tif"
    with rasterio.open(scene) as ds:
        prof = ds.profile | {"width": 256, "height": 256}
        data = ds.read(window=rasterio.windows.Window(0, 0, 256, 256))
        prof["transform"] = ds.transform
    with rasterio.open(small, "w", **prof) as dst:
        dst.write(data)
    apply_model(path, small, tmp / "c.tif", ApplyConfig(progress=False, precision="fp32"))
    apply_model(path, small, tmp / "g.tif", ApplyConfig(progress=False, precision="fp32", device=device))
    with rasterio.open(tmp / "c.tif") as a, rasterio.open(tmp / "g.tif") as g:
        return int(np.abs(a.read().astype(np.int64) - g.read().astype(np.int64)).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/apply_gpu.json")
    ap.add_argument("--size", type=int, default=2048, help="LR size of the scene (x4: 8192 output)")
    ap.add_argument("--quick", action="store_true", help="a 256 px scene, light model only")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to check this script runs")
    args = ap.parse_args()
    import torch

    dev = args.device
    if dev == "cuda" and not torch.cuda.is_available():
        raise SystemExit("apply_gpu.py: no CUDA device here; this benchmark needs one")
    res: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0) if dev == "cuda" else dev, "torch": torch.__version__,
                           "cuda": torch.version.cuda, "cpu_cores": usable_cores(), "rows": []}
    size = 256 if args.quick else args.size
    archs = [("light", "bf16")] if args.quick else [("light", "bf16"), ("equisr", "bf16"), ("equisr", "fp32"),
                                                     ("srresnet", "bf16")]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="s2sr-gpu-bench-", dir=os.environ.get("TMPDIR", ".")) as d:
        tmp = Path(d)
        scene = make_scene(tmp / "scene.tif", size)
        for arch, prec in archs:
            b = bundle(arch)
            path = b.save(tmp / f"{arch}.pt")
            if arch == "light":
                res["max_abs_diff_gpu_vs_cpu_fp32_dn"] = cpu_gpu_diff(tmp, path, scene, dev)
            b.module.to(dev)
            tile = default_tile(b)
            row: dict[str, Any] = {"arch": arch, "precision": prec, "tile": tile}
            e2e = run(path, scene, tmp / "out.tif", dev, precision=prec)
            row |= e2e
            mo = model_only(b, tile_inputs(b, scene, tile), prec, ApplyConfig().batch or 4)
            row |= {"model_only": mo, "model_only_mpx_per_s": round(e2e["out_mpx"] / mo["host_to_host_s"], 2),
                    "e2e_over_model_only": round(mo["host_to_host_s"] / e2e["total_s"], 3)}
            if arch == "light":  # larger batches feed the device better when the model is this cheap
                row["batch_16"] = run(path, scene, tmp / "out.tif", dev, precision=prec, batch=16)
            res["rows"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if arch in ("light", "equisr") and prec == "bf16":  # feeder threads x batch (default 1 x 4)
                sweep = {f"{w}x{bt}": run(path, scene, tmp / "out.tif", dev, precision=prec, workers=w, batch=bt)
                         for w in (1, 2, 4) for bt in (2, 4, 8)}
                res[f"split_{arch}"] = {k: v["mpx_per_s"] for k, v in sweep.items()}
                print(json.dumps(res[f"split_{arch}"]), file=sys.stderr, flush=True)
        if not args.quick:
            row = {"arch": "s2-rgbn-x4 (shipped)", "precision": "bf16"}
            row |= run("s2-rgbn-x4", scene, tmp / "out.tif", dev, precision="bf16")
            res["rows"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    res["bench_seconds"] = round(time.perf_counter() - t_start, 1)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
