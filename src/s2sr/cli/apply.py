"""``s2sr apply``: super-resolve a scene (or part of it) into a COG (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import band_list, numbers, progress


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "apply",
        help="super-resolve a GeoTIFF with a trained model into a Cloud Optimized GeoTIFF",
        description="Streams MODEL over IN.tif tile by tile (bounded memory, blended seams) and writes OUT.tif, "
        "a COG on the fine grid: same bounds and CRS as the input (or the window), pixel size / scale. "
        "See docs/apply.md.",
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (RUN/best.pt), exported .onnx, or an installed model's name (s2sr models)")
    p.add_argument("src", metavar="IN.tif", help="input image (LR)")
    p.add_argument("dst", metavar="OUT.tif", help="output COG")
    p.add_argument("--bands", help="input band numbers for the model's bands, in order, e.g. 2,3,4,8")
    p.add_argument("--tile", type=int, default=128, help="tile size in input pixels (default 128)")
    p.add_argument("--overlap", type=int, default=16, help="blend zone between tiles, input pixels (default 16)")
    p.add_argument("--margin", type=int, help="extra context per tile, input pixels (default: receptive field)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run of the same command")
    p.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler address, or local:N for N local workers")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--window", metavar="COL,ROW,WIDTH,HEIGHT", help="only this input pixel window")
    g.add_argument("--bbox", metavar="LEFT,BOTTOM,RIGHT,TOP", help="only this box, in the input's CRS")
    p.add_argument("--out-dtype", choices=("same", "float32"), default="same",
                   help="output data type (default: same as input, rounded and clipped)")
    p.add_argument("--compress", choices=("DEFLATE", "ZSTD"), default="DEFLATE")
    p.add_argument("--edge", choices=("reflect", "replicate"), default="reflect",
                   help="padding at scene edges (default reflect)")
    p.add_argument("--threads", type=int, help="intra-op threads for the model (default: torch's choice)")
    p.add_argument("--no-input-check", action="store_true",
                   help="apply even when the input's values or pixel size are far from the model's training data "
                   "(8-bit, another reflectance scale, 20 m pixels...): warn instead of refusing")
    p.add_argument("--uncertainty", action="store_true",
                   help="also write OUT.uncertainty.tif: per pixel and band, the half-width of the calibrated "
                   "interval around the SR (needs a model with an uncertainty head; docs/uncertainty.md)")
    p.add_argument("--uncertainty-level", type=float, default=90.0, metavar="PERCENT",
                   help="interval level of --uncertainty in %%: 80, 90 or 95 (default 90)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.infer.apply import ApplyConfig, apply_model

    opts = ApplyConfig(
        bands=band_list(args.bands), tile=args.tile, overlap=args.overlap, margin=args.margin,
        precision=args.precision, device=args.device, backend=args.backend, resume=args.resume, dask=args.dask,
        window=numbers(args.window, 4, "--window"), bbox=numbers(args.bbox, 4, "--bbox", float),
        out_dtype=args.out_dtype, compress=args.compress, edge=args.edge, progress=progress(args),
        threads=args.threads, input_check="warn" if args.no_input_check else "refuse",
        uncertainty=args.uncertainty, uncertainty_level=args.uncertainty_level / 100.0,
    )
    res = apply_model(args.model, args.src, args.dst, opts)
    print(res.path)
    if res.uncertainty_path is not None:
        print(res.uncertainty_path)
    return 0
