"""``s2sr models``: list the installed models (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "models",
        help="list the models installed with s2sr (usable by name: s2sr apply NAME IN.tif OUT.tif)",
        description="Lists each installed model: name, architecture, scale, bands, the pixel size it is for, "
        "file size, validation figures and its model card. Every command that takes a model file also "
        "takes one of these names; s2sr.load_model(NAME) in Python.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (a JSON list)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from s2sr.models.listing import format_models, list_models

    models = list_models()
    print(json.dumps([m.to_dict() for m in models], indent=2) if args.json else format_models(models))
    return 0
