"""``s2sr calibrate``: fit the error model of a frozen SR model, calibrate it, write a bundle with it.

1. Residuals of the frozen model on the train and val splits of its prepared dataset
   (:mod:`s2sr.uncertainty.residuals`; the SR comes from the apply pipeline itself).
2. The error model (:class:`~s2sr.uncertainty.head.ErrNet`) learns the scale of ``|SR - reference|``
   on random crops of the **train** split (Laplace likelihood).
3. Split-conformal calibration on the **val** split (:mod:`s2sr.uncertainty.calibration`).
4. A copy of the bundle with the ``uncertainty`` section, written atomically to ``out``.

The test split is never read. Seeded: the same inputs and seed give the same head.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from s2sr.errors import ConfigError, InputError
from s2sr.uncertainty.calibration import REPORT_LEVELS, Calibration, calibrate
from s2sr.uncertainty.head import build_head, laplace_nll
from s2sr.uncertainty.residuals import SceneResiduals, scene_residuals
from s2sr.uncertainty.section import UncertaintyHead

log = logging.getLogger(__name__)


@dataclass
class FitConfig:
    """Options of :func:`fit_uncertainty` (the ``s2sr calibrate`` flags)."""

    model: str | os.PathLike[str]
    data: Path
    out: Path
    steps: int = 3000
    batch: int = 16
    crop: int = 32  # LR pixels per training crop
    border: int = 4  # LR pixels at each crop edge left out of the loss (padding effects)
    lr: float = 2e-3
    width: int = 32
    depth: int = 6
    stats_radius: int = 7
    seed: int = 0
    threads: int | None = 1
    progress: bool = True

    def __post_init__(self) -> None:
        self.data, self.out = Path(self.data), Path(self.out)
        if self.steps < 1 or self.batch < 1 or self.lr <= 0:
            raise ConfigError(f"--steps {self.steps} / batch {self.batch} / lr {self.lr}: must be positive")
        if self.crop <= 2 * self.border:
            raise ConfigError(f"crop {self.crop}: must exceed twice the border ({self.border})")
        if self.out.suffix != ".pt":
            raise ConfigError(f"--out {self.out}: name the new model bundle *.pt")


@dataclass
class FitResult:
    out: Path
    head: UncertaintyHead
    metrics: dict[str, Any] = field(default_factory=dict)


def fit_uncertainty(cfg: FitConfig) -> FitResult:
    """Fit and calibrate the error model of ``cfg.model`` on ``cfg.data``; write the bundle ``cfg.out``."""
    from s2sr.bundle import load_model
    from s2sr.data.dataset import open_dataset
    from s2sr.models.registry import resolve_model

    src = resolve_model(cfg.model)
    if Path(src).resolve() == cfg.out.resolve():
        raise ConfigError(f"--out {cfg.out}: would overwrite the model; write the bundle with its head elsewhere")
    bundle = load_model(src)
    ds = open_dataset(cfg.data)
    if ds.manifest is None:
        raise InputError(f"{cfg.data}: no prepare.json; pass a dataset folder written by `s2sr prepare`")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    scenes = _collect(bundle, ds, cfg)
    train = [s for s in scenes if s.pixels("train") > 0 and min(s.lr.shape[1:]) >= cfg.crop]
    val = [s for s in scenes if s.pixels("val") > 0]
    if not train or not val:
        raise InputError(f"{cfg.data}: s2sr calibrate needs pixels of both the train and the val split "
                         f"(found {len(train)} train and {len(val)} val scene(s) of at least {cfg.crop} LR px)")
    kwargs = {"in_ch": len(bundle.bands), "scale": bundle.scale, "width": cfg.width, "depth": cfg.depth,
              "stats_radius": cfg.stats_radius, "eps": 0.01}
    torch.manual_seed(cfg.seed)
    module = build_head("errnet", **kwargs)
    losses = _train(module, train, cfg)
    module.eval()
    cal, rho = _calibrate(module, val, bundle.std)
    fit = {"steps": cfg.steps, "batch": cfg.batch, "crop": cfg.crop, "seed": cfg.seed, "loss": "laplace_nll",
           "final_loss": losses, "val_spearman_pixel": rho, "seconds": round(time.perf_counter() - t0, 1),
           "dataset": str(cfg.data), "val_quantiles": {f"{lv:g}": [float(v) for v in cal.quantile(lv)] for lv in REPORT_LEVELS}}
    head = UncertaintyHead("errnet", kwargs, module, cal, [s.name for s in train], [s.name for s in val], fit)
    bundle.uncertainty = head.to_dict()
    bundle.save(cfg.out)
    log.info("wrote %s with an uncertainty head (val Spearman %.3f, %.0f s)", cfg.out, rho, fit["seconds"])
    return FitResult(cfg.out, head, fit)


def _collect(bundle: Any, ds: Any, cfg: FitConfig) -> list[SceneResiduals]:
    out = []
    n = len(ds.manifest.pairs)
    with tempfile.TemporaryDirectory(prefix="s2sr-calibrate-") as tmp:
        for i in tqdm(range(n), desc="residuals", unit="scene", disable=not cfg.progress):
            res = scene_residuals(bundle, ds, i, Path(tmp) / str(i))
            if res is not None:
                out.append(res)
    return out


def _crop(s: SceneResiduals, rng: np.random.Generator, c: int) -> tuple[np.ndarray, ...]:
    sc = s.sr.shape[1] // s.lr.shape[1]
    i = int(rng.integers(0, s.lr.shape[1] - c + 1))
    j = int(rng.integers(0, s.lr.shape[2] - c + 1))
    fy, fx = slice(i * sc, (i + c) * sc), slice(j * sc, (j + c) * sc)
    return s.lr[:, i:i + c, j:j + c], s.sr[:, fy, fx], s.err[:, fy, fx], s.masks["train"][fy, fx]


def _train(module: torch.nn.Module, scenes: list[SceneResiduals], cfg: FitConfig) -> float:
    rng = np.random.default_rng(cfg.seed)
    p = np.array([s.pixels("train") for s in scenes], np.float64)
    p /= p.sum()
    opt = torch.optim.Adam(module.parameters(), cfg.lr / 2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    b = cfg.border * scenes[0].sr.shape[1] // scenes[0].lr.shape[1]
    inner = (Ellipsis, slice(b, -b or None), slice(b, -b or None))
    ema = math.nan
    module.train()
    for _ in tqdm(range(cfg.steps), desc="error model", unit="step", disable=not cfg.progress):
        crops = [_crop(scenes[k], rng, cfg.crop) for k in rng.choice(len(scenes), cfg.batch, p=p)]
        x, y, e, m = (torch.from_numpy(np.stack(a)) for a in zip(*crops, strict=True))
        scale = module(x, y)[inner]
        loss = laplace_nll(scale, e[inner], m[:, None].float()[inner].expand_as(scale))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        value = loss.item()
        ema = value if math.isnan(ema) else 0.98 * ema + 0.02 * value
    return round(ema, 4)


@torch.inference_mode()
def predict_scale(module: torch.nn.Module, s: SceneResiduals) -> np.ndarray:
    """The error model's scale over a whole scene (normalised units)."""
    out: np.ndarray = module(torch.from_numpy(s.lr)[None], torch.from_numpy(s.sr)[None])[0].numpy()
    return out


def _calibrate(module: torch.nn.Module, scenes: list[SceneResiduals], std: np.ndarray) -> tuple[Calibration, float]:
    from scipy.stats import spearmanr

    scores: list[list[np.ndarray]] = [[] for _ in range(scenes[0].lr.shape[0])]
    pred, act = [], []
    for s in scenes:
        sc = predict_scale(module, s)
        m = s.masks["val"]
        for b in range(sc.shape[0]):
            scores[b].append(s.err[b][m] / sc[b][m])
            pred.append(sc[b][m] * std[b])
            act.append(s.err[b][m] * std[b])
    cal = calibrate([np.concatenate(v) for v in scores], [s.name for s in scenes])
    p, a = np.concatenate(pred), np.concatenate(act)
    step = max(1, p.size // 2_000_000)
    rho = float(spearmanr(p[::step], a[::step]).statistic)
    return cal, round(rho, 4)
