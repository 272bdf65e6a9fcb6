"""What "realistic" measures, and where a model stands: the no-reference statistics of
``s2sr evaluate --real`` (s2sr.evaluate.realstats) for real 2.5 m images against their own 10 m
version, and for a model's output on real 10 m Sentinel-2 inputs (test cities, both dates, and
the demo crop), beside PyTorch bicubic of the same inputs.

    python benchmarks/real_stats.py [--model s2-rgbn-x4] [--data ../shared/data] [--no-aerial]
                                    [--out benchmarks/real_stats.json]

The aerial images (``aerial_hr/``) are area-averaged to 2.5 m (their largest fully valid window) and
degraded by the ``mtf0.3`` member to 10 m; the image itself then plays the output. Prints the
ranges; writes everything as JSON.
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

from s2sr.bundle import load_model
from s2sr.evaluate.modes import real_arrays, torch_bicubic
from s2sr.evaluate.realstats import real_stats
from s2sr.evaluate.robust import aerial_reference
from s2sr.sensor.family import named

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "src/s2sr/configs/scenes/s2_cities_wald.toml"
DEMO = ROOT / "src/s2sr/samples/nantes_20171014_s2l1c_10m.tif"
KEYS = ("grid_peak", "clipped_share_max", "mean_shift_max_abs", "outside_local_range_mean", "spectral_angle_to_bicubic_deg")


def _headline(st: dict[str, Any]) -> dict[str, float]:
    return {k: (st[k]["overall"] if isinstance(st[k], dict) else st[k]) for k in KEYS}


def aerial(bundle: Any, data: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((data / "aerial_hr").glob("*.tif")):
        try:
            ref = aerial_reference(path, bundle)
        except ValueError as e:
            print(f"aerial {path.stem}: skipped ({e})")
            continue
        hr = ref.data[ref.scored]
        lr = named("mtf0.3").apply(hr, bundle.scale)
        st = real_stats(lr, hr, torch_bicubic(lr, bundle.scale), bundle.scale)
        head = _headline(st)
        head["clipped_share_max"] = None  # the units are a line fitted onto a model's input: its zeros say nothing
        rows.append({"image": path.stem, "shape": list(hr.shape), "stats": st, "headline": head})
        print(f"aerial {path.stem}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1]["headline"].items() if v is not None),
              flush=True)
    return rows


def real_inputs(bundle: Any, data: Path) -> list[dict[str, Any]]:
    items = [(s["group"], data / s["wald"]) for s in tomllib.loads(SCENES.read_text())["scene"] if s.get("split") == "test"]
    items.append(("demo", DEMO))
    rows = []
    for city, path in items:
        lr, sr, bic = real_arrays(bundle, path)
        s = bundle.scale
        st = {"model": real_stats(lr, sr, bic, s), "bicubic": real_stats(lr, bic, bic, s)}
        rows.append({"city": city, "image": path.stem, "stats": st,
                     "headline": {m: _headline(v) for m, v in st.items()}})
        h = rows[-1]["headline"]
        print(f"{path.stem}: grid peak model {h['model']['grid_peak']:.2f} / bicubic {h['bicubic']['grid_peak']:.2f}, "
              f"clipped +{h['model']['clipped_share_max']:.3f} pt, mean shift {h['model']['mean_shift_max_abs']:.3f} %, "
              f"outside {h['model']['outside_local_range_mean']:.2f} % (bicubic {h['bicubic']['outside_local_range_mean']:.2f})",
              flush=True)
    return rows


def ranges(rows: list[dict[str, Any]], pick: Any) -> dict[str, list[float]]:
    out = {}
    for k in KEYS:
        vals = [pick(r)[k] for r in rows if pick(r)[k] is not None]
        if vals:
            out[k] = [float(np.min(vals)), float(np.max(vals))]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="s2-rgbn-x4")
    ap.add_argument("--data", default=os.environ.get("S2SR_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--no-aerial", action="store_true", help="skip the aerial images (they do not depend on the model)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    bundle, data, t0 = load_model(a.model), Path(a.data), time.perf_counter()
    doc: dict[str, Any] = {"model": a.model}
    if not a.no_aerial:
        doc["aerial"] = aerial(bundle, data)
        doc["aerial_range"] = ranges(doc["aerial"], lambda r: r["headline"])
    doc["real_inputs"] = real_inputs(bundle, data)
    doc["model_range"] = ranges(doc["real_inputs"], lambda r: r["headline"]["model"])
    doc["bicubic_range"] = ranges(doc["real_inputs"], lambda r: r["headline"]["bicubic"])
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    for k in ("aerial_range", "model_range", "bicubic_range"):
        if k in doc:
            print(k, json.dumps({kk: [round(v, 3) for v in vv] for kk, vv in doc[k].items()}))
    out = a.out or ROOT / "benchmarks/real_stats.json"
    out.write_text(json.dumps(doc, indent=1))
    print(f"{out} ({doc['seconds']} s)")


if __name__ == "__main__":
    main()
