"""Check on load that a model's description fits its network: one forward pass on a tiny input.

A model file carries a band list and a scale beside the weights. When they disagree (an
edited bundle, a damaged ONNX), inference fails deep inside the tile loop or, worse, writes
an output on the wrong grid with exit code 0. :func:`probe` runs the network once on a
``PROBE`` x ``PROBE`` pixel input and refuses the model with a one-line ModelError unless
the output has the same bands at ``scale`` times the size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from s2sr.errors import ModelError

PROBE = 16  # LR pixels on a side: small enough to cost nothing, large enough for every architecture


def probe(run: Callable[[np.ndarray], Any], bands: list[str], scale: int, name: str, fix: str) -> None:
    """Run ``run`` on seeded noise (1, len(bands), PROBE, PROBE) (normalised units); refuse unless it returns
    (1, C, PROBE*s, PROBE*s) of finite values that are not all equal (a model with damaged weights gives
    NaN, infinities or one value everywhere)."""
    n = len(bands)
    x = np.random.default_rng(0).standard_normal((1, n, PROBE, PROBE)).astype(np.float32)
    try:
        y = run(x)
    except Exception as e:  # torch and onnxruntime raise their own types for shape mismatches
        first = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ModelError(f"{name}: its {n} bands ({', '.join(bands)}) do not fit the network's weights "
                         f"({first}); {fix}") from None
    got = tuple(int(v) for v in y.shape)
    want = (1, n, PROBE * scale, PROBE * scale)
    if got != want:
        raise ModelError(f"{name}: the network turns {n} bands of {PROBE}x{PROBE} px into shape {got[1:]}, "
                         f"but the model says x{scale} with {n} bands {want[1:]}; {fix}")
    out = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y, np.float64)
    if not np.isfinite(out).all():
        raise ModelError(f"{name}: the network gives NaN or infinite values on a test input (damaged weights); {fix}")
    if float(np.ptp(out)) == 0.0:
        raise ModelError(f"{name}: the network gives one value everywhere on a test input (damaged weights); {fix}")
