"""rasterio_library loads the GDAL that rasterio itself runs on."""

from __future__ import annotations

import ctypes

import rasterio

from s2sr.io.native import rasterio_library


def test_libgdal_is_the_one_rasterio_runs_on() -> None:
    lib = rasterio_library("gdal")
    assert lib is not None
    lib.GDALVersionInfo.restype = ctypes.c_char_p
    lib.GDALVersionInfo.argtypes = [ctypes.c_char_p]
    assert lib.GDALVersionInfo(b"RELEASE_NAME").decode() == rasterio.__gdal_version__
    assert rasterio_library("gdal") is lib  # loaded once


def test_a_library_that_does_not_exist_is_none() -> None:
    assert rasterio_library("s2sr_no_such_library") is None
