"""Side-by-side crops at one stretch: 10 m input | bicubic | model (| reference), as PNG files.

The crops a user should look at before trusting any number: the densest area of the scene (most
LR gradient energy: dense small buildings) and the smoothest (water, fields), each panel shown
at the fine grid's pixel count (the input enlarged by pixel repetition), true colour (B4, B3, B2),
every panel and every crop of a scene with the same per-band 2-98 % stretch of the whole input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter


def rgb_index(bands: list[str]) -> list[int]:
    """Indexes of red, green, blue among band names (B4, B3, B2), else the first three."""
    names = [b.lower() for b in bands]
    out: list[int] = []
    for key in (("b4", "red"), ("b3", "green"), ("b2", "blue")):
        hit = [i for i, n in enumerate(names) if any(n.startswith(k) or k in n.split() for k in key)]
        out.append(hit[0] if hit else len(out))
    return out


def pick_windows(lr: np.ndarray, size: int, edge: int = 8) -> dict[str, tuple[int, int]]:
    """Top-left LR corners of the densest and the smoothest ``size`` px windows (mean gradient
    magnitude of the band mean), at least ``edge`` px from the image edges where the image allows."""
    g = lr[:3].mean(axis=0).astype(np.float64)
    mag = np.hypot(*np.gradient(g))
    m = uniform_filter(mag, size, mode="nearest")
    h, w = g.shape
    half = size // 2
    e = min(edge, max(0, (min(h, w) - size) // 2))
    # m[i + half, j + half] is the mean over the window whose top-left corner is (i, j)
    inner = m[half + e:h - size + half + 1 - e, half + e:w - size + half + 1 - e]
    if inner.size == 0:
        return {"densest": (0, 0), "smoothest": (0, 0)}
    hi = np.unravel_index(np.argmax(inner), inner.shape)
    lo = np.unravel_index(np.argmin(inner), inner.shape)
    return {"densest": (int(hi[0]) + e, int(hi[1]) + e), "smoothest": (int(lo[0]) + e, int(lo[1]) + e)}


def scene_stretch(lr: np.ndarray, rgb: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The 2-98 % range of each true-colour band over the whole input: one stretch for every crop (a
    per-crop stretch would blow the noise of a flat area up to full contrast)."""
    lo, hi = np.percentile(lr[rgb].reshape(3, -1), [2, 98], axis=1)
    return lo, hi


def stretch(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    y = (x.astype(np.float64) - lo[:, None, None]) / np.maximum(hi - lo, 1e-9)[:, None, None]
    return (np.clip(y, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


def write_crop(path: Path, panels: dict[str, np.ndarray], lr_crop: np.ndarray, scale: int, rgb: list[int],
               title: str, limits: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """One PNG: the panels (name -> fine-grid (C, H, W) crop) beside the input crop enlarged, all at the
    stretch ``limits`` (default: the crop's own 2-98 %)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    lo, hi = limits if limits is not None else scene_stretch(lr_crop, rgb)
    big = np.repeat(np.repeat(lr_crop, scale, 1), scale, 2)
    shown = {"input 10 m": big, **panels}
    h, w = big.shape[1:]
    fig, axes = plt.subplots(1, len(shown), figsize=(len(shown) * w / 100, h / 100 + 0.35), dpi=100)
    for ax, (name, arr) in zip(np.atleast_1d(axes), shown.items(), strict=True):
        ax.imshow(stretch(arr[rgb], lo, hi), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - 0.35 / (h / 100 + 0.35), wspace=0.02)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_scene_crops(folder: Path, lr: np.ndarray, fine: dict[str, np.ndarray], bands: list[str], scale: int,
                      prefix: str, title: str) -> list[dict[str, object]]:
    """``prefix_densest.png`` and ``prefix_smoothest.png`` in ``folder``: the panels ``fine`` (name ->
    whole fine-grid image) beside the input, at the scene's one stretch; what was written, per crop."""
    size = min(48, lr.shape[1], lr.shape[2])
    rgb = rgb_index(bands)
    limits = scene_stretch(lr, rgb)
    out: list[dict[str, object]] = []
    for label, (r, c) in pick_windows(lr, size).items():
        win = (slice(None), slice(r * scale, (r + size) * scale), slice(c * scale, (c + size) * scale))
        f = folder / f"{prefix}_{label}.png"
        write_crop(f, {k: v[win] for k, v in fine.items()}, lr[:, r:r + size, c:c + size], scale, rgb,
                   f"{title}, {label} area (LR px {c}, {r})", limits)
        out.append({"label": label, "file": f.name, "lr_col": c, "lr_row": r, "size": size})
    return out
