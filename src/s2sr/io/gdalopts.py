"""GDAL creation options (``--co KEY=VALUE``, like rio's), checked against the driver's own list.

GDAL ignores an unknown option with a warning, and some bad values crash it outright
(``BLOCKSIZE=-3`` aborts the process), so options are checked before anything is computed:
names, choices and minimums from the driver's ``DMD_CREATIONOPTIONLIST``, read from the GDAL
library rasterio loaded. When that library cannot be located (an unusual build), options go
to GDAL unchecked and a debug line says so.
"""

from __future__ import annotations

import ctypes
import logging
import xml.etree.ElementTree as ET
from functools import cache

from s2sr.errors import ConfigError
from s2sr.io.native import rasterio_library

log = logging.getLogger(__name__)


def parse_creation_options(specs: list[str] | None, driver: str = "COG") -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> {KEY: VALUE} (keys upper-cased), checked against ``driver``."""
    out: dict[str, str] = {}
    for spec in specs or []:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--co {spec!r}: expected KEY=VALUE, e.g. --co LEVEL=9 or --co OVERVIEW_COUNT=2")
        out[key.strip().upper()] = value.strip()
    check_creation_options(out, driver)
    return out


def check_creation_options(opts: dict[str, str], driver: str = "COG") -> None:
    """A ConfigError for the first option ``driver`` does not know, or whose value it does not take."""
    known = driver_options(driver)
    if known is None or not opts:
        return
    see = f"see https://gdal.org/drivers/raster/{driver.lower()}.html"
    for key, value in opts.items():
        if key not in known:
            raise ConfigError(f"--co {key}={value}: {key} is not a creation option of GDAL's {driver} driver; {see}")
        kind, choices, minimum = known[key]
        if choices and value.upper() not in choices:
            raise ConfigError(f"--co {key}={value}: choose one of {', '.join(sorted(choices))}")
        if kind in ("int", "integer", "float") and not _number_ok(value, kind, minimum):
            low = f" >= {minimum:g}" if minimum is not None else ""
            raise ConfigError(f"--co {key}={value}: expected a{'n integer' if kind != 'float' else ' number'}{low}")


def _number_ok(value: str, kind: str, minimum: float | None) -> bool:
    try:
        v = float(value) if kind == "float" else int(value)
    except ValueError:
        return False
    return minimum is None or v >= minimum


OptionSpec = tuple[str, frozenset[str], float | None]  # type, allowed values (upper case), minimum


@cache
def driver_options(driver: str) -> dict[str, OptionSpec] | None:
    """The creation options of a GDAL driver: name -> (type, choices, minimum); None when unknown."""
    xml = _driver_metadata(driver, "DMD_CREATIONOPTIONLIST")
    if not xml:
        log.debug("GDAL creation options of %s not available: --co values go to GDAL unchecked", driver)
        return None
    out: dict[str, OptionSpec] = {}
    for opt in ET.fromstring(xml).iter("Option"):
        name = opt.get("name", "").upper()
        choices = frozenset((v.text or "").strip().upper() for v in opt.iter("Value"))
        low = opt.get("min")
        minimum = float(low) if low else None
        if name:
            out[name] = (opt.get("type", "string"), choices if opt.get("type") == "string-select" else frozenset(),
                         minimum)
    return out


def _driver_metadata(driver: str, key: str) -> str | None:
    lib = _libgdal()
    if lib is None:
        return None
    import rasterio

    with rasterio.Env():  # drivers registered
        handle = lib.GDALGetDriverByName(driver.encode())
        if not handle:
            return None
        item = lib.GDALGetMetadataItem(handle, key.encode(), None)
    return item.decode() if item else None


@cache
def _libgdal() -> ctypes.CDLL | None:
    """rasterio's libgdal (:func:`s2sr.io.native.rasterio_library`), typed for the two calls made here."""
    lib = rasterio_library("gdal")
    if lib is not None:
        lib.GDALGetDriverByName.restype = ctypes.c_void_p
        lib.GDALGetDriverByName.argtypes = [ctypes.c_char_p]
        lib.GDALGetMetadataItem.restype = ctypes.c_char_p
        lib.GDALGetMetadataItem.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    return lib
