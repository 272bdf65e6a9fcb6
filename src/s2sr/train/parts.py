"""Small pieces of the training loop: device/precision choice, EMA, LR schedule,
stage-1/stage-2 losses, and the metrics log (CSV + TensorBoard)."""

from __future__ import annotations

import copy
import csv
import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from s2sr import losses as L
from s2sr.sensor import SensorModel
from s2sr.train.config import LossCfg, OptimCfg

log = logging.getLogger(__name__)

CSV_FIELDS = ("step", "phase", "loss", "lr", "seconds", "val_psnr", "bicubic_psnr", "val_ssim",
              "bicubic_ssim", "val_consistency", "bicubic_consistency")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from s2sr.errors import ConfigError

        raise ConfigError("--device cuda: no CUDA device is available; use --device cpu or auto")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """AMX or AVX512-BF16 on this CPU (then bf16 autocast is ~3x faster than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_precision(name: str, device: torch.device) -> str:
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def lr_factor(o: OptimCfg, step: int, max_steps: int) -> float:
    """Multiplier of the base LR at ``step`` (linear warmup, then cosine/step/constant)."""
    if step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    if o.schedule == "constant":
        return 1.0
    if o.schedule == "step":
        return o.gamma ** (step // o.step_size)
    t = min(1.0, (step - o.warmup_steps) / max(1, max_steps - o.warmup_steps))
    return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))


class Ema:
    """Exponential moving average of a module's weights, with the usual warmup
    ``d_t = min(decay, (1 + t) / (10 + t))`` so early averages are not stale."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for pe, p in zip(self.module.parameters(), model.parameters(), strict=True):
            pe.lerp_(p.detach(), 1 - d)
        for be, b in zip(self.module.buffers(), model.buffers(), strict=True):
            be.copy_(b)


class GeneratorLoss:
    """Weighted sum of the configured losses; returns (total, parts)."""

    def __init__(self, cfg: LossCfg, sensor: SensorModel) -> None:
        self.cfg, self.sensor = cfg, sensor
        self.perceptual = (L.PerceptualLoss(cfg.perceptual_weights or "")
                           if cfg.perceptual_weight > 0 else None)

    def __call__(self, sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.cfg
        sr = sr.float()
        terms: dict[str, torch.Tensor] = {"pixel": c.pixel_weight * L.pixel_loss(sr, hr, c.pixel)}
        if c.ssim_weight:
            terms["ssim"] = c.ssim_weight * L.ssim_loss(sr, hr)
        if c.gradient_weight:
            terms["gradient"] = c.gradient_weight * L.gradient_loss(sr, hr)
        if c.consistency_weight:
            terms["consistency"] = c.consistency_weight * L.consistency_loss(sr, lr, self.sensor)
        if self.perceptual is not None:
            terms["perceptual"] = c.perceptual_weight * self.perceptual(sr, hr)
        total = torch.stack(list(terms.values())).sum()
        return total, {k: float(v.detach()) for k, v in terms.items()}


class MetricsLog:
    """``metrics.csv`` (appended; rows past a resumed step are dropped) and TensorBoard."""

    def __init__(self, run: Path, start_step: int, tensorboard: bool) -> None:
        self.path = run / "metrics.csv"
        rows = []
        if start_step > 0 and self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= start_step]
        self._f = open(self.path, "w", newline="")  # noqa: SIM115 (closed in close())
        self._w = csv.DictWriter(self._f, CSV_FIELDS, extrasaction="ignore")
        self._w.writeheader()
        self._w.writerows(rows)
        self._f.flush()
        self.tb: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=start_step + 1 if start_step else None)

    def write(self, step: int, phase: str, values: dict[str, Any]) -> None:
        self._w.writerow({"step": step, "phase": phase, **values})
        self._f.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, int | float) and k != "seconds":
                    self.tb.add_scalar(f"{phase}/{k}", v, step)

    def close(self) -> None:
        self._f.close()
        if self.tb is not None:
            self.tb.close()
