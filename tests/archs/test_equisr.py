"""EquiSR: per-band gain/offset equivariance, exact sensor consistency, tile locality, ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from s2sr.archs import build_arch
from s2sr.sensor import SensorModel


def _model(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    m = build_arch("equisr", in_ch=4, scale=4, width=16, depth=4, **kw).eval()
    with torch.no_grad():  # a trained-like tail, so the detail branch is not ~0
        m.tail.weight.normal_(0, 0.05)
    return m


def _lr(seed: int = 0, shape: tuple[int, int] = (40, 48)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 4, *shape, generator=g).cumsum(-1).cumsum(-2)
    return (x - x.mean()) / x.std()


@pytest.mark.parametrize("blocks", ["plain", "res"])
def test_output_of_a_per_band_affine_input_is_the_same_affine_of_the_output(blocks: str) -> None:
    m, x = _model(blocks=blocks), _lr()
    gain = torch.tensor([0.8, 1.2, 1.05, 0.9]).view(1, 4, 1, 1)
    off = torch.tensor([0.3, -0.3, 0.1, -0.05]).view(1, 4, 1, 1)
    with torch.no_grad():
        y, y2 = m(x), m(x * gain + off)
    assert float((y - x.repeat_interleave(4, -1).repeat_interleave(4, -2)).abs().max()) > 0.05  # not trivial
    # exact but for the eps floor on the local std (sqrt(var + eps^2) does not scale with the gain
    # where var ~ eps^2); 1e-3 normalised units is ~0.5 DN for a band std of 500 DN
    assert float((y2 - (y * gain + off)).abs().max()) < 1e-3


def test_output_degrades_exactly_to_the_input_also_under_bf16() -> None:
    m, x = _model(), _lr(1)
    s = SensorModel(4, 0.3)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x)
    assert y.dtype == torch.float32
    assert float((s.degrade_torch(y.double()) - x.double()).abs().max()) < 1e-4


def test_constant_input_gives_the_constant() -> None:
    with torch.no_grad():
        y = _model()(torch.full((1, 4, 24, 24), 1.7))
    # the local std is floored at eps = 0.01 (normalised units), so the detail branch adds at most
    # ~eps * |net| on a flat area: here < 1e-3 normalised units (~0.5 DN at a band std of 500 DN)
    assert float((y - 1.7).abs().max()) < 1e-3


def test_influence_stays_within_the_receptive_field() -> None:
    m = _model()
    n, c = 80, 40
    x = _lr(2, (n, n))
    x2 = x.clone()
    x2[0, :, c, c] += 3.0
    with torch.no_grad():
        diff = (m(x2) - m(x)).abs().amax(1)[0]
    rows, cols = torch.nonzero(diff > 1e-4 * float(diff.max()), as_tuple=True)
    dist = torch.maximum((rows // 4 - c).abs(), (cols // 4 - c).abs())
    assert int(dist.max()) <= m.receptive_field


def test_bad_kwargs_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="blocks"):
        build_arch("equisr", blocks="dense")


def test_onnx_export_applies_the_projection_after_the_graph(tmp_path: Path, bundle_factory) -> None:
    from s2sr.infer.backends import OnnxPredictor, TorchPredictor
    from s2sr.infer.export import export_onnx

    bundle = bundle_factory(arch="equisr", width=8, depth=2)
    with torch.no_grad():
        bundle.module.tail.weight.normal_(0, 0.05)
    export_onnx(bundle, tmp_path / "m.onnx")
    x = (np.random.default_rng(0).random((1, 4, 36, 44)) * 2000 + 500).astype(np.float32)
    onnx_y = OnnxPredictor(tmp_path / "m.onnx")(x)
    torch_y = TorchPredictor(bundle, "fp32")(x)
    assert OnnxPredictor(tmp_path / "m.onnx").meta["projection"] == {"scale": 4, "mtf_nyquist": 0.3}
    assert np.abs(onnx_y - torch_y).max() < 0.05
    lr_err = SensorModel(4).degrade(onnx_y[0]) - x[0]
    assert np.abs(lr_err).max() < 0.05
