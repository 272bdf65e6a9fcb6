"""The evaluation scene: LR, reference (HR on the fine grid) and SR rasters, read by window.

The reference is the HR image on :func:`s2sr.grid.fine_grid` of the LR, made by
:mod:`s2sr.io.warp` exactly as ``prepare`` makes training targets (read as it is when
it already lies on that grid, e.g. a Wald pair). An
:class:`~s2sr.data.dataset.Alignment` (shift, gains) from ``prepare`` is applied to the
reference. Windows are on the fine grid, scale-aligned.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from s2sr.data.dataset import Alignment
from s2sr.errors import GridError
from s2sr.grid import Grid, clip_window, fine_grid
from s2sr.io.raster import check_readable_pixels, open_raster, read_info, read_padded
from s2sr.io.warp import FineGridReader, pixel_size, plan_fine_hr


def _same_grid(a: Grid, b: Grid, tol: float = 1e-6) -> bool:
    res = pixel_size(b.transform)
    return (a.width, a.height) == (b.width, b.height) and all(
        abs(x - y) <= tol * res for x, y in zip(a.transform[:6], b.transform[:6], strict=True))


@dataclass
class Scene:
    """Open rasters of one evaluation, closed by :meth:`close`."""

    lr_path: Path
    hr_path: Path
    scale: int
    lr_bands: list[int]
    hr_bands: list[int]
    align: Alignment = field(default_factory=Alignment)
    stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        try:
            self._open()
        except BaseException:
            self.stack.close()
            raise

    def _open(self) -> None:
        self.lr = self.stack.enter_context(open_raster(self.lr_path))
        check_readable_pixels(self.lr)
        with open_raster(self.hr_path) as hr:
            check_readable_pixels(hr)
        self.lr_grid = Grid(self.lr.transform, self.lr.width, self.lr.height)
        self.fine = fine_grid(self.lr_grid, self.scale)
        warp = plan_fine_hr(read_info(self.lr_path), read_info(self.hr_path), self.scale)
        warp.check_finer()  # the same refusal as prepare's
        self.hr: FineGridReader = self.stack.enter_context(
            warp.open(self.hr_bands, (self.align.dx, self.align.dy)))
        self.sr = None
        self.unc = None

    def open_sr(self, path: Path) -> None:
        sr = self.stack.enter_context(open_raster(path))
        if not _same_grid(Grid(sr.transform, sr.width, sr.height), self.fine):
            raise GridError(f"{path}: super-resolved raster is not on the LR's fine grid; re-run apply")
        self.sr = sr

    # ---- reads (fine-grid windows aligned to the scale) -------------------------------
    def read_ref(self, w: Window) -> tuple[np.ndarray, np.ndarray]:
        ref, ok = self.hr.read(w)
        if self.align.gains is not None:
            g = np.asarray(self.align.gains, np.float32).reshape(-1, 1, 1)
            o = np.asarray(self.align.offsets or [0.0] * len(self.align.gains), np.float32).reshape(-1, 1, 1)
            ref = ref * g + o
        return ref, ok

    def open_unc(self, path: Path) -> None:
        """The ``apply --uncertainty`` output beside the SR (same grid)."""
        unc = self.stack.enter_context(open_raster(path))
        if not _same_grid(Grid(unc.transform, unc.width, unc.height), self.fine):
            raise GridError(f"{path}: uncertainty raster is not on the LR's fine grid; re-run apply --uncertainty")
        self.unc = unc

    def read_unc(self, w: Window) -> tuple[np.ndarray, np.ndarray]:
        if self.unc is None:
            raise RuntimeError("open_unc first")
        return read_padded(self.unc, list(range(1, self.unc.count + 1)), w, np.nan)

    def read_sr(self, w: Window) -> tuple[np.ndarray, np.ndarray]:
        if self.sr is None:
            raise RuntimeError("open_sr first")
        return read_padded(self.sr, list(range(1, self.sr.count + 1)), w, np.nan)

    def lr_window(self, w: Window, margin: int = 0) -> Window:
        s = self.scale
        return Window(w.col_off // s - margin, w.row_off // s - margin, w.width // s + 2 * margin, w.height // s + 2 * margin)

    def read_lr(self, w: Window, margin: int = 0) -> tuple[np.ndarray, np.ndarray, Window]:
        """LR pixels under fine window ``w`` plus ``margin`` LR pixels, clipped to the image."""
        win = clip_window(self.lr_window(w, margin), self.lr.width, self.lr.height)
        data, valid = read_padded(self.lr, self.lr_bands, win, np.nan)
        return data, valid, win

    def close(self) -> None:
        self.stack.close()
