"""``s2sr calibrate``: attach a calibrated uncertainty head to a trained model (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import progress


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit and calibrate a per-pixel error model for a trained model (for apply --uncertainty)",
        description="Runs MODEL over the train and val splits of the dataset it was trained on (--data, written by "
        "`s2sr prepare`), fits a small error model to its residuals on the train split, calibrates it "
        "(split-conformal) on the val split, and writes OUT.pt: a copy of MODEL with the uncertainty head. "
        "The test split is never read. See docs/uncertainty.md.",
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (RUN/best.pt) or an installed model's name (s2sr models)")
    p.add_argument("--data", required=True, metavar="DATASET", help="dataset folder written by `s2sr prepare`")
    p.add_argument("--out", required=True, metavar="OUT.pt", help="the model bundle with its uncertainty head")
    p.add_argument("--steps", type=int, default=3000, help="training steps of the error model (default 3000)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.uncertainty.fit import FitConfig, fit_uncertainty

    res = fit_uncertainty(FitConfig(model=args.model, data=args.data, out=args.out, steps=args.steps,
                                    seed=args.seed, threads=args.threads, progress=progress(args)))
    q = res.metrics["val_quantiles"]
    print(f"{res.out}: uncertainty head trained on {len(res.head.trained_on)} scene(s), calibrated on "
          f"{len(res.head.calibrated_on)} (val Spearman {res.metrics['val_spearman_pixel']:.3f}; "
          f"90 % quantile of |error|/scale per band {', '.join(f'{v:.2f}' for v in q['0.9'])})")
    return 0
