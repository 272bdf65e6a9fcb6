"""``prepare --finer``: finer images become Sentinel-2-unit targets at the output pixel size, RGB images get a
masked pseudo-NIR, inputs are family draws (stored for val, drawn anew per step for training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from s2sr.cli.main import main
from s2sr.data.dataset import open_dataset
from s2sr.sensor.family import DegradationFamily
from s2sr.train.data import Batches

from ..conftest import textured_scene


def _aerial(make_raster, name: str, seed: int, n: int = 640) -> Path:
    rgb = textured_scene(n // 4, seed, bands=3).astype(np.float64)
    rgb = np.kron(rgb, np.ones((1, 4, 4)))  # 0.5 m: the texture at 2 m, enlarged
    rgb = (30 + 180 * (rgb - rgb.min()) / np.ptp(rgb)).astype("uint8")
    rgb[:, :8, :8] = 0  # a nodata corner
    return make_raster(name, res=0.5, data=rgb, nodata=0)


@pytest.fixture
def finer_list(make_raster, tmp_path: Path) -> Path:
    wald = "res_m = 10\n"
    for i, (name, split) in enumerate([("s2_a", "train"), ("s2_b", "val")]):
        make_raster(f"{name}.tif", res=10.0, data=textured_scene(120, 10 + i), nodata=None)
        wald += f'[[scene]]\nwald = "{name}.tif"\nsplit = "{split}"\n'
    (tmp_path / "wald.toml").write_text(wald)
    _aerial(make_raster, "town.tif", 1)
    _aerial(make_raster, "fields.tif", 2)
    _aerial(make_raster, "other.tif", 3)
    lst = tmp_path / "finer.toml"
    lst.write_text('scale = 4\npatch_size = 16\nstride_m = 40\ntarget_res_m = [2.5, 2.0]\nval_res_m = [2.5]\n'
                   'wald = "wald.toml"\nwald_stride = 16\n'
                   '[[image]]\npath = "town.tif"\nplace = "a"\nsplit = "train"\n'
                   '[[image]]\npath = "fields.tif"\nplace = "b"\nsplit = "val"\n'
                   '[[image]]\npath = "other.tif"\nplace = "c"\nsplit = "test"\n')
    return lst


def test_prepare_finer_writes_targets_weights_and_family_draws(finer_list: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    assert main(["prepare", "--finer", str(finer_list), "--out", str(out)]) == 0
    assert "patches (finer)" in capsys.readouterr().out
    ds = open_dataset(out)
    m = ds.manifest
    assert m is not None and m.degradation is not None
    fam = DegradationFamily.from_dict(m.degradation["family"])
    assert fam == DegradationFamily()
    kinds = m.config["sources"]
    assert kinds["train:pseudo"] > 0 and kinds["train:wald"] > 0 and kinds["val:pseudo"] > 0 and kinds["val:wald"] > 0
    assert not any("other" in p.hr for p in m.pairs)  # test images are never read
    tr = ds.split("train")
    rows = tr.index()
    pseudo = [i for i, r in enumerate(rows) if "town" in m.pairs[int(r["pair"])].hr]
    wald = [i for i, r in enumerate(rows) if m.pairs[int(r["pair"])].kind == "wald"]
    assert (tr.weights[pseudo] == [1, 1, 1, 0]).all() and (tr.weights[wald] == 1).all()
    # targets in Sentinel-2 units: the 8-bit aerial values mapped near the reference scenes' range
    hr = np.asarray(tr.hr[pseudo[0]])
    assert 200 < float(hr[:3].mean()) < 5000 and hr.shape == (4, 64, 64)
    # the stored LR is the family member drawn from (seed, patch id), integer valued
    pid = int(rows[pseudo[0]]["id"])
    member = fam.draw(np.random.default_rng([0, pid]), 4)
    assert np.array_equal(tr.lr[pseudo[0]], member.apply(hr, 4, np.random.default_rng([0, pid, 1])))
    assert (np.asarray(tr.lr[pseudo[0]]) == np.rint(tr.lr[pseudo[0]])).all()
    foot = json.loads((out / "footprint.geojson").read_text())
    assert len(foot["features"]) == len(tr) + len(ds.split("val"))


def test_training_batches_draw_a_new_input_per_step_reproducibly(finer_list: Path, tmp_path: Path) -> None:
    from s2sr.data.finer import prepare_finer

    out = prepare_finer(finer_list, tmp_path / "ds")
    tr = open_dataset(out).split("train")
    mean, std = np.full(4, 1500.0, np.float32), np.full(4, 500.0, np.float32)
    b = Batches(tr, 4, 0, mean, std, True, 12, DegradationFamily())
    lr1, hr1, w1 = b.get_weighted(3)
    lr2, hr2, w2 = b.get_weighted(3)
    assert np.array_equal(lr1, lr2) and np.array_equal(hr1, hr2) and np.array_equal(w1, w2)
    stored = Batches(tr, 4, 0, mean, std, True, 12, None).get_weighted(3)
    assert np.array_equal(stored[1], hr1) and not np.array_equal(stored[0], lr1)  # same targets, new inputs
    assert lr1.shape == (4, 4, 12, 12) and hr1.shape == (4, 4, 48, 48) and w1.shape == (4, 4)


def test_finer_list_errors_are_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[image]]\npath = "a.tif"\nplace = "x"\nsplit = "train"\n'
                   '[[image]]\npath = "b.tif"\nplace = "x"\nsplit = "val"\n')
    assert main(["prepare", "--finer", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "place 'x' is in splits train and val" in err
