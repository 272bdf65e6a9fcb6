"""The evaluation scene: LR, reference (HR on the fine grid) and SR rasters, read by window.

The reference is the HR image on :func:`s2sr.grid.fine_grid` of the LR. When the HR
already lies on that grid (same CRS, transform; e.g. a Wald pair or a pair without
CRS) it is read directly; otherwise GDAL warps it there (``WarpedVRT``, average
resampling when the HR is finer than the fine grid, bilinear when it is coarser).
Windows are on the fine grid and aligned to the scale.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from s2sr.errors import GridError, InputError
from s2sr.grid import Grid, fine_grid
from s2sr.io.raster import check_readable_pixels, open_raster


def _same_grid(a, b: Grid, tol: float = 1e-6) -> bool:
    ta, tb = a.transform, b.transform
    res = max(abs(tb.a), abs(tb.e))
    return all(math.isclose(x, y, rel_tol=0, abs_tol=tol * res) for x, y in zip(ta[:6], tb[:6], strict=True))


def read_padded(ds, bands: list[int], window: Window, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Read ``window`` (may reach outside ``ds``); outside pixels are ``fill`` and invalid."""
    c0, r0 = int(window.col_off), int(window.row_off)
    w, h = int(window.width), int(window.height)
    out = np.full((len(bands), h, w), fill, np.float32)
    valid = np.zeros((h, w), bool)
    a0, b0 = max(0, c0), max(0, r0)
    a1, b1 = min(ds.width, c0 + w), min(ds.height, r0 + h)
    if a1 > a0 and b1 > b0:
        data = ds.read(bands, window=Window(a0, b0, a1 - a0, b1 - b0)).astype(np.float32)
        out[:, b0 - r0: b1 - r0, a0 - c0: a1 - c0] = data
        ok = np.all(np.isfinite(data), axis=0)
        if ds.nodata is not None and not np.isnan(ds.nodata):
            ok &= np.all(data != ds.nodata, axis=0)
        valid[b0 - r0: b1 - r0, a0 - c0: a1 - c0] = ok
    return out, valid


@dataclass
class Scene:
    """Open rasters of one evaluation, closed by :meth:`close`."""

    lr_path: Path
    hr_path: Path
    scale: int
    lr_bands: list[int]
    hr_bands: list[int]
    stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self.lr = self.stack.enter_context(open_raster(self.lr_path))
        check_readable_pixels(self.lr, str(self.lr_path))
        hr = self.stack.enter_context(open_raster(self.hr_path))
        check_readable_pixels(hr, str(self.hr_path))
        self.lr_grid = Grid(self.lr.transform, self.lr.width, self.lr.height)
        self.fine = fine_grid(self.lr_grid, self.scale)
        self.hr = self._reference(hr)
        self.sr = None

    def _reference(self, hr):
        crs_lr, crs_hr = self.lr.crs, hr.crs
        if (crs_lr == crs_hr or (not crs_lr and not crs_hr)) and _same_grid(hr, self.fine):
            return hr
        if not crs_lr or not crs_hr:
            raise GridError(
                f"{self.hr_path}: no CRS on {'HR' if not crs_hr else 'LR'} and the HR is not on the LR's "
                f"x{self.scale} fine grid; georeference both images or make the HR pixel grid LR_res/{self.scale}"
            )
        finer = abs(hr.transform.a) < abs(self.fine.transform.a) * 0.999
        vrt = WarpedVRT(
            hr, crs=crs_lr, transform=self.fine.transform, width=self.fine.width,
            height=self.fine.height, resampling=Resampling.average if finer else Resampling.bilinear,
            src_nodata=hr.nodata, nodata=hr.nodata if hr.nodata is not None else 0,
        )
        return self.stack.enter_context(vrt)

    def open_sr(self, path: Path) -> None:
        sr = self.stack.enter_context(open_raster(path))
        if (sr.width, sr.height) != (self.fine.width, self.fine.height) or not _same_grid(sr, self.fine):
            raise GridError(f"{path}: super-resolved raster is not on the LR's fine grid; re-run apply")
        self.sr = sr

    # ---- reads (fine-grid windows aligned to the scale) -------------------------------
    def read_ref(self, w: Window) -> tuple[np.ndarray, np.ndarray]:
        return read_padded(self.hr, self.hr_bands, w, np.nan)

    def read_sr(self, w: Window) -> tuple[np.ndarray, np.ndarray]:
        if self.sr is None:
            raise RuntimeError("open_sr first")
        return read_padded(self.sr, list(range(1, self.sr.count + 1)), w, np.nan)

    def lr_window(self, w: Window, margin: int = 0) -> Window:
        s = self.scale
        return Window(w.col_off // s - margin, w.row_off // s - margin, w.width // s + 2 * margin, w.height // s + 2 * margin)

    def read_lr(self, w: Window, margin: int = 0) -> tuple[np.ndarray, np.ndarray, Window]:
        """LR pixels under fine window ``w`` plus ``margin`` LR pixels, clipped to the image."""
        lw = self.lr_window(w, margin)
        c0, r0 = max(0, int(lw.col_off)), max(0, int(lw.row_off))
        c1 = min(self.lr.width, int(lw.col_off + lw.width))
        r1 = min(self.lr.height, int(lw.row_off + lw.height))
        win = Window(c0, r0, c1 - c0, r1 - r0)
        data, valid = read_padded(self.lr, self.lr_bands, win, np.nan)
        return data, valid, win

    def check_bands(self, n_model: int, names: list[str], option: str = "--bands") -> None:
        for path, bands in ((self.lr_path, self.lr_bands), (self.hr_path, self.hr_bands)):
            if len(bands) != n_model:
                raise InputError(
                    f"{path}: {len(bands)} band(s) selected, the model expects {n_model} ({','.join(names)}); "
                    f"pass {option} with {n_model} band numbers"
                )

    def close(self) -> None:
        self.stack.close()
