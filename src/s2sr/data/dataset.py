"""A prepared dataset folder, opened: the one reader of what ``prepare`` wrote.

``open_dataset(root)`` answers what the rest of the pipeline asks of a dataset:
its splits (the patch store, :mod:`s2sr.data.store`), the patch boxes of a split
for some pairs, which pairs lie on the same ground as an image, the alignment
(shift and gains) ``prepare`` applied to the pair of an LR image, and what
training needs to know (:class:`DatasetInfo`). ``prepare.json`` is typed by
:mod:`s2sr.data.manifest`; without it (a bare patch store) the answers fall back
to the store's own metadata and identity alignment.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasterio.crs import CRS

from s2sr.data.manifest import MANIFEST, Manifest, PairRecord, read_manifest
from s2sr.data.store import SplitReader, open_split
from s2sr.errors import InputError
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # left, bottom, right, top in the pair's LR CRS


@dataclass(frozen=True)
class Alignment:
    """Shift (LR px, LR content relative to HR, x east, y south) and per-band gain/offset."""

    dx: float = 0.0
    dy: float = 0.0
    gains: list[float] | None = None
    offsets: list[float] | None = None
    source: str = "none"

    @property
    def shifted(self) -> bool:
        return self.dx != 0.0 or self.dy != 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"dx_lr_px": self.dx, "dy_lr_px": self.dy, "gains": self.gains, "offsets": self.offsets,
                "source": self.source}


@dataclass(frozen=True)
class SplitAreas:
    """Patch boxes of the test split and of the splits used for training."""

    test: list[Box]
    excluded: list[Box]


@dataclass
class DatasetInfo:
    """What training needs to know about a prepared dataset folder."""

    root: Path
    scale: int
    bands: list[str]
    sensor: SensorModel
    lr_res: float | None  # pixel size (m) of the images the model is for (None: unknown)
    input_dtype: str
    summary: dict[str, Any] = field(default_factory=dict)
    input_stats: dict[str, list[float]] = field(default_factory=dict)  # filled by training
    degradation: dict[str, Any] | None = None  # prepare --finer: the family training draws inputs from


@dataclass
class Dataset:
    """A dataset folder and its manifest (None for a bare patch store)."""

    root: Path
    manifest: Manifest | None

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def split(self, name: str) -> SplitReader:
        """The patch store of split ``name`` (memory-mapped)."""
        return open_split(self.root, name)

    def boxes(self, split: str, pairs: set[int] | None = None) -> list[Box]:
        """Bounds of the patches of ``split`` from ``pairs`` (None: all pairs)."""
        path = self.root / "store" / split / "index.csv"
        if not path.is_file():
            return []
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        try:
            return [(float(r["left"]), float(r["bottom"]), float(r["right"]), float(r["top"])) for r in rows
                    if pairs is None or int(r.get("pair") or 0) in pairs]
        except (KeyError, ValueError):
            raise InputError(f"{path}: no numeric pair,left,bottom,right,top columns; re-run `s2sr prepare`") from None

    def _pair_of(self, lr_path: str | Path) -> tuple[int, PairRecord] | None:
        me = Path(lr_path).resolve()
        for i, rec in enumerate(self.manifest.pairs if self.manifest else []):
            if Path(rec.lr).resolve() == me:
                return i, rec
        return None

    def pairs_on_ground(self, lr_path: str | Path, lr_crs: CRS | None) -> set[int] | None:
        """Pairs whose patch bounds are places on the ground of ``lr_path``: the pair of that LR
        image, and every pair in the same real CRS (None: all pairs, no manifest)."""
        if self.manifest is None:
            return None
        me = self._pair_of(lr_path)
        same = {me[0]} if me else set()
        crs_pairs = {i for i, p in enumerate(self.manifest.pairs) if _same_crs(p.crs_wkt, lr_crs)}
        if not same and not crs_pairs:
            raise InputError(
                f"{lr_path}: not one of the LR images of {self.manifest_path} and not in the same CRS as any; "
                "pass the --lr used by `s2sr prepare` (patch bounds of other scenes do not apply)"
            )
        return same | crs_pairs

    def split_areas(self, lr_path: str | Path | None = None, lr_crs: CRS | None = None) -> SplitAreas:
        """The test patch boxes that apply to ``lr_path``, and the train/val boxes to exclude."""
        test_idx = self.root / "store" / "test" / "index.csv"
        if not test_idx.is_file():
            raise InputError(f"{self.root}: no test split ({test_idx} missing); "
                             "pass the directory written by `s2sr prepare`")
        pairs = None if lr_path is None else self.pairs_on_ground(lr_path, lr_crs)
        test = self.boxes("test", pairs)
        if not test:
            raise InputError(f"{test_idx}: no test patch for {lr_path or 'this image'}; "
                             "re-run `s2sr prepare` with a test fraction > 0")
        return SplitAreas(test, self.boxes("train", pairs) + self.boxes("val", pairs))

    def alignment(self, lr_path: str | Path) -> Alignment:
        """The shift and gains ``prepare`` applied to the pair whose LR is ``lr_path`` (identity if none)."""
        me = self._pair_of(lr_path)
        if me is None:
            return Alignment()
        shift, harm = me[1].shift_lr_px, me[1].harmonisation
        dx, dy = (shift.dx or 0.0, shift.dy or 0.0) if shift.applied else (0.0, 0.0)
        gains = harm.gains if harm.applied else None
        offsets = harm.offsets if harm.applied else None
        return Alignment(dx, dy, gains, offsets, str(self.manifest_path))

    def training_info(self, train: SplitReader) -> DatasetInfo:
        """The manifest (when there is one) checked against the train split of the store."""
        m = self.manifest
        if m is None:
            log.warning("%s: missing; using the patch store metadata and the default sensor model",
                        self.manifest_path)
            return DatasetInfo(self.root, train.scale, list(train.bands), SensorModel(train.scale), None, "uint16")
        if m.scale != train.scale:
            raise InputError(f"{self.manifest_path}: scale {m.scale} disagrees with the patch store "
                             f"({train.scale}); re-run `s2sr prepare`")
        sensor = SensorModel(m.scale, m.sensor.mtf_nyquist) if m.sensor else SensorModel(m.scale)
        return DatasetInfo(self.root, m.scale, list(train.bands), sensor, m.input_res_m, m.dtype, _summary(m),
                           degradation=m.degradation)


def _summary(m: Manifest) -> dict[str, Any]:
    """The manifest in a few keys, for a model's provenance."""
    keep = ("scale", "bands", "lr_res_m", "input_res_m", "sensor", "crs", "epsg", "dtype", "counts",
            "patch_size", "seed", "degradation")
    d = m.model_dump(mode="json", include=set(keep))
    d["inputs"] = [{"lr": p.lr, "hr": p.hr, "scene": p.scene, "group": p.group, "split": p.split, "kind": p.kind}
                   for p in m.pairs]
    if m.unpaired is not None:
        u, fit = m.unpaired, m.unpaired.fit
        d["unpaired"] = {"hr": u.hr, "lr_domain": u.lr_domain, "held_out": u.held_out, "train_res_m": u.train_res_m,
                         "mtf_nyquist": fit.get("mtf_nyquist"), "mtf": fit.get("mtf"),
                         "noise_std_at_median": (fit.get("noise") or {}).get("std_at_median_signal"),
                         "radiometry": {k: {"gains": v.get("gains"), "offsets": v.get("offsets")}
                                        for k, v in (fit.get("radiometry") or {}).items()}}
    return d


def _same_crs(wkt: str | None, crs: CRS | None) -> bool:
    return wkt is not None and crs is not None and CRS.from_wkt(wkt) == crs


def open_dataset(root: str | Path) -> Dataset:
    """Open the dataset folder ``root`` written by ``s2sr prepare``."""
    root = Path(root)
    return Dataset(root, read_manifest(root))
