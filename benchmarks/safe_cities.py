"""``apply --safe`` against plain ``apply`` and bicubic, Wald x4, per city (cities never trained on).

    python benchmarks/safe_cities.py [--split test] [--strength 0.5] [--data ../shared/data]
                                     [--out benchmarks/safe_cities_test.json]

For each image of the split (``src/s2sr/configs/scenes/s2_cities_wald.toml``): the 10 m image is the
reference, its degradation by the model's sensor model (rounded to uint16) the input; ``s2sr apply``
runs on it as users run it (tiled, bf16, float32 output) with and without ``--safe``; the scores are
PSNR gain over bicubic (torch bicubic, the base ``--safe`` falls back to; per-band, so the peak
cancels), LR-PSNR (the SR degraded again vs the input) and the opensr-test improvement and
hallucination. Prints one row per image and a mean per city, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wald_cities import ROOT, scenes  # noqa: E402

from s2sr.bundle import ModelBundle  # noqa: E402
from s2sr.evaluate.opensr import opensr_scores  # noqa: E402
from s2sr.infer.apply import ApplyConfig, apply_model  # noqa: E402
from s2sr.infer.safe import bicubic  # noqa: E402
from s2sr.models.registry import resolve_model  # noqa: E402


def _scores(v: np.ndarray, hr: np.ndarray, lr: np.ndarray, bic: np.ndarray, b: ModelBundle) -> dict[str, float]:
    gain = np.mean([10 * np.log10(np.mean((bic[i] - hr[i]) ** 2) / np.mean((v[i] - hr[i]) ** 2))
                    for i in range(len(hr))])
    back = b.sensor.degrade(v)
    peak = np.percentile(lr.reshape(len(lr), -1), 99, axis=1)
    lrp = np.mean([10 * np.log10(peak[i] ** 2 / np.mean((back[i] - lr[i]) ** 2)) for i in range(len(lr))])
    o = opensr_scores(lr / 1e4, v / 1e4, hr / 1e4)
    return {"psnr_gain_db": round(float(gain), 3), "lr_psnr_db": round(float(lrp), 2),
            "improvement": round(float(o["improvement"]), 4), "hallucination": round(float(o["hallucination"]), 4)}


def score_image(model: str, b: ModelBundle, image: Path, work: Path, strength: float) -> dict[str, Any]:
    with rasterio.open(image) as ds:
        hr = ds.read().astype(np.float32)
        prof = ds.profile
    h, w = (hr.shape[1] // 4) * 4, (hr.shape[2] // 4) * 4
    hr = hr[:, :h, :w]
    lr = np.clip(np.rint(b.sensor.degrade(hr)), 1, 65535)
    src = work / f"{image.stem}_lr.tif"
    with rasterio.open(src, "w", driver="GTiff", width=w // 4, height=h // 4, count=len(lr), dtype="uint16",
                       crs=prof.get("crs"), transform=prof["transform"] * prof["transform"].scale(4),
                       nodata=0) as dst:
        dst.write(lr.astype(np.uint16))
        dst.descriptions = tuple(b.bands)
    bic = bicubic(lr[None].astype(np.float32), 4)[0]
    row: dict[str, Any] = {"image": image.stem, "bicubic": _scores(bic, hr, lr, bic, b)}
    for name, safe in (("model", False), ("safe", True)):
        opts = ApplyConfig(precision="bf16", out_dtype="float32", safe=safe, safe_strength=strength,
                           check_resolution=False, input_check="skip", progress=False)
        res = apply_model(model, src, work / f"{image.stem}_{name}.tif", opts)
        with rasterio.open(res.path) as ds:
            row[name] = _scores(ds.read(), hr, lr, bic, b)
        res.path.unlink()
    src.unlink()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="s2-rgbn-x4")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("S2SR_SHARED_DATA", ROOT.parent / "shared/data")))
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--strength", type=float, default=0.5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from s2sr.bundle import load_model

    b = load_model(resolve_model(args.model))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="s2sr-safe-") as d:
        for city, image in scenes(args.data, args.split):
            row = {"city": city, **score_image(args.model, b, image, Path(d), args.strength)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    cities: dict[str, dict[str, dict[str, float]]] = {}
    for city in dict.fromkeys(r["city"] for r in rows):
        mine = [r for r in rows if r["city"] == city]
        cities[city] = {m: {k: round(float(np.mean([r[m][k] for r in mine])), 4) for k in mine[0][m]}
                        for m in ("bicubic", "model", "safe")}
    print("| city | PSNR gain model / safe dB | LR-PSNR model / safe | improvement model / safe / bicubic "
          "| hallucination model / safe / bicubic |\n|---|---|---|---|---|")
    for city, c in cities.items():
        print(f"| {city} | {c['model']['psnr_gain_db']:+.2f} / {c['safe']['psnr_gain_db']:+.2f} "
              f"| {c['model']['lr_psnr_db']:.1f} / {c['safe']['lr_psnr_db']:.1f} "
              f"| {c['model']['improvement']:.3f} / {c['safe']['improvement']:.3f} / {c['bicubic']['improvement']:.3f} "
              f"| {c['model']['hallucination']:.3f} / {c['safe']['hallucination']:.3f} / "
              f"{c['bicubic']['hallucination']:.3f} |")
    out = args.out or ROOT / f"benchmarks/safe_cities_{args.split}.json"
    out.write_text(json.dumps({"model": args.model, "split": args.split, "strength": args.strength,
                               "cities": cities, "images": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
