"""--split-from scores test patches only; CLI errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from s2sr.cli.main import main
from s2sr.data.store import StoreWriter
from s2sr.data.wald import degrade_image
from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate

from .conftest import smooth_image

X0, Y0, RES = 500000.0, 4600000.0, 10.0


def _box(c0: int, r0: int, c1: int, r1: int) -> dict:
    """Bounds of LR pixel columns c0..c1, rows r0..r1 (prepare's index.csv fields)."""
    return {"left": X0 + c0 * RES, "right": X0 + c1 * RES, "top": Y0 - r0 * RES, "bottom": Y0 - r1 * RES}


def _prepared(root: Path, boxes: dict[str, list[dict]]) -> Path:
    for split, rows in boxes.items():
        w = StoreWriter(root, split, ["B2", "B3", "B4", "B8"], 16, 4)
        for i, b in enumerate(rows):
            w.add(np.zeros((4, 16, 16)), np.zeros((4, 64, 64)), {"id": i, "pair": 0, **b})
        w.close()
    return root


def test_split_from_excludes_training_areas(make_raster, bicubic_model, tmp_path) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 128, 128), 5), res=2.5, nodata=None)
    pair = degrade_image(img, tmp_path / "pair", 4, progress=False)
    # corrupt the reference inside the training area: scoring it would wreck the PSNR
    import rasterio

    with rasterio.open(pair.hr, "r+") as ds:
        hr = ds.read()
        hr[:, :, 48:] += 2000
        ds.write(hr)
    ds_dir = _prepared(tmp_path / "prep", {"test": [_box(0, 0, 16, 16)], "train": [_box(12, 0, 32, 32)],
                                           "val": []})
    model = bicubic_model(4)
    res = evaluate(make_eval_config(model=model, lr=pair.lr, hr=pair.hr, out=tmp_path / "ev", split_from=ds_dir,
                               tile=8, progress=False))
    # test box = fine cols 0..64, rows 0..64; train overlap removes fine cols 48..64
    assert res.pixels == 48 * 64
    doc = json.loads(res.metrics_path.read_text())
    assert all(t["col_off"] + t["width"] <= 64 and t["row_off"] + t["height"] <= 64 for t in doc["tiles"])
    full = evaluate(make_eval_config(model=model, lr=pair.lr, hr=pair.hr, out=tmp_path / "ev2", tile=8, progress=False))
    assert res.methods["model"]["psnr"] > 25 > full.methods["model"]["psnr"]


def test_split_from_without_test_split_is_clear(make_raster, bicubic_model, tmp_path) -> None:
    lr = make_raster("lr.tif", shape=(4, 16, 16))
    hr = make_raster("hr.tif", shape=(4, 64, 64), res=2.5)
    code = main(["evaluate", "--model", str(bicubic_model(4)), "--lr", str(lr), "--hr", str(hr),
                 "--out", str(tmp_path / "ev"), "--split-from", str(tmp_path)])
    assert code == 2


def _one_line_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    return err[0]


def test_cli_errors_are_one_line(make_raster, bicubic_model, tmp_path, capsys) -> None:
    img = make_raster("img.tif", shape=(4, 32, 32))
    rgb = make_raster("rgb.tif", shape=(3, 32, 32))
    out = str(tmp_path / "ev")
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", str(tmp_path / "none.pt"), "--wald", str(img), "--out", out])
    assert msg.startswith(f"s2sr evaluate: error: {tmp_path / 'none.pt'}: model file not found, and no installed model "
                          "has that name (installed:")
    assert msg.endswith("pass the path of RUN/best.pt (or of an .onnx export) or a name listed by `s2sr models`")
    model = str(bicubic_model(4))
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", model, "--wald", str(rgb), "--out", out])
    assert msg == (f"s2sr evaluate: error: {rgb}: has 3 band(s) but model {Path(model).stem} expects 4 (B2, B3, B4, B8); "
                   "pass --bands with 4 band numbers in that order, e.g. --bands 1,2,3,4")
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", model, "--wald", str(img), "--bands", "1,2,3", "--out", out])
    assert "3 band(s) selected, the model expects 4" in msg
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", model, "--lr", str(img), "--out", out])
    assert msg == "s2sr evaluate: error: give --lr LR.tif and --hr HR.tif together, or --wald IMG.tif"
    msg = _one_line_error(capsys, ["-q", "degrade", str(img), str(tmp_path / "d"), "--scale", "1.5"])
    assert "scale '1.5' is not an integer in 2..8" in msg
    assert not Path(out).exists()  # failed runs leave no output directory


def test_cli_out_that_is_a_file_fails_before_evaluating(make_raster, bicubic_model, tmp_path, capsys) -> None:
    img = make_raster("img.tif", shape=(4, 32, 32))
    out = tmp_path / "ev.txt"
    out.write_text("keep")
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", str(bicubic_model(4)), "--wald", str(img),
                                   "--out", str(out), "--overwrite"])
    assert msg == (f"s2sr evaluate: error: {out}: exists and is not a directory; remove it or choose another "
                   "output folder")
    assert out.read_text() == "keep"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".ev.txt.tmp-")]


def test_corrupt_block_is_an_input_error_not_a_write_error(make_raster, corrupt_block, bicubic_model, tmp_path,
                                                           capsys) -> None:
    """A read failure while degrading names the input (it was reported as 'cannot write' the output)."""
    img = corrupt_block(make_raster("img.tif", shape=(4, 64, 64), tiled=True, blockxsize=16, blockysize=16, compress="deflate"))
    want = (f"{img}: pixel data is corrupt or truncated ({img.name}, band 1: IReadBlock failed at X offset 1, "
            "Y offset 1: TIFFReadEncodedTile() failed.); re-download or re-export it")
    msg = _one_line_error(capsys, ["-q", "degrade", str(img), str(tmp_path / "d"), "--scale", "2"])
    assert msg == f"s2sr degrade: error: {want}"
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", str(bicubic_model(4)), "--wald", str(img),
                                   "--out", str(tmp_path / "ev")])
    assert msg == f"s2sr evaluate: error: {want}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["img.tif", "bicubic_x4.pt"])


def test_cli_overwrite_of_the_model_folder_is_refused(make_raster, bicubic_model, tmp_path, capsys) -> None:
    """--out RUN --overwrite where RUN holds the model deleted the model."""
    img = make_raster("img.tif", shape=(4, 32, 32))
    model = bicubic_model(4)
    msg = _one_line_error(capsys, ["-q", "evaluate", "--model", str(model), "--wald", str(img),
                                   "--out", str(tmp_path), "--overwrite"])
    assert msg == (f"s2sr evaluate: error: {tmp_path}: holds the input {model}, which replacing it would delete; "
                   "choose another output folder")
    assert model.is_file() and img.is_file()


def test_cli_degrade_then_evaluate_pair(make_raster, bicubic_model, tmp_path, capsys) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 66, 64), 2), nodata=None)
    assert main(["-q", "degrade", str(img), str(tmp_path / "d"), "--scale", "2"]) == 0
    out = tmp_path / "ev"
    assert main(["-q", "evaluate", "--model", str(bicubic_model(2)), "--lr", str(tmp_path / "d" / "lr.tif"),
                 "--hr", str(tmp_path / "d" / "hr.tif"), "--out", str(out), "--no-sr"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{out / 'report.html'}: model PSNR ") and "vs bicubic" in line
    assert (out / "metrics.json").is_file() and not (out / "sr.tif").exists()


@pytest.mark.parametrize("missing", ["test"])
def test_split_areas_messages(tmp_path, missing) -> None:
    from s2sr.data.dataset import open_dataset
    from s2sr.errors import InputError

    with pytest.raises(InputError, match=f"no {missing} split"):
        open_dataset(tmp_path).split_areas()


def test_split_from_a_real_prepared_dataset(bicubic_model, tmp_path) -> None:
    from s2sr.data.prepare import PrepareConfig, prepare
    from s2sr.data.store import open_split
    from s2sr.synth import synthesise

    syn = synthesise(tmp_path / "scene", seed=0, size=256, scale=4)
    prepare(PrepareConfig(pairs=[(syn.lr, syn.hr)], scale=4, patch_size=16, split_block=36, out=tmp_path / "ds"))
    n_test = len(open_split(tmp_path / "ds", "test"))
    assert n_test > 0
    res = evaluate(make_eval_config(model=bicubic_model(4), lr=syn.lr, hr=syn.hr, split_from=tmp_path / "ds",
                               out=tmp_path / "ev", progress=False))
    # every test patch (16 LR px = 64 fine px square) is scored, nothing else (the synthetic
    # nodata edge and cloud are rejected by prepare, so test patches are fully valid)
    assert res.pixels == n_test * 64 * 64


def test_degrade_empty_outdir_is_refused(make_raster, tmp_path, capsys, monkeypatch) -> None:
    """`s2sr degrade IMG ""` used to write hr.tif/lr.tif into the current folder."""
    img = make_raster("img.tif", shape=(4, 32, 32))
    monkeypatch.chdir(tmp_path)
    msg = _one_line_error(capsys, ["-q", "degrade", str(img), "", "--scale", "2"])
    assert msg == "s2sr degrade: error: OUTDIR '': empty folder name; pass a folder such as pair (or . for this folder)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif"]


def test_degrade_missing_input_is_one_line_and_creates_nothing(tmp_path, capsys) -> None:
    msg = _one_line_error(capsys, ["-q", "degrade", str(tmp_path / "nope.tif"), str(tmp_path / "out"), "--scale", "4"])
    assert msg == f"s2sr degrade: error: {tmp_path / 'nope.tif'}: file not found; check the path"
    assert not (tmp_path / "out").exists()
