"""The dataset folder's one owner: the manifest is typed and versioned, and open_dataset answers
splits, patch boxes, pairs on the same ground, alignment and the training summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rasterio.crs import CRS

from s2sr.data.dataset import open_dataset
from s2sr.data.manifest import FORMAT_VERSION, Manifest, PairRecord, read_manifest, write_manifest
from s2sr.data.store import SPLITS, open_split
from s2sr.errors import InputError
from s2sr.sensor import SensorModel

V1 = {  # the layout prepare wrote before the per-pair records (abridged to what is read)
    "format": "s2sr-prepare", "format_version": 1, "version": "0.1.0",
    "inputs": [{"lr": "/data/lr.tif", "hr": "/data/hr.tif", "lr_bands": [1, 2, 3, 4], "hr_bands": [1, 2, 3, 4],
                "crs_wkt": None, "epsg": 32631, "lr_res": 10.0, "hr_res": 2.5, "hr_resampling": "cubic",
                "lr_transform": [10, 0, 0, 0, -10, 0], "lr_size": [64, 64]}],
    "scale": 4, "patch_size": 16, "hr_patch_size": 64, "bands": ["B2", "B3", "B4", "B8"], "lr_res": 10.0,
    "dtype": "uint16", "crs": "EPSG:32631", "sensor": {"scale": 4, "mtf_nyquist": 0.25},
    "pairs": [{"lr": "/data/lr.tif", "hr": "/data/hr.tif",
               "shift_lr_px": {"dx": 0.3, "dy": -0.2, "per_window": [[0.3, -0.2]], "spread": 0.0,
                               "applied": True, "convention": "..."},
               "harmonisation": {"gains": [1.1, 1.0, 1.0, 0.9], "offsets": [5, 0, 0, -5], "pixels": 900,
                                 "applied": False, "model": "LR = gain * HR + offset"},
               "overlap_window": {"col_off": 0, "row_off": 0, "width": 64, "height": 64}, "warnings": []}],
    "counts": {"train": 3, "val": 1, "test": 1}, "rejects": {"nodata": 0}, "footprint": "", "seed": 0,
}


def test_version_1_manifests_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "prepare.json").write_text(json.dumps(V1))
    m = read_manifest(tmp_path)
    assert m is not None and m.format_version == 1 and len(m.pairs) == 1
    p = m.pairs[0]
    assert (p.lr, p.hr_resampling, p.lr_size) == ("/data/lr.tif", "cubic", (64, 64))
    assert (p.shift_lr_px.dx, p.shift_lr_px.applied, p.harmonisation.gains) == (0.3, True, [1.1, 1.0, 1.0, 0.9])
    assert (p.scene, p.group, p.split, p.lr_res_m, p.kind) == (None, None, None, None, "pair")
    a = open_dataset(tmp_path).alignment("/data/lr.tif")
    assert (a.dx, a.dy, a.gains) == (0.3, -0.2, None)  # gains were measured but not applied


@pytest.mark.parametrize(("text", "why"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "something-else"}), "not a dataset manifest of `s2sr prepare`"),
    (json.dumps({**V1, "format_version": 99}), f"format_version 99, this s2sr reads 1..{FORMAT_VERSION}; "
                                               "re-run `s2sr prepare` with this version (or upgrade s2sr)"),
    (json.dumps({**V1, "scale": "four"}), "scale: Input should be a valid integer"),
])
def test_bad_manifests_are_one_line_errors(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "prepare.json").write_text(text)
    with pytest.raises(InputError) as e:
        open_dataset(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'prepare.json'}: ") and why in msg and "\n" not in msg


def test_multi_scene_fields_round_trip(tmp_path: Path) -> None:
    rec = PairRecord(lr="a.tif", hr="b.tif", scene="paris-2021", group="paris", split="test", lr_res_m=10.0,
                     kind="wald")
    write_manifest(tmp_path, Manifest(scale=4, patch_size=16, bands=["B4"], pairs=[rec]))
    raw = json.loads((tmp_path / "prepare.json").read_text())
    assert (raw["format"], raw["format_version"]) == ("s2sr-prepare", FORMAT_VERSION)
    back = read_manifest(tmp_path)
    assert back is not None and back.pairs == [rec]
    with pytest.raises(ValueError, match="split"):
        PairRecord(lr="a", hr="b", split="holdout")


def test_open_dataset_answers_on_a_prepared_folder(prepared) -> None:
    res, scene = prepared(0, coregister=True, harmonise=True)
    ds = open_dataset(res.out)
    assert ds.manifest is not None and ds.manifest.format_version == FORMAT_VERSION
    rec = ds.manifest.pairs[0]
    assert rec.lr == str(scene.lr) and rec.shift_lr_px.applied and rec.harmonisation.applied
    for s in SPLITS:
        assert len(ds.boxes(s)) == len(ds.split(s)) == res.counts[s] == len(open_split(res.out, s))
    assert ds.boxes("test", pairs={1}) == []  # no pair 1
    crs = CRS.from_epsg(32631)
    assert ds.pairs_on_ground(scene.lr, crs) == {0}
    assert ds.pairs_on_ground("/elsewhere/other.tif", crs) == {0}  # same CRS: same ground
    with pytest.raises(InputError, match="not one of the LR images of"):
        ds.pairs_on_ground("/elsewhere/other.tif", CRS.from_epsg(32633))
    areas = ds.split_areas(scene.lr, crs)
    assert len(areas.test) == res.counts["test"] and len(areas.excluded) == res.counts["train"] + res.counts["val"]
    a = ds.alignment(scene.lr)
    assert (a.dx, a.dy) == (rec.shift_lr_px.dx, rec.shift_lr_px.dy) and a.gains == rec.harmonisation.gains
    assert ds.alignment("/elsewhere/other.tif").shifted is False
    info = ds.training_info(ds.split("train"))
    assert (info.scale, info.bands, info.lr_res, info.input_dtype) == (4, res.bands, 10.0, "uint16")
    assert info.sensor == SensorModel(4) and info.summary["inputs"] == [
        {"lr": str(scene.lr), "hr": str(scene.hr), "scene": "lr", "group": "lr", "split": None, "kind": "pair"}]


def test_training_info_checks_the_store(prepared, tmp_path: Path) -> None:
    res, _ = prepared(0)
    ds = open_dataset(res.out)
    assert ds.manifest is not None
    write_manifest(tmp_path, ds.manifest.model_copy(update={"scale": 3}))
    other = open_dataset(tmp_path)
    with pytest.raises(InputError, match=r"scale 3 disagrees with the patch store \(4\); re-run `s2sr prepare`"):
        other.training_info(ds.split("train"))
