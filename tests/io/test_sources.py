"""One input resolver for every Sentinel-2 source: raster files, .SAFE products, band folders, STAC items."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from s2sr.errors import InputError
from s2sr.io.sources import opened_input, resolve_input

RGB_UNDEF = [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.undefined]


def _read(path: str) -> tuple[np.ndarray, rasterio.profiles.Profile, tuple, list, dict]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile, ds.descriptions, list(ds.colorinterp), ds.tags()


def harmonised(data: np.ndarray, offset: int = -1000) -> np.ndarray:
    """What s2sr makes of offset DNs: DN + offset, valid pixels kept >= 1, 0 stays nodata."""
    return np.where(data == 0, 0, np.maximum(data.astype(np.int64) + offset, 1)).astype(np.uint16)


def test_l2a_safe_stacks_the_10m_bands_and_removes_the_boa_offset(make_safe, s2_data, tmp_path):
    data = s2_data()
    data[:, 0, 0], data[:, 1, 1] = 0, 900  # nodata, and a dark pixel below the offset
    safe, _ = make_safe("L2A", "04.00", data=data)
    r = resolve_input(safe, workdir=tmp_path)
    arr, prof, desc, colours, tags = _read(r.path)
    assert r.kind == "safe" and r.bands == [1, 2, 3, 4] and r.names == ["B2", "B3", "B4", "B8"]
    np.testing.assert_array_equal(arr, harmonised(data))
    assert arr[:, 0, 0].tolist() == [0, 0, 0, 0]  # nodata stays nodata
    assert arr[:, 1, 1].tolist() == [1, 1, 1, 1]  # DN 900 < offset: kept valid, not turned into nodata
    assert prof["crs"] == "EPSG:32631" and prof["transform"].c == 399960.0 and prof["nodata"] == 0
    assert (prof["width"], prof["height"]) == (120, 96)  # the 10 m grid, not the R20m file's
    assert desc == ("B2", "B3", "B4", "B8") and colours == RGB_UNDEF
    assert tags["SENSOR"] == "Sentinel-2B MSI" and tags["LEVEL"] == "L2A"
    assert tags["DATATAKE"] == "GS2B_20220301T105029_026000_N04.00" and tags["PROCESSING_BASELINE"] == "04.00"
    assert tags["RADIOMETRIC_OFFSET"].startswith("-1000 (BOA_ADD_OFFSET")


def test_l1c_safe_before_baseline_4_keeps_its_values(make_safe, tmp_path):
    safe, data = make_safe("L1C", "02.05", seed=3)
    r = resolve_input(safe, workdir=tmp_path)
    arr, _, _, _, tags = _read(r.path)
    np.testing.assert_array_equal(arr, data)
    assert tags["LEVEL"] == "L1C" and tags["RADIOMETRIC_OFFSET"].startswith("none")


def test_l1c_safe_from_baseline_4_removes_the_radio_offset(make_safe, tmp_path):
    safe, data = make_safe("L1C", "05.09")
    arr, _, _, _, tags = _read(resolve_input(safe, workdir=tmp_path).path)
    np.testing.assert_array_equal(arr, harmonised(data))
    assert tags["RADIOMETRIC_OFFSET"].startswith("-1000 (RADIO_ADD_OFFSET")


def test_offset_none_keeps_the_dns(make_safe, tmp_path):
    safe, data = make_safe("L2A", "04.00")
    arr = _read(resolve_input(safe, workdir=tmp_path, offset="none").path)[0]
    np.testing.assert_array_equal(arr, data)


def test_band_folder_is_ordered_by_file_names_and_says_so(make_band_folder, tmp_path, caplog):
    names = ("nir.tif", "T31UDQ_20220301T105029_B04_10m.tif", "B3.tif", "blue.tif")  # B8, B4, B3, B2
    folder, data = make_band_folder(names)
    (folder / "notes.txt").write_text("not a band")
    with caplog.at_level(logging.INFO, logger="s2sr"):
        r = resolve_input(folder, workdir=tmp_path)
    arr, _, desc, _, _ = _read(r.path)
    np.testing.assert_array_equal(arr, data[[3, 2, 1, 0]])
    assert desc == ("B2", "B3", "B4", "B8") and r.kind == "bands"
    assert "bands B2,B3,B4,B8 from blue.tif, B3.tif, T31UDQ_20220301T105029_B04_10m.tif, nir.tif" in caplog.text


def test_band_folder_with_a_band_on_another_grid_is_refused(make_band_folder, band_writer, tmp_path):
    folder, data = make_band_folder()
    band_writer(folder / "B08.tif", data[3], origin=(399970.0, 5000040.0))  # shifted by one pixel
    with pytest.raises(InputError, match=r"B08.tif: band B8 is 120x96 uint16 on another grid than B2 .*gdalwarp"):
        resolve_input(folder, workdir=tmp_path)


def test_band_folder_missing_a_band_is_refused(make_band_folder, tmp_path):
    folder, _ = make_band_folder(("B02.tif", "B03.tif", "B04.tif"))
    with pytest.raises(InputError, match=r"bands: no file for B8 \(found B2, B3, B4\)"):
        resolve_input(folder, workdir=tmp_path)


def test_geotiff_bands_are_picked_by_name(make_raster, tmp_path, caplog):
    src = make_raster("b4b3b2b8.tif", descriptions=("B04", "B03", "B02", "B08"))
    with caplog.at_level(logging.INFO, logger="s2sr"):
        r = resolve_input(src)
    assert r.kind == "raster" and r.path == str(src) and r.bands == [3, 2, 1, 4]
    assert "bands 3,2,1,4 = B2,B3,B4,B8, chosen by their names (reordered)" in caplog.text


def test_unnamed_geotiff_is_taken_by_position_and_logged(make_raster, caplog):
    src = make_raster("plain.tif")
    with caplog.at_level(logging.INFO, logger="s2sr"):
        r = resolve_input(src)
    assert r.bands == [1, 2, 3, 4]
    assert "no Sentinel-2 band names; bands 1,2,3,4 taken as B2,B3,B4,B8 by position" in caplog.text


def test_unnamed_geotiff_with_another_band_count_is_refused(make_raster):
    src = make_raster("three.tif", shape=(3, 32, 32))
    with pytest.raises(InputError, match=r"three.tif: has 3 band\(s\) but s2sr needs 4 \(B2, B3, B4, B8\); pass --bands"):
        resolve_input(src)


def test_named_geotiff_without_a_wanted_band_is_refused(make_raster):
    src = make_raster("rgbn.tif", descriptions=("B02", "B03", "B04", "B05"))
    with pytest.raises(InputError, match=r"rgbn.tif: its bands are named B02,B03,B04,B05, which lack B8"):
        resolve_input(src)


def test_explicit_bands_win_over_names(make_raster):
    src = make_raster("b.tif", shape=(5, 32, 32), descriptions=("B01", "B02", "B03", "B04", "B08"))
    assert resolve_input(src, bands="5,4,3,2").bands == [5, 4, 3, 2]
    assert resolve_input(src).bands == [2, 3, 4, 5]


def test_bands_option_with_a_product_is_refused(make_safe, tmp_path):
    safe, _ = make_safe()
    with pytest.raises(InputError, match="--bands applies to single raster files"):
        resolve_input(safe, bands=[1, 2, 3, 4], workdir=tmp_path)


def test_safe_with_two_granules_names_them(make_safe, tmp_path):
    safe, _ = make_safe("L1C", "02.05")
    g = next((safe / "GRANULE").iterdir())
    shutil.copytree(g, g.with_name("L1C_T31UDR_A026000_20220301T105531"))
    with pytest.raises(InputError, match="holds 2 granules"):
        resolve_input(safe, workdir=tmp_path)


def test_folder_without_band_files_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no band file"):
        resolve_input(tmp_path / "empty", workdir=tmp_path)


def test_stac_item_json_with_relative_assets(make_band_folder, tmp_path):
    folder, data = make_band_folder(("B02.tif", "B03.tif", "B04.tif", "B08.tif"))
    item = _item_json(folder, {"blue": "B02.tif", "green": "B03.tif", "red": "B04.tif", "nir": "B08.tif"},
                      {"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True})
    with opened_input(item) as r:
        arr, _, desc, _, tags = _read(r.path)
    np.testing.assert_array_equal(arr, data)  # the provider removed the offset already: values as they are
    assert r.kind == "stac" and tags["STAC_ITEM"] == "S2B_31UDQ_20220301_0_L2A" and tags["CLOUD_COVER"] == "7.5"
    assert tags["RADIOMETRIC_OFFSET"].startswith("none (earthsearch:boa_offset_applied is true")
    assert not Path(r.path).exists()  # the VRT lived in a temporary folder


def test_stac_item_without_a_band_asset_names_the_assets(make_band_folder, tmp_path):
    folder, _ = make_band_folder(("B02.tif", "B03.tif", "B04.tif"), folder="three")
    item = _item_json(folder, {"blue": "B02.tif", "green": "B03.tif", "red": "B04.tif"}, {})
    with pytest.raises(InputError, match=r"S2B_31UDQ_20220301_0_L2A: no asset for B8 \(assets: blue, green, red\)"):
        resolve_input(item, workdir=tmp_path)


def _item_json(folder: Path, assets: dict[str, str], props: dict) -> Path:
    doc = {
        "type": "Feature", "stac_version": "1.0.0", "id": "S2B_31UDQ_20220301_0_L2A", "collection": "sentinel-2-l2a",
        "geometry": {"type": "Polygon", "coordinates": [[[1.6, 45.1], [1.62, 45.1], [1.62, 45.11], [1.6, 45.11],
                                                         [1.6, 45.1]]]},
        "bbox": [1.6, 45.1, 1.62, 45.11], "links": [],
        "properties": {"datetime": "2022-03-01T10:50:29Z", "eo:cloud_cover": 7.5, "platform": "sentinel-2b", **props},
        "assets": {k: {"href": v, "type": "image/tiff; application=geotiff; profile=cloud-optimized"}
                   for k, v in assets.items()},
    }
    path = folder / "item.json"
    path.write_text(json.dumps(doc))
    return path
