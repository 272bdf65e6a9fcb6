"""Run files: ``last.pt`` (full training state for ``--resume``), ``best.pt`` (a
:class:`s2sr.bundle.ModelBundle`) and ``MODEL_CARD.md``. All written atomically."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from s2sr._version import __version__
from s2sr.bundle import ModelBundle, torch_load, torch_save
from s2sr.data.dataset import DatasetInfo
from s2sr.errors import ModelError
from s2sr.io.atomic import atomic_file

LAST_FORMAT = "s2sr-train-state"


def save_last(path: Path, state: dict[str, Any]) -> None:
    torch_save({"format": LAST_FORMAT, **state}, path)


def load_last(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(f"{path}: no training state to resume; start without --resume")
    d = torch_load(path, "training state", "restart the run without --resume")
    if not isinstance(d, dict) or d.get("format") != LAST_FORMAT:
        raise ModelError(f"{path}: not an s2sr training state; pass the RUN folder of `s2sr train`")
    return d


def make_bundle(arch: str, arch_kwargs: dict[str, Any], module: nn.Module, info: DatasetInfo,
                mean: np.ndarray, std: np.ndarray, train_config: dict[str, Any],
                provenance: dict[str, Any], metrics: dict[str, Any]) -> ModelBundle:
    m = copy.deepcopy(module).float().cpu().eval()
    return ModelBundle(
        arch=arch, arch_kwargs=dict(arch_kwargs), scale=info.scale, bands=list(info.bands),
        mean=np.asarray(mean, np.float32), std=np.asarray(std, np.float32), module=m,
        sensor=info.sensor, input_dtype=info.input_dtype, input_res=info.lr_res, input_stats=dict(info.input_stats),
        train_config=train_config, provenance=provenance, metrics=dict(metrics),
        version=__version__,
    )


def _fmt(v: Any, nd: int = 2) -> str:
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _unpaired_line(p: dict[str, Any]) -> str:
    """The card's line for a model trained on pseudo-pairs (``prepare --unpaired``), else ''."""
    u = (p.get("prepare") or {}).get("unpaired")
    if not u:
        return ""
    names = ", ".join(Path(h).name for h in u.get("hr", []))
    lr = u.get("lr_domain", [])
    shown = ", ".join(Path(x).name for x in lr[:4]) + (f" and {len(lr) - 4} more" if len(lr) > 4 else "")
    def r(vals: list[float] | None, nd: int) -> list[float]:
        return [round(float(v), nd) for v in vals or []]
    gains = "; ".join(f"{k}: gains {r(v.get('gains'), 4)}, offsets {r(v.get('offsets'), 1)}"
                      for k, v in u.get("radiometry", {}).items())
    return (f"\n- unpaired: HR from {names}, LR domain from {shown} ({len(lr)} Sentinel-2 images). "
            f"Pseudo-pairs at {u.get('train_res_m'):g} m made with the degradation fitted to the LR domain: "
            f"MTF at Nyquist {u.get('mtf_nyquist')}, noise std at the median signal {u.get('noise_std_at_median')}, "
            f"radiometry (S2 = gain * HR + offset) {gains}. No pixel of the LR domain was a training target.")


def model_card(bundle: ModelBundle, seconds: float, steps: int, device: str, precision: str) -> str:
    m, p = bundle.metrics, bundle.provenance
    res = f"{bundle.input_res:g} m" if bundle.input_res else "unknown"
    fine = f"{bundle.input_res / bundle.scale:g} m" if bundle.input_res else f"LR/{bundle.scale}"
    rng = bundle.train_config.get("run", {}).get("data_range", 10000.0)
    rows = [
        ("PSNR (dB)", "val_psnr", "bicubic_psnr", 2),
        ("SSIM", "val_ssim", "bicubic_ssim", 4),
        ("LR-consistency RMSE (input units)", "val_consistency", "bicubic_consistency", 2),
    ]
    table = "\n".join(f"| {name} | {_fmt(m.get(a), nd)} | {_fmt(m.get(b), nd)} |" for name, a, b, nd in rows)
    return f"""# Model card: {bundle.arch} x{bundle.scale}

Written by s2sr {bundle.version} on {time.strftime('%Y-%m-%d %H:%M:%S')}.

## What it does
Super-resolves {len(bundle.bands)}-band images (bands {', '.join(bundle.bands)}; input dtype
{bundle.input_dtype}, pixel size {res}) by x{bundle.scale} to {fine}. Input and output are in
the same units. Use it with `s2sr apply` or `s2sr.load_model(path).predict(lr)`.

## Training
- data: `{p.get('data')}` (prepare.json summary below){_unpaired_line(p)}
- architecture: `{bundle.arch}` {bundle.arch_kwargs}
- steps: {steps}, training time {seconds / 60:.1f} min on {device} ({precision})
- weights: EMA of the generator, chosen by best validation PSNR (step {m.get('step')})
- sensor model: Gaussian MTF {bundle.sensor.mtf_nyquist} at the LR Nyquist frequency, area downsampling
- normalisation: per-band mean {[round(float(v), 1) for v in bundle.mean]}, std {[round(float(v), 1) for v in bundle.std]}

## Validation (val split, {m.get('val_patches')} patches, data range {rng:g})
| metric | model | bicubic |
|---|---|---|
{table}

## Limits
- Trained only on the pairs listed below; if they are synthetic, the model learned the
  synthetic generator's textures, not real landscapes. Check it on your own scenes with
  `s2sr evaluate` before use.
- Detail finer than the sensor resolves (beyond its MTF) is inferred from the training
  pairs, not measured: it is plausible, not observed. Do not use it to count or map
  objects smaller than an LR pixel.
- Expects the same bands, units and processing level as the training data.

## Provenance
```
{json.dumps(p, indent=1, default=str)}
```
"""


def save_best(run: Path, bundle: ModelBundle, seconds: float, steps: int, device: str,
              precision: str) -> Path:
    path = bundle.save(run / "best.pt")
    with atomic_file(run / "MODEL_CARD.md") as tmp:
        tmp.write_text(model_card(bundle, seconds, steps, device, precision))
    return path
