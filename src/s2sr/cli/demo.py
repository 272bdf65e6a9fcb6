"""``s2sr demo``: the whole pipeline on a seeded synthetic scene, then the shipped model on real
Sentinel-2 (no download)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="synthesise a scene pair, prepare, train, apply, evaluate (and serve)",
        description="Run the whole pipeline end to end on the embedded synthetic scene, then apply the "
        "shipped Sentinel-2 model to the embedded real crop (Nantes) and check it there by the Wald protocol.",
    )
    p.add_argument("--out", type=Path, default=Path("s2sr-demo"), help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic scene, the split and the training (default: %(default)s)")
    p.add_argument("--size", type=int, default=2048, help="HR scene size in pixels (default: %(default)s)")
    p.add_argument("--minutes", type=float, default=None, help="training wall-clock budget (default: the demo recipe's)")
    p.add_argument("--max-steps", type=int, default=None, help="cap training steps")
    p.add_argument("--serve", action="store_true", help="serve the results on a local web map at the end")
    p.add_argument("--host", default="127.0.0.1",
                   help="with --serve: address to listen on; 127.0.0.1 keeps the map on this machine "
                   "(default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="with --serve: TCP port (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.demo import DemoConfig, run_demo, serve_demo

    res = run_demo(DemoConfig(
        out=args.out, seed=args.seed, size=args.size, minutes=args.minutes,
        max_steps=args.max_steps,
    ))
    print(f"demo outputs in {res.out}/ (summary.json)")
    for k, v in res.paths.items():
        print(f"  {k:8s} {v}")
    tr = res.metrics.get("train") or {}
    if "val_psnr" in tr:
        print(f"  training val split: PSNR {tr['val_psnr']:.2f} dB vs bicubic "
              f"{tr.get('bicubic_psnr', float('nan')):.2f} dB (peak 10000)")
    methods = (res.metrics.get("evaluate") or {}).get("methods") or {}
    if "model" in methods and "bicubic" in methods:
        m, b = methods["model"], methods["bicubic"]
        print(f"  test split (evaluate): PSNR {m['psnr']:.2f} dB vs bicubic {b['psnr']:.2f} dB, "
              f"SSIM {m['ssim']:.4f} vs {b['ssim']:.4f} (per-band peaks, see docs/evaluate.md)")
    real = (res.metrics.get("real_wald") or {}).get("methods") or {}
    if "model" in real and "bicubic" in real:
        m, b = real["model"], real["bicubic"]
        print(f"  real Sentinel-2 (Nantes crop, never trained on), Wald x4 with the shipped model: PSNR "
              f"{m['psnr']:.2f} dB vs bicubic {b['psnr']:.2f} dB, SAM {m['sam']:.3f} vs {b['sam']:.3f} deg")
    if args.serve:
        print(f"serving the demo map at http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
        serve_demo(res, args.host, args.port)
    return 0
