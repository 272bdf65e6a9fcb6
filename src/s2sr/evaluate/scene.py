"""The evaluation scene: LR, reference (HR on the fine grid) and SR rasters, read by window.

The reference is the HR image on :func:`s2sr.grid.fine_grid` of the LR, the way
``prepare`` makes training targets. When the HR already lies on that grid (same CRS
and transform, e.g. a Wald pair) and no shift is to be undone it is read directly;
otherwise GDAL warps it there (``WarpedVRT``, average resampling when the HR is finer
than the fine grid, cubic when it is not). Pairs without CRS share a stand-in CRS
(pure grid math); two bare pixel grids are assumed to cover the same extent, like
``prepare`` does. An :class:`~s2sr.evaluate.alignment.Alignment` (shift, gains) from
``prepare`` is applied to the reference. Windows are on the fine grid, scale-aligned.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from s2sr.errors import GridError, InputError
from s2sr.evaluate.alignment import Alignment
from s2sr.grid import Grid, fine_grid
from s2sr.io.raster import check_readable_pixels, open_raster, read_pixels

# Stand-in CRS for pairs without georeference (both sides get it: GDAL only does grid math).
LOCAL_CRS = CRS.from_epsg(3857)


def _same_grid(a, b: Grid, tol: float = 1e-6) -> bool:
    ta, tb = a.transform, b.transform
    res = max(abs(tb.a), abs(tb.e))
    return all(math.isclose(x, y, rel_tol=0, abs_tol=tol * res) for x, y in zip(ta[:6], tb[:6], strict=True))


def _hr_res(hr, src_t: Affine, crs_lr: CRS | None) -> float:
    """HR pixel size in LR CRS units (x direction, from its bounds when the CRS differ)."""
    if crs_lr is None or hr.crs is None or hr.crs == crs_lr:
        return abs(src_t.a)
    from rasterio.warp import transform_bounds

    left, _, right, _ = transform_bounds(hr.crs, crs_lr, *hr.bounds)
    return abs(right - left) / hr.width


def read_padded(ds, bands: list[int], window: Window, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Read ``window`` (may reach outside ``ds``); outside pixels are ``fill`` and invalid."""
    c0, r0 = int(window.col_off), int(window.row_off)
    w, h = int(window.width), int(window.height)
    out = np.full((len(bands), h, w), fill, np.float32)
    valid = np.zeros((h, w), bool)
    a0, b0 = max(0, c0), max(0, r0)
    a1, b1 = min(ds.width, c0 + w), min(ds.height, r0 + h)
    if a1 > a0 and b1 > b0:
        data = read_pixels(ds, bands, window=Window(a0, b0, a1 - a0, b1 - b0)).astype(np.float32)
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
    align: Alignment = field(default_factory=Alignment)
    stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self.lr = self.stack.enter_context(open_raster(self.lr_path))
        check_readable_pixels(self.lr)
        hr = self.stack.enter_context(open_raster(self.hr_path))
        check_readable_pixels(hr)
        self.lr_grid = Grid(self.lr.transform, self.lr.width, self.lr.height)
        self.fine = fine_grid(self.lr_grid, self.scale)
        self.hr = self._reference(hr)
        self.sr = None

    def _reference(self, hr):
        crs_lr, crs_hr = self.lr.crs, hr.crs
        bare = not crs_lr and not crs_hr
        if (crs_lr == crs_hr or bare) and _same_grid(hr, self.fine) and not self.align.shifted:
            return hr
        if not bare and (not crs_lr or not crs_hr):
            raise GridError(
                f"{self.lr_path if not crs_lr else self.hr_path}: has no CRS but the other image has one; "
                "assign one (gdal_edit.py -a_srs EPSG:XXXX)"
            )
        src_t = hr.transform
        if bare and src_t.is_identity and self.lr.transform.is_identity:  # same extent, as prepare assumes
            src_t = Affine(self.lr.width / hr.width, 0, 0, 0, self.lr.height / hr.height, 0)
        s = self.scale
        t = self.fine.transform @ Affine.translation(-self.align.dx * s, -self.align.dy * s)
        finer = _hr_res(hr, src_t, crs_lr) < abs(self.fine.transform.a) * 0.999
        kw = dict(src_crs=crs_hr or LOCAL_CRS, crs=crs_lr or LOCAL_CRS, transform=t, width=self.fine.width,
                  height=self.fine.height, resampling=Resampling.average if finer else Resampling.cubic,
                  dtype="float32", nodata=float("nan"))
        if src_t != hr.transform:
            kw["src_transform"] = src_t
        if hr.nodata is not None:
            kw["src_nodata"] = hr.nodata
        return self.stack.enter_context(WarpedVRT(hr, **kw))

    def open_sr(self, path: Path) -> None:
        sr = self.stack.enter_context(open_raster(path))
        if (sr.width, sr.height) != (self.fine.width, self.fine.height) or not _same_grid(sr, self.fine):
            raise GridError(f"{path}: super-resolved raster is not on the LR's fine grid; re-run apply")
        self.sr = sr

    # ---- reads (fine-grid windows aligned to the scale) -------------------------------
    def read_ref(self, w: Window) -> tuple[np.ndarray, np.ndarray]:
        ref, ok = read_padded(self.hr, self.hr_bands, w, np.nan)
        if self.align.gains is not None:
            g = np.asarray(self.align.gains, np.float32).reshape(-1, 1, 1)
            o = np.asarray(self.align.offsets or [0.0] * len(self.align.gains), np.float32).reshape(-1, 1, 1)
            ref = ref * g + o
        return ref, ok

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
