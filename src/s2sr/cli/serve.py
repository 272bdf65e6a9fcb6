"""``s2sr serve``: show SR and original images and the training footprint on a local web map."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve SR/original COGs, footprint and model card on a local web map (offline)",
        description=(
            "Serve XYZ tiles of the super-resolved and original images, the training-patch "
            "footprint and the model card on a Leaflet map at http://HOST:PORT/ (no internet). "
            "/layers lists XYZ URL templates for QGIS."
        ),
    )
    p.add_argument("--sr", action="append", metavar="SR.tif", help="super-resolved COG (repeat for several scenes)")
    p.add_argument("--lr", action="append", metavar="LR.tif", help="original Sentinel-2 image, one per --sr")
    p.add_argument("--footprint", action="append", metavar="GEOJSON", help="footprint.geojson written by prepare")
    p.add_argument("--model-card", action="append", metavar="MODEL", help="model bundle (.pt), MODEL_CARD.md or an installed model's name (s2sr models)")
    p.add_argument("--uncertainty", action="append", metavar="U.tif",
                   help="apply --uncertainty output, one per --sr (default: SR.uncertainty.tif beside each SR if present)")
    p.add_argument("--config", metavar="FILE", help="TOML/YAML/JSON file listing scenes (instead of --sr ...)")
    p.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default: 8000; 0 = any free port)")
    p.add_argument("--allow-host", action="append", metavar="NAME",
                   help="also answer requests for this host name (a DNS name in front of the server); repeatable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.errors import ConfigError
    from s2sr.serve.app import serve
    from s2sr.serve.config import config_from_options, load_config

    if args.config and args.sr:
        raise ConfigError("--config and --sr: give one or the other")
    if args.config:
        cfg = load_config(args.config, {"host": args.host, "port": args.port, "allow_hosts": args.allow_host})
    elif args.sr:
        cfg = config_from_options(args.sr, args.lr, args.footprint, args.model_card,
                                  host=args.host or "127.0.0.1",
                                  port=8000 if args.port is None else args.port, allow_hosts=args.allow_host,
                                  uncertainty=args.uncertainty)
    else:
        raise ConfigError("serve: nothing to show; pass --sr SR.tif [--lr LR.tif] or --config FILE")
    serve(cfg)
    return 0
