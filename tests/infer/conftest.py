"""Fixtures for streamed inference: a tiny random conv net with an honest receptive field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from s2sr.archs import ARCHS
from s2sr.bundle import ModelBundle


class TinyConv(nn.Module):
    """Bicubic plus a random 3-layer conv residual (3x3 kernels: receptive field 3 LR pixels)."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(in_ch, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, in_ch, 3, padding=1))
        self.receptive_field = 3 + 2  # three 3x3 convs, plus the bicubic support

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + 0.2 * self.body(x)
        return F.interpolate(y, scale_factor=self.scale, mode="bicubic", align_corners=False)


class TinyConvPerTile(TinyConv):
    """:class:`TinyConv` run one tile at a time, so a batch gives each tile the bytes it gets alone
    (oneDNN may pick other conv kernels for a batch: 1 DN apart on an AMD EPYC, equal on Intel)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([super(TinyConvPerTile, self).forward(x[i:i + 1]) for i in range(x.shape[0])])


@pytest.fixture
def tiny_conv_per_tile(monkeypatch: pytest.MonkeyPatch, bundle_factory: Callable[..., ModelBundle]) -> ModelBundle:
    """A ModelBundle of :class:`TinyConvPerTile` (registered in ARCHS for this test only)."""
    monkeypatch.setitem(ARCHS, "tinyconv_per_tile", TinyConvPerTile)
    return bundle_factory("tinyconv_per_tile")


@pytest.fixture
def tiny_conv(monkeypatch: pytest.MonkeyPatch, bundle_factory: Callable[..., ModelBundle]) -> ModelBundle:
    """A ModelBundle of :class:`TinyConv` (registered in ARCHS for this test only)."""
    monkeypatch.setitem(ARCHS, "tinyconv", TinyConv)
    return bundle_factory("tinyconv")
