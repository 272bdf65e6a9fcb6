"""The sensor: how a finer image becomes a Sentinel-2-like one.

- :mod:`s2sr.sensor.model`: :class:`SensorModel`, the one fixed operator (Gaussian MTF + area mean)
  with its matrices, used by synthesis, ``prepare``'s alignment, the consistency losses and the
  exact projection of the first shipped model.
- :mod:`s2sr.sensor.family`: :class:`Degradation` (one member: anisotropic MTF, sub-pixel shift,
  the cubic resampling of L1C processing, signal-dependent noise, per-band gain, rounding) and
  :class:`DegradationFamily` (a seeded range of members to train with), plus the named fixed
  members evaluation scores under (:data:`NAMED`, :func:`named`).
"""

from s2sr.sensor.family import NAMED, Degradation, DegradationFamily, named, parse_names
from s2sr.sensor.model import SensorModel, area_downsample

__all__ = ["NAMED", "Degradation", "DegradationFamily", "SensorModel", "area_downsample", "named", "parse_names"]
