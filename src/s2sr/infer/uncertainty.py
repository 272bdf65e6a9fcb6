"""``apply --uncertainty``: the half-width of the calibrated interval beside the SR, in one pass.

The SR predictor's output goes unchanged into the SR file; the error model
(:mod:`s2sr.uncertainty`) reads each tile's input and SR and adds the half-widths as extra
channels. A second :class:`~s2sr.infer.output.RunOutput`, ``<OUT stem>.uncertainty.tif``, takes
them: a :class:`TeeSink` (local threads) or the Dask workers (one :class:`TileParts` per output)
split every tile's channels between the two outputs, which have their own block stores,
journals (resume) and COG assembly. The SR pixels are therefore bit-identical with and without
the flag, and the extra cost is the small error model plus a second file.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2sr.infer.outputs import RUN_TAG
from s2sr.infer.sink import PieceSink, TileParts
from s2sr.infer.tilework import Predictor, TileResult
from s2sr.uncertainty.section import UncertaintyHead


def uncertainty_path(dst: Path) -> Path:
    """``OUT.tif`` -> ``OUT.uncertainty.tif`` (beside it)."""
    return dst.with_name(f"{dst.stem}.uncertainty{dst.suffix}")


def band_descriptions(bands: list[str], level: float) -> list[str]:
    """``"B2: half-width of the 90 % interval (output units)"`` per band."""
    return [f"{b}: half-width of the {100 * level:g} % interval (output units)" for b in bands]


def uncertainty_tags(head: UncertaintyHead, level: float) -> dict[str, str]:
    return {
        "S2SR_UNCERTAINTY": f"half-width h of the {100 * level:g} % interval: |SR - truth| <= h with probability "
                            f"{level:g} (split-conformal calibration), in the SR's units",
        "S2SR_UNCERTAINTY_LEVEL": f"{level:g}",
        "S2SR_UNCERTAINTY_CALIBRATED_ON": ",".join(head.calibrated_on),
        "S2SR_UNCERTAINTY_TRAINED_ON": ",".join(head.trained_on),
    }


class WithUncertainty:
    """A predictor returning ``[SR, half-width]`` (2C channels): ``base``'s SR, untouched, then the head's.

    Tiles carry ``margin`` LR pixels of context on every side that the blending never uses (see
    :mod:`s2sr.infer.tiling`); the head needs only its own receptive field of it, so it runs on the
    tile less ``margin - receptive field`` pixels per side (the rest of its channels stay 0, unused).
    """

    def __init__(self, base: Predictor, head: UncertaintyHead, mean: np.ndarray, std: np.ndarray,
                 level: float, margin: int = 0, device: str = "cpu") -> None:
        self.base, self.head, self.level, self.device = base, head, level, device
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.crop = max(0, margin - head.receptive_field)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.base(x)
        n, c, h, w = y.shape
        out = np.zeros((n, h, w, 2 * c), np.float32).transpose(0, 3, 1, 2)  # channels-last, like TorchPredictor
        out[:, :c] = y
        k, s = self.crop, h // x.shape[-2]
        if min(x.shape[-2:]) <= 2 * k:
            k = 0
        lr = x[..., k:x.shape[-2] - k, k:x.shape[-1] - k]
        fine = (slice(None), slice(None), slice(k * s, h - k * s), slice(k * s, w - k * s))
        out[(fine[0], slice(c, None), *fine[2:])] = self.head.half_width(lr, y[fine], self.level, self.mean, self.std,
                                                                         self.device)
        return out


def split_channels(res: TileResult, count: int, k: int) -> TileResult:
    """Output ``k`` of a tile result whose channels are ``count`` per output (SR, then half-widths)."""
    return TileResult(res.tile, None if res.data is None else res.data[k * count:(k + 1) * count], res.valid)


@dataclass
class TeeSink:
    """Feeds each tile result's channels to ``sinks`` in turn, ``count`` each (SR first); thread-safe as
    every :class:`PieceSink` is. Returns the SR's parts (for the progress counts)."""

    sinks: list[PieceSink]
    count: int

    def add(self, res: TileResult) -> TileParts:
        parts = [s.add(split_channels(res, self.count, k)) for k, s in enumerate(self.sinks)]
        return parts[0]

    def sync(self) -> None:
        for s in self.sinks:
            s.sync()


@dataclass
class DoneInAll:
    """Pieces done in every one of ``sets`` (what a resumed run need not compute again)."""

    sets: list[Container[int]]

    def __contains__(self, i: object) -> bool:
        return all(i in s for s in self.sets)


def with_head(base: Predictor, bundle: Any, level: float, margin: int = 0, safe: float | None = None,
              keep_half_widths: bool = True) -> Predictor:
    """``base`` with the bundle's uncertainty head at ``level`` (SR then half-widths); with ``safe``, the
    safe SR of that strength instead of the SR (:mod:`s2sr.infer.safe`), the half-widths kept with
    ``keep_half_widths``. Head and safe gain run on the bundle's device (local runs and Dask workers
    alike)."""
    from s2sr.uncertainty.section import require_head

    dev = str(bundle.device)
    p: Predictor = WithUncertainty(base, require_head(bundle, level), bundle.mean, bundle.std, level, margin, dev)
    if safe is not None:
        from s2sr.infer.safe import SafeDetail

        p = SafeDetail(p, safe, keep_half_widths, dev)
    return p


def check_request(lm: Any, level: float, flag: str = "--uncertainty") -> UncertaintyHead:
    """The head for ``apply --uncertainty`` or ``--safe`` (``flag``), before anything is written; one-line
    errors otherwise."""
    from s2sr.errors import ConfigError
    from s2sr.uncertainty.section import require_head

    if lm.bundle is None:
        raise ConfigError(f"{flag}: {lm.onnx_path} is an ONNX file without the error model; "
                          "pass the .pt bundle (with --backend onnx if you like)")
    return require_head(lm.bundle, level, flag)


def uncertainty_output(lm: Any, dst: Path, header: dict[str, Any], meta: dict[str, Any], level: float,
                       run_id: Callable[[dict[str, Any]], str]) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """(path, journal header, file metadata) of the uncertainty output of ``dst``; ``run_id`` gives
    the file's ``S2SR_RUN`` from its header. No colour interpretation: the bands are half-widths."""
    from s2sr.uncertainty.section import require_head

    head = require_head(lm.bundle, level)
    u_header = {**header, "uncertainty": head.fingerprint(), "uncertainty_level": level}
    tags = {**meta["tags"], **uncertainty_tags(head, level), RUN_TAG: run_id(u_header)}
    u_meta = {**meta, "descriptions": band_descriptions(list(lm.bands), level), "tags": tags, "colours": None}
    return uncertainty_path(dst), u_header, u_meta
