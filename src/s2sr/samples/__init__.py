"""Small real data shipped with s2sr (see ATTRIBUTION.md beside this file)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REAL_S2 = "nantes_20171014_s2l1c_10m.tif"
REAL_S2_ATTRIBUTION = "Contains modified Copernicus Sentinel data 2017; OSCD, Daudt et al. 2018"


def real_s2_sample() -> Path:
    """A 300 x 300 px crop of real Sentinel-2 L1C (Nantes, 2017-10-14; B2, B3, B4, B8 x 10000)."""
    return Path(str(resources.files("s2sr.samples") / REAL_S2))
