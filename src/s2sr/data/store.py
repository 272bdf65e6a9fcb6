"""The patch store: what ``prepare`` writes and ``train`` streams from.

Layout (one folder per split, ``train``, ``val``, ``test``)::

    DIR/store/<split>/lr.f32     raw little-endian float32, shape (N, C, P, P)
    DIR/store/<split>/hr.f32     raw little-endian float32, shape (N, C, P*S, P*S)
    DIR/store/<split>/weights.f32 raw float32 (N, C): per-patch loss weight of each band (1: a real
                                 target, 0: not one, e.g. the pseudo-NIR of an RGB image); absent: all 1
    DIR/store/<split>/index.csv  one row per patch: id,pair,lr_row,lr_col,left,bottom,right,top
    DIR/store/<split>/meta.json  {"count", "bands", "lr_patch", "hr_patch", "scale", "dtype": "float32"}

Values are in the input units (e.g. reflectance x 10000, the HR possibly harmonised
to the LR radiometry). Patches are appended one at a time (memory stays bounded) and
read back with ``numpy.memmap``, so training never loads the whole store.
"""

from __future__ import annotations

import csv
import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2sr.errors import InputError

SPLITS = ("train", "val", "test")
INDEX_FIELDS = ("id", "pair", "lr_row", "lr_col", "left", "bottom", "right", "top")


class StoreWriter:
    """Append (lr, hr) patches of one split."""

    def __init__(self, root: Path, split: str, bands: list[str], lr_patch: int, scale: int) -> None:
        self.dir = Path(root) / "store" / split
        self.dir.mkdir(parents=True, exist_ok=True)
        self.bands, self.lr_patch, self.scale = list(bands), int(lr_patch), int(scale)
        self.count = 0
        self._lr = open(self.dir / "lr.f32", "wb")  # noqa: SIM115 (closed in close())
        self._hr = open(self.dir / "hr.f32", "wb")  # noqa: SIM115
        self._w = open(self.dir / "weights.f32", "wb")  # noqa: SIM115
        self._idx = open(self.dir / "index.csv", "w", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._idx)
        self._csv.writerow(INDEX_FIELDS)

    def add(self, lr: np.ndarray, hr: np.ndarray, row: dict[str, Any],
            weights: tuple[float, ...] | None = None) -> None:
        c, p = len(self.bands), self.lr_patch
        if lr.shape != (c, p, p) or hr.shape != (c, p * self.scale, p * self.scale):
            raise ValueError(f"patch shapes {lr.shape}/{hr.shape} do not match the store")
        self._lr.write(np.ascontiguousarray(lr, dtype="<f4").tobytes())
        self._hr.write(np.ascontiguousarray(hr, dtype="<f4").tobytes())
        w = np.ones(c, "<f4") if weights is None else np.asarray(weights, "<f4")
        if w.shape != (c,):
            raise ValueError(f"{len(w)} band weights for {c} bands")
        self._w.write(w.tobytes())
        self._csv.writerow([row.get(k, "") for k in INDEX_FIELDS])
        self.count += 1

    def close(self) -> None:
        """Close the three files (all of them, even when one fails to flush, e.g. on a full disk), then
        write meta.json."""
        with ExitStack() as stack:
            for f in (self._lr, self._hr, self._w, self._idx):
                stack.callback(f.close)
        meta = {
            "count": self.count,
            "bands": self.bands,
            "lr_patch": self.lr_patch,
            "hr_patch": self.lr_patch * self.scale,
            "scale": self.scale,
            "dtype": "float32",
        }
        (self.dir / "meta.json").write_text(json.dumps(meta, indent=2))


@dataclass
class SplitReader:
    """Random access to one split of a store, memory-mapped."""

    dir: Path
    count: int
    bands: list[str]
    lr_patch: int
    hr_patch: int
    scale: int

    def __post_init__(self) -> None:
        c = len(self.bands)
        self.lr = np.memmap(self.dir / "lr.f32", dtype="<f4", mode="r", shape=(self.count, c, self.lr_patch, self.lr_patch)) if self.count else np.zeros((0, c, self.lr_patch, self.lr_patch), "f4")
        self.hr = np.memmap(self.dir / "hr.f32", dtype="<f4", mode="r", shape=(self.count, c, self.hr_patch, self.hr_patch)) if self.count else np.zeros((0, c, self.hr_patch, self.hr_patch), "f4")
        wpath = self.dir / "weights.f32"
        self.weights = (np.fromfile(wpath, dtype="<f4").reshape(self.count, c)
                        if self.count and wpath.is_file() else np.ones((self.count, c), "f4"))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.lr[i]), np.array(self.hr[i])

    def index(self) -> list[dict[str, str]]:
        with open(self.dir / "index.csv", newline="") as f:
            return list(csv.DictReader(f))


def _read_meta(path: Path) -> dict[str, Any]:
    """A split's meta.json, checked: a damaged one is a one-line InputError naming it."""
    fix = "the store is damaged; re-run `s2sr prepare`"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({str(e).splitlines()[0]}); {fix}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror}); check its permissions") from None
    try:
        ok = isinstance(meta, dict) and int(meta["count"]) >= 0 and len(meta["bands"]) > 0 and \
            all(int(meta[k]) > 0 for k in ("lr_patch", "hr_patch", "scale"))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{path}: missing or invalid count, bands, lr_patch, hr_patch or scale; {fix}")
    return dict(meta)


def open_split(root: str | Path, split: str) -> SplitReader:
    """Open split ``split`` of the store written by ``prepare`` into ``root``."""
    d = Path(root) / "store" / split
    meta_path = d / "meta.json"
    if not meta_path.is_file():
        raise InputError(f"{root}: no patch store split {split!r} ({meta_path} missing); run `s2sr prepare` first")
    meta = _read_meta(meta_path)
    c = len(meta["bands"])
    for name, p in (("lr.f32", meta["lr_patch"]), ("hr.f32", meta["hr_patch"])):
        expect = meta["count"] * c * p * p * 4
        got = (d / name).stat().st_size if (d / name).exists() else -1
        if got != expect:
            raise InputError(f"{d / name}: size {got} B, expected {expect} B; the store is damaged, re-run `s2sr prepare`")
    w = d / "weights.f32"
    if w.exists() and w.stat().st_size != meta["count"] * c * 4:
        raise InputError(f"{w}: size {w.stat().st_size} B, expected {meta['count'] * c * 4} B; the store is damaged, "
                         "re-run `s2sr prepare`")
    return SplitReader(d, meta["count"], meta["bands"], meta["lr_patch"], meta["hr_patch"], meta["scale"])
