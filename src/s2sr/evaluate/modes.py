"""The ``evaluate`` modes a model's own assumption cannot fool, each writing ``metrics.json``,
``report.html`` and PNG crops into ``--out``:

- ``--wald IMG --degradation NAMES``: the Sentinel-2 image degraded by each named member, one row
  each (:mod:`s2sr.evaluate.robust`).
- ``--hr AERIAL --degradation NAMES`` (no ``--lr``): a real finer image at the model's output pixel
  size as reference, its degraded versions as input (cross-sensor pseudo-pairs).
- ``--real IMG``: a real input as it comes, no reference: :mod:`s2sr.evaluate.realstats` for the
  model and for bicubic (PyTorch's, the base every residual model builds on), crops of the densest
  and the smoothest areas.
"""

from __future__ import annotations

import html
import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from affine import Affine

from s2sr._version import __version__
from s2sr.errors import InputError
from s2sr.evaluate.baselines import resample
from s2sr.evaluate.config import EvalConfig
from s2sr.evaluate.crops import write_scene_crops
from s2sr.evaluate.realstats import real_stats
from s2sr.evaluate.robust import (
    METHODS,
    Reference,
    aerial_reference,
    score_members,
    super_resolve_array,
    wald_reference,
)
from s2sr.io.atomic import atomic_dir
from s2sr.sensor.family import named, parse_names

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle

log = logging.getLogger(__name__)
CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:3px 7px;text-align:right}th{background:#eee}td.name{text-align:left}
td.lose{background:#fdd}td.win{background:#dfd}img{max-width:100%;image-rendering:pixelated}.note{color:#555}"""


def torch_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """PyTorch bicubic (a = -0.75, edges replicated), float32: the base of the residual models."""
    t = torch.from_numpy(np.ascontiguousarray(lr, np.float32))[None]
    return F.interpolate(t, scale_factor=scale, mode="bicubic", align_corners=False)[0].numpy()


def _write(tmp: Path, doc: dict[str, Any], body: str, title: str) -> None:
    (tmp / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False, default=float))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
    (tmp / "report.html").write_text(page)


def _member_crops(bundle: ModelBundle, ref: Reference, tmp: Path, name: str) -> list[str]:
    """Crops of the densest and smoothest areas under ``name`` (with the reference beside)."""
    s = bundle.scale
    lr = named(name).apply(ref.data, s, np.random.default_rng(0))
    lr_t = ref.transform @ Affine.scale(s)
    with tempfile.TemporaryDirectory(prefix="s2sr-crops-") as w:
        sr = super_resolve_array(bundle, lr, lr_t, ref.crs, Path(w))
    bic = resample(lr, lr_t, ref.transform, ref.data.shape[1:], "bicubic", ref.crs)
    crops = write_scene_crops(tmp, lr, {"bicubic (GDAL)": bic, "model": sr, "reference": ref.data}, bundle.bands,
                              s, f"crop_{name}", f"{ref.name}, input {name}")
    files = [str(c["file"]) for c in crops]
    return files


def _rows_table(rows: list[dict[str, Any]], bands: list[str], scored: list[int]) -> str:
    head = ("<tr><th>input made with</th><th>system MTF x / y</th>" +
            "".join(f"<th>PSNR {m}</th>" for m in METHODS) + "<th>gain vs bicubic dB</th><th>vs lanczos dB</th>" +
            "".join(f"<th>gain {html.escape(bands[b])}</th>" for b in scored) +
            "".join(f"<th>SSIM {m}</th>" for m in METHODS[:2]) + "<th>SAM model / bicubic °</th></tr>")
    body = []
    for r in rows:
        cls = "lose" if r["gain_db"] < 0 else "win" if r["gain_db"] >= 1.0 else ""
        sam_m, sam_b = r["model"]["sam"], r["bicubic"]["sam"]
        sam = "–" if sam_m is None else f"{sam_m:.3f} / {sam_b:.3f}"
        body.append(
            f"<tr><td class='name'>{html.escape(r['degradation'])}</td><td>{r['system_mtf'][0]:.3f} / {r['system_mtf'][1]:.3f}</td>" +
            "".join(f"<td>{r[m]['psnr']:.2f}</td>" for m in METHODS) +
            f"<td class='{cls}'>{r['gain_db']:+.2f}</td><td>{r['gain_vs_lanczos_db']:+.2f}</td>" +
            "".join(f"<td>{g:+.2f}</td>" for g in r["gain_per_band_db"]) +
            "".join(f"<td>{r[m]['ssim']:.4f}</td>" for m in METHODS[:2]) + f"<td>{sam}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def evaluate_degradations(cfg: EvalConfig, bundle: ModelBundle) -> dict[str, Any]:
    """``--wald IMG`` or ``--hr AERIAL`` (no ``--lr``) with ``--degradation``: one row per member."""
    try:
        members = parse_names(cfg.degradation or "")
    except ValueError as e:
        raise InputError(f"--degradation {cfg.degradation!r}: {e}") from None
    if cfg.wald is not None:
        from s2sr.io.sources import resolve_input

        with tempfile.TemporaryDirectory(prefix="s2sr-evaluate-") as w:
            src = resolve_input(cfg.wald, bundle.bands, cfg.bands, workdir=Path(w), vrt_name="input.vrt")
            ref = wald_reference(Path(src.path), src.bands, bundle.scale)
        ref.name, kind = Path(cfg.wald).stem, "wald"
    else:
        assert cfg.hr is not None
        try:
            ref = aerial_reference(Path(cfg.hr), bundle)
        except ValueError as e:
            raise InputError(f"{cfg.hr}: {e}") from None
        kind = "aerial"
    rows = score_members(bundle, ref, members, cfg.seed)
    doc = {"s2sr_version": __version__, "mode": f"degradations-{kind}", "image": str(cfg.wald or cfg.hr),
           "model": {"arch": bundle.arch, "path": str(bundle.path or cfg.model)}, "scale": bundle.scale,
           "bands": list(bundle.bands), "scored_bands": [bundle.bands[b] for b in ref.scored],
           "reference_shape": list(ref.data.shape), "rows": rows}
    what = ("the Sentinel-2 image itself (Wald: input = member(image) at 4x the pixel size)" if kind == "wald" else
            "the finer image area-averaged to the output pixel size, mapped to the model's units")
    with atomic_dir(cfg.out, overwrite=cfg.overwrite, inputs=(cfg.model, cfg.wald, cfg.hr)) as tmp:
        crops = _member_crops(bundle, ref, tmp, members[0].name)
        doc["crops"] = crops
        body = (f"<p class='note'>Reference: {html.escape(what)}, {ref.data.shape[2]}x{ref.data.shape[1]} px. PSNR with "
                "per-band 0.1-99.9 % peaks, mean over the scored bands; a border of 8 LR px is not scored. Each row "
                "makes the input with another degradation (s2sr.sensor.family); a model that only inverts the one it "
                "was trained with loses outside it.</p>" + _rows_table(rows, bundle.bands, ref.scored) +
                "".join(f"<p><img src='{c}' alt='{c}'></p>" for c in crops))
        _write(tmp, doc, body, f"s2sr evaluate: {ref.name} under {len(rows)} degradations")
    return doc


def _real_table(stats: dict[str, dict[str, Any]], bands: list[str]) -> str:
    def row(label: str, key: str, fmt: str, per: str | None = None) -> str:
        cells = []
        for m in ("model", "bicubic"):
            v = stats[m][key]
            if isinstance(v, dict):
                v = v["overall"]
            p = stats[m][per] if per else None
            extra = f" ({', '.join(format(x, fmt) for x in (p['per_band'] if isinstance(p, dict) else p))})" if p else ""
            cells.append(f"<td>{format(v, fmt)}{extra}</td>")
        return f"<tr><td class='name'>{label}</td>{''.join(cells)}</tr>"

    return ("<table><tr><th>statistic (per band " + ", ".join(html.escape(b) for b in bands) +
            ")</th><th>model</th><th>bicubic</th></tr>" +
            row("LR-grid spectral peak, max (per band)", "grid_peak", ".2f", "grid_peak") +
            row("clipped share minus the input's, points, max (per band)", "clipped_share_max", ".3f", "clipped_share_points") +
            row("mean shift %, max |.| (per band)", "mean_shift_max_abs", ".3f", "mean_shift_percent") +
            row("outside the 3x3 LR range %, mean (per band)", "outside_local_range_mean", ".2f", "outside_local_range_percent") +
            row("spectral angle to bicubic °", "spectral_angle_to_bicubic_deg", ".3f") + "</table>")


def real_arrays(bundle: ModelBundle, image: str | Path, bands: list[int] | None = None, progress: bool = False,
                input_check: str = "refuse") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input, model output through apply's code, PyTorch bicubic) of a real image, float32."""
    from s2sr.evaluate.sr import super_resolve
    from s2sr.io.sources import resolve_input

    with tempfile.TemporaryDirectory(prefix="s2sr-evaluate-") as w:
        src = resolve_input(image, bundle.bands, bands, workdir=Path(w), vrt_name="input.vrt")
        with rasterio.open(src.path) as ds:
            lr = ds.read(src.bands).astype(np.float32)
        if min(lr.shape[1:]) < 32:
            raise InputError(f"{image}: {lr.shape[2]}x{lr.shape[1]} px; --real needs at least 32 px a side")
        sr_path = super_resolve(bundle, Path(src.path), Path(w) / "sr.tif", src.bands, progress, input_check=input_check)
        with rasterio.open(sr_path) as ds:
            sr = ds.read().astype(np.float32)
    return lr, sr, torch_bicubic(lr, bundle.scale)


def evaluate_real(cfg: EvalConfig, bundle: ModelBundle) -> dict[str, Any]:
    """``--real IMG``: the statistics of :mod:`s2sr.evaluate.realstats` and crops, no reference."""
    assert cfg.real is not None
    lr, sr, bic = real_arrays(bundle, cfg.real, cfg.bands, cfg.progress, "refuse" if cfg.input_check else "warn")
    s = bundle.scale
    stats = {"model": real_stats(lr, sr, bic, s), "bicubic": real_stats(lr, bic, bic, s)}
    doc: dict[str, Any] = {"s2sr_version": __version__, "mode": "real", "image": str(cfg.real),
                           "model": {"arch": bundle.arch, "path": str(bundle.path or cfg.model)}, "scale": s,
                           "bands": list(bundle.bands), "input_shape": list(lr.shape), "stats": stats}
    with atomic_dir(cfg.out, overwrite=cfg.overwrite, inputs=(cfg.model, cfg.real)) as tmp:
        crops = write_scene_crops(tmp, lr, {"bicubic": bic, "model": sr}, bundle.bands, s, "crop", Path(cfg.real).name)
        doc["crops"] = crops
        body = ("<p class='note'>Real input, no reference: the output's statistics against its own input, beside "
                "bicubic's. Real 2.5 m aerial images read 1.2-6.3 on the grid peak (the upper end on tile mosaics) and 26-62 % outside the 3x3 LR range (benchmarks/real_stats.json). All crops share one stretch (2-98 % of the whole input).</p>" +
                _real_table(stats, bundle.bands) +
                "".join(f"<p><img src='{c['file']}' alt='{c['label']}'></p>" for c in crops))
        _write(tmp, doc, body, f"s2sr evaluate --real {Path(cfg.real).name}")
    return doc
