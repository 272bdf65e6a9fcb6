"""``Model.predict`` output type: raw float32, or rounded and clipped like apply (issue 13, item 8)."""

from __future__ import annotations

import numpy as np
import pytest

from s2sr.errors import ConfigError
from s2sr.infer.apply import ApplyConfig, apply_model


def _edgy() -> np.ndarray:
    """uint16 with a dark field beside a bright one: bicubic rings below 0 and above the bright level."""
    a = np.full((4, 24, 24), 30, np.uint16)
    a[:, :, 12:] = 9000
    return a


def test_raw_values_are_float32_and_may_leave_the_input_range(bundle_factory):
    m = bundle_factory("bicubic", mean=0.0, std=1000.0)
    y = m.predict(_edgy())
    assert y.dtype == np.float32 and y.shape == (4, 96, 96)
    assert y.min() < 0 and y.max() > 9000  # ringing at the edge: documented, not hidden


def test_same_dtype_rounds_and_clips_like_apply(bundle_factory, make_raster, tmp_path):
    m = bundle_factory("bicubic", mean=0.0, std=1000.0)
    a = _edgy()
    y = m.predict(a, dtype="same")
    raw = m.predict(a)
    assert y.dtype == np.uint16 and y.min() == 0
    np.testing.assert_array_equal(y, np.clip(np.rint(raw), 0, 65535).astype(np.uint16))
    # the same pixels as s2sr apply (one tile, no nodata) gives for the same array
    src = make_raster("edgy.tif", data=a, nodata=None)
    apply_model(m, src, tmp_path / "sr.tif", ApplyConfig(tile=24, overlap=0, progress=False))
    import rasterio

    with rasterio.open(tmp_path / "sr.tif") as ds:
        np.testing.assert_array_equal(ds.read(), y)
    f = np.full((4, 8, 8), 0.25, np.float32)
    assert m.predict(f, dtype="same").dtype == np.float32  # float input: nothing to round


def test_unknown_dtype_is_a_config_error(bundle_factory):
    with pytest.raises(ConfigError, match="dtype 'uint8'; choose 'float32'"):
        bundle_factory("bicubic").predict(_edgy(), dtype="uint8")
