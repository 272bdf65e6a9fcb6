"""Checkpoints: bundle round trip gives identical outputs; damaged files give clear ModelErrors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import s2sr
from s2sr.archs import build_arch
from s2sr.data.dataset import DatasetInfo
from s2sr.errors import ModelError
from s2sr.sensor import SensorModel
from s2sr.train.checkpoint import load_last, make_bundle, save_best

CASES = [
    ("light", {"width": 8, "depth": 2}),
    ("srresnet", {"width": 8, "blocks": 1}),
    ("rrdb", {"width": 8, "blocks": 1, "growth": 4}),
    ("light", {"width": 8, "depth": 2, "consistency": True, "residual": False}),
]


def _bundle(arch: str, kw: dict[str, Any], scale: int = 3) -> Any:
    torch.manual_seed(0)
    kwargs = {**kw, "in_ch": 3, "scale": scale}
    module = build_arch(arch, **kwargs)
    info = DatasetInfo(root=Path("."), scale=scale, bands=["B4", "B3", "B2"], sensor=SensorModel(scale, 0.25),
                       lr_res=10.0, input_dtype="uint16", summary={"scale": scale})
    mean, std = np.array([1000, 1100, 1200], np.float32), np.array([300, 310, 320], np.float32)
    return make_bundle(arch, kwargs, module, info, mean, std, {"run": {"seed": 0}},
                       {"data": "x"}, {"val_psnr": 30.0, "bicubic_psnr": 29.0, "step": 1})


@pytest.mark.parametrize("arch,kw", CASES)
def test_bundle_round_trip_identical_outputs(arch: str, kw: dict[str, Any], tmp_path: Path) -> None:
    b = _bundle(arch, kw)
    path = save_best(tmp_path, b, seconds=12.0, steps=1, device="cpu", precision="fp32")
    lr = np.random.default_rng(0).uniform(200, 3000, (3, 9, 11)).astype(np.float32)
    loaded = s2sr.load_model(path)
    assert np.array_equal(loaded.predict(lr), b.predict(lr))
    assert (loaded.arch, loaded.bands, loaded.sensor, loaded.input_res) == (arch, ["B4", "B3", "B2"], SensorModel(3, 0.25), 10.0)
    assert loaded.receptive_field == b.module.receptive_field
    assert "29.00" in (tmp_path / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_checkpoint_gives_model_error(damage: str, tmp_path: Path) -> None:
    path = _bundle("light", {"width": 8, "depth": 2}).save(tmp_path / "best.pt")
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 50, "empty": b""}[damage])
    what = {"truncate": r"corrupt or truncated checkpoint \(.*\)",
            "garbage": r"not a PyTorch checkpoint \(unknown format\), so not an s2sr model",
            "empty": "is an empty file, not a PyTorch checkpoint, so not an s2sr model"}[damage]
    with pytest.raises(ModelError, match=rf"^{path}: {what}; re-copy or re-train it$"):
        s2sr.load_model(path)


def test_wrong_weights_give_model_error(tmp_path: Path) -> None:
    d = _bundle("light", {"width": 8, "depth": 2}).to_dict()
    d["arch_kwargs"]["width"] = 6
    torch.save(d, tmp_path / "m.pt")
    with pytest.raises(ModelError, match="weights do not match architecture 'light'"):
        s2sr.load_model(tmp_path / "m.pt")


def test_damaged_training_state(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no training state to resume"):
        load_last(tmp_path / "last.pt")
    (tmp_path / "last.pt").write_bytes(b"PK\x03\x04broken")
    with pytest.raises(ModelError, match="corrupt or truncated training state"):
        load_last(tmp_path / "last.pt")
    torch.save({"format": "s2sr-model"}, tmp_path / "last.pt")
    with pytest.raises(ModelError, match="not an s2sr training state"):
        load_last(tmp_path / "last.pt")
