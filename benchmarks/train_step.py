"""Benchmark: training steps/s and inference output megapixels/s per architecture,
fp32 vs bf16 (CPU autocast; CUDA too when available). Writes JSON.

    .venv/bin/python benchmarks/train_step.py --out bench.json
    .venv/bin/python benchmarks/train_step.py --archs light --scale 4 --tile 128 --seconds 3

Default run is short (< 2 min on 2 cores): small SRResNet/RRDB sizes, see --sizes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from s2sr.archs import build_arch

SIZES: dict[str, dict[str, Any]] = {
    "light": {},
    "srresnet": {"width": 64, "blocks": 16},
    "rrdb": {"width": 32, "blocks": 4, "growth": 16},
}


def _rate(fn: Any, seconds: float) -> float:
    """Calls per second of ``fn`` over at least ``seconds`` (and at least one call)."""
    n, t0 = 0, time.perf_counter()
    while n < 1 or time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def infer_fn(model: torch.nn.Module, device: str, precision: str, tile: int, bands: int) -> Any:
    x = torch.randn(1, bands, tile, tile, device=device).contiguous(memory_format=torch.channels_last)
    model = model.to(device).eval().to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def run() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            model(x)
        if device == "cuda":
            torch.cuda.synchronize()

    return run


def train_fn(model: torch.nn.Module, device: str, precision: str, patch: int, batch: int,
             bands: int, scale: int) -> Any:
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, bands, patch, patch, device=device)
    y = torch.randn(batch, bands, patch * scale, patch * scale, device=device)

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(x)
        loss = (out.float() - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def bench_arch(name: str, kwargs: dict[str, Any], dev: str, a: argparse.Namespace) -> list[dict[str, Any]]:
    """fp32 and bf16 measured in alternating rounds (the median resists a noisy shared CPU)."""
    fns: dict[str, dict[str, Any]] = {}
    params = 0
    for prec in ("fp32", "bf16"):
        torch.manual_seed(0)
        mi = build_arch(name, in_ch=a.bands, scale=a.scale, **kwargs)
        mt = build_arch(name, in_ch=a.bands, scale=a.scale, **kwargs)
        params = sum(p.numel() for p in mi.parameters())
        fns[prec] = {"infer": infer_fn(mi, dev, prec, a.tile, a.bands),
                     "train": train_fn(mt, dev, prec, a.patch, a.batch, a.bands, a.scale)}
        for fn in fns[prec].values():
            fn()  # warm-up
    rates: dict[tuple[str, str], list[float]] = {(p, k): [] for p in fns for k in ("infer", "train")}
    for _ in range(a.repeats):
        for (prec, kind), vals in rates.items():
            vals.append(_rate(fns[prec][kind], a.seconds))
    mp = (a.tile * a.scale) ** 2 / 1e6
    return [{"arch": name, "kwargs": kwargs, "device": dev, "precision": prec, "params": params,
             "infer_out_mp_s": round(statistics.median(rates[(prec, "infer")]) * mp, 3),
             "train_steps_s": round(statistics.median(rates[(prec, "train")]), 3),
             "infer_out_mp_s_all": [round(r * mp, 3) for r in rates[(prec, "infer")]],
             "train_steps_s_all": [round(r, 3) for r in rates[(prec, "train")]]}
            for prec in fns]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench_train_step.json"))
    ap.add_argument("--archs", nargs="+", default=list(SIZES))
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--bands", type=int, default=4)
    ap.add_argument("--tile", type=int, default=128, help="LR tile size for inference")
    ap.add_argument("--patch", type=int, default=32, help="LR patch size for training")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds (median reported)")
    ap.add_argument("--sizes", type=json.loads, default=None,
                    help='JSON arch -> kwargs, e.g. \'{"light": {"width": 48}}\'')
    a = ap.parse_args(argv)
    sizes = {**SIZES, **(a.sizes or {})}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    res: dict[str, Any] = {"torch": str(torch.__version__), "threads": torch.get_num_threads(),
                           "machine": platform.processor() or platform.machine(),
                           "scale": a.scale, "tile": a.tile, "patch": a.patch, "batch": a.batch,
                           "results": []}
    for name in a.archs:
        for dev in devices:
            for row in bench_arch(name, sizes.get(name, {}), dev, a):
                print(json.dumps({k: v for k, v in row.items() if not k.endswith("_all")}), flush=True)
                res["results"].append(row)
    a.out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
