"""Uncertainty head of an S2 model: coverage and rank correlation per city, and the cost of --uncertainty.

    python benchmarks/uncertainty.py [--model s2-rgbn-x4] [--data ../shared/data] [--split test]
                                     [--cost-window 512] [--out benchmarks/uncertainty_test.json]
                                     [--synthetic] [--rss]

Attach the head first (the test split is never read; `--data` is the dataset the model was trained on):

    s2sr calibrate s2-rgbn-x4 --data DS --out s2-rgbn-x4_u.pt     # then --model s2-rgbn-x4_u.pt

- per image of the scene list's ``test`` (or ``val``) cities: ``s2sr evaluate --wald`` (the library
  function), which scores the head as it scores the SR: empirical coverage of the 80 / 90 / 95 %
  intervals, Spearman rank correlation of the predicted 90 % half-width with the actual |error| per
  pixel and per 16 x 16 block; per city: coverage pooled over its images (pixel counts), Spearman
  averaged over them;
- ``--cost-window N``: ``apply`` and ``apply --uncertainty`` on the same N x N window of a real 10 m
  image, alternated, twice each, in this process (best of two), and the ratio;
- ``--rss``: peak RSS of ``apply --uncertainty`` (subprocess) for an N and a 2N window (memory flat in size);
- ``--synthetic``: the seeded synthetic demo scene: train the demo model, calibrate it, score its test split.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.infer.apply import ApplyConfig, apply_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from wald_cities import scenes  # noqa: E402

LEVELS = ("0.8", "0.9", "0.95")
COST_IMAGE = "oscd/beirut_20150820.tif"  # the largest city image (a train city: only its speed is used)


def score(model: str, image: Path, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    res = evaluate(make_eval_config(model=model, wald=image, out=work / image.stem, overwrite=True, opensr=False,
                                    progress=False))
    u = res.uncertainty
    if u is None:
        raise SystemExit(f"{model}: has no uncertainty head; attach one with `s2sr calibrate` first")
    return {"image": image.stem, "pixels": u["pixels"], "seconds": round(time.perf_counter() - t0, 1),
            "coverage": {k: u["coverage"][k]["overall"] for k in LEVELS},
            "coverage_per_band": {k: u["coverage"][k]["per_band"] for k in LEVELS},
            "spearman_pixel": u["spearman_pixel"], "spearman_block": u["spearman_block"],
            "spearman_pixel_per_band": u["spearman_pixel_per_band"],
            "psnr_gain_db": res.methods["model"]["psnr"] - res.methods["bicubic"]["psnr"]}


def per_city(rows: list[dict[str, Any]], groups: dict[str, str]) -> list[dict[str, Any]]:
    cities: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cities.setdefault(groups[r["image"]], []).append(r)
    out = []
    for city, rs in cities.items():
        n = sum(r["pixels"] for r in rs)
        out.append({"city": city, "images": len(rs), "pixels": n,
                    "coverage": {k: sum(r["coverage"][k] * r["pixels"] for r in rs) / n for k in LEVELS},
                    "spearman_pixel": sum(r["spearman_pixel"] for r in rs) / len(rs),
                    "spearman_block": sum(r["spearman_block"] for r in rs) / len(rs)})
    return out


def cost(model: str, image: Path, window: int, work: Path) -> dict[str, Any]:
    """apply vs apply --uncertainty on the same window, alternated, best of two each."""
    times: dict[str, list[float]] = {"apply": [], "apply_uncertainty": []}
    for _ in range(2):
        for key, unc in (("apply", False), ("apply_uncertainty", True)):
            t0 = time.perf_counter()
            apply_model(model, image, work / f"{key}.tif", ApplyConfig(window=(0, 0, window, window), progress=False,
                                                                      uncertainty=unc, input_check="warn"))
            times[key].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    return {"window_lr_px": window, "seconds": times, "best": best,
            "ratio": best["apply_uncertainty"] / best["apply"]}


def rss(model: str, image: Path, window: int, work: Path) -> dict[str, float]:
    out = {}
    for n in (window // 2, window):
        cmd = [sys.executable, "-m", "s2sr", "-q", "apply", model, str(image), str(work / f"rss{n}.tif"),
               "--uncertainty", "--window", f"0,0,{n},{n}", "--no-input-check"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(cmd, check=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out[f"{n}x{n}_lr_px_peak_rss_mb"] = round(max(peak, before) / 1024, 1)
    return out


def synthetic(work: Path) -> dict[str, Any]:
    """The demo recipe on the seeded synthetic scene, with a head fitted on its train blocks, calibrated on
    its val blocks, and scored on its test blocks."""
    from s2sr.data.config import make_prepare_config
    from s2sr.data.prepare import prepare
    from s2sr.synth import synthesise
    from s2sr.train.config import builtin_config
    from s2sr.train.run import train
    from s2sr.uncertainty.fit import FitConfig, fit_uncertainty

    syn = synthesise(work / "scene", seed=0, size=2048, scale=4)
    prepare(make_prepare_config(pairs=[(syn.lr, syn.hr)], scale=4, patch_size=32, out=work / "ds",
                                coregister=True, harmonise=True, seed=0, overwrite=True))
    tr = train(work / "ds", work / "run", builtin_config("demo", {"seed": 0}))
    fit = fit_uncertainty(FitConfig(model=tr.best, data=work / "ds", out=work / "demo_u.pt", progress=False))
    res = evaluate(make_eval_config(model=work / "demo_u.pt", lr=syn.lr, hr=syn.hr, split_from=work / "ds",
                                    out=work / "ev", opensr=False, progress=False))
    u = res.uncertainty or {}
    return {"coverage": {k: u["coverage"][k]["overall"] for k in LEVELS}, "spearman_pixel": u["spearman_pixel"],
            "spearman_block": u["spearman_block"], "pixels": u["pixels"], "fit": fit.metrics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s2-rgbn-x4")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("S2SR_SHARED_DATA", ROOT.parent / "shared/data")))
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--cost-window", type=int, default=512)
    ap.add_argument("--rss", action="store_true")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--no-cities", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or ROOT / f"benchmarks/uncertainty_{a.split}.json"
    doc: dict[str, Any] = {"model": a.model, "split": a.split}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not a.no_cities:
            items = scenes(a.data, a.split)
            rows = []
            for _, img in items:
                rows.append(score(a.model, img, work))
                print(json.dumps(rows[-1]), flush=True)
            doc["images"] = rows
            doc["cities"] = per_city(rows, {img.stem: g for g, img in items})
        if a.cost_window:
            doc["cost"] = cost(a.model, a.data / COST_IMAGE, a.cost_window, work)
            print(json.dumps(doc["cost"]), flush=True)
        if a.rss:
            doc["rss"] = rss(a.model, a.data / COST_IMAGE, a.cost_window, work)
        if a.synthetic:
            doc["synthetic"] = synthetic(work / "syn")
            print(json.dumps(doc["synthetic"]), flush=True)
    out.write_text(json.dumps(doc, indent=2))
    if "cities" in doc:
        print("| city | images | coverage 80 % | 90 % | 95 % | Spearman pixel | Spearman 16x16 block |")
        print("|---|---|---|---|---|---|---|")
        for c in doc["cities"]:
            cv = c["coverage"]
            print(f"| {c['city']} | {c['images']} | {100 * cv['0.8']:.1f} | {100 * cv['0.9']:.1f} | "
                  f"{100 * cv['0.95']:.1f} | {c['spearman_pixel']:.3f} | {c['spearman_block']:.3f} |")


if __name__ == "__main__":
    main()
