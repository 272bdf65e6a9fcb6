"""Architectures: small pure ``nn.Module`` s built from keyword arguments.

``ARCHS`` is the one explicit registry. Every generator takes ``in_ch`` (bands)
and ``scale`` keyword arguments, maps a normalised (N, C, H, W) tensor to
(N, C, H*scale, W*scale), and exposes ``receptive_field`` (radius in LR pixels
that influences an output pixel), which ``apply`` uses as its minimum tile margin.
The learned generators also take ``residual`` (predict a residual over bicubic),
``consistency`` (hard LR-consistency output layer) and ``mtf_nyquist`` (its sensor).
Discriminators live in :mod:`s2sr.archs.discriminator` (``DISCRIMINATORS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from s2sr.archs.bicubic import Bicubic
from s2sr.archs.equifine import EquiFine
from s2sr.archs.equisr import EquiSR
from s2sr.archs.light import Light
from s2sr.archs.rrdb import RRDBNet
from s2sr.archs.srresnet import SRResNet
from s2sr.errors import ModelError

ARCHS: dict[str, Callable[..., nn.Module]] = {
    "bicubic": Bicubic,
    "light": Light,
    "srresnet": SRResNet,
    "rrdb": RRDBNet,
    "equisr": EquiSR,
    "equifine": EquiFine,
}


def build_arch(name: str, **kwargs: Any) -> nn.Module:
    """Build architecture ``name`` from keyword arguments."""
    try:
        factory = ARCHS[name]
    except KeyError:
        raise ModelError(f"unknown architecture {name!r}; choose one of {sorted(ARCHS)}") from None
    return factory(**kwargs)
