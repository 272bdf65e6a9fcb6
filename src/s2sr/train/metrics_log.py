"""The metrics log of a run: ``metrics.csv`` and TensorBoard."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

CSV_FIELDS = ("step", "phase", "loss", "lr", "seconds", "val_psnr", "bicubic_psnr", "val_ssim",
              "bicubic_ssim", "val_consistency", "bicubic_consistency")


class MetricsLog:
    """``metrics.csv`` (appended; rows past a resumed step are dropped) and TensorBoard."""

    def __init__(self, run: Path, start_step: int, tensorboard: bool) -> None:
        self.path = run / "metrics.csv"
        rows = []
        if start_step > 0 and self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= start_step]
        self._f = open(self.path, "w", newline="")  # noqa: SIM115 (closed in close())
        self._w = csv.DictWriter(self._f, CSV_FIELDS, extrasaction="ignore")
        self._w.writeheader()
        self._w.writerows(rows)
        self._f.flush()
        self.tb: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=start_step + 1 if start_step else None)

    def write(self, step: int, phase: str, values: dict[str, Any]) -> None:
        self._w.writerow({"step": step, "phase": phase, **values})
        self._f.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, int | float) and k != "seconds":
                    self.tb.add_scalar(f"{phase}/{k}", v, step)

    def close(self) -> None:
        self._f.close()
        if self.tb is not None:
            self.tb.close()
