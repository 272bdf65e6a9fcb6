"""Bundles with an uncertainty head made on the fly (seeded), for apply / serve / bundle tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def attach_head(bundle: Any, seed: int = 0, width: int = 8, depth: int = 3, quantile_scale: float = 1.0) -> Any:
    """``bundle`` with a seeded (untrained) errnet head and a calibration from exponential scores."""
    import torch

    from s2sr.uncertainty.calibration import calibrate
    from s2sr.uncertainty.head import build_head
    from s2sr.uncertainty.section import UncertaintyHead

    torch.manual_seed(seed)
    kw = {"in_ch": len(bundle.bands), "scale": bundle.scale, "width": width, "depth": depth}
    module = build_head("errnet", **kw).eval()
    rng = np.random.default_rng(seed)
    cal = calibrate([quantile_scale * rng.exponential(size=4000) for _ in bundle.bands], ["cal-scene"])
    bundle.uncertainty = UncertaintyHead("errnet", kw, module, cal, ["train-scene"], ["cal-scene"]).to_dict()
    return bundle


@pytest.fixture
def headed_pt(tmp_path, bundle_factory):
    """A saved equisr x4 bundle (tiny, seeded) with an uncertainty head."""
    b = bundle_factory("equisr", width=8, depth=2, input_stats=None)
    return attach_head(b).save(tmp_path / "headed.pt")
