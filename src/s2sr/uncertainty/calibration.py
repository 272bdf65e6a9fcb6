"""Split-conformal calibration of the error model on held-out scenes.

The non-conformity score of a pixel is ``r = |SR - reference| / scale`` (per band, ``scale``
from the error model). On calibration pixels never used to fit anything, the quantile
``q_l`` of ``r`` at level ``l`` (the ``ceil((n + 1) l)``-th smallest of ``n`` scores) makes
``[SR - q_l scale, SR + q_l scale]`` an interval that holds the truth with probability at
least ``l`` on exchangeable data (split-conformal prediction). ``q_l * scale`` is the
*half-width of the l interval*, in output units, which ``apply --uncertainty`` writes.

The table keeps a grid of levels (every 5 % and 97.5 / 99 %), so ``evaluate`` can draw a
reliability curve, and one quantile per band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEVELS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20)) + (0.975, 0.99)
REPORT_LEVELS: tuple[float, ...] = (0.8, 0.9, 0.95)


@dataclass(frozen=True)
class Calibration:
    """Conformal quantiles of ``|error| / scale`` per level and band, and the pixels they came from."""

    levels: tuple[float, ...]
    quantiles: tuple[tuple[float, ...], ...]  # [level][band]
    pixels: tuple[int, ...]  # calibration pixels per band
    scenes: tuple[str, ...] = field(default_factory=tuple)

    def quantile(self, level: float) -> np.ndarray:
        """Per-band quantile at ``level`` (one of :attr:`levels`), float64."""
        for lv, q in zip(self.levels, self.quantiles, strict=True):
            if math.isclose(lv, level, abs_tol=1e-9):
                return np.asarray(q, np.float64)
        raise ValueError(f"level {level:g} is not calibrated; choose one of {', '.join(f'{v:g}' for v in self.levels)}")

    def to_dict(self) -> dict[str, Any]:
        return {"levels": list(self.levels), "quantiles": [list(q) for q in self.quantiles],
                "pixels": list(self.pixels), "scenes": list(self.scenes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        levels = tuple(float(v) for v in d["levels"])
        quantiles = tuple(tuple(float(v) for v in q) for q in d["quantiles"])
        if len(levels) != len(quantiles) or len({len(q) for q in quantiles}) != 1:
            raise ValueError("calibration: one quantile per band for every level")
        return cls(levels, quantiles, tuple(int(v) for v in d["pixels"]), tuple(str(s) for s in d.get("scenes", ())))


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ``ceil((n + 1) level)``-th smallest of ``scores`` (inf when that exceeds ``n``)."""
    n = scores.size
    k = math.ceil((n + 1) * level)
    if n == 0 or k > n:
        return math.inf
    return float(np.partition(scores, k - 1)[k - 1])


def calibrate(scores: list[np.ndarray], scenes: list[str] | None = None,
              levels: tuple[float, ...] = LEVELS) -> Calibration:
    """Calibration from per-band score arrays (``scores[b]``: 1-D ``|error| / scale`` of band ``b``)."""
    qs = tuple(tuple(conformal_quantile(s, lv) for s in scores) for lv in levels)
    return Calibration(tuple(levels), qs, tuple(int(s.size) for s in scores), tuple(scenes or ()))
