"""Scene lists: TOML/CSV parsing, whole-scene splits, Wald pairs made on the fly, pixel size in metres."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr.data.config import make_prepare_config
from s2sr.data.prepare import prepare
from s2sr.data.scenes import assign_scene_splits, read_scene_list
from s2sr.data.store import open_split
from s2sr.data.wald import degrade_image
from s2sr.errors import ConfigError, InputError


def _toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_toml_list_paths_relative_to_list_or_root(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    lst = _toml(tmp_path / "d" / "s.toml", 'res_m = 10\n[[scene]]\nwald = "a.tif"\ngroup = "g"\nsplit = "val"\n'
                '[[scene]]\nlr = "l.tif"\nhr = "/abs/h.tif"\nname = "p"\nres_m = 20\n')
    a, b = read_scene_list(lst)
    assert a.wald == tmp_path / "d" / "a.tif" and a.kind == "wald" and a.split == "val" and a.res_m == 10
    assert a.label == "a" and a.group_name == "g"
    assert b.kind == "pair" and b.hr == Path("/abs/h.tif") and b.label == "p" and b.res_m == 20
    (c,) = read_scene_list(_toml(tmp_path / "t.toml", '[[scene]]\nwald = "x/a.tif"\n'), res_m=5.0, root=tmp_path / "d")
    assert c.wald == tmp_path / "d" / "x" / "a.tif" and c.res_m == 5.0 and c.split is None


def test_csv_list(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("name,group,split,lr,hr,wald,res_m\nc1,city,train,,,c1.tif,10\n,,test,l.tif,h.tif,,\n")
    a, b = read_scene_list(p)
    assert (a.label, a.group_name, a.split, a.res_m) == ("c1", "city", "train", 10)
    assert (b.label, b.split, b.kind) == ("l", "test", "pair")


@pytest.mark.parametrize("text,match", [
    ('[[scene]]\nwald = "a.tif"\nlr = "b.tif"\n', "not both"),
    ('[[scene]]\nlr = "a.tif"\n', "both lr"),
    ('[[scene]]\nwald = "a.tif"\nsplit = "holdout"\n', "split"),
    ('[[scene]]\nwald = "a.tif"\n[[scene]]\nwald = "b/a.tif"\n', "same name"),
    ('[[scene]]\nwald = "a.tif"\ngroup = "c"\nsplit = "val"\n[[scene]]\nwald = "b.tif"\ngroup = "c"\n', "different splits"),
    ('scenes = 1\n', "unknown top-level"),
    ('[[scene]]\nwald = "a.tif"\nres_m = -3\n', "metres"),
    ("", "no scene"),
])
def test_bad_lists_are_one_line_errors(tmp_path: Path, text: str, match: str) -> None:
    p = _toml(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=match) as e:
        read_scene_list(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_csv_unknown_column(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("name,path\na,b.tif\n")
    with pytest.raises(ConfigError, match="unknown column"):
        read_scene_list(p)


def test_val_and_test_scenes_override_and_default_to_train(tmp_path: Path) -> None:
    lst = _toml(tmp_path / "s.toml", '[[scene]]\nwald = "a1.tif"\ngroup = "a"\n[[scene]]\nwald = "a2.tif"\ngroup = "a"\n'
                '[[scene]]\nwald = "b.tif"\n[[scene]]\nwald = "c.tif"\n')
    out = assign_scene_splits(read_scene_list(lst), ["a"], ["c"])
    assert [s.split for s in out] == ["val", "val", "train", "test"]
    with pytest.raises(ConfigError, match="no scene or group named 'zz'"):
        assign_scene_splits(read_scene_list(lst), ["zz"], [])
    with pytest.raises(ConfigError, match="in both"):
        assign_scene_splits(read_scene_list(lst), ["b"], ["b"])


def _wald_scene_list(tmp_path: Path, make_raster, crs: str | None, res_m: float | None) -> Path:
    a = make_raster("city_a.tif", crs=crs, shape=(4, 160, 128), seed=1, res=10.0 if crs != "EPSG:4326" else 1e-4)
    b = make_raster("city_b.tif", crs=crs, shape=(4, 128, 128), seed=2, res=10.0 if crs != "EPSG:4326" else 1e-4)
    head = f"res_m = {res_m}\n" if res_m else ""
    return _toml(tmp_path / "s.toml", head + f'[[scene]]\nwald = "{a}"\nsplit = "train"\n'
                 f'[[scene]]\nwald = "{b}"\nsplit = "val"\n')


def test_wald_scenes_equal_s2sr_degrade_and_go_whole_to_their_split(tmp_path: Path, make_raster) -> None:
    lst = _wald_scene_list(tmp_path, make_raster, "EPSG:32631", None)
    cfg = make_prepare_config(scenes=read_scene_list(lst), scale=4, patch_size=8, out=tmp_path / "ds",
                              min_std=0.0)
    res = prepare(cfg)
    assert res.counts["test"] == 0 and res.counts["train"] > 0 and res.counts["val"] > 0
    man = json.loads((tmp_path / "ds" / "prepare.json").read_text())
    assert [p["split"] for p in man["pairs"]] == ["train", "val"]
    assert [p["kind"] for p in man["pairs"]] == ["wald", "wald"]
    assert man["lr_res_m"] == pytest.approx(40.0) and man["input_res_m"] == pytest.approx(10.0)
    pair = degrade_image(tmp_path / "city_b.tif", tmp_path / "wald_b", 4, progress=False)
    with rasterio.open(pair.lr) as ds:
        lr = ds.read().astype(np.float32)
    with rasterio.open(pair.hr) as ds:
        hr = ds.read().astype(np.float32)
    val = open_split(tmp_path / "ds", "val")
    for i, row in enumerate(val.index()):
        r, c = int(row["lr_row"]), int(row["lr_col"])
        np.testing.assert_array_equal(val.lr[i], lr[:, r:r + 8, c:c + 8])
        np.testing.assert_array_equal(val.hr[i], hr[:, 4 * r:4 * r + 32, 4 * c:4 * c + 32])


def test_geographic_scene_needs_declared_pixel_size(tmp_path: Path, make_raster, caplog) -> None:
    lst = _wald_scene_list(tmp_path, make_raster, "EPSG:4326", None)
    prepare(make_prepare_config(scenes=read_scene_list(lst), scale=4, patch_size=8, out=tmp_path / "ds", min_std=0.0))
    man = json.loads((tmp_path / "ds" / "prepare.json").read_text())
    assert man["lr_res_m"] is None and man["input_res_m"] is None
    assert "declare it" in caplog.text and "geographic CRS" in caplog.text
    lst = _wald_scene_list(tmp_path, make_raster, "EPSG:4326", 10.0)
    prepare(make_prepare_config(scenes=read_scene_list(lst), scale=4, patch_size=8, out=tmp_path / "ds2", min_std=0.0))
    man = json.loads((tmp_path / "ds2" / "prepare.json").read_text())
    assert man["lr_res_m"] == 40.0 and man["input_res_m"] == 10.0


def test_scenes_of_different_pixel_size_are_refused(tmp_path: Path, make_raster) -> None:
    a = make_raster("a.tif", shape=(4, 128, 128), res=10.0)
    b = make_raster("b.tif", shape=(4, 128, 128), res=20.0)
    lst = _toml(tmp_path / "s.toml", f'[[scene]]\nwald = "{a}"\n[[scene]]\nwald = "{b}"\n')
    with pytest.raises(InputError, match="one dataset needs one LR pixel size"):
        prepare(make_prepare_config(scenes=read_scene_list(lst), scale=4, patch_size=8, out=tmp_path / "ds"))
    assert not (tmp_path / "ds").exists()


def test_wald_scene_too_small_for_a_patch(tmp_path: Path, make_raster) -> None:
    a = make_raster("a.tif", shape=(4, 40, 40))
    lst = _toml(tmp_path / "s.toml", f'[[scene]]\nwald = "{a}"\n')
    with pytest.raises(InputError, match="too small for one 16 px patch"):
        prepare(make_prepare_config(scenes=read_scene_list(lst), scale=4, patch_size=16, out=tmp_path / "ds"))


def test_patch_stride_overlaps_train_patches_only(tmp_path: Path, make_raster) -> None:
    lst = _wald_scene_list(tmp_path, make_raster, "EPSG:32631", None)
    base = dict(scenes=read_scene_list(lst), scale=4, patch_size=8, min_std=0.0)
    plain = prepare(make_prepare_config(**base, out=tmp_path / "a"))
    strided = prepare(make_prepare_config(**base, out=tmp_path / "b", patch_stride=4))
    assert strided.counts["val"] == plain.counts["val"]
    # 40 x 32 LR px, blocks of 4 * 8 + 2 = 34 px: rows 0-33 hold 4 x 4 patches of 8 (rows 34-39 none);
    # strided by 4: offsets 0, 4, ..., 24 and 26 (flush with the block edge) x 0, 4, ..., 24 = 8 x 7
    assert plain.counts["train"] == 16 and strided.counts["train"] == 56
    rows = open_split(tmp_path / "b", "train").index()
    offs = {(int(r["lr_row"]), int(r["lr_col"])) for r in rows}
    assert (26, 24) in offs and (24, 24) in offs and (28, 0) not in offs
