"""The learning-rate schedule: a pure function of the step (so a resumed run continues it exactly)."""

from __future__ import annotations

import math

from s2sr.train.config import OptimCfg


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
