"""An unpaired model on aerial images it never saw, degraded by the degradation fitted for it.

    python benchmarks/unpaired_aerial.py --data DS --model RUN/best.pt --hr AERIAL.tif [--hr ...]
                                         [--model OTHER.pt ...] [--out benchmarks/unpaired_aerial.json]

``DS`` is the dataset written by ``prepare --unpaired``: its ``prepare.json`` gives the fitted MTF
and noise and the S2 images of the LR domain. Each held-out HR image is resampled to S2_res/scale
(2.5 m for 10 m at x4), mapped to S2 units by a radiometry fitted to those S2 images (as
``prepare --unpaired`` does for its own HR images), degraded by the fitted sensor model with the
fitted noise to a 10 m pseudo-S2 image, and super-resolved. PSNR (peak 10000), SSIM and SAM
against the mapped HR, beside bicubic (``F.interpolate``, as training validation), on the
interior (the outer ``--border`` LR px dropped: mirrored edges).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import s2sr
from s2sr.data.dataset import open_dataset
from s2sr.data.unpaired.fit import DegradationFit, degrade_valid, s2_statistics
from s2sr.data.unpaired.inputs import read_hr, read_s2
from s2sr.data.unpaired.noise import NoiseFit
from s2sr.data.unpaired.prepare import pseudo_pair
from s2sr.data.unpaired.radiometry import fit_radiometry
from s2sr.evaluate.metrics import psnr, sam, ssim
from s2sr.sensor import SensorModel

ROOT = Path(__file__).resolve().parents[1]


def scores(pred: np.ndarray, ref: np.ndarray, b: int) -> dict[str, float]:
    p, r = pred[:, b:-b, b:-b], ref[:, b:-b, b:-b]
    return {"psnr": psnr(p, r, 10000.0), "ssim": ssim(p, r, 10000.0), "sam": sam(p, r)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--hr", type=Path, action="append", required=True)
    ap.add_argument("--border", type=int, default=2, help="LR px dropped on each side")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/unpaired_aerial.json")
    a = ap.parse_args()
    man = open_dataset(a.data).manifest
    assert man is not None and man.unpaired is not None, f"{a.data}: not written by prepare --unpaired"
    u, scale = man.unpaired, man.scale
    nf = u.fit["noise"]
    noise = NoiseFit(tuple(nf["a"]), tuple(nf["b"]), tuple(nf["median_signal"]), nf["pixels"])
    cfg = json.loads((a.data / "prepare.json").read_text())["config"]
    s2 = lambda: (read_s2(Path(p), cfg["lr_bands"] or [1, 2, 3, 4], cfg["res_m"], cfg["bright_value"],  # noqa: E731
                          cfg["max_lr_px"]) for p in u.lr_domain)
    stats, _ = s2_statistics(s2(), len(u.lr_domain), fit_edges=False)
    fine = u.s2_res_m / scale
    models = {m: s2sr.load_model(m) for m in a.model}
    rows: list[dict[str, Any]] = []
    for path in a.hr:
        im = read_hr(path, list(man.bands), None, fine, scale, u.s2_res_m, 10**8)
        sensor = SensorModel(scale, u.fit["mtf_nyquist"])
        lr_match, ok = degrade_valid(im.data, im.valid, sensor)
        rad = fit_radiometry(stats.samples, [(lr_match, ok)], seed=a.seed)
        fit = DegradationFit(sensor.mtf_nyquist, None, noise, {im.name: rad}, scale)
        target, lr, _ = pseudo_pair(im, fit, sensor, man.dtype, np.random.default_rng([a.seed, 99]))
        bic = F.interpolate(torch.from_numpy(lr)[None], scale_factor=scale, mode="bicubic",
                            align_corners=False)[0].numpy()
        b = a.border * scale
        row: dict[str, Any] = {"hr": str(path), "lr_px": list(lr.shape[1:]), "gains": list(rad.gains),
                               "offsets": list(rad.offsets), "bicubic": scores(bic, target, b)}
        for name, model in models.items():
            row[name] = scores(model.predict(lr), target, b)
        rows.append(row)
        print(json.dumps(row))
    a.out.write_text(json.dumps({"data": str(a.data), "mtf_nyquist": u.fit["mtf_nyquist"], "images": rows}, indent=2))


if __name__ == "__main__":
    main()
