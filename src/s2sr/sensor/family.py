"""Sentinel-2-like degradations: one member (:class:`Degradation`), a seeded range of them
(:class:`DegradationFamily`) and the named fixed members evaluation scores under (:data:`NAMED`).

A model trained against one exact operator learns to invert that operator, and amplifies whatever
the real sensor does differently. So training draws a member per patch from a range, and
evaluation also scores under members outside it. A member maps a fine-grid image ``(C, H*s, W*s)``
to the LR grid ``(C, H, W)``:

1. **Blur**: a separable Gaussian per axis whose transfer at the LR Nyquist frequency (0.5 cycle
   per LR pixel) is ``mtf_x`` / ``mtf_y`` (the optics and motion; the detector is the next step),
   centred ``shift`` LR px off the pixel centre (mis-registration). ``None``: no blur.
2. **Detector**: the mean over ``s x s`` fine pixels (its own transfer at Nyquist is 2/pi, so the
   *system* MTF is about ``0.637 * mtf``; :attr:`Degradation.system_mtf`).
3. **L1C resampling** (``resample``): the ground segment resamples the detector samples onto the
   product grid with a cubic kernel. Simulated as detector samples taken ``resample`` LR px off the
   product grid, then cubic-interpolated (Keys, a = -0.5, GDAL's "cubic") back onto it: no net
   shift, an extra, phase-dependent blur.
4. **Noise**: Gaussian, std ``a + b * signal`` per band (the model ``prepare --unpaired`` fits;
   :mod:`s2sr.data.unpaired.noise`), then a per-band **gain**, then rounding to whole numbers and
   clipping at 0 (``quantise``), as a Level-1C product is stored.

Everything is float64 numpy, edges mirrored; noise comes from the ``rng`` passed in, so a draw is
a pure function of its seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy.ndimage import correlate1d

DETECTOR_MTF = 2.0 / math.pi  # transfer of a one-LR-pixel box at the LR Nyquist frequency

# L1C noise of the 10 m bands, B2 B3 B4 B8, fitted by `prepare --unpaired` on the OSCD cities
# (docs/RESULTS.md, "Unpaired model"): std = a + b * signal, reflectance x 10000
S2_NOISE_A = (2.2, 1.5, 6.6, 16.8)
S2_NOISE_B = (0.0050, 0.0056, 0.0045, 0.0014)


def gaussian_sigma_lr(mtf: float) -> float:
    """Std (LR px) of the Gaussian whose transfer at 0.5 cycle per LR px is ``mtf``."""
    return math.sqrt(-2.0 * math.log(mtf)) / math.pi


def _kernel(mtf: float | None, offset: float, scale: int) -> tuple[np.ndarray, int]:
    """1-D fine-grid weights sampling the blur centred ``offset`` fine px away, and their radius."""
    if mtf is None:  # no blur: linear interpolation at the offset
        lo = math.floor(offset)
        f = offset - lo
        r = max(abs(lo), abs(lo + 1))
        w = np.zeros(2 * r + 1)
        w[r + lo] += 1.0 - f
        w[r + lo + 1] += f
        return w, r
    s = gaussian_sigma_lr(mtf) * scale
    r = max(1, int(math.ceil(3.0 * s + abs(offset))))
    x = np.arange(-r, r + 1, dtype=np.float64) - offset
    w = np.exp(-0.5 * (x / s) ** 2)
    return w / w.sum(), r


def keys_weights(f: float, a: float = -0.5) -> np.ndarray:
    """Cubic-convolution weights of the samples at -1, 0, 1, 2 for a position ``f`` in [0, 1)."""
    d = np.abs(np.array([-1.0, 0.0, 1.0, 2.0]) - f)
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _cubic_shift(x: np.ndarray, t: float, axis: int) -> np.ndarray:
    """Values of ``x`` interpolated at ``index + t`` along ``axis`` (Keys cubic, mirrored edges)."""
    k = math.floor(t)
    w = keys_weights(t - k)  # taps at k-1 .. k+2
    r = max(abs(k - 1), abs(k + 2))
    full = np.zeros(2 * r + 1)
    full[r + k - 1:r + k + 3] = w
    return correlate1d(x, full, axis=axis, mode="mirror")


def _plain(obj: Any) -> dict[str, Any]:
    """A dataclass as JSON-able fields (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(obj).items()}


def _fields(cls: Any, d: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``cls`` found in ``d`` (lists back to tuples of floats)."""
    return {k: (tuple(float(x) for x in v) if isinstance(v, list) else v) for k, v in d.items()
            if k in cls.__dataclass_fields__}


def area_mean(x: np.ndarray, scale: int) -> np.ndarray:
    """Mean over ``scale`` x ``scale`` blocks of a (..., H, W) float64 array."""
    *lead, h, w = x.shape
    return x.reshape(*lead, h // scale, scale, w // scale, scale).mean(axis=(-3, -1))


@dataclass(frozen=True)
class Degradation:
    """One Sentinel-2-like degradation (see the module doc for the steps and conventions)."""

    name: str = "custom"
    mtf_x: float | None = 0.3  # Gaussian transfer at the LR Nyquist along x (columns); None: no blur
    mtf_y: float | None = 0.3  # ... along y (rows)
    shift_x: float = 0.0  # LR px: the LR samples sit this far east of the product pixel centres
    shift_y: float = 0.0  # LR px, south
    resample_x: float | None = None  # L1C cubic resampling phase (LR px); None: no resampling
    resample_y: float | None = None
    noise_a: tuple[float, ...] = ()  # per band, input units; () no noise
    noise_b: tuple[float, ...] = ()
    gains: tuple[float, ...] = ()  # per band; () = 1
    quantise: bool = True

    def __post_init__(self) -> None:
        for m in (self.mtf_x, self.mtf_y):
            if m is not None and not 0.0 < m < 1.0:
                raise ValueError(f"degradation {self.name}: MTF {m} must be in (0, 1), or None for no blur")
        if len(self.noise_a) != len(self.noise_b):
            raise ValueError(f"degradation {self.name}: noise_a and noise_b need one value per band each")

    @property
    def system_mtf(self) -> tuple[float, float]:
        """Transfer at the LR Nyquist of blur and detector together, (x, y)."""
        return tuple(DETECTOR_MTF * (1.0 if m is None else m) for m in (self.mtf_x, self.mtf_y))  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Degradation:
        return cls(**_fields(cls, d))

    def blur_area(self, hr: np.ndarray, scale: int) -> np.ndarray:
        """Steps 1-3 (no noise): (C, H*s, W*s) -> (C, H, W) float64."""
        x = np.asarray(hr, dtype=np.float64)
        if x.shape[-1] % scale or x.shape[-2] % scale:
            raise ValueError(f"shape {x.shape[-2:]} is not a multiple of scale {scale}")
        rx = self.resample_x or 0.0
        ry = self.resample_y or 0.0
        for axis, mtf, off in ((-1, self.mtf_x, self.shift_x - rx), (-2, self.mtf_y, self.shift_y - ry)):
            if mtf is None and off == 0.0:
                continue
            w, _ = _kernel(mtf, off * scale, scale)
            x = correlate1d(x, w, axis=axis, mode="mirror")
        lr = area_mean(x, scale)
        if self.resample_x is not None:
            lr = _cubic_shift(lr, self.resample_x, -1)
        if self.resample_y is not None:
            lr = _cubic_shift(lr, self.resample_y, -2)
        return lr

    def apply(self, hr: np.ndarray, scale: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """The LR image (float32) of a (C, H*s, W*s) fine-grid image: all four steps."""
        lr = self.blur_area(hr, scale)
        c = lr.shape[0]
        if self.noise_a:
            gen = rng if rng is not None else np.random.default_rng(0)
            a = np.resize(np.asarray(self.noise_a, np.float64), c)[:, None, None]
            b = np.resize(np.asarray(self.noise_b, np.float64), c)[:, None, None]
            lr = lr + gen.standard_normal(lr.shape) * np.maximum(a + b * np.abs(lr), 0.0)
        if self.gains:
            lr = lr * np.resize(np.asarray(self.gains, np.float64), c)[:, None, None]
        if self.quantise:
            lr = np.maximum(np.rint(lr), 0.0)
        return lr.astype(np.float32)


@dataclass(frozen=True)
class DegradationFamily:
    """A seeded range of Sentinel-2-like degradations; :meth:`draw` gives one member.

    ``system_mtf``: range of the system transfer (blur and detector) at the LR Nyquist, the figure
    the 10 m bands are specified and measured at (about 0.15-0.35); drawn uniformly, then each axis
    moved by up to ``anisotropy`` (relative). ``shift_std``/``shift_max``: mis-registration (LR px).
    ``resample_prob``: share of draws with the L1C cubic resampling, at a uniform phase.
    Noise: the fitted ``a + b * signal`` per band scaled by a factor drawn in ``noise_scale``;
    ``gain``: per-band gains drawn in ``1 +- gain``. ``sharp_share``: share of draws whose system MTF comes
    from ``sharp_mtf`` instead (inputs sharper than the specification, up to almost no optical blur), so
    that a model meets sharp inputs too and does not sharpen them as if they were blurred.
    """

    system_mtf: tuple[float, float] = (0.15, 0.35)
    anisotropy: float = 0.12
    shift_std: float = 0.05
    shift_max: float = 0.15
    resample_prob: float = 0.75
    noise_a: tuple[float, ...] = S2_NOISE_A
    noise_b: tuple[float, ...] = S2_NOISE_B
    noise_scale: tuple[float, float] = (0.5, 1.5)
    gain: float = 0.02
    sharp_share: float = 0.0
    sharp_mtf: tuple[float, float] = (0.35, 0.6)
    kind: str = field(default="s2-family-v1")

    def __post_init__(self) -> None:
        for name, (lo, hi) in (("system_mtf", self.system_mtf), ("sharp_mtf", self.sharp_mtf)):
            if not 0.0 < lo <= hi < DETECTOR_MTF:
                raise ValueError(f"{name} {(lo, hi)}: need 0 < low <= high < {DETECTOR_MTF:.3f}")
        if not 0.0 <= self.sharp_share <= 1.0:
            raise ValueError(f"sharp_share {self.sharp_share}: need a share in [0, 1]")

    def draw(self, rng: np.random.Generator, bands: int) -> Degradation:
        """One member, its parameters drawn from ``rng``."""
        lo, hi = self.system_mtf
        if self.sharp_share and rng.uniform() < self.sharp_share:  # drawn only then: old draws stay the same
            lo, hi = self.sharp_mtf
        base = rng.uniform(lo, hi) / DETECTOR_MTF
        mx, my = (float(np.clip(base * (1.0 + rng.uniform(-self.anisotropy, self.anisotropy)), 0.05, 0.95))
                  for _ in range(2))
        sx, sy = (float(np.clip(rng.normal(0.0, self.shift_std), -self.shift_max, self.shift_max)) for _ in range(2))
        res = rng.uniform() < self.resample_prob
        rx, ry = (float(rng.uniform(-0.5, 0.5)) for _ in range(2))
        k = rng.uniform(*self.noise_scale)
        a = tuple(float(v) * k for v in np.resize(np.asarray(self.noise_a), bands))
        b = tuple(float(v) * k for v in np.resize(np.asarray(self.noise_b), bands))
        g = tuple(float(v) for v in 1.0 + rng.uniform(-self.gain, self.gain, bands))
        return Degradation("family", mx, my, sx, sy, rx if res else None, ry if res else None, a, b, g, True)

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DegradationFamily:
        return cls(**_fields(cls, d))


_MTF03 = Degradation("mtf0.3", 0.3, 0.3)
NAMED: dict[str, Degradation] = {
    "area": Degradation("area", None, None),  # detector mean only: the sharpest plausible input
    "mtf0.2": Degradation("mtf0.2", 0.2, 0.2),
    "mtf0.3": _MTF03,  # the operator of the first shipped model (and of `s2sr degrade`)
    "mtf0.5": Degradation("mtf0.5", 0.5, 0.5),
    "noise30": replace(_MTF03, name="noise30", noise_a=(30.0,), noise_b=(0.0,)),
    "shift0.3": replace(_MTF03, name="shift0.3", shift_x=0.3, shift_y=0.3),
    "l1c": Degradation("l1c", 0.35, 0.35, 0.0, 0.0, 0.5, 0.5, S2_NOISE_A, S2_NOISE_B),  # mid-family, L1C-like
}


def named(name: str) -> Degradation:
    """The fixed member ``name`` (ValueError listing the names otherwise)."""
    try:
        return NAMED[name]
    except KeyError:
        raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(NAMED)}") from None


def parse_names(text: str) -> list[Degradation]:
    """``"area,mtf0.3"`` -> the members, in order (``"all"``: every named member)."""
    names = list(NAMED) if text.strip() == "all" else [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError("no degradation named; give e.g. area,mtf0.2,mtf0.3,mtf0.5,noise30,shift0.3")
    return [named(n) for n in names]
