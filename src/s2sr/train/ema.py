"""Exponential moving average of the generator's weights (the weights a run ships)."""

from __future__ import annotations

import copy

import torch
from torch import nn


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
