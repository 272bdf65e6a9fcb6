"""Wald x4 under other degradations than a model's own, on cities it never trained on.

    python benchmarks/robust_wald.py [--model s2-rgbn-x4] [--data ../shared/data] [--split test]
                                     [--degradation area,mtf0.2,mtf0.3,mtf0.5,noise30,shift0.3]
                                     [--out benchmarks/robust_wald_test.json]

For every image of the scene list's split (both dates of each city), the 10 m image is the reference
and each named member of ``s2sr.sensor.family`` makes the 40 m input (`s2sr evaluate --wald IMG
--degradation NAMES`, the library function); the model (through apply's code), GDAL bicubic and
lanczos are scored. Prints the per-city mean gain over bicubic per member, writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

from s2sr.bundle import load_model
from s2sr.evaluate.robust import score_members, wald_reference
from s2sr.sensor.family import parse_names

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "src/s2sr/configs/scenes/s2_cities_wald.toml"
DEFAULT = "area,mtf0.2,mtf0.3,mtf0.5,noise30,shift0.3"


def scenes(data: Path, split: str) -> list[tuple[str, Path]]:
    return [(s["group"], data / s["wald"]) for s in tomllib.loads(SCENES.read_text())["scene"] if s.get("split") == split]


def city_means(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    acc: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        acc[(r["city"], r["degradation"])].append(r)
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (city, deg), rs in acc.items():
        def mean(f: Any, rs: list[dict[str, Any]] = rs) -> float:
            return sum(f(r) for r in rs) / len(rs)
        out[city][deg] = {"gain_db": mean(lambda r: r["gain_db"]), "gain_vs_lanczos_db": mean(lambda r: r["gain_vs_lanczos_db"]),
                          "psnr_model": mean(lambda r: r["model"]["psnr"]), "psnr_bicubic": mean(lambda r: r["bicubic"]["psnr"]),
                          "sam_model": mean(lambda r: r["model"]["sam"]), "sam_bicubic": mean(lambda r: r["bicubic"]["sam"]),
                          "gain_per_band_db": [sum(r["gain_per_band_db"][b] for r in rs) / len(rs) for b in range(len(rs[0]["gain_per_band_db"]))]}
    return dict(out)


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
    for city, path in scenes(Path(a.data), a.split):
        ref = wald_reference(path, list(range(1, len(bundle.bands) + 1)), bundle.scale)
        for r in score_members(bundle, ref, members):
            rows.append({"city": city, "image": path.stem, **r})
        print(f"{path.stem}: " + ", ".join(f"{r['degradation']} {r['gain_db']:+.2f}" for r in rows[-len(members):]), flush=True)
    means = city_means(rows)
    names = [m.name for m in members]
    print("\n| city | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for city, d in means.items():
        print(f"| {city} | " + " | ".join(f"{d[n]['gain_db']:+.2f}" for n in names) + " |")
    doc = {"model": a.model, "split": a.split, "degradations": names, "seconds": round(time.perf_counter() - t0, 1),
           "city_means": means, "rows": rows}
    out = a.out or ROOT / f"benchmarks/robust_wald_{a.split}.json"
    out.write_text(json.dumps(doc, indent=1))
    print(f"{out} ({doc['seconds']} s)")


if __name__ == "__main__":
    main()
