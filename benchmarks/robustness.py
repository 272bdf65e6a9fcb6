"""Radiometric robustness of a Sentinel-2 model on cities it never trained on (Wald x4).

    python benchmarks/robustness.py [--model s2-rgbn-x4] [--data ../shared/data] [--draws 6]
                                    [--out benchmarks/robustness.json]

For each test city (the scene list's ``split = "test"`` OSCD cities, one date each, and
T49JGM) the 10 m image is the reference HR; the LR is its sensor-model degradation (rounded
like a product), as in ``s2sr evaluate --wald``. Measured:

- **gain under per-band affine changes**: the image is first changed per band by
  ``a * x + b`` with ``a`` in [0.8, 1.2] and ``b`` in [-300, 300] (seeded draws; a stand-in for
  L1C vs L2A, another processing baseline, a calibration change), then degraded and
  super-resolved; gain = PSNR(model) - PSNR(bicubic) against the changed reference (per-band
  peaks, as ``s2sr evaluate``). Reported: gain without change and the largest |difference|.
- **bias**: per band, mean(SR - HR) / mean(HR) on the unchanged image (percent).
- **LR-grid pattern**: on smooth areas (10 m pixels whose local std over 9 x 9 px is at most
  20 DN in every band: water, away from the image edges; at least 2000 of them, else not
  reported), the mean of SR - bicubic at each of the s x s sub-pixel phases; reported: the
  std of those s^2 means (DN), beside the same figure for the true 10 m image (the noise
  floor of the statistic). A pixel-shuffle network that prints a fixed pattern shows up here.
- **bright input**: the image x 2.5 (far outside the training range): max |SR - 2.5 SR_0|.

Targets (issue 10): |gain change| <= 0.2 dB, |bias| < 0.3 %, pattern std <= 2 DN.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from scipy.ndimage import uniform_filter

from s2sr.bundle import load_model
from s2sr.sensor import SensorModel

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "src/s2sr/configs/scenes/s2_cities_wald.toml"
SMOOTH_DN = 20.0  # local std (9 x 9 px at 10 m, every band) of a smooth pixel
MIN_SMOOTH = 2000  # smooth pixels needed for the phase statistic (125 per phase at x4)


def test_scenes(data: Path) -> list[Path]:
    """One image per test group of the shipped model's scene list (the first date)."""
    scenes = tomllib.loads(SCENES.read_text())["scene"]
    seen: dict[str, Path] = {}
    for s in scenes:
        if s.get("split") == "test" and s["group"] not in seen:
            seen[s["group"]] = data / s["wald"]
    return list(seen.values())


def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    """PSNR with per-band 0.1-99.9 % peaks of the reference (as ``s2sr evaluate``)."""
    lo, hi = np.percentile(ref.reshape(ref.shape[0], -1), [0.1, 99.9], axis=1)
    mse = np.mean((pred.astype(np.float64) - ref) ** 2, axis=(1, 2))
    return float(10 * np.log10(np.mean(hi - lo) ** 2 / np.mean(mse)))


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    t = torch.from_numpy(lr.astype(np.float32))[None]
    return F.interpolate(t, scale_factor=scale, mode="bicubic", align_corners=False)[0].numpy()


def phase_pattern_std(diff: np.ndarray, smooth: np.ndarray, scale: int) -> float:
    """Std over the s x s phases of the mean of ``diff`` (C, H, W) on ``smooth`` pixels (max over bands)."""
    h, w = smooth.shape
    rows, cols = np.mgrid[0:h, 0:w]
    out = []
    for band in diff:
        means = [band[smooth & (rows % scale == i) & (cols % scale == j)].mean()
                 for i in range(scale) for j in range(scale)]
        out.append(float(np.std(means)))
    return max(out)


def city(model: Any, path: Path, draws: int, seed: int) -> dict[str, Any]:
    s = model.scale
    sensor = SensorModel(s, model.sensor.mtf_nyquist)
    with rasterio.open(path) as ds:
        img = ds.read().astype(np.float64)
    h, w = img.shape[1] // s * s, img.shape[2] // s * s
    img = img[:, :h, :w]

    def run(hr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lr = np.rint(sensor.degrade(hr)).astype(np.float32)
        return model.predict(lr, precision="bf16"), bicubic(lr, s), lr

    sr0, bic0, _ = run(img)
    gain0 = psnr(sr0, img) - psnr(bic0, img)
    rng = np.random.default_rng(seed)
    changes = []
    for _ in range(draws):
        a = rng.uniform(0.8, 1.2, (img.shape[0], 1, 1))
        b = rng.uniform(-300, 300, (img.shape[0], 1, 1))
        hr = a * img + b
        sr, bic, _ = run(hr)
        changes.append(psnr(sr, hr) - psnr(bic, hr) - gain0)
    bias = (sr0.mean(axis=(1, 2)) - img.mean(axis=(1, 2))) / img.mean(axis=(1, 2)) * 100
    local_std = np.sqrt(np.maximum(uniform_filter(img**2, (1, 9, 9)) - uniform_filter(img, (1, 9, 9)) ** 2, 0))
    smooth = local_std.max(axis=0) <= SMOOTH_DN
    smooth[:16], smooth[-16:], smooth[:, :16], smooth[:, -16:] = False, False, False, False
    enough = int(smooth.sum()) >= MIN_SMOOTH
    pattern = phase_pattern_std(sr0 - bic0, smooth, s) if enough else None
    floor = phase_pattern_std(img - bic0, smooth, s) if enough else None
    bright, _, _ = run(img * 2.5)
    return {
        "city": path.stem, "pixels": int(h * w), "gain_db": round(gain0, 3),
        "gain_change_db": [round(c, 4) for c in changes], "max_abs_gain_change_db": round(max(map(abs, changes)), 4),
        "bias_percent": [round(float(v), 4) for v in bias], "max_abs_bias_percent": round(float(np.abs(bias).max()), 4),
        "smooth_pixels": int(smooth.sum()),
        "pattern_std_dn": None if pattern is None else round(pattern, 3),
        "truth_pattern_std_dn": None if floor is None else round(floor, 3),
        "bright_x2.5_max_abs_dev_dn": round(float(np.abs(bright - 2.5 * sr0).max()), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s2-rgbn-x4", help="installed model name or bundle path")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("S2SR_SHARED_DATA", ROOT.parent / "shared/data")))
    ap.add_argument("--draws", type=int, default=6, help="affine changes per city")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/robustness.json")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_model(a.model)
    t0 = time.perf_counter()
    rows = [city(model, p, a.draws, a.seed) for p in test_scenes(a.data)]
    out = {
        "model": a.model, "model_path": model.path, "draws_per_city": a.draws, "seed": a.seed,
        "seconds": round(time.perf_counter() - t0, 1), "cities": rows,
        "summary": {
            "max_abs_gain_change_db": max(r["max_abs_gain_change_db"] for r in rows),
            "max_abs_bias_percent": max(r["max_abs_bias_percent"] for r in rows),
            "max_pattern_std_dn": max((r["pattern_std_dn"] for r in rows if r["pattern_std_dn"] is not None),
                                      default=None),
        },
        "targets": {"max_abs_gain_change_db": 0.2, "max_abs_bias_percent": 0.3, "max_pattern_std_dn": 2.0},
    }
    a.out.write_text(json.dumps(out, indent=2))
    print("| city | gain dB | max abs gain change dB | max abs bias % | smooth px | pattern std DN (truth) "
          "| x2.5 max dev DN |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        pat = "n/a" if r["pattern_std_dn"] is None else f"{r['pattern_std_dn']:.2f} ({r['truth_pattern_std_dn']:.2f})"
        print(f"| {r['city']} | {r['gain_db']:+.2f} | {r['max_abs_gain_change_db']:.3f} | "
              f"{r['max_abs_bias_percent']:.3f} | {r['smooth_pixels']} | {pat} | {r['bright_x2.5_max_abs_dev_dn']:.1f} |")
    print(json.dumps(out["summary"]))


if __name__ == "__main__":
    main()
