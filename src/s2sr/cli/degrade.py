"""``s2sr degrade``: make a Wald pair (lr.tif, hr.tif) from a real image (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import add_scale, band_list, progress


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "degrade",
        help="degrade an image by the sensor model into a Wald training/evaluation pair",
        description="Writes OUTDIR/hr.tif (IMG cropped to a multiple of --scale) and OUTDIR/lr.tif "
        "(hr.tif blurred by a Gaussian MTF and area-downsampled, on the coarse grid), ready for "
        "`s2sr prepare --lr OUTDIR/lr.tif --hr OUTDIR/hr.tif`.",
    )
    p.add_argument("img", metavar="IMG", help="input image (e.g. Sentinel-2 10 m bands)")
    p.add_argument("outdir", metavar="OUTDIR", help="output directory")
    add_scale(p)
    p.add_argument("--mtf", type=float, default=0.3, help="MTF at the LR Nyquist frequency (default 0.3)")
    p.add_argument("--bands", help="band numbers to keep, e.g. 1,2,3,4 (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.data.wald import degrade_image

    pair = degrade_image(args.img, args.outdir, args.scale, args.mtf, band_list(args.bands), progress=progress(args))
    print(f"{pair.lr} {pair.hr}")
    return 0
