"""GPU cost of ``apply --uncertainty`` and ``--safe`` against the plain SR (run where CUDA is present).

    python benchmarks/apply_gpu_uncertainty.py OUT.json

The shipped model (it has an uncertainty head), bf16, the 2048 px scene of ``apply.py`` (8192 x 8192 x 4
output): end-to-end output Mpx/s of plain, ``--uncertainty``, ``--safe`` and both; then the largest and
mean |GPU - CPU| of the ``--safe`` output (fp32) on a 256 px scene. ``apply_gpu_uncertainty.json`` holds
the H200 runs before and after the error model moved to the model's device.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apply import make_scene  # noqa: E402

from s2sr.infer.apply import ApplyConfig, apply_model  # noqa: E402

MODEL = "s2-rgbn-x4"
RUNS = {"plain": {}, "uncertainty": {"uncertainty": True}, "safe": {"safe": True},
        "safe+uncertainty": {"safe": True, "uncertainty": True}}


def main() -> None:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="s2sr-gpu-unc-", dir=os.environ.get("TMPDIR", ".")) as d:
        tmp = Path(d)
        scene, small = make_scene(tmp / "scene.tif", 2048), make_scene(tmp / "small.tif", 256, seed=2)
        apply_model(MODEL, scene, tmp / "warm.tif", ApplyConfig(progress=False, device="cuda", precision="bf16"))
        for name, kw in RUNS.items():
            r = apply_model(MODEL, scene, tmp / f"{name}.tif",
                            ApplyConfig(progress=False, device="cuda", precision="bf16", **kw))
            out[name] = {"total_s": round(r.seconds, 3), "mpx_per_s": round(r.width * r.height / 1e6 / r.seconds, 2)}
            print(name, out[name], flush=True)
        for dev in ("cpu", "cuda"):
            apply_model(MODEL, small, tmp / f"s_{dev}.tif",
                        ApplyConfig(progress=False, device=dev, precision="fp32", safe=True))
        with rasterio.open(tmp / "s_cpu.tif") as a, rasterio.open(tmp / "s_cuda.tif") as b:
            diff = np.abs(a.read().astype(np.int64) - b.read().astype(np.int64))
        out["safe_gpu_vs_cpu_fp32_max_abs_dn"] = int(diff.max())
        out["safe_gpu_vs_cpu_fp32_mean_abs_dn"] = float(diff.mean())
    print(json.dumps(out))
    Path(sys.argv[1] if len(sys.argv) > 1 else "apply_gpu_uncertainty_run.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
