"""The reference alignment ``prepare`` applied to a pair: co-registration shift and gains.

When a model was trained on a prepared dataset, its targets were the HR image shifted
onto the LR content (``--coregister``) and mapped to the LR radiometry
(``--harmonise``: LR = gain * HR + offset). ``evaluate --split-from`` applies the same
recorded shift and gains to the reference, so the model is scored against what it
was trained to produce; the baselines are scored against the same reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2sr.errors import InputError


@dataclass(frozen=True)
class Alignment:
    """Shift (LR px, LR content relative to HR, x east, y south) and per-band gain/offset."""

    dx: float = 0.0
    dy: float = 0.0
    gains: list[float] | None = None
    offsets: list[float] | None = None
    source: str = "none"
    notes: list[str] = field(default_factory=list)

    @property
    def shifted(self) -> bool:
        return self.dx != 0.0 or self.dy != 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"dx_lr_px": self.dx, "dy_lr_px": self.dy, "gains": self.gains, "offsets": self.offsets,
                "source": self.source}


def load_alignment(root: str | Path, lr_path: str | Path) -> Alignment:
    """The shift and gains prepare applied to the pair whose LR is ``lr_path`` (identity if none)."""
    meta_path = Path(root) / "prepare.json"
    if not meta_path.is_file():
        return Alignment()
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{meta_path}: not valid JSON ({e.msg}); re-run `s2sr prepare`") from None
    me = Path(lr_path).resolve()
    for rep in meta.get("pairs") or []:
        if Path(rep.get("lr", "")).resolve() != me:
            continue
        shift = rep.get("shift_lr_px") or {}
        harm = rep.get("harmonisation") or {}
        dx, dy = (float(shift.get("dx", 0.0)), float(shift.get("dy", 0.0))) if shift.get("applied") else (0.0, 0.0)
        gains = harm.get("gains") if harm.get("applied") else None
        offsets = harm.get("offsets") if harm.get("applied") else None
        return Alignment(dx, dy, gains, offsets, str(meta_path))
    return Alignment()
