"""``apply`` on every kind of Sentinel-2 input, in batches, with outputs GIS tools read right."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp

from s2sr.cli.main import main
from s2sr.errors import ConfigError
from s2sr.infer.apply import ApplyConfig, apply_model

Q = {"progress": False}
RGB = [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.undefined]


def stack(path: Path, data: np.ndarray, names=("B2", "B3", "B4", "B8"), nodata=0) -> Path:
    """The hand-made equivalent of a product: one GeoTIFF with the bands stacked."""
    b, h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=b, dtype="uint16", crs="EPSG:32631",
                       transform=Affine(10, 0, 399960, 0, -10, 5000040), nodata=nodata) as ds:
        ds.write(data)
        ds.descriptions = names
    return path


def harmonised(data: np.ndarray) -> np.ndarray:
    return np.where(data == 0, 0, np.maximum(data.astype(np.int64) - 1000, 1)).astype(np.uint16)


def read(path: Path) -> tuple[np.ndarray, dict, list, tuple, Affine]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.tags(), list(ds.colorinterp), ds.descriptions, ds.transform


def test_safe_product_gives_the_same_pixels_as_the_stacked_bands(make_safe, bicubic_pt, tmp_path):
    safe, data = make_safe("L2A", "04.00")
    ref = stack(tmp_path / "ref.tif", harmonised(data))
    apply_model(bicubic_pt, safe, tmp_path / "safe_sr.tif", ApplyConfig(**Q))
    apply_model(bicubic_pt, ref, tmp_path / "ref_sr.tif", ApplyConfig(**Q))
    a, tags, colours, desc, t = read(tmp_path / "safe_sr.tif")
    b, _, _, _, t_ref = read(tmp_path / "ref_sr.tif")
    np.testing.assert_array_equal(a, b)
    assert t == t_ref and t.a == 2.5
    assert tags["SENSOR"] == "Sentinel-2B MSI" and tags["LEVEL"] == "L2A"
    assert tags["DATATAKE"] == "GS2B_20220301T105029_026000_N04.00" and tags["PROCESSING_BASELINE"] == "04.00"
    assert tags["S2SR_INPUT"] == safe.name and tags["S2SR_MODEL"] == "bicubic" and tags["S2SR_MODEL_VERSION"]
    assert colours == RGB and desc == ("B2", "B3", "B4", "B8")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no VRT, partial or journal left


def test_l1c_safe_band_folder_and_stac_item_all_read_alike(make_safe, make_band_folder, bicubic_pt, tmp_path):
    safe, data = make_safe("L1C", "02.05", seed=4)
    folder, _ = make_band_folder(("B8.tif", "B4.tif", "B3.tif", "B2.tif"), data=data[::-1].copy())
    item = folder / "item.json"
    item.write_text(json.dumps({
        "type": "Feature", "stac_version": "1.0.0", "id": "local-item", "geometry": None, "links": [],
        "properties": {"datetime": "2022-03-01T10:50:29Z", "s2:processing_baseline": "02.05"},
        "assets": {k: {"href": f"./{f}"} for k, f in (("B02", "B2.tif"), ("B03", "B3.tif"), ("B04", "B4.tif"),
                                                       ("B08", "B8.tif"))}}))
    outs = []
    for i, src in enumerate((safe, folder, item)):
        outs.append(tmp_path / f"o{i}.tif")
        apply_model(bicubic_pt, src, outs[-1], ApplyConfig(**Q))
    ref = read(outs[0])[0]
    for o in outs[1:]:
        np.testing.assert_array_equal(read(o)[0], ref)
    assert read(outs[2])[1]["STAC_ITEM"] == "local-item"


def test_geotiff_source_tags_are_copied(make_raster, bicubic_pt, tmp_path):
    src = make_raster("tagged.tif", descriptions=("B02", "B03", "B04", "B08"))
    with rasterio.open(src, "r+") as ds:
        ds.update_tags(SENSOR="Sentinel-2A MSI", LEVEL="L1C", DATATAKE="GS2A_X", S2SR_MODEL="old")
    apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(**Q))
    tags = read(tmp_path / "o.tif")[1]
    assert (tags["SENSOR"], tags["LEVEL"], tags["DATATAKE"]) == ("Sentinel-2A MSI", "L1C", "GS2A_X")
    assert tags["S2SR_MODEL"] == "bicubic"  # s2sr's own tags are the model's, not the input's


def test_creation_options_reach_gdal(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 100, 100))
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--co", "BLOCKSIZE=256",
                 "--co", "overview_count=1"]) == 0
    with rasterio.open(out) as ds:
        assert ds.block_shapes[0] == (256, 256) and ds.overviews(1) == [2]


def test_bad_creation_option_is_refused_before_any_work(make_raster, bicubic_pt, tmp_path, capsys):
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(make_raster()), str(out), "--co", "BLOCKSIZE=-3"]) == 2
    assert capsys.readouterr().err.strip() == "s2sr apply: error: --co BLOCKSIZE=-3: expected an integer >= 128"
    assert not out.exists()


def test_resume_on_a_finished_output_says_complete_and_keeps_it(make_raster, bicubic_pt, tmp_path, caplog):
    src, out = make_raster(), tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out)]) == 0
    before = out.stat().st_mtime_ns
    caplog.set_level("INFO", logger="s2sr")
    assert main(["apply", str(bicubic_pt), str(src), str(out), "--resume"]) == 0
    assert out.stat().st_mtime_ns == before
    assert f"{out}: already complete (same model, input and options); nothing to do" in caplog.text
    # other options: not the same run, so it is computed again
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--resume", "--tile", "32"]) == 0
    assert out.stat().st_mtime_ns != before


def test_two_paths_or_out_dir(make_raster, bicubic_pt, tmp_path, capsys):
    a = make_raster("a.tif")
    assert main(["-q", "apply", str(bicubic_pt), str(a), str(a), str(tmp_path / "o.tif")]) == 2
    assert "got 3 path(s) after MODEL; give IN OUT.tif, or several inputs with --out-dir DIR" in capsys.readouterr().err


def test_batch_one_cog_per_input_skips_finished_ones_and_reports(make_raster, make_safe, bicubic_pt, tmp_path,
                                                                  capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for i in range(2):
        os.replace(make_raster(f"tile{i}.tif", seed=i), scenes / f"tile{i}.tif")
    bad = make_raster("three.tif", shape=(3, 32, 32))
    safe, _ = make_safe("L2A", "04.00")
    out = tmp_path / "sr"
    out.mkdir()
    argv = ["-q", "apply", str(bicubic_pt), str(scenes / "*.tif"), str(safe), str(bad), "--out-dir", str(out)]
    assert main(argv) == 2  # one input failed; the others were written
    table = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [f"{safe.stem}_sr.tif", "tile0_sr.tif", "tile1_sr.tif"]
    lines = table.splitlines()
    assert lines[0].split() == ["input", "output", "status", "seconds", "detail"]
    assert re.search(r"tile0_sr.tif +done", table) and re.search(rf"{safe.stem}_sr.tif +done", table)
    assert re.search(r"three_sr.tif +failed .*three.tif: has 3 band\(s\) but model bicubic expects 4", table)
    assert lines[-1] == "4 input(s): 3 done, 0 skipped (already complete), 1 failed"
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(argv[:-3] + [str(scenes / "*.tif"), str(safe), "--out-dir", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "3 input(s): 0 done, 3 skipped (already complete), 0 failed"
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_batch_pattern_without_match_and_clashing_names(make_raster, bicubic_pt, tmp_path):
    from s2sr.infer.batch import plan_batch

    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigError, match=r"nothing\*.tif: no file matches this pattern"):
        plan_batch([str(tmp_path / "nothing*.tif")], tmp_path / "out")
    (tmp_path / "x").mkdir()
    a, b = make_raster("a.tif"), tmp_path / "x" / "a.tif"
    os.link(a, b)
    with pytest.raises(ConfigError, match="would both write"):
        plan_batch([str(a), str(b)], tmp_path / "out")


def test_resume_knows_a_finished_product_output(make_safe, bicubic_pt, tmp_path):
    """The run id of a product input comes from its band files, not from the VRT made for each run."""
    safe, _ = make_safe("L2A", "04.00")
    out = tmp_path / "o.tif"
    first = apply_model(bicubic_pt, safe, out, ApplyConfig(resume=True, **Q))
    again = apply_model(bicubic_pt, safe, out, ApplyConfig(resume=True, **Q))
    assert not first.already_complete and again.already_complete and again.tiles_computed == 0
