"""evaluate --sr with a model that has an uncertainty head: the apply --uncertainty file beside the given SR is
scored at its own level, exactly as when evaluate computes both; without that file the uncertainty is not scored."""

from __future__ import annotations

import json

import pytest

from s2sr.data.wald import degrade_image
from s2sr.errors import InputError
from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.infer.apply import ApplyConfig, apply_model


def test_given_sr_scores_the_uncertainty_file_beside_it(make_raster, headed_pt, tmp_path) -> None:
    img = make_raster("img.tif", shape=(4, 128, 128), res=2.5, nodata=None, seed=5)
    pair = degrade_image(img, tmp_path / "pair", 4, progress=False)
    kw = dict(model=headed_pt, lr=pair.lr, hr=pair.hr, tile=8, progress=False, opensr=False)
    computed = json.loads(evaluate(make_eval_config(out=tmp_path / "ev1", **kw)).metrics_path.read_text())
    assert computed["uncertainty"]["file_level"] == 0.9
    sr = tmp_path / "sr.tif"
    apply_model(headed_pt, pair.lr, sr, ApplyConfig(out_dtype="float32", uncertainty=True, progress=False))
    given = json.loads(evaluate(make_eval_config(out=tmp_path / "ev2", sr=sr, **kw)).metrics_path.read_text())
    assert given["uncertainty"] == computed["uncertainty"] and given["methods"] == computed["methods"]
    (tmp_path / "sr.uncertainty.tif").unlink()
    apply_model(headed_pt, pair.lr, tmp_path / "sr80.tif",
                ApplyConfig(out_dtype="float32", uncertainty=True, uncertainty_level=0.8, progress=False))
    at80 = json.loads(evaluate(make_eval_config(out=tmp_path / "ev3", sr=tmp_path / "sr80.tif", **kw))
                      .metrics_path.read_text())
    assert at80["uncertainty"]["file_level"] == 0.8
    res = evaluate(make_eval_config(out=tmp_path / "ev4", sr=sr, **kw))
    assert res.uncertainty is None and "uncertainty" not in json.loads(res.metrics_path.read_text())


def test_an_uncertainty_file_of_another_level_table_is_refused(make_raster, headed_pt, tmp_path) -> None:
    import rasterio

    img = make_raster("img.tif", shape=(4, 96, 96), res=2.5, nodata=None, seed=2)
    pair = degrade_image(img, tmp_path / "pair", 4, progress=False)
    sr = tmp_path / "sr.tif"
    apply_model(headed_pt, pair.lr, sr, ApplyConfig(out_dtype="float32", uncertainty=True, progress=False))
    with rasterio.open(tmp_path / "sr.uncertainty.tif", "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.update_tags(S2SR_UNCERTAINTY_LEVEL="0.42")
    with pytest.raises(InputError, match=r"sr.uncertainty.tif: not an apply --uncertainty output of this model "
                                         r"\(level 0.42, calibrated: "):
        evaluate(make_eval_config(model=headed_pt, lr=pair.lr, hr=pair.hr, sr=sr, out=tmp_path / "e",
                                  progress=False, opensr=False))
    assert not (tmp_path / "e").exists()
