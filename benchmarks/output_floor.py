"""The least CPU any pipeline spends per output on this machine: cast, predictor, ZSTD level 1 and
the 2x2 overview halving of 256 blocks of 512 x 512 x 4 (67 output Mpx, like benchmarks/apply.py's
8k scene), each measured alone on one thread with s2sr's own functions. Reading, blending, pasting
and writing come on top.

    python benchmarks/output_floor.py [--out benchmarks/output_floor.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from s2sr.infer.blocks import halve
from s2sr.io.tiffcodec import TileCodec, encode_tile, predict

BLOCKS = 256


def cpu(fn: object, n: int = BLOCKS) -> float:
    t = time.process_time()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return round(time.process_time() - t, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("output_floor.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    f = rng.normal(3000, 800, (512, 512, 4)).astype(np.float32)  # a model's float output, noisy
    u = np.rint(f).astype(np.uint16)
    codec = TileCodec("ZSTD", "uint16")
    res = {
        "blocks": BLOCKS, "out_mpx": round(BLOCKS * 512 * 512 / 1e6, 2),
        "cast_cpu_s": cpu(lambda: np.rint(f).astype(np.uint16)),
        "predictor_cpu_s": cpu(lambda: np.ascontiguousarray(predict(u, False))),
        "predictor_and_zstd1_cpu_s": cpu(lambda: encode_tile(u, codec)),
        "halve_cpu_s": cpu(lambda: halve(u, None)),
        "compressed_over_raw": round(len(encode_tile(u, codec)) / u.nbytes, 3),
    }
    res["floor_cpu_s"] = round(res["cast_cpu_s"] + res["predictor_and_zstd1_cpu_s"] + res["halve_cpu_s"], 3)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
