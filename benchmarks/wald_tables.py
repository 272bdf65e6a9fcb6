"""Markdown tables for docs/RESULTS.md from the JSON written by ``benchmarks/wald_cities.py``.

    python benchmarks/wald_tables.py benchmarks/wald_cities_test.json

Per city (mean over its dates): model / bicubic / lanczos for PSNR, SSIM, SAM, ERGAS and
LR-PSNR, s2sr's improvement / hallucination / omission, and the opensr-test 1.3.3 scores.
Nothing is computed here but means of the stored per-image figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wald_cities import scenes  # noqa: E402

METHODS = ("model", "bicubic", "lanczos")
METRICS = (("psnr", "PSNR dB", "{:.2f}"), ("ssim", "SSIM", "{:.3f}"), ("sam", "SAM °", "{:.3f}"),
           ("ergas", "ERGAS", "{:.3f}"), ("lr_psnr", "LR-PSNR dB", "{:.1f}"))
OWN = ("improvement", "hallucination", "omission")
OSR = ("reflectance", "spectral", "synthesis", "improvement", "omission", "hallucination")


def by_city(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The images of ``doc`` by city, the groups of the scene list ``wald_cities.py`` scored."""
    group_of = {path.stem: group for group, path in scenes(Path(), doc["split"])}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for im in doc["images"]:
        groups[group_of[im["image"]]].append(im)
    return dict(sorted(groups.items()))


def mean(ims: list[dict[str, Any]], method: str, key: str, sub: str | None = None) -> float:
    vals = [(im[method][sub] if sub else im[method])[key] for im in ims]
    return sum(vals) / len(vals)


def metric_table(doc: dict[str, Any]) -> str:
    head = "| city | " + " | ".join(f"{label} model / bicubic / lanczos" for _, label, _ in METRICS) + " |"
    rows = [head, "|---" * (len(METRICS) + 1) + "|"]
    for city, ims in by_city(doc).items():
        cells = [" / ".join(fmt.format(mean(ims, m, k)) for m in METHODS) for k, _, fmt in METRICS]
        rows.append(f"| {city} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def detail_table(doc: dict[str, Any]) -> str:
    head = ("| city | s2sr improv. / halluc. / omission (model) | opensr reflectance ×1e3 model / bicubic | "
            "opensr spectral ° model / bicubic | opensr synthesis ×1e3 model | opensr improv. model / bicubic | "
            "opensr omission model / bicubic | opensr halluc. model / bicubic |")
    rows = [head, "|---" * 8 + "|"]
    for city, ims in by_city(doc).items():
        own = " / ".join(f"{mean(ims, 'model', k):.3f}" for k in OWN)
        o = {(m, k): mean(ims, m, k, "opensr") for m in ("model", "bicubic") for k in OSR}
        rows.append(f"| {city} | {own} | {1e3 * o['model', 'reflectance']:.2f} / {1e3 * o['bicubic', 'reflectance']:.2f} | "
                    f"{o['model', 'spectral']:.3f} / {o['bicubic', 'spectral']:.3f} | "
                    f"{1e3 * o['model', 'synthesis']:.2f} | "
                    + " | ".join(f"{o['model', k]:.3f} / {o['bicubic', k]:.3f}" for k in ("improvement", "omission",
                                                                                      "hallucination")) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="+")
    for path in ap.parse_args().results:
        doc = json.loads(path.read_text())
        print(f"### split `{doc['split']}` ({path.name})\n\n{metric_table(doc)}\n\n{detail_table(doc)}\n")
        print("targets:", json.dumps(doc["targets"]), "\n")


if __name__ == "__main__":
    main()
