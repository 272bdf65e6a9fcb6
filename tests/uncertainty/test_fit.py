"""s2sr calibrate on a seeded synthetic dataset, then evaluate scores the head on the test split."""

from __future__ import annotations

import json

import pytest

from s2sr.cli.main import main


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from s2sr.data.prepare import PrepareConfig, prepare
    from s2sr.synth import synthesise

    d = tmp_path_factory.mktemp("calib")
    syn = synthesise(d / "scene", seed=0, size=1024, scale=4)
    # Coverage is a statement about exchangeable calibration and test pixels; on one scene the units
    # that are exchangeable are the split blocks. Blocks of 20 LR px (patch 16 + 2 x gap 2) give 25 val
    # and 25 test blocks here; with 2 of each (blocks of 36 LR px on a 512 px scene) the test coverage
    # swung by 5-10 points with the seed (0.850 / 0.917 / 0.958 at seed 0): that measured the split, not
    # the calibration.
    prepare(PrepareConfig(pairs=[(syn.lr, syn.hr)], scale=4, patch_size=16, split_block=20, out=d / "ds"))
    return d, syn


@pytest.mark.slow
def test_calibrate_then_evaluate_covers_the_test_split(synthetic, bicubic_model, capsys) -> None:
    """The seeded synthetic case: a head fitted on the train blocks and calibrated on the val blocks
    covers the test blocks at 80 / 90 / 95 % within 3 points (the issue's target)."""
    from s2sr.bundle import load_model
    from s2sr.evaluate.config import make_eval_config
    from s2sr.evaluate.run import evaluate
    from s2sr.uncertainty.section import head_of

    d, syn = synthetic
    model = bicubic_model(4)
    out = d / "with_head.pt"
    assert main(["-q", "calibrate", str(model), "--data", str(d / "ds"), "--out", str(out), "--steps", "60"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: uncertainty head trained on 1 scene(s), calibrated on 1")
    head = head_of(load_model(out))
    assert head is not None and head.fit["steps"] == 60 and all(n > 10_000 for n in head.calibration.pixels)
    ev = evaluate(make_eval_config(model=out, lr=syn.lr, hr=syn.hr, split_from=d / "ds", out=d / "ev",
                                   opensr=False, progress=False))
    u = ev.uncertainty
    assert u is not None and u["pixels"] == ev.pixels
    for level in ("0.8", "0.9", "0.95"):
        assert abs(u["coverage"][level]["overall"] - float(level)) <= 0.03, u["coverage"][level]
    assert u["spearman_pixel"] > 0.3 and u["spearman_block"] > u["spearman_pixel"]
    assert len(u["reliability"]) == len(head.calibration.levels) and u["blocks"] > 50
    doc = json.loads((d / "ev" / "metrics.json").read_text())
    assert doc["uncertainty"]["calibrated_on"] == head.calibrated_on
    html = (d / "ev" / "report.html").read_text()
    assert "<h2>Uncertainty</h2>" in html and 'alt="uncertainty reliability" src="data:image/png;base64,' in html
    assert (d / "ev" / "sr.uncertainty.tif").exists()


def test_calibrate_errors_are_one_line(synthetic, bicubic_model, tmp_path, capsys) -> None:
    d, _ = synthetic
    model = bicubic_model(4)
    rc = main(["-q", "calibrate", str(model), "--data", str(tmp_path), "--out", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == f"s2sr calibrate: error: {tmp_path}: no prepare.json; pass a dataset folder written by `s2sr prepare`"
    rc = main(["-q", "calibrate", str(model), "--data", str(d / "ds"), "--out", str(model)])
    assert rc == 2 and "would overwrite the model" in capsys.readouterr().err
    rc = main(["-q", "calibrate", str(model), "--data", str(d / "ds"), "--out", str(tmp_path / "m.onnx")])
    assert rc == 2 and "name the new model bundle *.pt" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
