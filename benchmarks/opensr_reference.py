"""Record opensr-test's own scores on the seeded triplets of tests/evaluate/opensr_cases.py.

Needs the real package, e.g. in a scratch venv outside the repo:

    python3 -m venv /tmp/osr && /tmp/osr/bin/pip install torch==2.13.0 numpy scikit-image \
        opencv-python-headless xarray pandas rasterio matplotlib pydantic requests
    /tmp/osr/bin/pip install --no-deps opensr-test==1.3.3 satalign
    PYTHONPATH=src /tmp/osr/bin/python benchmarks/opensr_reference.py [--write]

opensr-test imports mpltern (plots) and satalign's LightGlue (torchvision); neither is used
by ``Metrics().compute()`` with the default Config, so this script puts empty stand-ins
for them in ``sys.modules`` when they are missing. It prints the package's values next
to s2sr's (when ``s2sr`` is importable) and with ``--write`` stores the package's values
under the OpenCV major version in tests/evaluate/opensr_reference.json.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata as md
import importlib.util
import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "evaluate" / "opensr_reference.json"


def _cases():
    spec = importlib.util.spec_from_file_location("opensr_cases", ROOT / "tests" / "evaluate" / "opensr_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_cases()


def _import_opensr_test():
    for name in ("mpltern",):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    try:
        import satalign.lgm  # noqa: F401
    except ImportError:
        stub = types.ModuleType("satalign.lgm")
        stub.LGM = None
        sys.modules["satalign.lgm"] = stub
    import opensr_test

    return opensr_test


def package_scores() -> dict[str, dict[str, float]]:
    """opensr_test.Metrics().compute(lr, sr, hr) for every case (float32 tensors, default Config)."""
    import torch

    opensr_test = _import_opensr_test()
    lr, hr, srs = _cases()
    out = {}
    for name, sr in srs.items():
        m = opensr_test.Metrics()
        res = m.compute(lr=torch.from_numpy(lr), sr=torch.from_numpy(sr), hr=torch.from_numpy(hr))
        out[name] = {k: float(v) for k, v in res.items()}
    return out


def ours() -> dict[str, dict[str, float]] | None:
    try:
        from s2sr.evaluate.opensr import opensr_scores
    except ImportError:
        return None
    lr, hr, srs = _cases()
    return {k: opensr_scores(lr, sr, hr) for k, sr in srs.items()}


KEYS = {"reflectance": "reflectance", "spectral": "spectral", "spatial": "spatial", "synthesis": "synthesis",
        "im_metric": "improvement", "om_metric": "omission", "ha_metric": "hallucination"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="store the package's values in " + str(REF.relative_to(ROOT)))
    args = ap.parse_args()
    import cv2

    pkg = package_scores()
    mine = ours()
    worst = 0.0
    for case, vals in pkg.items():
        for k, v in vals.items():
            o = mine[case][KEYS[k]] if mine else float("nan")
            worst = max(worst, abs(o - v)) if o == o and v == v else worst
            print(f"{case:9s} {KEYS[k]:13s} package {v:.8f}  s2sr {o:.8f}  diff {o - v:+.2e}")
    print(f"max |s2sr - package| = {worst:.3e}")
    if args.write:
        doc = json.loads(REF.read_text()) if REF.is_file() else {}
        versions = {p: md.version(p) for p in ("opensr_test", "satalign", "scikit-image", "torch", "numpy", "scipy")}
        versions["opencv"] = cv2.__version__
        doc[f"opencv{cv2.__version__.split('.')[0]}"] = {
            "produced_by": "benchmarks/opensr_reference.py --write (opensr_test.Metrics().compute, default Config)",
            "date": datetime.date.today().isoformat(), "versions": versions,
            "scores": {c: {KEYS[k]: v for k, v in vals.items()} for c, vals in pkg.items()},
        }
        REF.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"wrote {REF}")


if __name__ == "__main__":
    main()
