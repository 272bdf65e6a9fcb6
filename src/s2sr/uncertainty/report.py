"""The "Uncertainty" section of ``report.html``: coverage table, rank correlations, reliability plot."""

from __future__ import annotations

import base64
import html
import io
from typing import Any


def _fmt(v: float | None, nd: int = 3) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def reliability_png(u: dict[str, Any]) -> str:
    """Two panels as a base64 PNG: nominal vs empirical coverage, and binned predicted vs actual error."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    nom = [p[0] for p in u["reliability"]]
    emp = [p[1] for p in u["reliability"]]
    a1.fill_between([0, 1], [-0.03, 0.97], [0.03, 1.03], color="#ddd", label="±3 points")
    a1.plot([0, 1], [0, 1], "k--", lw=0.8)
    a1.plot(nom, emp, "o-", ms=3, label="model")
    a1.set_xlim(0, 1)
    a1.set_ylim(0, 1)
    a1.set_xlabel("nominal level of the interval")
    a1.set_ylabel("share of pixels inside it")
    a1.legend(fontsize=7, loc="upper left")
    a1.set_title("Reliability (all bands)", fontsize=9)
    b = u.get("binned") or []
    if b:
        pred, mean_err, q90 = zip(*b, strict=True)
        top = max(max(pred), max(q90)) * 1.05
        a2.plot([0, top], [0, top], "k--", lw=0.8, label="ideal for the 90 % quantile")
        a2.plot(pred, q90, "o-", ms=3, label="90 % quantile of |error|")
        a2.plot(pred, mean_err, "s-", ms=3, label="mean |error|")
        a2.set_xlabel("predicted 90 % half-width (decile mean, output units)")
        a2.set_ylabel("actual |SR − reference|")
        a2.legend(fontsize=7, loc="upper left")
        a2.set_title("Predicted vs actual error, by decile of the prediction", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def uncertainty_section(doc: dict[str, Any], bands: list[str]) -> str:
    """HTML of the section ("" when the model has no uncertainty head)."""
    u = doc.get("uncertainty")
    if not u:
        return ""
    head = "".join(f"<th>{html.escape(b)}</th>" for b in bands)
    rows = []
    for key, c in u["coverage"].items():
        miss = abs(c["overall"] - c["nominal"]) > 0.03
        cls = ' class="lose"' if miss else ' class="win"'
        cells = "".join(f"<td>{100 * v:.1f} %</td>" for v in c["per_band"])
        rows.append(f'<tr><td class="name">{100 * float(key):g} %</td><td{cls}>{100 * c["overall"]:.1f} %</td>{cells}</tr>')
    rho = "".join(f"<td>{_fmt(v)}</td>" for v in u["spearman_pixel_per_band"])
    rho_b = "".join(f"<td>{_fmt(v)}</td>" for v in u["spearman_block_per_band"])
    return (
        "<h2>Uncertainty</h2><p class='note'>The model's uncertainty head predicts, per pixel and band, the "
        "half-width h of an interval SR ± h (apply --uncertainty); it was calibrated (split-conformal) on "
        f"{html.escape(', '.join(u.get('calibrated_on', [])) or '?')}. Coverage: share of scored pixels whose "
        "actual |SR − reference| is at most h (green: within 3 points of the nominal level). Spearman: rank "
        f"correlation of h with |SR − reference| per pixel ({u['sampled_pixels']:,} sampled pixel values) and of "
        f"their means per 16 × 16 block ({u['blocks']:,} blocks). See docs/uncertainty.md.</p>"
        f"<table><tr><th>level</th><th>all bands</th>{head}</tr>{''.join(rows)}</table>"
        f"<table><tr><th>Spearman</th><th>all bands</th>{head}</tr>"
        f"<tr><td class='name'>per pixel</td><td>{_fmt(u['spearman_pixel'])}</td>{rho}</tr>"
        f"<tr><td class='name'>per 16 × 16 block</td><td>{_fmt(u['spearman_block'])}</td>{rho_b}</tr></table>"
        f'<img alt="uncertainty reliability" src="data:image/png;base64,{reliability_png(u)}">'
    )
