"""A parameter-free bicubic upsampler wrapped as a model (a baseline and a test fixture)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Bicubic(nn.Module):
    """Bicubic interpolation by ``scale`` (align_corners=False, like GDAL's pixel-is-area grids)."""

    def __init__(self, in_ch: int = 4, scale: int = 4) -> None:
        super().__init__()
        self.in_ch = in_ch
        self.scale = scale
        self.receptive_field = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
