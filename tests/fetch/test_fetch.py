"""``s2sr fetch`` against a local STAC catalog served over HTTP by the test (no internet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.warp import transform_bounds

from s2sr.cli.main import main
from s2sr.io.cog import cog_problems

UTM_BOX = (401000.0, 4995000.0, 402280.0, 4996280.0)  # 128 x 128 px of the items' grid
BEST = "S2B_31TCJ_20230610_0_L2A"  # least cloudy in June, collection sentinel-2-l2a
ORIGIN = (399960.0, 5000040.0)


def lonlat_box() -> str:
    w, s, e, n = transform_bounds("EPSG:32631", "EPSG:4326", *UTM_BOX)
    return f"{w:.6f},{s:.6f},{e:.6f},{n:.6f}"


def fetch(out: Path, stac: str, *extra: str) -> int:
    return main(["-q", "fetch", str(out), "--stac", stac, "--bbox", lonlat_box(), "--datetime",
                 "2023-06-01/2023-06-30", *extra])


def expected(site, item: str, ds: rasterio.DatasetReader, offset: int) -> np.ndarray:
    """The item's stored DNs under the output's window, with the offset removed like s2sr does."""
    c0 = round((ds.transform.c - ORIGIN[0]) / 10)
    r0 = round((ORIGIN[1] - ds.transform.f) / 10)
    raw = site.data[item][:, r0:r0 + ds.height, c0:c0 + ds.width].astype(np.int64)
    return np.where(raw == 0, 0, np.maximum(raw + offset, 1)).astype(np.uint16)


def test_least_cloudy_item_of_a_static_catalog_cut_to_the_box(stac_site, tmp_path, capsys):
    out = tmp_path / "s2.tif"
    assert fetch(out, stac_site.catalog) == 0
    assert BEST in capsys.readouterr().out
    with rasterio.open(out) as ds:
        assert ds.count == 4 and ds.dtypes == ("uint16",) * 4 and ds.nodata == 0
        assert ds.crs == "EPSG:32631" and ds.res == (10.0, 10.0)
        # on the item's own grid: whole 10 m pixels from the tile origin, no resampling
        assert (ds.transform.c - ORIGIN[0]) % 10 == 0 and (ORIGIN[1] - ds.transform.f) % 10 == 0
        b = ds.bounds
        assert b.left <= UTM_BOX[0] and b.bottom <= UTM_BOX[1] and b.right >= UTM_BOX[2] and b.top >= UTM_BOX[3]
        assert UTM_BOX[0] - b.left < 40 and b.top - UTM_BOX[3] < 40  # the box, not the whole item
        assert ds.descriptions == ("B2", "B3", "B4", "B8")
        assert list(ds.colorinterp) == [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.undefined]
        tags = ds.tags()
        # baseline 05.09 and the provider says the offset is still in: s2sr removes it
        np.testing.assert_array_equal(ds.read(), expected(stac_site, BEST, ds, -1000))
    assert tags["STAC_ITEM"] == BEST and tags["CLOUD_COVER"] == "3.5" and tags["LEVEL"] == "L2A"
    assert tags["RADIOMETRIC_OFFSET"].startswith("-1000 (processing baseline 05.09")
    assert tags["STAC_COLLECTION"] == "sentinel-2-l2a" and tags["FETCH_STAC"] == stac_site.catalog
    assert cog_problems(out) == []
    # a window of the remote COGs was read, not the whole files
    size = (stac_site.root / "sentinel-2-l2a" / BEST / "B08.tif").stat().st_size
    assert 0 < stac_site.bytes_read(f"{BEST}/B08.tif") < 0.6 * size


def test_stac_api_root_gives_the_same_image(stac_site, tmp_path):
    a, b = tmp_path / "static.tif", tmp_path / "api.tif"
    assert fetch(a, stac_site.catalog) == 0
    assert fetch(b, stac_site.api) == 0
    assert any(p.startswith("/api/search") for p, _ in stac_site.requests)  # searched by the server
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert x.transform == y.transform and y.tags()["STAC_ITEM"] == BEST
        np.testing.assert_array_equal(x.read(), y.read())


def test_all_items_into_a_folder_least_cloudy_first(stac_site, tmp_path, capsys):
    out = tmp_path / "all"
    assert fetch(out, stac_site.catalog, "--all") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[1] for ln in lines] == [BEST, "S2A_31TCJ_20230605_0_L2A"]
    assert sorted(p.name for p in out.iterdir()) == ["S2A_31TCJ_20230605_0_L2A.tif", f"{BEST}.tif"]
    with rasterio.open(out / "S2A_31TCJ_20230605_0_L2A.tif") as ds:  # offset already removed upstream
        np.testing.assert_array_equal(ds.read(), expected(stac_site, "S2A_31TCJ_20230605_0_L2A", ds, 0))
        assert ds.tags()["RADIOMETRIC_OFFSET"].startswith("none (earthsearch:boa_offset_applied")


def test_collection_and_offset_options(stac_site, tmp_path):
    out = tmp_path / "l1c.tif"
    assert fetch(out, stac_site.catalog, "--collection", "sentinel-2-l1c", "--offset", "none") == 0
    with rasterio.open(out) as ds:
        assert ds.tags()["STAC_ITEM"] == "S2B_MSIL1C_20230611"
        np.testing.assert_array_equal(ds.read(), expected(stac_site, "S2B_MSIL1C_20230611", ds, 0))


def test_place_geojson_instead_of_a_box(stac_site, tmp_path):
    w, s, e, n = (float(v) for v in lonlat_box().split(","))
    place = tmp_path / "place.geojson"
    place.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                     "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}]}))
    out = tmp_path / "p.tif"
    rc = main(["-q", "fetch", str(out), "--stac", stac_site.catalog, "--place-geojson", str(place),
               "--datetime", "2023-06-01/2023-06-30"])
    assert rc == 0
    ref = tmp_path / "b.tif"
    assert fetch(ref, stac_site.catalog) == 0
    with rasterio.open(out) as x, rasterio.open(ref) as y:
        assert x.transform == y.transform and x.shape == y.shape


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("s2sr fetch: error: "), err
    return err[0]


def test_no_item_found_is_one_line_and_writes_nothing(stac_site, tmp_path, capsys):
    out = tmp_path / "none.tif"
    assert fetch(out, stac_site.catalog, "--max-cloud", "2") == 2
    msg = _one_line_error(capsys)
    assert "no item of sentinel-2-l2a over" in msg and "cloud cover <= 2 %" in msg and "widen --datetime" in msg
    assert list(tmp_path.iterdir()) == [tmp_path / "stac"]


def test_endpoint_down_is_one_line_and_writes_nothing(closed_port_url, tmp_path, capsys):
    out = tmp_path / "down.tif"
    assert fetch(out, closed_port_url) == 2
    msg = _one_line_error(capsys)
    assert f"{closed_port_url}: cannot reach the STAC endpoint" in msg and "refused" in msg.lower()
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_item_without_a_band_asset_is_one_line(make_stac_site, tmp_path, capsys):
    site = make_stac_site([dict(id="S2B_NONIR", date="2023-06-10T10:56:19Z", cloud=1.0, seed=5, drop=("nir",))])
    out = tmp_path / "x.tif"
    assert fetch(out, site.catalog) == 2
    msg = _one_line_error(capsys)
    assert "S2B_NONIR: no asset for B8 (assets: blue, green, red); pass --assets" in msg
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_asset_file_missing_on_the_server_is_one_line(make_stac_site, tmp_path, capsys):
    site = make_stac_site([dict(id="S2B_404", date="2023-06-10T10:56:19Z", cloud=1.0, seed=5,
                                missing_files=("red",))])
    out = tmp_path / "x.tif"
    assert fetch(out, site.catalog) == 2
    msg = _one_line_error(capsys)
    assert "S2B_404/B04.tif: cannot read this band of S2B_404" in msg
    assert not out.exists()


def test_explicit_asset_keys(make_stac_site, tmp_path):
    site = make_stac_site([dict(id="S2B_KEYS", date="2023-06-10T10:56:19Z", cloud=1.0, seed=6)])
    out = tmp_path / "k.tif"
    # B2..B8 taken from other assets on purpose: the keys decide, in the order given
    assert fetch(out, site.catalog, "--assets", "nir,red,green,blue", "--offset", "none") == 0
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(), expected(site, "S2B_KEYS", ds, 0)[::-1])


@pytest.mark.parametrize("args, text", [
    (["--bbox", "3,2,1"], "--bbox '3,2,1': expected 4 comma-separated numbers"),
    (["--bbox", "5,45,4,46"], "need -180 <= W < E <= 180"),
    (["--datetime", "2023-13-01/2023-06-30"], "'2023-13-01' is not a date"),
    (["--max-cloud", "120"], "--max-cloud 120: give a cloud cover in percent"),
    (["--co", "NOT_AN_OPTION=1"], "NOT_AN_OPTION is not a creation option of GDAL's COG driver"),
    (["--assets", "blue,green"], "--assets 'blue,green': give 4 asset keys"),
    (["--offset", "lots"], "--offset 'lots': choose auto, none, or an integer"),
])
def test_bad_options_are_one_line_before_any_request(closed_port_url, tmp_path, capsys, args, text):
    base = {"--bbox": lonlat_box(), "--datetime": "2023-06-01/2023-06-30"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    argv = ["-q", "fetch", str(tmp_path / "o.tif"), "--stac", closed_port_url]
    for k, v in base.items():
        argv += [k, v]
    assert main(argv) == 2
    assert text in _one_line_error(capsys)


def test_existing_output_needs_overwrite(stac_site, tmp_path, capsys):
    out = tmp_path / "s2.tif"
    out.write_bytes(b"keep me")
    assert fetch(out, stac_site.catalog) == 2
    assert "already exists" in _one_line_error(capsys) and out.read_bytes() == b"keep me"
    assert fetch(out, stac_site.catalog, "--overwrite") == 0


def test_static_catalog_on_disk_without_a_server(stac_site, tmp_path):
    """--stac may be a catalog.json path: the same search and the same pixels, read from local files."""
    a, b = tmp_path / "http.tif", tmp_path / "disk.tif"
    assert fetch(a, stac_site.catalog) == 0
    n = len(stac_site.requests)
    assert fetch(b, str(stac_site.root / "catalog.json")) == 0
    assert len(stac_site.requests) == n  # nothing went over HTTP
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert x.transform == y.transform and y.tags()["STAC_ITEM"] == BEST
        np.testing.assert_array_equal(x.read(), y.read())
