"""The "SR confidence" layer: the apply --uncertainty file as a colour ramp with a legend."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from s2sr.errors import GridError, InputError
from s2sr.serve.app import create_app
from s2sr.serve.config import config_from_options

from .conftest import CRS, NODATA_COLS, SR_SIZE, local_client, write_cog
from .test_api import centre_tile, decode


@pytest.fixture(scope="module")
def client(serve_data) -> TestClient:
    return local_client(create_app(config_from_options([str(serve_data.sr)], [str(serve_data.lr)])))


def test_confidence_layer_is_found_beside_the_sr_with_its_legend(client: TestClient, serve_data) -> None:
    conf = client.get("/layers").json()[3]
    assert conf["id"] == "sr_conf" and conf["name"] == "SR confidence" and conf["role"] == "conf"
    valid = serve_data.unc_data[:3, :, NODATA_COLS:].astype(float).mean(axis=0)
    lo, hi = np.percentile(valid, [50, 98])
    g = conf["legend"]
    assert g["title"] == "SR confidence: half-width of the 90 % interval (B2-B4 mean, output units)"
    assert g["min"] == pytest.approx(lo, abs=3) and g["max"] == pytest.approx(hi, abs=3) and g["level"] == 0.9
    assert len(g["colours"]) == 5 and all(c.startswith("rgba(") for c in g["colours"])
    assert "transparent below" in g["note"]
    # the other layers carry no legend
    assert all(la["legend"] is None for la in client.get("/layers").json()[:3])


def test_confident_pixels_are_transparent_and_the_ramp_rises_eastwards(client: TestClient, serve_data) -> None:
    conf = client.get("/layers").json()[3]
    t = centre_tile(conf, conf["maxzoom"] - 1)
    rgba = decode(client.get(conf["tiles"].format(z=t.z, x=t.x, y=t.y)).content)
    alpha = rgba[..., 3]
    assert (alpha == 0).any() and (alpha > 0).any()
    cols = np.where(alpha.max(axis=0) > 0)[0]
    # half-widths grow eastwards: transparent (confident) on the west of the median, opaque on the east
    assert alpha[:, : cols.min()].max() == 0 and cols.max() == 255
    row = rgba[128, cols]
    assert row[0, 3] < row[-1, 3] and row[0, 1] > row[-1, 1]  # more opaque and redder eastwards
    # the west nodata strip: the whole SR tile there is transparent
    w = client.get(conf["tiles"].format(z=conf["maxzoom"], x=centre_tile(conf, conf["maxzoom"]).x - 10,
                                        y=centre_tile(conf, conf["maxzoom"]).y))
    assert w.status_code in (200, 204)
    if w.status_code == 200:
        assert decode(w.content)[..., 3].max() == 0


def test_explicit_uncertainty_option_and_its_errors(serve_data, tmp_path) -> None:
    cfg = config_from_options([str(serve_data.sr)], uncertainty=[str(serve_data.unc)])
    assert cfg.scenes[0].uncertainty == serve_data.unc
    assert "sr_conf" in create_app(cfg).state.scenes["sr"].layers
    plain = write_cog(tmp_path / "plain.tif", serve_data.unc_data, 2.5)  # no S2SR_UNCERTAINTY_LEVEL tag
    with pytest.raises(InputError, match=r"plain\.tif: not an uncertainty file of `s2sr apply --uncertainty`"):
        create_app(config_from_options([str(serve_data.sr)], uncertainty=[str(plain)]))
    other = write_cog(tmp_path / "other.tif", serve_data.unc_data[:, : SR_SIZE // 2], 2.5,
                      tags={"S2SR_UNCERTAINTY_LEVEL": "0.9"})
    with pytest.raises(GridError, match=r"other\.tif: not on the grid of the SR image"):
        create_app(config_from_options([str(serve_data.sr)], uncertainty=[str(other)]))
    assert CRS == "EPSG:32631"
