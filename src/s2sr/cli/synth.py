"""``s2sr synth OUTDIR``: write a synthetic LR/HR pair with known shift and gains."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import add_scale


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="make a synthetic LR/HR pair (hr.tif, lr.tif, truth.json)",
        description="Write a synthetic landscape hr.tif (10/S m), the lr.tif a 10 m sensor would "
        "see (blur, shift, gains, noise, nodata edge, a cloud) and truth.json into OUTDIR.",
    )
    p.add_argument("outdir", metavar="OUTDIR", help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=2048, help="HR width/height in pixels, a multiple of --scale (default 2048)")
    add_scale(p, default=4)
    p.add_argument("--mtf", type=float, default=0.3, help="sensor MTF at Nyquist (default 0.3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.synth import synthesise

    r = synthesise(args.outdir, seed=args.seed, size=args.size, scale=args.scale, mtf_nyquist=args.mtf)
    print(f"{r.hr}\n{r.lr}\n{r.truth}")
    return 0
