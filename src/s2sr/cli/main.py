"""``s2sr`` entry point: dispatch to one module per command.

Command modules must not import heavy libraries (torch, rasterio) at import time:
they do it inside their ``run`` function, so ``s2sr --help`` stays fast.
Expected errors (:class:`s2sr.errors.S2SRError`) print as one line on stderr and
exit non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
import warnings
from collections.abc import Sequence

from s2sr._version import __version__

COMMANDS: dict[str, str] = {
    "fetch": "s2sr.cli.fetch",
    "synth": "s2sr.cli.synth",
    "prepare": "s2sr.cli.prepare",
    "train": "s2sr.cli.train",
    "apply": "s2sr.cli.apply",
    "export": "s2sr.cli.export",
    "evaluate": "s2sr.cli.evaluate",
    "calibrate": "s2sr.cli.calibrate",
    "degrade": "s2sr.cli.degrade",
    "serve": "s2sr.cli.serve",
    "models": "s2sr.cli.models",
    "demo": "s2sr.cli.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s2sr",
        description="Super-resolve Sentinel-2 images with a model learned from a finer sensor.",
    )
    parser.add_argument("--version", action="version", version=f"s2sr {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for modname in COMMANDS.values():
        importlib.import_module(modname).add_parser(sub)
    return parser


def _own_or_warning(record: logging.LogRecord) -> bool:
    """s2sr's own records at the chosen level; other libraries' (numexpr, matplotlib, distributed, which sets
    its own INFO level) only from WARNING up, so their chatter does not print as "INFO s2sr: ..."."""
    return record.name == "s2sr" or record.name.startswith("s2sr.") or record.levelno >= logging.WARNING


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s s2sr: %(message)s"))
    handler.addFilter(_own_or_warning)
    logging.basicConfig(level=level, handlers=[handler])
    # rasterio's NotGeoreferencedWarning prints two lines with a source line per file; s2sr handles
    # pixel grids without CRS itself and says so in one log line (matched by message: no rasterio import here)
    warnings.filterwarnings("ignore", message=r"(Dataset has no geotransform|The given matrix is equal to Affine)")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from s2sr.errors import S2SRError

    try:
        rc = args.func(args)
    except S2SRError as e:
        if args.debug:  # the traceback, then the same line and exit code as without --debug
            traceback.print_exc()
        print(f"s2sr {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"s2sr {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
