"""The map's attribution follows the data: synthetic, Copernicus, or nothing claimed (issue 13, item 10)."""

from __future__ import annotations

from pathlib import Path

import rasterio
from fastapi.testclient import TestClient

from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.serve.app import create_app
from s2sr.serve.config import SceneConfig, ServeConfig
from s2sr.synth import SYNTHETIC_ATTRIBUTION, synthesise

MAP_JS = Path(__file__).resolve().parents[2] / "src" / "s2sr" / "serve" / "static" / "map.js"


def _layers(sr: Path, lr: Path) -> dict[str, str]:
    # as http://127.0.0.1: the app refuses other Host names
    app = create_app(ServeConfig(scenes=[SceneConfig(name="s", sr=sr, lr=lr)]))
    client = TestClient(app, base_url="http://127.0.0.1")
    return {la["id"]: la["attribution"] for la in client.get("/layers").json()}


def test_synthetic_scene_is_not_credited_to_copernicus(bicubic_pt, tmp_path):
    syn = synthesise(tmp_path / "scene", seed=0, size=256, scale=4)
    sr = apply_model(bicubic_pt, syn.lr, tmp_path / "sr.tif", ApplyConfig(progress=False)).path
    att = _layers(sr, syn.lr)
    assert att == {"sr_rgb": SYNTHETIC_ATTRIBUTION, "lr_rgb": SYNTHETIC_ATTRIBUTION, "sr_false": SYNTHETIC_ATTRIBUTION}
    assert "Copernicus" not in MAP_JS.read_text()  # nothing hard-coded in the page


def test_sentinel_product_tags_give_the_copernicus_notice(make_raster, bicubic_pt, tmp_path):
    lr = make_raster("s2.tif", descriptions=("B2", "B3", "B4", "B8"))
    with rasterio.open(lr, "r+") as ds:
        ds.update_tags(SENSOR="Sentinel-2B MSI", SENSING_TIME="2023-06-10T10:56:19+00:00")
    sr = apply_model(bicubic_pt, lr, tmp_path / "sr.tif", ApplyConfig(progress=False)).path
    assert set(_layers(sr, lr).values()) == {"Contains modified Copernicus Sentinel data 2023"}


def test_unknown_source_claims_nothing(make_raster, bicubic_pt, tmp_path):
    lr = make_raster("plain.tif", descriptions=("B2", "B3", "B4", "B8"))
    sr = apply_model(bicubic_pt, lr, tmp_path / "sr.tif", ApplyConfig(progress=False)).path
    assert set(_layers(sr, lr).values()) == {""}


def test_fetched_products_carry_their_attribution(make_safe, tmp_path):
    from s2sr.io.sources import resolve_input

    safe, _ = make_safe("L2A", "04.00")
    with rasterio.open(resolve_input(safe, workdir=tmp_path).path) as ds:
        assert ds.tags()["ATTRIBUTION"] == "Contains modified Copernicus Sentinel data 2022"
