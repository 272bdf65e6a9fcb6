"""``s2sr export``: write a model bundle as ONNX with dynamic height/width (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export a model bundle to ONNX (dynamic H/W, bundle metadata inside)",
        description="Writes OUT.onnx: input 'lr' (N, C, H, W) normalised with the bundle's mean/std, output 'sr'. "
        "The bundle metadata (bands, scale, norm, sensor, receptive field) is stored in the ONNX metadata_props "
        "under 's2sr_bundle'; `s2sr apply --backend onnx OUT.onnx ...` uses it.",
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (RUN/best.pt) or an installed model's name (s2sr models)")
    p.add_argument("dst", metavar="OUT.onnx", help="output ONNX file")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sr.infer.export import export_onnx

    print(export_onnx(args.model, args.dst, opset=args.opset))
    return 0
