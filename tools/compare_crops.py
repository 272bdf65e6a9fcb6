"""Side-by-side crops of several models on one real image, at one stretch (for docs/RESULTS.md).

    python tools/compare_crops.py IMG.tif ROW COL SIZE OUT.png MODEL [MODEL ...] [--zoom 2]

Panels: the input enlarged by pixel repetition | PyTorch bicubic | each model (``load_model(m).predict``
on the window with a 16 px margin), true colour (B4, B3, B2) with the 1-99 % stretch of the input
window, every panel alike; the PNG is enlarged ``--zoom`` times (nearest) so that 2.5 m pixels show.
"""

from __future__ import annotations

import argparse

import numpy as np
import rasterio
from PIL import Image

from s2sr.bundle import load_model
from s2sr.evaluate.crops import stretch
from s2sr.evaluate.modes import torch_bicubic

MARGIN = 16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("row", type=int)
    ap.add_argument("col", type=int)
    ap.add_argument("size", type=int)
    ap.add_argument("out")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--zoom", type=int, default=2)
    a = ap.parse_args()
    m, n = MARGIN, a.size
    with rasterio.open(a.image) as ds:
        d = ds.read(window=((a.row - m, a.row + n + m), (a.col - m, a.col + n + m)), boundless=True,
                    fill_value=0).astype(np.float32)
    rgb = [2, 1, 0]
    core = d[:, m:m + n, m:m + n]
    lo, hi = np.percentile(core[rgb].reshape(3, -1), [1, 99], axis=1)
    fine = (slice(None), slice(4 * m, 4 * (m + n)), slice(4 * m, 4 * (m + n)))
    panels = [np.repeat(np.repeat(core, 4, 1), 4, 2), torch_bicubic(d, 4)[fine]]
    panels += [load_model(p).predict(d)[fine] for p in a.models]
    ims = [np.pad(stretch(p[rgb], lo, hi), ((0, 0), (0, 4), (0, 0)), constant_values=255) for p in panels]
    row = np.concatenate(ims, 1)
    Image.fromarray(row).resize((row.shape[1] * a.zoom, row.shape[0] * a.zoom), Image.NEAREST).save(a.out)
    print(f"{a.out}: input 10 m | bicubic | " + " | ".join(a.models))


if __name__ == "__main__":
    main()
