"""Footprint (RFC 7946), model card, config files, input errors and the CLI of `s2sr serve`."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from s2sr.cli.main import main
from s2sr.errors import ConfigError, GridError, InputError, ModelError
from s2sr.serve.app import create_app
from s2sr.serve.card import load_card
from s2sr.serve.config import config_from_options, load_config
from s2sr.serve.footprint import load_footprint

from .conftest import CRS, local_client, patch_polygon


def ring_area(ring: list) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False))


def assert_rfc7946(fc: dict) -> None:
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    assert fc["features"]
    for f in fc["features"]:
        assert f["type"] == "Feature" and isinstance(f["properties"], dict)
        g = f["geometry"]
        assert g["type"] == "Polygon"
        for i, ring in enumerate(g["coordinates"]):
            assert len(ring) >= 4 and ring[0] == ring[-1]
            assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
            assert (ring_area(ring) > 0) == (i == 0)  # exterior counter-clockwise


def test_footprint_geojson_is_rfc7946(serve_data) -> None:
    client = local_client(create_app(config_from_options([str(serve_data.sr)], footprint=[str(serve_data.footprint)])))
    for path in ("/footprint.geojson", "/footprint/sr.geojson"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        fc = r.json()
        assert_rfc7946(fc)
        assert [(f["properties"]["id"], f["properties"]["split"], f["properties"]["scene"])
                for f in fc["features"]] == [(0, "train", "sr"), (1, "val", "sr"), (2, "test", "sr")]
    assert client.get("/footprint/other.geojson").status_code == 404


def test_footprint_in_utm_with_clockwise_rings_is_reprojected(tmp_path: Path) -> None:
    ring = patch_polygon(200, 300, 160.0)["coordinates"][0][::-1]  # clockwise
    fc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32631"}},
          "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                        "properties": {"id": 5, "split": "val"}}]}
    p = tmp_path / "fp.geojson"
    p.write_text(json.dumps(fc))
    out = load_footprint(p)
    assert_rfc7946(out)
    from pyproj import Transformer

    got = out["features"][0]["geometry"]["coordinates"][0]
    want = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(*ring[::-1][0])
    assert got[0] == pytest.approx(list(want), abs=1e-9)


@pytest.mark.parametrize(("content", "msg"), [
    ("not json", "not valid JSON"),
    ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
    (json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                 "geometry": patch_polygon(0, 0, 10.0)}]}), "are not WGS84 lon/lat"),
])
def test_bad_footprint_errors(tmp_path: Path, content: str, msg: str) -> None:
    p = tmp_path / "fp.geojson"
    p.write_text(content)
    with pytest.raises(InputError, match=msg) as e:
        load_footprint(p)
    assert str(p) in str(e.value)


def test_model_card_from_bundle_and_markdown(serve_data) -> None:
    card = load_card(serve_data.model)
    assert card["arch"] == "bicubic" and card["scale"] == 4 and card["bands"] == ["B2", "B3", "B4", "B8"]
    assert card["vs_bicubic"] == [{"metric": "psnr", "model": 31.5, "bicubic": 30.25},
                                  {"metric": "sam", "model": 2.0, "bicubic": 1.5}]
    assert card["markdown"].startswith("# Model card")  # MODEL_CARD.md beside best.pt
    md = load_card(serve_data.card_md)
    assert md["arch"] is None and "<script>" in md["markdown"]  # shown as text by the page
    client = local_client(create_app(config_from_options([str(serve_data.sr)], model=[str(serve_data.model)])))
    assert client.get("/model").json()["sr"]["arch"] == "bicubic"
    assert client.get("/model/sr").json()["scale"] == 4


def test_bad_model_errors(tmp_path: Path) -> None:
    bad = tmp_path / "best.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=r"not a PyTorch checkpoint \(unknown format\)"):
        load_card(bad)
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError, match="corrupt or truncated checkpoint"):
        load_card(bad)
    with pytest.raises(ModelError, match="model file not found"):
        load_card(tmp_path / "missing.pt")


def test_binary_file_as_model_card_is_refused(serve_data, tmp_path: Path) -> None:
    """--model-card sr.tif (or an .onnx) was accepted and shown as garbage text on the map page."""
    for p in (serve_data.sr, tmp_path / "best.onnx"):
        if not p.exists():
            p.write_bytes(b"\x08\x01\x12\x00onnx")
        with pytest.raises(ModelError) as e:
            load_card(p)
        assert str(e.value) == f"{p}: not a model card (binary file); pass RUN/best.pt or RUN/MODEL_CARD.md"


def test_config_file_with_two_scenes(serve_data, tmp_path: Path) -> None:
    import shutil

    for f in (serve_data.sr, serve_data.lr, serve_data.footprint):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "serve.toml").write_text(
        'port = 9123\n[[scenes]]\nname = "a"\nsr = "sr.tif"\nlr = "lr.tif"\nfootprint = "footprint.geojson"\n'
        '[[scenes]]\nname = "a"\nsr = "sr.tif"\n')
    cfg = load_config(tmp_path / "serve.toml")
    assert cfg.port == 9123 and cfg.host == "127.0.0.1"
    assert [s.name for s in cfg.scenes] == ["a", "a-2"]
    assert cfg.scenes[0].lr == tmp_path / "lr.tif"
    client = local_client(create_app(cfg))
    names = [la["name"] for la in client.get("/layers").json()]
    assert names == ["a: S2 RGB (High-Res)", "a: S2 RGB (original 10 m)", "a: S2 false colour (High-Res)",
                     "a-2: S2 RGB (High-Res)", "a-2: S2 false colour (High-Res)"]
    assert client.get("/tiles/a-2/sr_rgb/10/0/0.png").status_code == 204
    (tmp_path / "serve.yaml").write_text("scenes:\n  - sr: sr.tif\n")
    (tmp_path / "serve.json").write_text('{"scenes": [{"sr": "sr.tif"}], "port": 0}')
    assert load_config(tmp_path / "serve.yaml").scenes[0].name == "sr"
    assert load_config(tmp_path / "serve.json", {"port": 8001}).port == 8001


@pytest.mark.parametrize(("text", "msg"), [
    ("scenes = []", "scenes: List should have at least 1 item"),
    ('[[scenes]]\nlr = "x.tif"', "scenes.0.sr: Field required"),
    ('[[scenes]]\nsr = "x.tif"\nname = "a/b"', "scene name 'a/b' must match"),
    ('port = 70000\n[[scenes]]\nsr = "x.tif"', "port: Input should be less than or equal to 65535"),
    ('[[scenes]]\nsr = "x.tif"\ncolour = 1', "scenes.0.colour: unknown key"),
    ("scenes = [", "cannot parse"),
])
def test_bad_config_errors(tmp_path: Path, text: str, msg: str) -> None:
    p = tmp_path / "serve.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=msg) as e:
        load_config(p)
    assert str(e.value).startswith(str(p))


def test_input_errors(serve_data, tmp_path: Path, make_raster) -> None:
    with pytest.raises(InputError, match="file not found"):
        create_app(config_from_options([str(tmp_path / "nope.tif")]))
    plain = make_raster("plain.tif", crs=None, shape=(4, 16, 16))
    with pytest.raises(InputError, match="has no CRS, so it cannot be placed on a web map") as e:
        create_app(config_from_options([str(plain)]))
    assert str(plain) in str(e.value)
    odd = make_raster("odd.tif", crs=CRS, shape=(4, 16, 16), descriptions=("B2", "B3", "B5", "B8"))
    with pytest.raises(InputError, match="lack one of"):
        create_app(config_from_options([str(odd)]))
    with pytest.raises(ConfigError, match="--lr: given 2 time"):
        config_from_options([str(serve_data.sr)], [str(serve_data.lr)] * 2)


def test_lr_elsewhere_than_sr_is_an_error(serve_data, make_raster) -> None:
    """An --lr from another place (e.g. another scene) is refused, not shown beside the SR on an empty map."""
    far = make_raster("far.tif", crs=CRS, shape=(4, 16, 16), origin=(600000.0, 4700000.0),
                      descriptions=("B2", "B3", "B4", "B8"))
    with pytest.raises(GridError) as e:
        create_app(config_from_options([str(serve_data.sr)], [str(far)]))
    assert str(e.value) == f"{serve_data.sr} and {far}: do not overlap; pass as --lr the image the SR was made from"
    create_app(config_from_options([str(serve_data.sr)], [str(serve_data.lr)]))  # the matching pair is fine


def test_three_band_image_without_descriptions(make_raster) -> None:
    """No descriptions: order B2,B3,B4(,B8) assumed; without B8 no false-colour layer."""
    p = make_raster("rgb.tif", crs=CRS, shape=(3, 32, 32))
    client = local_client(create_app(config_from_options([str(p)])))
    layers = client.get("/layers").json()
    assert [(la["id"], la["bands"]) for la in layers] == [("sr_rgb", [3, 2, 1])]


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str], serve_data, tmp_path: Path) -> None:
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.strip() == (
        "s2sr serve: error: serve: nothing to show; pass --sr SR.tif [--lr LR.tif] or --config FILE")
    assert main(["serve", "--sr", str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'x.tif'}: file not found" in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--sr", str(serve_data.sr), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port {port}: cannot listen there" in err and err.count("\n") == 1


def test_sr_in_other_units_gets_its_own_stretch(serve_data, tmp_path: Path, caplog) -> None:
    """An SR in reflectance 0..1 beside an LR x 10000 must not be shown black."""
    import rasterio

    with rasterio.open(serve_data.sr) as ds:
        prof, data = ds.profile, ds.read().astype("float32") / 10000
    prof.update(driver="GTiff", dtype="float32")
    p = tmp_path / "sr01.tif"
    with rasterio.open(p, "w", **prof) as ds:
        ds.write(data)
    client = local_client(create_app(config_from_options([str(p)], [str(serve_data.lr)])))
    sr, lr = client.get("/layers").json()[:2]
    assert sr["rescale"][0][1] < 1 < lr["rescale"][0][0]
    assert "different value ranges" in caplog.text


@pytest.mark.shared_data
def test_real_sentinel2_sample(shared_data: Path) -> None:
    """The real eo-learn sample (B02..B08 descriptions, no nodata, no overviews) renders."""
    import io

    import morecantile
    from PIL import Image

    path = shared_data / "eolearn" / "TestEOPatch_20150711_10m.tif"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    client = local_client(create_app(config_from_options([str(path)], [str(path)])))
    layers = client.get("/layers").json()
    assert [la["bands"] for la in layers] == [[3, 2, 1], [3, 2, 1], [4, 3, 2]]
    w, s, e, n = layers[0]["bounds"]
    assert 14 < w < e < 15 and 45 < s < n < 46  # Slovenia
    t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (s + n) / 2, layers[0]["maxzoom"] + 3)
    r = client.get(f"/tiles/{layers[0]['scene']}/sr_rgb/{t.z}/{t.x}/{t.y}.png")
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    assert r.status_code == 200 and (img[..., 3] == 255).all() and img[..., :3].std() > 10


def test_missing_overviews_are_reported(make_raster, monkeypatch, caplog) -> None:
    from s2sr.serve import layers

    monkeypatch.setattr(layers, "NO_OVERVIEW_WARN", 100)
    p = make_raster("big.tif", crs=CRS, shape=(4, 128, 128))
    create_app(config_from_options([str(p)]))
    assert f"{p}: no overviews, so low zooms will be slow" in caplog.text
