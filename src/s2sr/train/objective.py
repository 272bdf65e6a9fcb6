"""The generator's training objective: the weighted sum of the configured losses."""

from __future__ import annotations

import torch

from s2sr import losses as L
from s2sr.sensor import SensorModel
from s2sr.train.config import LossCfg


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
