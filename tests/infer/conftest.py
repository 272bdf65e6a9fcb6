"""Fixtures for streamed inference: a bicubic bundle and a tiny random conv net with an honest receptive field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from s2sr.archs import ARCHS, build_arch
from s2sr.bundle import ModelBundle
from s2sr.sensor import SensorModel

BANDS = ["B2", "B3", "B4", "B8"]


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


def make_bundle(arch: str = "bicubic", input_res: float | None = 10.0, **kw: object) -> ModelBundle:
    kwargs = {"in_ch": 4, "scale": 4, **kw}
    return ModelBundle(arch=arch, arch_kwargs=kwargs, scale=4, bands=list(BANDS),
                       mean=np.full(4, 1500, np.float32), std=np.full(4, 700, np.float32),
                       module=build_arch(arch, **kwargs).eval(), sensor=SensorModel(4), input_res=input_res)


@pytest.fixture
def bicubic_pt(tmp_path: Path) -> Path:
    return make_bundle().save(tmp_path / "bicubic.pt")


@pytest.fixture
def tiny_conv(monkeypatch: pytest.MonkeyPatch) -> ModelBundle:
    """A ModelBundle of :class:`TinyConv` (registered in ARCHS for this test only)."""
    monkeypatch.setitem(ARCHS, "tinyconv", TinyConv)
    return make_bundle("tinyconv")


@pytest.fixture
def bundle_factory() -> Callable[..., ModelBundle]:
    return make_bundle
