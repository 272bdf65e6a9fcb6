"""Validation on the val split, each metric beside the bicubic baseline on the same patches.

All metrics are in input units (e.g. reflectance x 10000):

- PSNR = 10 log10(R^2 / MSE), MSE pooled over every pixel and band of the val
  patches, ``R = run.data_range`` (default 10000, the reflectance scale; 255 for
  8-bit data). A fixed R keeps PSNR comparable between runs and data sets.
- SSIM: mean over patches and bands (11x11 Gaussian window, same R).
- consistency: RMSE between ``sensor.degrade(SR)`` and the LR input (0 for a
  perfectly LR-consistent output; bicubic is not consistent with a blurring sensor).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from s2sr.data.store import SplitReader
from s2sr.losses import ssim
from s2sr.sensor import SensorModel


class _Acc:
    def __init__(self) -> None:
        self.sse = self.npx = self.ssim_sum = self.nssim = self.cse = self.ncs = 0.0

    def add(self, sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor, sensor: SensorModel,
            data_range: float, weights: torch.Tensor) -> None:
        """``weights`` (N, C): a band of weight 0 in a patch is not a real target and is not scored."""
        sr64, hr64, w = sr.double(), hr.double(), weights.double()
        self.sse += float((((sr64 - hr64) ** 2).sum((2, 3)) * w).sum())
        self.npx += float(w.sum()) * hr.shape[-1] * hr.shape[-2]
        s = ssim(sr64, hr64, data_range, reduce=False)
        self.ssim_sum += float((s * w).sum())
        self.nssim += float(w.sum())
        d = sensor.degrade_torch(sr64) - lr.double()
        self.cse += float((d * d).sum())
        self.ncs += d.numel()

    def result(self, data_range: float) -> tuple[float, float, float]:
        mse = self.sse / max(self.npx, 1)
        psnr = 10 * math.log10(data_range**2 / mse) if mse > 0 else float("inf")
        return psnr, self.ssim_sum / max(self.nssim, 1), math.sqrt(self.cse / max(self.ncs, 1))


@torch.no_grad()
def validate(model: nn.Module, split: SplitReader, mean: np.ndarray, std: np.ndarray,
             sensor: SensorModel, data_range: float, max_patches: int,
             device: torch.device, batch: int = 16) -> dict[str, float]:
    """Metrics of ``model`` (fp32, eval mode) and of bicubic on the first ``max_patches`` val patches."""
    was_training = model.training
    model.eval()
    m = torch.as_tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, device=device).view(1, -1, 1, 1)
    acc_sr, acc_bic = _Acc(), _Acc()
    n = min(len(split), max_patches)
    for i in range(0, n, batch):
        lr = torch.from_numpy(np.array(split.lr[i:min(i + batch, n)], dtype=np.float32)).to(device)
        hr = torch.from_numpy(np.array(split.hr[i:min(i + batch, n)], dtype=np.float32)).to(device)
        w = torch.from_numpy(np.array(split.weights[i:min(i + batch, n)], dtype=np.float32))
        sr = model((lr - m) / s).float() * s + m
        bic = F.interpolate(lr, scale_factor=sensor.scale, mode="bicubic", align_corners=False)
        acc_sr.add(sr, hr, lr, sensor, data_range, w)
        acc_bic.add(bic, hr, lr, sensor, data_range, w)
    model.train(was_training)
    p, ss, c = acc_sr.result(data_range)
    bp, bss, bc = acc_bic.result(data_range)
    return {"val_psnr": p, "bicubic_psnr": bp, "val_ssim": ss, "bicubic_ssim": bss,
            "val_consistency": c, "bicubic_consistency": bc, "val_patches": n}
