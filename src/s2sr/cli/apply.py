"""``s2sr apply``: super-resolve a scene (or part of it) into a COG (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import band_list, numbers, progress


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "apply",
        help="super-resolve Sentinel-2 images with a trained model into Cloud Optimized GeoTIFFs",
        description="Streams MODEL over IN tile by tile (bounded memory, blended seams) and writes OUT.tif, "
        "a COG on the fine grid: same bounds and CRS as the input (or the window), pixel size / scale. "
        "IN is a GeoTIFF (or any GDAL raster), a STAC item JSON, a .SAFE product (L1C/L2A) or a folder of "
        "band files; bands are matched to the model's by name. With --out-dir, every IN (or glob pattern) "
        "becomes OUT_DIR/NAME_sr.tif, finished ones are skipped, and a summary table ends the run. "
        "See docs/apply.md.",
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (RUN/best.pt), exported .onnx, or an installed model's name (s2sr models)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="IN OUT.tif: the input, then the output COG; with --out-dir: IN [IN ...], inputs only "
                   "(files, .SAFE or band folders, STAC items, or quoted glob patterns)")
    p.add_argument("--out-dir", metavar="DIR", help="batch mode: one COG per input in DIR (NAME_sr.tif)")
    p.add_argument("--bands", help="input band numbers for the model's bands, in order, e.g. 2,3,4,8 "
                   "(default: by band name, else 1..N)")
    p.add_argument("--tile", type=int,
                   help="tile size in input pixels (default: 256 to 512, from the model's receptive field: "
                   "384 for a receptive field of 42 px)")
    p.add_argument("--overlap", type=int, default=16, help="blend zone between tiles, input pixels (default 16)")
    p.add_argument("--margin", type=int, help="extra context per tile, input pixels (default: receptive field)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="model arithmetic: fp32, or bf16 autocast (faster for large models, slightly "
                   "different values; torch backend only; docs/apply.md) (default fp32)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="run the model with torch, or export it to ONNX and run onnxruntime (default torch)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run of the same command "
                   "(a finished output of the same run is reported complete and kept)")
    p.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler address, or local:N for N local workers")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--window", metavar="COL,ROW,WIDTH,HEIGHT", help="only this input pixel window")
    g.add_argument("--bbox", metavar="LEFT,BOTTOM,RIGHT,TOP", help="only this box, in the input's CRS")
    p.add_argument("--out-dtype", choices=("same", "float32"), default="same",
                   help="output data type (default: same as input, rounded and clipped)")
    p.add_argument("--compress", choices=("ZSTD", "DEFLATE"), default="ZSTD",
                   help="COG compression (default ZSTD: 7x faster to write than DEFLATE at about the same size; "
                   "DEFLATE for readers without ZSTD)")
    p.add_argument("--compress-level", type=int, default=0,
                   help="codec level (ZSTD 1-22, DEFLATE 1-12; default 1: the fastest)")
    p.add_argument("--co", action="append", metavar="KEY=VALUE",
                   help="GDAL COG creation option, repeatable, like rio's --co (e.g. --co BLOCKSIZE=256 "
                   "--co OVERVIEW_COUNT=3); s2sr writes the COG itself and takes COMPRESS, LEVEL, BLOCKSIZE, "
                   "OVERVIEW_COUNT, OVERVIEWS and BIGTIFF (others are refused; docs/apply.md)")
    p.add_argument("--edge", choices=("reflect", "replicate"), default="reflect",
                   help="padding at scene edges (default reflect)")
    p.add_argument("--threads", type=int,
                   help="CPU threads in all, for the model and the COG encoding (default: all usable cores)")
    p.add_argument("--no-input-check", action="store_true",
                   help="apply even when the input's values or pixel size are far from the model's training data "
                   "(8-bit, another reflectance scale, 20 m pixels...): warn instead of refusing")
    p.add_argument("--uncertainty", action="store_true",
                   help="also write OUT.uncertainty.tif: per pixel and band, the half-width of the calibrated "
                   "interval around the SR (needs a model with an uncertainty head; docs/uncertainty.md)")
    p.add_argument("--uncertainty-level", type=float, default=90.0, metavar="PERCENT",
                   help="interval level of --uncertainty in %%: 80, 90 or 95 (default 90)")
    p.add_argument("--safe", action="store_true",
                   help="safe output: the detail the model adds over bicubic is kept where it stands above the "
                   "predicted error and falls back towards bicubic where it does not (needs an uncertainty head; "
                   "no longer exactly LR-consistent; docs/uncertainty.md)")
    p.add_argument("--safe-strength", type=float, default=0.5, metavar="S",
                   help="--safe gain d^2 / (d^2 + (S h)^2), h the half-width at --uncertainty-level (default 0.5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.errors import ConfigError
    from s2sr.infer.apply import ApplyConfig, apply_model
    from s2sr.io.gdalopts import parse_creation_options

    opts = ApplyConfig(
        bands=band_list(args.bands), tile=args.tile, overlap=args.overlap, margin=args.margin,
        precision=args.precision, device=args.device, backend=args.backend, resume=args.resume, dask=args.dask,
        window=numbers(args.window, 4, "--window"), bbox=numbers(args.bbox, 4, "--bbox", float),
        out_dtype=args.out_dtype, compress=args.compress, compress_level=args.compress_level, edge=args.edge,
        progress=progress(args),
        threads=args.threads, input_check="warn" if args.no_input_check else "refuse",
        creation_options=parse_creation_options(args.co),
        uncertainty=args.uncertainty, uncertainty_level=args.uncertainty_level / 100.0,
        safe=args.safe, safe_strength=args.safe_strength,
    )
    if args.out_dir is None:
        if len(args.paths) != 2:
            raise ConfigError(f"got {len(args.paths)} path(s) after MODEL; give IN OUT.tif, or several inputs "
                              "with --out-dir DIR")
        res = apply_model(args.model, args.paths[0], args.paths[1], opts)
        print(res.path)
        if res.uncertainty_path is not None:
            print(res.uncertainty_path)
        return 0
    from pathlib import Path

    from s2sr.infer.batch import apply_batch, summary_table

    items = apply_batch(args.model, args.paths, Path(args.out_dir), opts)
    print(summary_table(items))
    return next((it.exit_code for it in items if it.status == "failed"), 0)
