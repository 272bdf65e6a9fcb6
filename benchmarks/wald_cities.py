"""Per-city Wald x4 scores of a Sentinel-2 model on cities it never trained on.

    python benchmarks/wald_cities.py [--model s2-rgbn-x4] [--data ../shared/data]
                                     [--split test] [--out benchmarks/wald_cities.json]

Runs ``s2sr evaluate --wald`` (the library function) on every image of the scene list's
``test`` (or ``val``) scenes: the 10 m image is the reference, its sensor-model degradation
the input, the model and GDAL's nearest/bilinear/cubic/lanczos are scored on the same grid
(docs/evaluate.md), with the opensr-test scores. Prints one Markdown row per image and a
per-city mean (both dates of a city), and writes everything to JSON.
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

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "src/s2sr/configs/scenes/s2_cities_wald.toml"
METHODS = ("model", "bicubic", "lanczos")
KEYS = ("psnr", "ssim", "sam", "ergas", "lr_psnr", "improvement", "omission", "hallucination")
OSR = ("improvement", "omission", "hallucination", "reflectance", "spectral", "synthesis")


def scenes(data: Path, split: str) -> list[tuple[str, Path]]:
    return [(s["group"], data / s["wald"]) for s in tomllib.loads(SCENES.read_text())["scene"] if s.get("split") == split]


def score(model: str, image: Path, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    evaluate(make_eval_config(model=model, wald=image, out=work / image.stem, overwrite=True))
    doc = json.loads((work / image.stem / "metrics.json").read_text())
    row: dict[str, Any] = {"image": image.stem, "pixels": doc["pixels"], "seconds": round(time.perf_counter() - t0, 1)}
    for m in METHODS:
        row[m] = {k: doc["methods"][m]["overall"].get(k) for k in KEYS}
        osr = doc["methods"][m].get("opensr") or {}
        row[m]["opensr"] = {k: osr.get(k) for k in OSR}
    return row


def _fmt(v: Any, nd: int) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| image | method | PSNR dB | SSIM | SAM ° | ERGAS | LR-PSNR dB | impr. | omis. | halluc. "
            "| osr impr. | osr omis. | osr halluc. | osr refl. L1 | osr SAD ° | osr synth. |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        for m in METHODS:
            d, o = r[m], r[m]["opensr"]
            out.append(f"| {r['image']} | {m} | {_fmt(d['psnr'], 2)} | {_fmt(d['ssim'], 4)} | {_fmt(d['sam'], 3)} | "
                       f"{_fmt(d['ergas'], 3)} | {_fmt(d['lr_psnr'], 1)} | {_fmt(d['improvement'], 3)} | "
                       f"{_fmt(d['omission'], 3)} | {_fmt(d['hallucination'], 3)} | {_fmt(o['improvement'], 3)} | "
                       f"{_fmt(o['omission'], 3)} | {_fmt(o['hallucination'], 3)} | {_fmt(o['reflectance'], 4)} | "
                       f"{_fmt(o['spectral'], 3)} | {_fmt(o['synthesis'], 4)} |")
    return "\n".join(out)


def per_city(rows: list[dict[str, Any]], groups: dict[str, str]) -> list[dict[str, Any]]:
    """Mean over the images (dates) of each city, for the headline table and the targets."""
    cities: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cities.setdefault(groups[r["image"]], []).append(r)
    out = []
    for city, rs in cities.items():
        def mean(m: str, k: str, osr: bool = False, rs: list[dict[str, Any]] = rs) -> float:
            vals = [(r[m]["opensr"] if osr else r[m])[k] for r in rs]
            return sum(vals) / len(vals)
        out.append({
            "city": city, "images": len(rs),
            "psnr_gain_db": mean("model", "psnr") - mean("bicubic", "psnr"),
            "psnr_model": mean("model", "psnr"), "psnr_bicubic": mean("bicubic", "psnr"),
            "psnr_lanczos": mean("lanczos", "psnr"),
            "sam_model": mean("model", "sam"), "sam_bicubic": mean("bicubic", "sam"),
            "lr_psnr_model": mean("model", "lr_psnr"),
            "osr_improvement": mean("model", "improvement", True),
            "osr_hallucination_model": mean("model", "hallucination", True),
            "osr_hallucination_bicubic": mean("bicubic", "hallucination", True),
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s2-rgbn-x4")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("S2SR_SHARED_DATA", ROOT.parent / "shared/data")))
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or ROOT / f"benchmarks/wald_cities_{a.split}.json"
    items = scenes(a.data, a.split)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [score(a.model, img, Path(tmp)) for _, img in items]
    cities = per_city(rows, {img.stem: g for g, img in items})
    n = len(cities)
    targets = {
        "mean_gain_db": sum(c["psnr_gain_db"] for c in cities) / n,
        "min_city_gain_db": min(c["psnr_gain_db"] for c in cities),
        "sam_not_worse_every_city": all(c["sam_model"] <= c["sam_bicubic"] for c in cities),
        "min_lr_psnr_db": min(c["lr_psnr_model"] for c in cities),
        "min_osr_improvement": min(c["osr_improvement"] for c in cities),
        "osr_hallucination_below_bicubic_every_city": all(
            c["osr_hallucination_model"] < c["osr_hallucination_bicubic"] for c in cities),
    }
    out.write_text(json.dumps({"model": a.model, "split": a.split, "images": rows, "cities": cities,
                               "targets": targets}, indent=2))
    print(table(rows))
    print()
    print("| city | images | PSNR gain dB | SAM model / bicubic ° | LR-PSNR dB | osr improvement | "
          "osr halluc. model / bicubic |")
    print("|---|---|---|---|---|---|---|")
    for c in cities:
        print(f"| {c['city']} | {c['images']} | {c['psnr_gain_db']:+.2f} | {c['sam_model']:.3f} / {c['sam_bicubic']:.3f} | "
              f"{c['lr_psnr_model']:.1f} | {c['osr_improvement']:.3f} | "
              f"{c['osr_hallucination_model']:.3f} / {c['osr_hallucination_bicubic']:.3f} |")
    print(json.dumps(targets))


if __name__ == "__main__":
    main()
