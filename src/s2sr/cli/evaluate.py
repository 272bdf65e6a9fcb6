"""``s2sr evaluate``: score a model against a reference and GDAL baselines (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import band_list, progress


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a model vs the reference and bicubic & co; write metrics.json and report.html",
        description="Pair mode: --lr LR.tif --hr HR.tif (HR brought onto the LR's fine grid). "
        "Wald mode: --wald IMG.tif (IMG degraded by the model's sensor model, then super-resolved "
        "back and compared with IMG itself).",
    )
    p.add_argument("--model", required=True, help="model bundle (RUN/best.pt) or an installed model's name (s2sr models)")
    p.add_argument("--lr", help="low-resolution image (pair mode)")
    p.add_argument("--hr", help="reference high-resolution image (pair mode)")
    p.add_argument("--wald", help="real image evaluated by the Wald protocol")
    p.add_argument("--degradation", metavar="NAMES",
                   help="with --wald S2.tif, or --hr AERIAL.tif alone: make the input with each named degradation "
                        "(area, mtf0.2, mtf0.3, mtf0.5, noise30, shift0.3, l1c, or all), one table row each")
    p.add_argument("--real", metavar="IMG", help="a real input with no reference: LR-grid spectral peak, clipping, "
                   "mean shift, overshoot and crops, for the model and bicubic")
    p.add_argument("--out", required=True, help="output directory (metrics.json, report.html, sr.tif)")
    p.add_argument("--split-from", help="prepared dataset directory: score its test split only")
    p.add_argument("--sr", metavar="SR.tif", help="pair mode: score this output of `s2sr apply MODEL LR` instead of "
                   "running the model again (its pixels as written, e.g. rounded to uint16)")
    p.add_argument("--bands", help="band numbers of the LR/Wald image in the model's order, e.g. 1,2,3,4")
    p.add_argument("--hr-bands", help="band numbers of the HR image (default: --bands)")
    p.add_argument("--tile", type=int, default=32,
                   help="scoring tile in input (LR) pixels, like apply's --tile (default 32)")
    p.add_argument("--max-pixels", type=int, help="score at most this many fine pixels (random whole tiles)")
    p.add_argument("--seed", type=int, default=0, help="seed for --max-pixels tile draw (default 0)")
    p.add_argument("--strata", type=int, default=3, help="number of structure-density strata (default 3)")
    p.add_argument("--data-range", type=float, help="PSNR/SSIM peak in input units (default: per band 0.1-99.9%% range of the reference)")
    p.add_argument("--no-opensr", action="store_true", help="skip the opensr-test scores (reimplemented; docs/evaluate.md)")
    p.add_argument("--opensr-max-pixels", type=int, default=4_194_304,
                   help="opensr-test scores on the whole scene up to this many fine pixels, else on its centred "
                        "window of that size (default 4194304)")
    p.add_argument("--reflectance-scale", type=float, default=10000.0,
                   help="input value of reflectance 1 for the opensr-test scores (default 10000, Sentinel-2 L1C/L2A)")
    p.add_argument("--no-sr", action="store_true", help="do not keep sr.tif in the output directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out directory")
    p.add_argument("--no-input-check", action="store_true",
                   help="evaluate even when the LR (or --wald) image's values or pixel size are far from the "
                   "model's training data: warn instead of refusing")
    p.add_argument("--safe", action="store_true",
                   help="score the model's `apply --safe` output (needs an uncertainty head; docs/uncertainty.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.evaluate.config import make_eval_config
    from s2sr.evaluate.run import evaluate

    cfg = make_eval_config(
        model=args.model, lr=args.lr, hr=args.hr, wald=args.wald, out=args.out, split_from=args.split_from, sr=args.sr,
        bands=band_list(args.bands), hr_bands=band_list(args.hr_bands, "--hr-bands"), tile=args.tile, max_pixels=args.max_pixels,
        seed=args.seed, n_strata=args.strata, data_range=args.data_range, keep_sr=not args.no_sr,
        opensr=not args.no_opensr, opensr_max_pixels=args.opensr_max_pixels, reflectance_scale=args.reflectance_scale,
        overwrite=args.overwrite, progress=progress(args), input_check=not args.no_input_check, safe=args.safe,
        degradation=args.degradation, real=args.real,
    )
    res = evaluate(cfg)
    if cfg.mode == "real":
        m, b = res.methods["model"], res.methods["bicubic"]
        print(f"{res.report_path}: LR-grid peak model {m['grid_peak']:.2f} vs bicubic {b['grid_peak']:.2f}, clipped "
              f"share +{m['clipped_share_max']:.3f} points, mean shift {m['mean_shift_max_abs']:.3f} %")
        return 0
    if cfg.mode == "degradations":
        for r in res.extra["rows"]:
            print(f"{r['degradation']}: model {r['model']['psnr']:.2f} dB, bicubic {r['bicubic']['psnr']:.2f} dB "
                  f"({r['gain_db']:+.2f}), lanczos {r['lanczos']['psnr']:.2f}")
        print(res.report_path)
        return 0
    m, b = res.methods["model"], res.methods["bicubic"]
    if res.opensr:
        o, ob = res.opensr["model"], res.opensr["bicubic"]
        print(f"opensr-test: model improvement {o['improvement']:.3f} vs bicubic {ob['improvement']:.3f}, "
              f"hallucination {o['hallucination']:.3f} vs {ob['hallucination']:.3f}")
    print(f"{res.report_path}: model PSNR {m['psnr']:.2f} dB vs bicubic {b['psnr']:.2f} dB, "
          f"SSIM {m['ssim']:.4f} vs {b['ssim']:.4f} ({res.pixels} pixels)")
    return 0
