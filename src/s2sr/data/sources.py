"""Scenes of a dataset opened as pairs, with their pixel size in metres.

A scene is an LR/HR pair (:func:`s2sr.data.pairs.open_pair`) or one image made into a
Wald pair (:func:`s2sr.data.waldpair.open_wald_pair`). The pixel size in metres comes
from a metric CRS, or from ``res_m`` declared for the scene (or ``--res-m``) when its file
has no CRS or a geographic one (OSCD-style EPSG:4326 boxes have non-square "pixels" in
degrees). It decides what ``apply`` later compares an input against, so it is never guessed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from s2sr.data.config import PrepareConfig
from s2sr.data.pairs import Pair, open_pair
from s2sr.data.scenes import SceneSpec
from s2sr.data.waldpair import open_wald_pair
from s2sr.errors import InputError
from s2sr.io.sources import is_multi_file, resolve_input
from s2sr.io.warp import pixel_size

log = logging.getLogger(__name__)

RES_TOLERANCE = 0.05  # declared vs CRS pixel size, and between scenes


@dataclass(frozen=True)
class Resolution:
    """Pixel sizes (m) of a dataset: of its LR training input, and of the images it is for."""

    lr_res_m: float | None  # LR patches (for Wald pairs: the degraded grid)
    input_res_m: float | None  # images the model is meant to super-resolve (Wald: the source image)


def resolve_scenes(scenes: list[SceneSpec], workdir: Path, band_names: tuple[str, ...]) -> tuple[list[SceneSpec], dict[str, str]]:
    """Scenes whose ``lr`` or ``wald`` entry is a STAC item, a .SAFE product or a band folder read through
    a VRT in ``workdir`` (bands ``band_names`` in that order, see :mod:`s2sr.io.sources`); and the map
    VRT path -> what the scene list said, for the records. Raster files are left as they are."""
    out, origins = [], {}
    for i, sc in enumerate(scenes):
        update: dict[str, object] = {}
        for key in ("lr", "wald"):
            src = getattr(sc, key)
            if src is not None and is_multi_file(src):
                r = resolve_input(src, band_names, workdir=workdir, vrt_name=f"scene{i}_{key}.vrt", option="--lr-bands")
                update[key] = Path(r.path)
                origins[r.path] = str(src)
        if update and sc.name is None:
            update["name"] = sc.label  # the scene keeps the name of what the list said, not of its VRT
        out.append(sc.model_copy(update=update) if update else sc)
    return out, origins


def open_scene(index: int, spec: SceneSpec, cfg: PrepareConfig) -> Pair:
    if spec.wald is not None:
        return open_wald_pair(index, spec.wald, cfg)
    assert spec.lr is not None and spec.hr is not None
    return open_pair(index, spec.lr, spec.hr, cfg)


def scene_lr_res_m(pair: Pair, spec: SceneSpec) -> float | None:
    """LR pixel size of one scene in metres (None when unknown: no metric CRS, nothing declared)."""
    src = spec.wald if spec.wald is not None else spec.lr
    file_res = pixel_size(pair.hr.grid.transform if pair.kind == "wald" else pair.lr.grid.transform)
    factor = pair.scale if pair.kind == "wald" else 1
    crs = pair.crs
    metric = crs is not None and crs.is_projected and (crs.linear_units or "").lower() in ("metre", "meter", "m")
    if metric:
        if spec.res_m is not None and abs(spec.res_m / file_res - 1) > RES_TOLERANCE:
            pair.warn(f"{src}: declared res_m {spec.res_m:g} m but its CRS says {file_res:.4g} m; using the CRS")
        return file_res * factor
    if spec.res_m is not None:
        return spec.res_m * factor
    what = "has no CRS" if crs is None else "has a geographic CRS (pixels in degrees)"
    pair.warn(f"{src}: {what}; its pixel size in metres is unknown, so models trained on it cannot "
              "check the input resolution; declare it (res_m = 10 in the scene list, or --res-m 10)")
    return None


def dataset_resolution(pairs: list[Pair], res: list[float | None]) -> Resolution:
    """One LR pixel size for the dataset from the scenes' ``res`` (:func:`scene_lr_res_m`);
    scenes that disagree by more than 5 % are an error."""
    known = [(r, p) for p, r in zip(pairs, res, strict=True) if r is not None]
    if not known:
        return Resolution(None, None)
    ref, first = known[0]
    for r, p in known[1:]:
        if abs(r / ref - 1) > RES_TOLERANCE:
            raise InputError(
                f"{p.lr.path}: LR pixel size {r:.4g} m differs from {ref:.4g} m of {first.lr.path}; one dataset "
                "needs one LR pixel size (check res_m, --scale, or resample the inputs)")
    kinds = {p.kind for p in pairs}
    if kinds == {"wald"}:
        return Resolution(ref, ref / pairs[0].scale)
    if kinds == {"wald", "pair"}:
        log.warning("prepare: Wald pairs and file pairs in one dataset; the model is meant for %.4g m input", ref)
    return Resolution(ref, ref)
