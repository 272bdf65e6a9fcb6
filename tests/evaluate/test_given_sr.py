"""evaluate --sr: score the SR raster apply wrote instead of running the model again (issue 13, item 11)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2sr.data.wald import degrade_image
from s2sr.errors import ConfigError, InputError
from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.infer.apply import ApplyConfig, apply_model

from .conftest import smooth_image


def _pair(make_raster, tmp_path):
    img = make_raster("img.tif", data=smooth_image((4, 128, 128), 5), res=2.5, nodata=None)
    return degrade_image(img, tmp_path / "pair", 4, progress=False)


def test_given_sr_gives_the_same_scores_as_computing_it(make_raster, bicubic_model, tmp_path):
    pair, model = _pair(make_raster, tmp_path), bicubic_model(4)
    sr = apply_model(model, pair.lr, tmp_path / "sr_float.tif", ApplyConfig(out_dtype="float32", progress=False)).path
    kw = dict(model=model, lr=pair.lr, hr=pair.hr, tile=8, progress=False, opensr=False)
    computed = evaluate(make_eval_config(out=tmp_path / "ev1", **kw))
    given = evaluate(make_eval_config(out=tmp_path / "ev2", sr=sr, **kw))
    a, b = (json.loads(r.metrics_path.read_text()) for r in (computed, given))
    assert a["methods"] == b["methods"] and a["pixels"] == b["pixels"]  # the same computation
    assert b["sr"] == {"path": str(sr), "computed": False} and a["sr"] == {"path": "sr.tif", "computed": True}
    assert given.sr_path == sr and not (tmp_path / "ev2" / "sr.tif").exists()


def test_rounded_sr_scores_what_users_get(make_raster, bicubic_model, tmp_path):
    pair, model = _pair(make_raster, tmp_path), bicubic_model(4)
    sr = apply_model(model, pair.lr, tmp_path / "sr.tif", ApplyConfig(progress=False)).path  # uint16, as apply writes
    kw = dict(model=model, lr=pair.lr, hr=pair.hr, tile=8, progress=False, opensr=False)
    a = evaluate(make_eval_config(out=tmp_path / "ev1", **kw)).methods["model"]
    b = evaluate(make_eval_config(out=tmp_path / "ev2", sr=sr, **kw)).methods["model"]
    assert a["psnr"] != b["psnr"] and np.isclose(a["psnr"], b["psnr"], atol=0.05)  # rounding only


def test_sr_of_another_model_or_grid_is_refused(make_raster, bicubic_model, tmp_path):
    pair = _pair(make_raster, tmp_path)
    other = apply_model(bicubic_model(2), pair.lr, tmp_path / "x2.tif", ApplyConfig(progress=False)).path
    with pytest.raises(InputError, match=r"x2.tif: made by bicubic x2, not by this model \(bicubic x4\)"):
        evaluate(make_eval_config(model=bicubic_model(4), lr=pair.lr, hr=pair.hr, sr=other, out=tmp_path / "e",
                                  progress=False))
    with pytest.raises(InputError, match="no s2sr apply tags"):
        evaluate(make_eval_config(model=bicubic_model(4), lr=pair.lr, hr=pair.hr, sr=pair.hr, out=tmp_path / "e",
                                  progress=False))
    assert not (tmp_path / "e").exists()


def test_sr_with_wald_mode_is_a_config_error(make_raster, bicubic_model, tmp_path):
    with pytest.raises(ConfigError, match="--sr applies to pair mode"):
        make_eval_config(model=bicubic_model(4), wald=tmp_path / "a.tif", sr=tmp_path / "b.tif", out=tmp_path / "e")
