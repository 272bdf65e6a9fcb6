"""``evaluate(cfg)``: score a model against the reference and GDAL baselines; write JSON + HTML.

Pair mode compares SR(LR) with the HR image on the LR's fine grid; Wald mode first
degrades a real image with the model's sensor model (``s2sr degrade``) and uses the
image itself as reference. Scoring runs tile by tile (see :mod:`s2sr.evaluate.score`).
Everything is written into a temporary directory renamed onto ``cfg.out`` at the end.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from s2sr._version import __version__
from s2sr.data.dataset import Alignment, SplitAreas, open_dataset
from s2sr.errors import InputError
from s2sr.evaluate.config import EvalConfig
from s2sr.evaluate.metrics import DIRECTION, summarise
from s2sr.evaluate.opensr_scene import score_opensr
from s2sr.evaluate.scene import Scene
from s2sr.evaluate.score import MODEL, TileRecord, plan_tiles, score_scene, tile_arrays, total
from s2sr.evaluate.stratify import (
    assign_strata,
    edge_threshold,
    strata_edges,
    stratum_names,
    tile_density,
)
from s2sr.infer.uncertainty import uncertainty_path
from s2sr.io.atomic import atomic_dir
from s2sr.io.raster import parse_bands, read_info, read_pixels, valid_mask
from s2sr.io.sources import ResolvedInput, resolve_input
from s2sr.uncertainty.scores import FILE_LEVEL, level_beside, unc_document, unc_scoring
from s2sr.uncertainty.section import head_of

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Where the outputs are and the headline numbers (overall metrics per method)."""

    out: Path
    metrics_path: Path
    report_path: Path
    sr_path: Path | None
    methods: dict[str, dict[str, float]]
    pixels: int
    strata: list[dict[str, Any]] = field(default_factory=list)
    opensr: dict[str, dict[str, float]] = field(default_factory=dict)
    uncertainty: dict[str, Any] | None = None  # coverage and rank correlation (models with a head)
    extra: dict[str, Any] = field(default_factory=dict)  # --real / --degradation: the whole document

    @property
    def summary(self) -> dict[str, Any]:
        """JSON-safe headline: scored pixels, overall metrics per method, report path."""
        return _clean({"pixels": self.pixels, "methods": self.methods, "report": str(self.report_path)})


def evaluate(cfg: EvalConfig) -> EvalResult:
    """Run one evaluation described by ``cfg`` and write ``metrics.json`` and ``report.html``.

    ``cfg.lr`` and ``cfg.wald`` may be STAC items, .SAFE products or band folders as well as rasters
    (:mod:`s2sr.io.sources`): their bands are matched to the model's by name."""
    from s2sr.bundle import load_model

    bundle = load_model(cfg.model)
    if cfg.mode in ("real", "degradations"):
        return _other_mode(cfg, bundle)
    with tempfile.TemporaryDirectory(prefix="s2sr-evaluate-") as tmpd:
        image = cfg.wald if cfg.wald is not None else cfg.lr
        assert image is not None
        src = resolve_input(image, bundle.bands, cfg.bands, workdir=Path(tmpd), vrt_name="input.vrt",
                            needs=f"model {Path(bundle.path).stem if bundle.path else bundle.arch} expects")
        return _evaluate(cfg, bundle, src)


def _other_mode(cfg: EvalConfig, bundle: ModelBundle) -> EvalResult:
    """``--real`` and ``--degradation`` (:mod:`s2sr.evaluate.modes`); ``methods`` holds the model's and
    bicubic's headline (the real statistics, or the first member's scores)."""
    from s2sr.evaluate.modes import evaluate_degradations, evaluate_real

    out = Path(cfg.out)
    if cfg.mode == "real":
        doc = evaluate_real(cfg, bundle)
        methods = {m: {"grid_peak": v["grid_peak"]["overall"], "clipped_share_max": v["clipped_share_max"],
                       "mean_shift_max_abs": v["mean_shift_max_abs"]} for m, v in doc["stats"].items()}
        pixels = int(np.prod(doc["input_shape"][1:])) * bundle.scale ** 2
    else:
        doc = evaluate_degradations(cfg, bundle)
        first = doc["rows"][0]
        methods = {m: {"psnr": first[m]["psnr"], "ssim": first[m]["ssim"]} for m in ("model", "bicubic", "lanczos")}
        pixels = int(np.prod(doc["reference_shape"][1:]))
    return EvalResult(out, out / "metrics.json", out / "report.html", None, methods, pixels, extra=doc)


def _evaluate(cfg: EvalConfig, bundle: ModelBundle, src: ResolvedInput) -> EvalResult:
    from s2sr.data.wald import degrade_image
    from s2sr.evaluate.report import write_report
    from s2sr.evaluate.sr import super_resolve

    image = Path(src.path)
    _check_image(cfg, bundle, src)
    areas, align = None, Alignment()
    if cfg.split_from is not None and cfg.lr is not None:
        dataset = open_dataset(cfg.split_from)
        areas = dataset.split_areas(cfg.lr, read_info(image).crs)
        if cfg.align_reference:
            align = dataset.alignment(cfg.lr)
    inputs = (cfg.model, cfg.lr, cfg.hr, cfg.wald, cfg.split_from)
    with atomic_dir(cfg.out, overwrite=cfg.overwrite, inputs=inputs) as tmp:
        if cfg.wald is not None:
            idx = _bands(src.bands, read_info(image).count, cfg.wald, len(bundle.bands), bundle.bands, "--bands")
            pair = degrade_image(image, tmp / "wald", bundle.scale, bundle.sensor.mtf_nyquist, idx, progress=cfg.progress)
            lr_path, hr_path, lr_b = pair.lr, pair.hr, list(range(1, len(idx) + 1))
            hr_b = lr_b
        else:
            assert cfg.lr is not None and cfg.hr is not None
            lr_path, hr_path = image, cfg.hr
            lr_b = _bands(src.bands, read_info(lr_path).count, cfg.lr, len(bundle.bands), bundle.bands, "--bands")
            hr_spec = cfg.hr_bands if cfg.hr_bands is not None else cfg.bands
            hr_b = _bands(hr_spec, read_info(hr_path).count, hr_path, len(bundle.bands), bundle.bands, "--hr-bands")
        scene = Scene(Path(lr_path), Path(hr_path), bundle.scale, lr_b, hr_b, align)
        # in Wald mode both images are degraded copies in the temporary folder: name the user's image
        lr_name, hr_name = (cfg.wald, cfg.wald) if cfg.wald is not None else (cfg.lr, hr_path)
        try:
            # checked above (Wald mode feeds the model an image degraded by its scale on purpose)
            head = head_of(bundle)
            # the level of the uncertainty file scored (none with --safe: its half-widths are the plain SR's)
            unc_level = FILE_LEVEL if head is not None and not cfg.safe else None
            if cfg.sr is not None:  # what apply wrote already: not computed twice
                sr_path = given_sr(cfg.sr, bundle)
                unc_level = level_beside(sr_path, head)  # its apply --uncertainty file, if there is one
            else:
                sr_path = super_resolve(bundle, Path(lr_path), tmp / "sr.tif", lr_b, cfg.progress,
                                        input_check="skip", uncertainty=unc_level, safe=cfg.safe)
            scene.open_sr(sr_path)
            L = _data_range(scene, cfg, hr_name)
            tiles = _limit(plan_tiles(scene, cfg.tile, areas), cfg)
            if not tiles:
                raise InputError(f"{cfg.split_from or lr_name}: no tile to score (no test patch overlaps the LR image); check --split-from")
            unc = None
            if head is not None and unc_level is not None:
                scene.open_unc(uncertainty_path(sr_path))
                unc = unc_scoring(head, tiles, len(lr_b), unc_level)
            mean_l = float(np.mean(L))
            records = score_scene(scene, tiles, bundle.sensor, L, cfg.change_tol * mean_l,
                                  mean_l, areas, cfg.progress, unc)
            if not records:
                raise InputError(f"{lr_name}: no valid pixel to score (nodata everywhere or outside the test split)")
            doc = _document(cfg, bundle, L, records)
            if unc is not None:
                doc["uncertainty"] = unc_document(head, records, unc.file_level)
            if cfg.opensr:
                _add_opensr(doc, score_opensr(scene, areas, cfg.opensr_max_pixels, cfg.reflectance_scale))
            doc["reference_alignment"] = align.to_dict()
            crops = _crops(scene, records, L, doc, areas)
        finally:
            scene.close()
        doc["sr"] = {"path": str(cfg.sr) if cfg.sr is not None else "sr.tif", "computed": cfg.sr is None,
                     **({"safe": True} if cfg.safe else {})}
        if not cfg.keep_sr:
            (tmp / "sr.tif").unlink(missing_ok=True)
            uncertainty_path(tmp / "sr.tif").unlink(missing_ok=True)
        (tmp / "metrics.json").write_text(json.dumps(_clean(doc), indent=2, allow_nan=False))
        write_report(tmp / "report.html", doc, crops, bundle.bands)
    out = Path(cfg.out)
    methods = {k: v["overall"] for k, v in doc["methods"].items()}
    opensr = {k: v["opensr"] for k, v in doc["methods"].items() if "opensr" in v}
    log.info("evaluation written to %s (%d pixels)", out, doc["pixels"])
    sr_out = cfg.sr if cfg.sr is not None else out / "sr.tif" if cfg.keep_sr else None
    return EvalResult(out, out / "metrics.json", out / "report.html", sr_out,
                      methods, doc["pixels"], doc["strata"], opensr, doc.get("uncertainty"))


def given_sr(path: Path, bundle: ModelBundle) -> Path:
    """``--sr``: an SR raster of this model (count, scale and architecture from apply's tags); its grid is
    checked against the LR's fine grid when it is opened."""
    from s2sr.io.raster import read_info

    info = read_info(path)
    if info.count != len(bundle.bands):
        raise InputError(f"{path}: has {info.count} band(s), model {bundle.arch} gives {len(bundle.bands)}; pass "
                         "the output of `s2sr apply` with this model as --sr")
    import rasterio

    with rasterio.open(path) as ds:
        tags = ds.tags()
    made = (tags.get("S2SR_ARCH"), tags.get("S2SR_SCALE"))
    if made != (bundle.arch, str(bundle.scale)):
        what = f"{made[0]} x{made[1]}" if made[0] else "no s2sr apply tags"
        raise InputError(f"{path}: made by {what}, not by this model ({bundle.arch} x{bundle.scale}); pass the "
                         "output of `s2sr apply` with --model as --sr, or leave --sr out")
    log.info("%s: scoring this SR raster as it is (not computed again)", path)
    return path


def _add_opensr(doc: dict[str, Any], res: dict[str, Any]) -> None:
    """Scores per method into ``doc["methods"][m]["opensr"]``; window and winners into ``doc["opensr"]``."""
    for m, scores in res.pop("methods").items():
        doc["methods"][m]["opensr"] = scores
    doc["opensr"] = res


def _check_image(cfg: EvalConfig, bundle: ModelBundle, src: ResolvedInput) -> None:
    """apply's input checks on the image the user gave (LR, or the Wald image at the model's own
    pixel size) before anything is written; refusals are InputErrors unless ``cfg.input_check`` is off."""
    from s2sr.infer.inputs import check_input
    from s2sr.infer.model import load_for_apply

    image = Path(src.path)
    if cfg.hr is not None:  # swapped --lr/--hr first: their pixel sizes would only draw a warning below
        from s2sr.io.warp import plan_fine_hr

        plan_fine_hr(read_info(image), read_info(cfg.hr), bundle.scale).check_finer()
    idx = _bands(src.bands, read_info(image).count, image, len(bundle.bands), bundle.bands, "--bands")
    check_input(image, load_for_apply(bundle, "torch", "cpu"), idx,
                input_check="refuse" if cfg.input_check else "warn")


def _bands(spec: list[int] | None, count: int, path: Path, n_model: int, names: list[str], option: str) -> list[int]:
    idx = parse_bands(spec, count, str(path), option)
    if len(idx) != n_model:
        raise InputError(
            f"{path}: {len(idx)} band(s) selected, the model expects {n_model} ({','.join(names)}); "
            f"pass {option} with {n_model} band numbers in that order"
        )
    return idx


def _data_range(scene: Scene, cfg: EvalConfig, hr_name: str | Path) -> np.ndarray:
    """Per-band PSNR/SSIM peak: cfg.data_range, or the 0.1-99.9 % range of the reference."""
    n = len(scene.hr_bands)
    if cfg.data_range is not None:
        return np.full(n, cfg.data_range, np.float64)
    h, w = scene.fine.height, scene.fine.width
    f = max(1, math.ceil(math.sqrt(h * w / 1_000_000)))
    ds = scene.hr.ds
    ref = read_pixels(ds, scene.hr_bands, out_shape=(n, max(1, h // f), max(1, w // f))).astype(np.float64)
    ok = valid_mask(ref, ds.nodata)
    if not ok.any():
        why = "all nodata or NaN; check its nodata value" if cfg.wald is not None else \
            "check that LR and HR overlap and that the HR's nodata value is right"
        raise InputError(f"{hr_name}: no valid reference pixel on the LR's fine grid ({why})")
    lo, hi = np.percentile(ref[:, ok], [0.1, 99.9], axis=1)
    return np.maximum(hi - lo, 1.0)


def _limit(tiles: list, cfg: EvalConfig) -> list:
    if cfg.max_pixels is None:
        return tiles
    rng = np.random.default_rng(cfg.seed)
    keep: list[int] = []
    used = 0
    for i in rng.permutation(len(tiles)):
        n = int(tiles[i].width * tiles[i].height)
        if used + n > cfg.max_pixels and keep:
            continue
        keep.append(int(i))
        used += n
    return [tiles[i] for i in sorted(keep)]


def winners(methods: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The best method(s) per metric (by :data:`DIRECTION`); ties within 1e-9 all win."""
    out = {}
    for metric, d in DIRECTION.items():
        vals = {m: v["overall"].get(metric) for m, v in methods.items()}
        vals = {m: x for m, x in vals.items() if x is not None and not math.isnan(x)}
        if not vals:
            continue
        score = {m: -x if d == "max" else x if d == "min" else abs(x - 1) for m, x in vals.items()}
        best = min(score.values())
        out[metric] = [m for m, x in score.items() if x <= best + 1e-9]
    return out


def _summ(records: list[TileRecord], L: np.ndarray, scale: int) -> dict[str, Any]:
    return {m: summarise(total(records, m), L, scale) for m in records[0].stats}


def _document(cfg: EvalConfig, bundle, L: np.ndarray, records: list[TileRecord]) -> dict[str, Any]:
    methods = _summ(records, L, bundle.scale)
    k, threshold = edge_threshold([r.grad_hist for r in records], cfg.edge_quantile, float(np.mean(L)))
    for r in records:
        r.density = tile_density(r.grad_hist, k)
    dens = [r.density for r in records]
    edges = strata_edges(dens, cfg.n_strata)
    idx = assign_strata(dens, edges)
    names = stratum_names(cfg.n_strata)
    strata = []
    for k, name in enumerate(names):
        sub = [r for r, i in zip(records, idx, strict=True) if i == k]
        if not sub:
            continue
        strata.append({
            "name": name, "density_min": min(r.density for r in sub), "density_max": max(r.density for r in sub),
            "tiles": len(sub), "pixels": sum(r.pixels for r in sub),
            "methods": {m: v["overall"] for m, v in _summ(sub, L, bundle.scale).items()},
        })
    tiles = [{
        "col_off": int(r.window.col_off), "row_off": int(r.window.row_off), "width": int(r.window.width),
        "height": int(r.window.height), "density": r.density, "stratum": names[i], "pixels": r.pixels,
        "psnr": {m: r.psnr(m, L) for m in r.stats},
    } for r, i in zip(records, idx, strict=True)]
    cfg_json = json.loads(cfg.model_dump_json())
    return {
        "s2sr_version": __version__, "mode": cfg.mode, "config": cfg_json, "scale": bundle.scale,
        "bands": list(bundle.bands), "model": {"arch": bundle.arch, "path": str(bundle.path or cfg.model)},
        "sensor": bundle.sensor.to_dict(), "data_range": [float(x) for x in L],
        "pixels": sum(r.pixels for r in records), "methods": methods, "winners": winners(methods),
        "edge_threshold": threshold, "strata": strata, "tiles": tiles,
    }


def _crops(scene: Scene, records: list[TileRecord], L: np.ndarray, doc: dict[str, Any],
           areas: SplitAreas | None) -> list[dict[str, Any]]:
    """Best, median and worst tiles by PSNR gain of the model over bicubic (full-size tiles first)."""
    big = max(r.pixels for r in records)
    cand = [r for r in records if r.pixels >= 0.5 * big]
    gains = sorted(((r.psnr(MODEL, L) - r.psnr("bicubic", L), r) for r in cand), key=lambda t: t[0])
    picks = [("best", gains[-1]), ("median", gains[len(gains) // 2]), ("worst", gains[0])]
    out, seen = [], set()
    for label, (gain, rec) in picks:
        key = (rec.window.col_off, rec.window.row_off)
        if key in seen:
            continue
        seen.add(key)
        out.append({"label": label, "gain_db": gain, "window": [int(rec.window.col_off), int(rec.window.row_off),
                    int(rec.window.width), int(rec.window.height)], "arrays": tile_arrays(scene, rec.window, areas)})
    doc["crops"] = [{k: v for k, v in c.items() if k != "arrays"} for c in out]
    return out


def _clean(x: Any) -> Any:
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x
