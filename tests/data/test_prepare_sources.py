"""prepare on Sentinel-2 products and band folders (scene lists and --lr), read through the input resolver."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from affine import Affine

from s2sr.cli.main import main
from s2sr.data.config import make_prepare_config
from s2sr.data.prepare import prepare
from s2sr.data.scenes import read_scene_list
from s2sr.data.store import open_split


def _stack(path, data):
    b, h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=b, dtype="uint16", crs="EPSG:32631",
                       transform=Affine(10, 0, 399960, 0, -10, 5000040), nodata=0) as ds:
        ds.write(data)
        ds.descriptions = ("B2", "B3", "B4", "B8")
    return path


def _patches(root):
    out = {}
    for split in ("train", "val", "test"):
        r = open_split(root, split)
        out[split] = [r[i] for i in range(len(r))]
    return out


def test_wald_scene_from_a_safe_product_equals_the_stacked_bands(make_safe, s2_data, tmp_path):
    data = s2_data((4, 256, 256), seed=7)
    safe, _ = make_safe("L2A", "04.00", data=data)
    harmonised = np.where(data == 0, 0, np.maximum(data.astype(np.int64) - 1000, 1)).astype(np.uint16)
    tif = _stack(tmp_path / "stack.tif", harmonised)
    res = {}
    for kind, image in (("safe", safe), ("tif", tif)):
        lst = tmp_path / f"{kind}.toml"
        lst.write_text(f'[[scene]]\nwald = "{image}"\n')
        res[kind] = prepare(make_prepare_config(scenes=read_scene_list(lst), scale=2, patch_size=16,
                                                out=tmp_path / f"ds_{kind}", min_std=0))
    a, b = _patches(tmp_path / "ds_safe"), _patches(tmp_path / "ds_tif")
    assert {k: len(v) for k, v in a.items()} == {k: len(v) for k, v in b.items()} and len(a["train"]) > 0
    for split in a:
        for (la, ha), (lb, hb) in zip(a[split], b[split], strict=True):
            np.testing.assert_array_equal(la, lb)
            np.testing.assert_array_equal(ha, hb)
    doc = json.loads((tmp_path / "ds_safe" / "prepare.json").read_text())
    rec = doc["pairs"][0]
    assert rec["hr"] == str(safe) and rec["scene"] == safe.stem and rec["kind"] == "wald"  # the product, not a VRT
    assert doc["bands"] == ["B2", "B3", "B4", "B8"] and res["safe"].bands == ["B2", "B3", "B4", "B8"]


def test_cli_lr_band_folder_with_an_hr_image(make_band_folder, s2_data, make_raster, tmp_path, capsys):
    folder, data = make_band_folder(("B08.tif", "B04.tif", "B03.tif", "B02.tif"),
                                    data=s2_data((4, 96, 96), seed=2))
    hr = make_raster("hr.tif", res=2.5, shape=(4, 384, 384), origin=(399960.0, 5000040.0), seed=5, nodata=None)
    out = tmp_path / "ds"
    assert main(["-q", "prepare", "--lr", str(folder), "--hr", str(hr), "--scale", "4", "--patch-size", "16",
                 "--out", str(out), "--min-std", "0"]) == 0
    doc = json.loads((out / "prepare.json").read_text())
    assert doc["pairs"][0]["lr"] == str(folder) and doc["bands"] == ["B2", "B3", "B4", "B8"]
    lr0, _ = open_split(out, "train")[0]
    row, col = (int(v) for v in (open_split(out, "train").index()[0]["lr_row"], open_split(out, "train").index()[0]["lr_col"]))
    # the store holds B2,B3,B4,B8 whatever the file order in the folder
    np.testing.assert_array_equal(lr0, data[::-1, row:row + 16, col:col + 16].astype(np.float32))
