"""Interpolation baselines computed by GDAL (rasterio.warp.reproject) on the fine grid.

The LR window (with a margin of real pixels, clipped at the image edge) is warped
onto the fine-grid window with ``Resampling.<name>``; the source and destination
share one CRS, so this is pure resampling. A grid without CRS gets the stand-in
:data:`s2sr.io.warp.LOCAL_CRS` on both sides (no reprojection happens either way).
"""

from __future__ import annotations

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject

from s2sr.io.warp import LOCAL_CRS

BASELINES: dict[str, Resampling] = {
    "nearest": Resampling.nearest,
    "bilinear": Resampling.bilinear,
    "bicubic": Resampling.cubic,
    "lanczos": Resampling.lanczos,
}
# LR pixels of context each kernel needs beyond the output window (lanczos: radius 3)
BASELINE_MARGIN = 4


def resample(
    lr: np.ndarray,
    lr_transform: Affine,
    dst_transform: Affine,
    dst_shape: tuple[int, int],
    method: str,
    crs: CRS | None = None,
) -> np.ndarray:
    """Warp a (C, h, w) LR array onto the destination window with GDAL ``method``."""
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; choose one of {sorted(BASELINES)}")
    src = np.ascontiguousarray(lr, dtype=np.float32)
    out = np.zeros((src.shape[0], *dst_shape), np.float32)
    c = crs if crs is not None else LOCAL_CRS
    reproject(
        src, out, src_transform=lr_transform, src_crs=c, dst_transform=dst_transform, dst_crs=c,
        resampling=BASELINES[method], src_nodata=None, dst_nodata=None, num_threads=1,
    )
    return out
