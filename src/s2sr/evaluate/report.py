"""Self-contained HTML report: tables, charts and crops as inline base64 PNGs (no JS, no CDN)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from s2sr.evaluate.metrics import DIRECTION
from s2sr.evaluate.opensr import SCORE_DIRECTION, SCORES
from s2sr.evaluate.score import MODEL
from s2sr.uncertainty.report import uncertainty_section

LABELS = {
    "psnr": "PSNR (dB)", "ssim": "SSIM", "sam": "SAM (°)", "ergas": "ERGAS", "lr_psnr": "LR-PSNR (dB)",
    "lr_sam": "LR-SAM (°)", "hf_corr": "HF corr", "grad_ratio": "grad ratio", "improvement": "improvement",
    "omission": "omission", "hallucination": "hallucination",
}
ARROW = {"max": "↑", "min": "↓", "one": "→1"}
CSS = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:3px 7px;text-align:right}th{background:#eee}td.name{text-align:left}
td.win{font-weight:bold;background:#dfd}td.lose{background:#fdd}img{max-width:100%}.note{color:#555}"""


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):
        return "∞"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def _fmt_g(v: float | None) -> str:
    """Four significant digits (opensr-test scores span 1e-4 .. 10)."""
    return "–" if v is None or not math.isfinite(v) else f"{v:.4g}"


def _better(metric: str, a: float, b: float) -> bool:
    d = DIRECTION[metric]
    return a > b if d == "max" else a < b if d == "min" else abs(a - 1) < abs(b - 1)


def metric_table(methods: dict[str, dict[str, Any]], winners: dict[str, list[str]]) -> str:
    """Methods x metrics; the winner of each metric green, model cells that lose to a baseline red."""
    metrics = [m for m in DIRECTION if any(m in v["overall"] for v in methods.values())]
    head = "".join(f"<th>{LABELS[m]} {ARROW[DIRECTION[m]]}</th>" for m in metrics)
    rows = []
    for name, v in methods.items():
        cells = []
        for m in metrics:
            x = v["overall"].get(m)
            cls, title = "", ""
            if name in winners.get(m, []):
                cls = "win"
            elif name == MODEL and x is not None and not math.isnan(x):
                beat = [b for b, bv in methods.items() if b != MODEL and bv["overall"].get(m) is not None
                        and not math.isnan(bv["overall"][m]) and _better(m, bv["overall"][m], x)]
                if beat:
                    cls, title = "lose", "model loses to " + ", ".join(beat)
            attr = (f' class="{cls}"' if cls else "") + (f' title="{title}"' if title else "")
            mark = " ★" if cls == "win" else " ✗" if cls == "lose" else ""
            cells.append(f"<td{attr}>{_fmt(x)}{mark}</td>")
        rows.append(f'<tr><td class="name">{html.escape(name)}</td>{"".join(cells)}</tr>')
    return f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>"


def versus_table(methods: dict[str, dict[str, Any]]) -> str:
    """Model against each baseline: metrics won / lost and the list of lost metrics."""
    rows = []
    for b, bv in methods.items():
        if b == MODEL:
            continue
        won: list[str] = []
        lost: list[str] = []
        for m in DIRECTION:
            x, y = methods[MODEL]["overall"].get(m), bv["overall"].get(m)
            if x is None or y is None or math.isnan(x) or math.isnan(y) or x == y:
                continue
            (won if _better(m, x, y) else lost).append(LABELS[m])
        rows.append(f'<tr><td class="name">{b}</td><td>{len(won)}</td><td>{len(lost)}</td>'
                    f'<td class="name">{html.escape(", ".join(lost)) or "–"}</td></tr>')
    return ("<table><tr><th>baseline</th><th>model wins</th><th>model loses</th><th>metrics lost</th></tr>"
            + "".join(rows) + "</table>")


def band_chart(methods: dict[str, dict[str, Any]], bands: list[str], metric: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    names = list(methods)
    w = 0.8 / len(names)
    for i, n in enumerate(names):
        vals = [v if v is not None and math.isfinite(v) else 0 for v in methods[n]["per_band"][metric]]
        ax.bar(np.arange(len(bands)) + i * w, vals, w, label=n)
    ax.set_xticks(np.arange(len(bands)) + 0.4 - w / 2, bands)
    ax.set_ylabel(LABELS[metric])
    ax.legend(fontsize=7, ncol=len(names))
    finite = [v for n in names for v in methods[n]["per_band"][metric] if v is not None and math.isfinite(v)]
    if finite and metric == "psnr":
        ax.set_ylim(min(finite) - 2, max(finite) + 1)
    return _png(fig)


def density_chart(doc: dict[str, Any]) -> str:
    """Per-tile PSNR gain over bicubic vs edge density, and per-stratum PSNR per method."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.2))
    d = [t["density"] for t in doc["tiles"]]
    g = [t["psnr"][MODEL] - t["psnr"]["bicubic"] for t in doc["tiles"]]
    a1.scatter(d, g, s=10)
    a1.axhline(0, color="k", lw=0.8)
    a1.set_xlabel("edge density of tile")
    a1.set_ylabel("PSNR gain over bicubic (dB)")
    x = [(s["density_min"] + s["density_max"]) / 2 for s in doc["strata"]]
    for m in doc["methods"]:
        a2.plot(x, [s["methods"][m]["psnr"] for s in doc["strata"]], marker="o", label=m)
    a2.set_xlabel("edge density (stratum mid)")
    a2.set_ylabel("PSNR (dB)")
    a2.legend(fontsize=7)
    return _png(fig)


def _rgb_index(bands: list[str]) -> list[int]:
    want = [bands.index(b) for b in ("B4", "B3", "B2") if b in bands]
    if len(want) == 3:
        return want
    return list(range(min(3, len(bands)))) if len(bands) >= 3 else [0]


def _stretch(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    y = (x - lo[:, None, None]) / np.maximum(hi - lo, 1e-9)[:, None, None]
    y = np.clip(np.nan_to_num(y), 0, 1)
    return np.moveaxis(y, 0, -1) if y.shape[0] == 3 else y[0]


def crop_figure(crop: dict[str, Any], bands: list[str], scale: int) -> str:
    plt = _plt()
    a = crop["arrays"]
    idx = _rgb_index(bands)
    ref = a.ref[idx]
    lo = np.nanpercentile(ref, 2, axis=(1, 2))
    hi = np.nanpercentile(ref, 98, axis=(1, 2))
    lr_up = np.repeat(np.repeat(a.lr[idx], scale, 1), scale, 2)
    d_bic = np.mean(np.abs(a.preds["bicubic"] - a.ref), axis=0)  # NaN (blank) where not scored
    d_sr = np.mean(np.abs(a.preds[MODEL] - a.ref), axis=0)
    vmax = float(np.nanpercentile(np.concatenate([d_bic.ravel(), d_sr.ravel()]), 99)) or 1.0
    panels = [("LR (nearest)", _stretch(lr_up, lo, hi)), ("bicubic (GDAL)", _stretch(a.preds["bicubic"][idx], lo, hi)),
              ("SR (model)", _stretch(a.preds[MODEL][idx], lo, hi)), ("HR (reference)", _stretch(ref, lo, hi))]
    fig, axes = plt.subplots(1, 6, figsize=(15, 2.9))
    for ax, (t, im) in zip(axes[:4], panels, strict=True):
        ax.imshow(im, cmap="gray", interpolation="nearest")
        ax.set_title(t, fontsize=8)
    for ax, (t, dm) in zip(axes[4:], (("|bicubic − HR|", d_bic), ("|SR − HR|", d_sr)), strict=True):
        ax.imshow(dm, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(t, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    return _png(fig)


OPENSR_LABELS = {"reflectance": "reflectance (L1)", "spectral": "spectral (SAD °)", "spatial": "spatial (LR px)",
                 "synthesis": "synthesis (L1)", "improvement": "improvement", "omission": "omission",
                 "hallucination": "hallucination"}


def opensr_section(doc: dict[str, Any]) -> str:
    """The opensr-test scores per method (winners marked), with the window they were computed on."""
    o = doc.get("opensr")
    if o is None:
        return ""
    x, y, w, h = o["window"]
    where = "the whole scene" if o["whole_scene"] else f"the centred window col {x}, row {y}, {w}×{h} fine pixels"
    head = "<h2>opensr-test scores</h2><p class='note'>opensr-test 1.3.3 with its default Config (formulas " \
           "reimplemented in s2sr, checked against the package; see docs/evaluate.md), on reflectance " \
           f"(values / {o.get('reflectance_scale', 10000):g}), over {where}. Synthesis measures the detail added " \
           "(no better direction); ★ best.</p>"
    if o.get("skipped"):
        return head + f"<p>Skipped: {html.escape(o['skipped'])}</p>"
    arrows = {"min": " ↓", "max": " ↑", "": ""}
    cols = "".join(f"<th>{OPENSR_LABELS[k]}{arrows[SCORE_DIRECTION[k]]}</th>" for k in SCORES)
    rows = []
    for name, v in doc["methods"].items():
        sc = v.get("opensr", {})
        cells = "".join(
            f'<td class="win">{_fmt_g(sc.get(k))} ★</td>' if name in o["winners"].get(k, []) else f"<td>{_fmt_g(sc.get(k))}</td>"
            for k in SCORES)
        rows.append(f'<tr><td class="name">{html.escape(name)}</td>{cells}</tr>')
    return head + f"<table><tr><th>method</th>{cols}</tr>{''.join(rows)}</table>"


def strata_table(doc: dict[str, Any]) -> str:
    keys = ["psnr", "ssim", "sam", "hf_corr", "improvement", "hallucination", "omission"]
    head = "".join(f"<th>{LABELS[k]}</th>" for k in keys)
    rows = []
    for s in doc["strata"]:
        for m, v in s["methods"].items():
            first = f'<td class="name" rowspan="{len(s["methods"])}">{html.escape(s["name"])}<br>density ' \
                    f'{s["density_min"]:.3f}–{s["density_max"]:.3f}<br>{s["tiles"]} tiles</td>' if m == MODEL else ""
            rows.append(f'<tr>{first}<td class="name">{m}</td>{"".join(f"<td>{_fmt(v.get(k))}</td>" for k in keys)}</tr>')
    return f"<table><tr><th>stratum</th><th>method</th>{head}</tr>{''.join(rows)}</table>"


def render(doc: dict[str, Any], crops: list[dict[str, Any]], bands: list[str]) -> str:
    """The whole report as one HTML string."""
    cfg = doc["config"]
    src = f"Wald protocol on {cfg['wald']}" if doc["mode"] == "wald" else f"LR {cfg['lr']} vs HR {cfg['hr']}"
    split = f"; scored on the test split of {cfg['split_from']} only" if cfg.get("split_from") else ""
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>s2sr evaluation</title><style>{CSS}</style></head><body>",
        "<h1>s2sr evaluation</h1>",
        f"<p>Model <code>{html.escape(doc['model']['path'])}</code> ({html.escape(doc['model']['arch'])}, x{doc['scale']}, "
        f"bands {', '.join(bands)}). {html.escape(src)}{html.escape(split)}. {doc['pixels']:,} fine pixels scored. "
        f"PSNR/SSIM peak per band: {', '.join(f'{x:.0f}' for x in doc['data_range'])}.</p>",
        "<h2>Model vs baselines</h2><p class='note'>★ best of all methods; ✗ the model is worse than at least one "
        "baseline (hover for which). Baselines are GDAL resampling of the LR onto the same fine grid. "
        "Definitions: docs/evaluate.md.</p>",
        metric_table(doc["methods"], doc["winners"]), versus_table(doc["methods"]), opensr_section(doc),
        "<h2>Per band</h2>", _img(band_chart(doc["methods"], bands, "psnr"), "PSNR per band"),
        _img(band_chart(doc["methods"], bands, "ssim"), "SSIM per band"),
        "<h2>By structure density</h2><p class='note'>Edge density of a tile: share of its pixels whose "
        f"reference gradient is at least {doc['edge_threshold']:.4g} per pixel, the scene's "
        f"{100 * cfg['edge_quantile']:g}th percentile gradient.</p>",
        strata_table(doc), _img(density_chart(doc), "metrics vs density"), uncertainty_section(doc, bands),
        "<h2>Crops</h2><p class='note'>Chosen automatically: best, median and worst tiles by model PSNR gain over bicubic.</p>",
    ]
    for c in crops:
        x, y, w, h = c["window"]
        parts.append(f"<h3>{c['label']}: gain {c['gain_db']:+.2f} dB (fine pixels col {x}, row {y}, {w}×{h})</h3>")
        parts.append(_img(crop_figure(c, bands, doc["scale"]), f"{c['label']} crop"))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: Path, doc: dict[str, Any], crops: list[dict[str, Any]], bands: list[str]) -> Path:
    """Render and write ``report.html``."""
    Path(path).write_text(render(doc, crops, bands), encoding="utf-8")
    return Path(path)
