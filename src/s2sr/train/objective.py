"""The generator's training objective: the weighted sum of the configured losses."""

from __future__ import annotations

import numpy as np
import torch

from s2sr import losses as L
from s2sr.sensor import SensorModel
from s2sr.train.config import LossCfg


class GeneratorLoss:
    """Weighted sum of the configured losses; returns (total, parts)."""

    def __init__(self, cfg: LossCfg, sensor: SensorModel, mean: np.ndarray | None = None,
                 std: np.ndarray | None = None) -> None:
        self.cfg, self.sensor = cfg, sensor
        c = 1 if mean is None else len(mean)
        self.mean = torch.as_tensor(np.zeros(c) if mean is None else mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.as_tensor(np.ones(c) if std is None else std, dtype=torch.float32).view(1, -1, 1, 1)
        self.perceptual = (L.PerceptualLoss(cfg.perceptual_weights or "")
                           if cfg.perceptual_weight > 0 else None)

    def __call__(self, sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor,
                 weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """``weights`` (N, C): per-sample band weights; a band of weight 0 (not a real target) takes
        the target's values, so no loss sees an error there."""
        c = self.cfg
        sr = sr.float()
        if weights is not None and not bool((weights == 1).all()):
            w = weights.to(sr.device, sr.dtype).view(*weights.shape, 1, 1)
            sr = sr * w + hr * (1 - w)
        terms: dict[str, torch.Tensor] = {"pixel": c.pixel_weight * L.pixel_loss(sr, hr, c.pixel)}
        if c.ssim_weight:
            terms["ssim"] = c.ssim_weight * L.ssim_loss(sr, hr)
        if c.gradient_weight:
            terms["gradient"] = c.gradient_weight * L.gradient_loss(sr, hr)
        if c.grid_weight:
            terms["grid"] = c.grid_weight * L.grid_loss(sr, hr, self.sensor.scale)
        if c.consistency_weight:
            terms["consistency"] = c.consistency_weight * L.consistency_loss(sr, lr, self.sensor)
        m, s = self.mean.to(sr.device), self.std.to(sr.device)  # input units for the two losses below
        if c.spectral_weight:
            terms["spectral"] = c.spectral_weight * L.spectral_loss(sr, hr, m, s)
        if c.hallucination_weight:
            terms["hallucination"] = c.hallucination_weight * L.hallucination_loss(
                sr, hr, lr, m, s, self.sensor.scale, c.hallucination)
        if self.perceptual is not None:
            terms["perceptual"] = c.perceptual_weight * self.perceptual(sr, hr)
        total = torch.stack(list(terms.values())).sum()
        return total, {k: float(v.detach()) for k, v in terms.items()}
