"""``s2sr prepare``: LR/HR pairs -> co-registered, harmonised, split patch store."""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.cli.options import add_scale, band_list


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "prepare",
        help="cut co-registered LR/HR patch pairs into a train/val/test store",
        description="Resample each HR image onto the fine grid of its LR image, estimate (and with "
        "--coregister correct) their shift and (with --harmonise) per-band gains, and write "
        "spatially disjoint train/val/test patches, footprint.geojson and prepare.json to --out.",
    )
    p.add_argument("--lr", action="append", default=[], metavar="LR.tif", help="LR image (repeat with --hr)")
    p.add_argument("--hr", action="append", default=[], metavar="HR.tif", help="HR image of the same area")
    p.add_argument("--unpaired", action="store_true", help="--lr (Sentinel-2) and --hr (finer images of other "
                   "places, any number of each) are not co-located: fit the HR->S2 degradation (MTF, noise, "
                   "radiometry) from the data and train on pseudo-pairs made with it (docs/prepare.md)")
    p.add_argument("--train-res", type=float, metavar="M", help="--unpaired: pixel size in metres of the pseudo-LR "
                   "patches (default: the S2 pixel size); HR images are resampled to TRAIN_RES/scale")
    p.add_argument("--mtf", type=float, metavar="MTF", help="--unpaired: a known MTF at Nyquist of the S2 images "
                   "instead of the fitted one")
    p.add_argument("--finer", metavar="LIST", help="TOML list of finer images (aerial, VHR) as targets at the model's "
                   "output pixel size, plus Sentinel-2 Wald scenes; inputs drawn from the Sentinel-2 degradation "
                   "family (docs/prepare.md, 'Finer sensor'); with --scene-root, --seed, --out, --overwrite")
    p.add_argument("--scenes", metavar="LIST", help="TOML/CSV scene list: LR/HR pairs and/or single S2 images "
                   "made into Wald pairs on the fly, with groups and whole-scene splits (docs/prepare.md)")
    p.add_argument("--scene-root", metavar="DIR", help="folder the relative paths of --scenes start from "
                   "(default: the list's folder)")
    p.add_argument("--val-scenes", metavar="NAMES", help="comma-separated scene or group names held out whole "
                   "for validation (the other scenes without a split train); with --unpaired: --hr file stems")
    p.add_argument("--test-scenes", metavar="NAMES", help="comma-separated scene or group names held out whole "
                   "for testing")
    p.add_argument("--res-m", type=float, metavar="M", help="pixel size in metres of inputs without a metric CRS "
                   "(no CRS, or EPSG:4326); for Wald scenes, of the S2 image (e.g. 10)")
    add_scale(p, required=False, note="; required except with --finer (its list sets it)")
    p.add_argument("--patch-size", type=int, default=32, help="LR patch size in pixels (default 32)")
    p.add_argument("--out", required=True, help="output dataset folder")
    p.add_argument("--lr-bands", help="LR bands, 1-based, e.g. 1,2,3,4 (default 1,2,3,4)")
    p.add_argument("--hr-bands", help="HR bands in the same order, e.g. 3,2,1,4 (default 1,2,3,4)")
    p.add_argument("--coregister", action="store_true", help="correct the estimated LR/HR shift")
    p.add_argument("--harmonise", action="store_true", help="map HR radiometry to LR (per-band gain/offset)")
    p.add_argument("--sampling", choices=("grid", "random"), default="grid",
                   help="patch positions in a block: a regular grid, or seeded random positions (default grid)")
    p.add_argument("--patch-stride", type=int, metavar="PX", help="LR px between train patches (default: the "
                   "patch size; smaller overlaps them, e.g. half the patch size on small scenes)")
    p.add_argument("--max-patches", type=int, help="keep at most about this many patches (seeded subset)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the split draw, random patch positions and --max-patches (default 0)")
    p.add_argument("--val-fraction", type=float, default=0.15,
                   help="share of split blocks held out for validation (at least one when > 0) (default 0.15)")
    p.add_argument("--test-fraction", type=float, default=0.15,
                   help="share of split blocks held out for testing (evaluate --split-from); 0 for none "
                   "(default 0.15)")
    p.add_argument("--split-block", type=int, help="split block size, LR px (default 4*patch+2*gap)")
    p.add_argument("--split-gap", type=int, help="LR px kept free around val/test patches (default patch/8)")
    p.add_argument("--bright-value", type=float, default=4000.0, help="a patch is rejected as cloud/saturated when more than 5%% of its pixels have a band mean "
                   "above this, in LR units (default 4000)")
    p.add_argument("--min-std", type=float, default=15.0, help="reject patches whose mean per-band standard deviation is below this, LR units (default 15)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--dask", metavar="ADDRESS", help="cut the patches on a Dask cluster: scheduler address, or "
                   "local:N for N local workers (same store as without; see docs/scale-out.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.data.config import make_prepare_config
    from s2sr.data.prepare import prepare
    from s2sr.data.scenes import assign_scene_splits, read_scene_list
    from s2sr.errors import ConfigError

    if args.finer:
        return _finer(args)
    if args.scale is None:
        raise ConfigError("--scale: required (the LR/HR pixel size ratio, e.g. --scale 4)")
    if args.unpaired:
        return _unpaired(args)
    if len(args.lr) != len(args.hr):
        raise ConfigError(f"got {len(args.lr)} --lr but {len(args.hr)} --hr; give one --hr per --lr")
    if not args.lr and not args.scenes:
        raise ConfigError("give --lr/--hr pairs or a --scenes list; see `s2sr prepare --help`")
    scenes = read_scene_list(args.scenes, args.res_m, args.scene_root) if args.scenes else []
    scenes = assign_scene_splits(scenes, _names(args.val_scenes), _names(args.test_scenes))
    cfg = make_prepare_config(
        pairs=list(zip(args.lr, args.hr, strict=True)), scenes=scenes, res_m=args.res_m,
        scale=args.scale, patch_size=args.patch_size,
        out=args.out, lr_bands=band_list(args.lr_bands, "--lr-bands"), hr_bands=band_list(args.hr_bands, "--hr-bands"),
        coregister=args.coregister, harmonise=args.harmonise, sampling=args.sampling, patch_stride=args.patch_stride,
        max_patches=args.max_patches, seed=args.seed, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, split_block=args.split_block, split_gap=args.split_gap,
        bright_value=args.bright_value, min_std=args.min_std, overwrite=args.overwrite,
    )
    r = prepare(cfg, dask=args.dask)
    print(f"{r.out}: " + ", ".join(f"{k} {v}" for k, v in r.counts.items()) + " patches")
    return 0


def _unpaired(args: argparse.Namespace) -> int:
    from s2sr.data.unpaired.config import make_unpaired_config
    from s2sr.data.unpaired.prepare import prepare_unpaired
    from s2sr.errors import ConfigError

    if args.scenes or not args.lr or not args.hr:
        raise ConfigError("--unpaired takes --lr S2.tif (one or more) and --hr AERIAL.tif (one or more), not --scenes")
    cfg = make_unpaired_config(
        lr=args.lr, hr=args.hr, scale=args.scale, out=args.out, res_m=args.res_m, train_res_m=args.train_res,
        mtf_nyquist=args.mtf, patch_size=args.patch_size, patch_stride=args.patch_stride,
        lr_bands=band_list(args.lr_bands, "--lr-bands"), hr_bands=band_list(args.hr_bands, "--hr-bands"),
        val_hr=_names(args.val_scenes), test_hr=_names(args.test_scenes), val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, split_block=args.split_block, split_gap=args.split_gap,
        sampling=args.sampling, bright_value=args.bright_value, min_std=args.min_std, seed=args.seed,
        overwrite=args.overwrite)
    r = prepare_unpaired(cfg)
    print(f"{r.out}: " + ", ".join(f"{k} {v}" for k, v in r.counts.items()) + " patches (unpaired)")
    return 0


def _finer(args: argparse.Namespace) -> int:
    from s2sr.data.finer import prepare_finer
    from s2sr.data.store import open_split
    from s2sr.errors import ConfigError

    if args.lr or args.hr or args.scenes or args.scale is not None:
        raise ConfigError("--finer LIST takes its images and scale from the list, not from --lr, --hr, --scenes "
                          "or --scale")
    out = prepare_finer(args.finer, args.out, args.scene_root, args.seed, args.overwrite)
    print(f"{out}: " + ", ".join(f"{s} {len(open_split(out, s))}" for s in ("train", "val")) + " patches (finer)")
    return 0


def _names(arg: str | None) -> list[str]:
    return [n.strip() for n in arg.split(",") if n.strip()] if arg else []
