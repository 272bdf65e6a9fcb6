"""``s2sr train``: train a generator on a prepared patch store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "train a super-resolution generator on a prepared patch store"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train", help=HELP, description=HELP + ". Writes RUN/best.pt (the model), RUN/last.pt "
        "(resume state), RUN/metrics.csv, RUN/tb/ (TensorBoard), RUN/MODEL_CARD.md.",
    )
    p.add_argument("--data", type=Path, help="dataset folder written by `s2sr prepare`")
    from s2sr.archs import ARCHS
    from s2sr.train.config import builtin_names

    p.add_argument("--config", help="TOML/YAML/JSON config file, or a built-in name: " + ", ".join(builtin_names()))
    p.add_argument("--out", type=Path, help="run folder to create (RUN)")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue the run in RUN exactly where it stopped")
    p.add_argument("--arch", help="override model.arch (" + ", ".join(a for a in ARCHS if a != "bicubic") + ")")
    p.add_argument("--init", metavar="MODEL", help="fine-tune: start from this model (RUN/best.pt or an installed "
                   "name such as s2-rgbn-x4) and keep its normalisation; override run.init")
    p.add_argument("--max-steps", type=int, help="override run.max_steps")
    p.add_argument("--minutes", type=float, help="stop after this many minutes of training (wall clock)")
    p.add_argument("--batch-size", type=int, help="override run.batch_size")
    p.add_argument("--seed", type=int, help="override run.seed")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override run.device (default auto)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set optim.lr=1e-4 (value parsed as TOML)")
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    import tomllib

    from s2sr.errors import ConfigError

    o: dict[str, Any] = {"run.init": args.init, "arch": args.arch, "max_steps": args.max_steps, "minutes": args.minutes,
                         "batch_size": args.batch_size, "seed": args.seed, "device": args.device}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. --set optim.lr=1e-4")
        try:
            o[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            o[key.strip()] = text
    return o


def run(args: argparse.Namespace) -> int:
    from s2sr.errors import ConfigError
    from s2sr.train.run import train

    if args.resume is not None:
        out = args.resume
        if args.out is not None and args.out != out:
            raise ConfigError("--out and --resume name different runs; pass only --resume RUN")
    else:
        if args.data is None or args.out is None:
            raise ConfigError("s2sr train needs --data DIR and --out RUN (or --resume RUN)")
        out = args.out
    result = train(args.data, out, args.config, resume=args.resume is not None, overrides=_overrides(args))
    m = result.metrics
    print(f"{result.best}: val PSNR {m['val_psnr']:.2f} dB (bicubic {m['bicubic_psnr']:.2f} dB), "
          f"SSIM {m['val_ssim']:.4f} (bicubic {m['bicubic_ssim']:.4f}), "
          f"{result.steps} steps in {result.seconds / 60:.1f} min")
    return 0
