"""Cross-sensor pseudo-pairs: held-out real aerial images at the model's output pixel size as the
reference, their degraded versions as input; and the one real Sentinel-2 / 1 m pair.

    python benchmarks/aerial_pairs.py [--model s2-rgbn-x4] [--data ../shared/data] [--split test]
                                      [--degradation mtf0.2,mtf0.3,mtf0.5,l1c,area]

The split is the place split of ``src/s2sr/configs/scenes/finer_x4.toml`` (fixed before any
training): ``test`` images are never trained on or chosen with, ``val`` only choose. Each image is
area-averaged to 2.5 m and mapped to the model's units (`s2sr evaluate --hr AERIAL --degradation`,
the library function); RGB images are scored on B2, B3, B4. The real pair
(``realpairs/eotdl_satellogic``): Sentinel-2 L2A warped to the 10 m UTM grid of the 1 m image,
which is area-averaged to 2.5 m and fitted per band to the Sentinel-2 values (one desert tile:
a sanity check of the route, not a benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject

from s2sr.bundle import load_model
from s2sr.evaluate.baselines import resample
from s2sr.evaluate.robust import aerial_reference, score_members, scores, super_resolve_array
from s2sr.sensor.family import parse_names

ROOT = Path(__file__).resolve().parents[1]
LIST = ROOT / "src/s2sr/configs/scenes/finer_x4.toml"
DEFAULT = "mtf0.2,mtf0.3,mtf0.5,l1c,noise30,area"
PAIR = "realpairs/eotdl_satellogic/20221109_094507_SN30_40N_227050_2482590"


def images(data: Path, split: str) -> list[Path]:
    return [data / im["path"] for im in tomllib.loads(LIST.read_text())["image"] if im["split"] == split]


def real_pair(bundle: Any, data: Path) -> dict[str, Any]:
    """Score the Sentinel-2 / Satellogic pair (see the module doc)."""
    hr_path, s2_path = data / f"{PAIR}_TOA.tif", data / f"{PAIR}_S2L2A.tif"
    with rasterio.open(hr_path) as hr_ds:
        hr = hr_ds.read([3, 2, 1, 4]).astype(np.float64)  # B2 B3 B4 B8 order from Red, Green, Blue, NIR
        t, crs = hr_ds.transform, hr_ds.crs
    s = bundle.scale
    k = int(round(bundle.input_res / s / abs(t.a)))  # 1 m -> 2.5 m is not an integer: area via GDAL
    fine = bundle.input_res / s
    n_lr = int(hr.shape[1] * abs(t.a) // bundle.input_res)
    t_lr = Affine(bundle.input_res, 0, t.c, 0, -bundle.input_res, t.f)
    t_fine = Affine(fine, 0, t.c, 0, -fine, t.f)
    ref = np.zeros((4, n_lr * s, n_lr * s), np.float32)
    reproject(hr.astype(np.float32), ref, src_transform=t, src_crs=crs, dst_transform=t_fine, dst_crs=crs,
              resampling=Resampling.average)
    lr = np.zeros((4, n_lr, n_lr), np.float32)
    with rasterio.open(s2_path) as s2:
        reproject(s2.read([2, 3, 4, 8]).astype(np.float32), lr, src_transform=s2.transform, src_crs=s2.crs,
                  dst_transform=t_lr, dst_crs=crs, resampling=Resampling.cubic)
    # per band: the reference degraded to 10 m fitted to the Sentinel-2 values (evaluate's harmonisation idea)
    ref_lr = ref.reshape(4, n_lr, s, n_lr, s).mean(axis=(2, 4))
    for b in range(4):
        g, o = np.polyfit(ref_lr[b].ravel(), lr[b].ravel(), 1)
        ref[b] = ref[b] * g + o
    with tempfile.TemporaryDirectory() as w:
        out = {"model": super_resolve_array(bundle, lr, t_lr, crs, Path(w))}
    for m in ("bicubic", "lanczos"):
        out[m] = resample(lr, t_lr, t_fine, ref.shape[1:], m, crs)
    row = {m: scores(v, ref, [0, 1, 2, 3], 2 * s) for m, v in out.items()}
    row["gain_db"] = row["model"]["psnr"] - row["bicubic"]["psnr"]
    row["note"] = f"{n_lr}x{n_lr} LR px, desert dunes; S2 L2A resampled by Sentinel Hub to lat/lon, then here to UTM (k={k})"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s2-rgbn-x4")
    ap.add_argument("--data", default=os.environ.get("S2SR_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--split", default="test", choices=["test", "val"])
    ap.add_argument("--degradation", default=DEFAULT)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    bundle, members = load_model(a.model), parse_names(a.degradation)
    t0, rows = time.perf_counter(), []
    skipped = []
    for path in images(Path(a.data), a.split):
        try:
            ref = aerial_reference(path, bundle)
        except ValueError as e:
            print(f"{path.stem}: skipped ({e})")
            skipped.append({"image": path.stem, "why": str(e)})
            continue
        for r in score_members(bundle, ref, members):
            rows.append({"image": path.stem, "shape": list(ref.data.shape), **r})
        print(f"{path.stem} {ref.data.shape[2]}x{ref.data.shape[1]}: " + ", ".join(
            f"{r['degradation']} {r['gain_db']:+.2f} (lanczos {r['gain_vs_lanczos_db']:+.2f})" for r in rows[-len(members):]),
            flush=True)
    pair = real_pair(bundle, Path(a.data))
    print(f"real S2 / 1 m pair: model {pair['model']['psnr']:.2f} dB, bicubic {pair['bicubic']['psnr']:.2f} "
          f"({pair['gain_db']:+.2f}), lanczos {pair['lanczos']['psnr']:.2f}")
    doc = {"model": a.model, "split": a.split, "degradations": [m.name for m in members],
           "seconds": round(time.perf_counter() - t0, 1), "rows": rows, "skipped": skipped,
           "real_pair": pair}
    out = a.out or ROOT / f"benchmarks/aerial_pairs_{a.split}.json"
    out.write_text(json.dumps(doc, indent=1))
    print(f"{out} ({doc['seconds']} s)")


if __name__ == "__main__":
    main()
