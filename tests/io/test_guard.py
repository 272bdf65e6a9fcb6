"""No command may write over one of its inputs (issue 11, item 1: `s2sr degrade` replaced its input)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s2sr.errors import OutputError
from s2sr.io.guard import check_outputs, contains, same_file


def test_same_file_by_path_symlink_and_hard_link(tmp_path: Path) -> None:
    a = tmp_path / "a.tif"
    a.write_bytes(b"x")
    (tmp_path / "sym.tif").symlink_to(a)
    os.link(a, tmp_path / "hard.tif")
    (tmp_path / "d").mkdir()
    assert same_file(a, tmp_path / "d" / ".." / "a.tif")
    assert same_file(a, tmp_path / "sym.tif") and same_file(a, tmp_path / "hard.tif")
    assert not same_file(a, tmp_path / "other.tif")
    assert contains(tmp_path, a) and not contains(a, tmp_path) and not contains(a, a)


def test_check_outputs_names_output_input_and_fix(tmp_path: Path) -> None:
    src = tmp_path / "in.tif"
    src.write_bytes(b"x")
    check_outputs([tmp_path / "out.tif"], [("input", src), ("model", None)])  # no clash: no error
    with pytest.raises(OutputError) as e:
        check_outputs([src], [("input", src)])
    assert str(e.value) == f"{src}: output would overwrite the input; choose another output path"
    (tmp_path / "sub").mkdir()
    other = tmp_path / "sub" / ".." / "in.tif"
    with pytest.raises(OutputError) as e:
        check_outputs([other], [("model", src)], "pick X")
    assert str(e.value) == f"{other}: output would overwrite the model {src}; pick X"
    with pytest.raises(OutputError) as e:
        check_outputs([tmp_path], [("input", src)])
    assert str(e.value) == f"{tmp_path}: holds the input {src}, which replacing it would delete; choose another output path"


@pytest.mark.parametrize("name", ["lr.tif", "hr.tif"])
def test_degrade_refuses_an_input_inside_outdir_under_an_output_name(make_raster, tmp_path, capsys, name, cli) -> None:
    """`cp hr.tif t/lr.tif && s2sr degrade t/lr.tif t --scale 4` replaced the 512 px input (exit 0)."""
    out = tmp_path / "t"
    out.mkdir()
    src = make_raster(f"t/{name}", shape=(4, 32, 32))
    before = src.read_bytes()
    assert cli(["-q", "degrade", str(src), str(out), "--scale", "4"]) == 2
    assert capsys.readouterr().err == (
        f"s2sr degrade: error: {src}: output would overwrite the input; choose another OUTDIR "
        "(the pair is written as OUTDIR/hr.tif and OUTDIR/lr.tif)\n")
    assert src.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_degrade_still_writes_beside_other_inputs_in_outdir(make_raster, tmp_path, capsys, cli) -> None:
    out = tmp_path / "t"
    out.mkdir()
    src = make_raster("t/img.tif", shape=(4, 32, 32))
    assert cli(["-q", "degrade", str(src), str(out), "--scale", "4"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["hr.tif", "img.tif", "lr.tif"]


def test_train_refuses_to_overwrite_its_config_file(tmp_path, capsys, cli) -> None:
    """`s2sr train --config run/config.json --out run` rewrote the config it was reading."""
    run = tmp_path / "run"
    run.mkdir()
    cfg = run / "config.json"
    cfg.write_text('{"run": {"max_steps": 1}}')
    ds = tmp_path / "ds"
    ds.mkdir()
    assert cli(["-q", "train", "--data", str(ds), "--out", str(run), "--config", str(cfg)]) == 2
    assert capsys.readouterr().err == (f"s2sr train: error: {cfg}: output would overwrite the config file; "
                                       "choose another --out\n")
    assert cfg.read_text() == '{"run": {"max_steps": 1}}'


def test_apply_refuses_a_hard_link_of_its_input(make_raster, tmp_path, capsys, cli) -> None:
    import numpy as np

    from s2sr.archs import build_arch
    from s2sr.bundle import ModelBundle
    from s2sr.sensor import SensorModel

    pt = ModelBundle(arch="bicubic", arch_kwargs={"in_ch": 4, "scale": 2}, scale=2, bands=["B2", "B3", "B4", "B8"],
                     mean=np.zeros(4, np.float32), std=np.ones(4, np.float32),
                     module=build_arch("bicubic", in_ch=4, scale=2), sensor=SensorModel(2)).save(tmp_path / "m.pt")
    src = make_raster("in.tif", shape=(4, 16, 16))
    os.link(src, tmp_path / "out.tif")
    before = src.read_bytes()
    assert cli(["-q", "apply", str(pt), str(src), str(tmp_path / "out.tif")]) == 2
    assert capsys.readouterr().err == (f"s2sr apply: error: {tmp_path / 'out.tif'}: output would overwrite the "
                                       f"input {src}; choose another output path\n")
    assert src.read_bytes() == before
