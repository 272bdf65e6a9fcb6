"""apply --uncertainty: a second COG beside the SR, the SR itself unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from s2sr.bundle import load_model
from s2sr.cli.main import main
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.uncertainty.section import head_of


def _read(p):
    with rasterio.open(p) as ds:
        return ds.read()


def _scene(make_raster):
    data = (1500 + 600 * np.random.default_rng(3).random((4, 70, 61))).astype(np.uint16)
    data[:, :6, :9] = 0  # a nodata corner
    return make_raster("in.tif", data=data, nodata=0)


def test_sr_is_bit_identical_and_the_uncertainty_file_is_described(make_raster, headed_pt, tmp_path) -> None:
    src = _scene(make_raster)
    opts = dict(tile=24, overlap=6, progress=False)
    plain = apply_model(headed_pt, src, tmp_path / "plain.tif", ApplyConfig(**opts))
    res = apply_model(headed_pt, src, tmp_path / "with.tif", ApplyConfig(uncertainty=True, **opts))
    assert plain.uncertainty_path is None and not (tmp_path / "plain.uncertainty.tif").exists()
    assert res.uncertainty_path == tmp_path / "with.uncertainty.tif"
    assert np.array_equal(_read(tmp_path / "plain.tif"), _read(tmp_path / "with.tif"))
    with rasterio.open(tmp_path / "with.tif") as sr, rasterio.open(res.uncertainty_path) as u:
        assert (u.width, u.height, u.transform, u.crs) == (sr.width, sr.height, sr.transform, sr.crs)
        assert u.dtypes == sr.dtypes == ("uint16",) * 4 and u.nodata == sr.nodata == 0
        assert u.descriptions == tuple(f"{b}: half-width of the 90 % interval (output units)"
                                       for b in ("B2", "B3", "B4", "B8"))
        tags = u.tags()
        assert tags["S2SR_UNCERTAINTY_LEVEL"] == "0.9" and tags["S2SR_UNCERTAINTY_CALIBRATED_ON"] == "cal-scene"
        hw, srd = u.read(), sr.read()
    assert np.array_equal(hw == 0, srd == 0)  # nodata where the SR is nodata, and only there
    assert hw[:, 40:, 40:].min() >= 1
    assert not list(tmp_path.glob(".*partial*"))


def test_half_widths_equal_the_head_over_the_whole_image(make_raster, headed_pt, tmp_path) -> None:
    """Tiled, blended and cropped to the head's receptive field, the output is the head's whole-image value
    (away from the scene edges, where tiles see mirrored input and the whole image zero padding)."""
    src = make_raster("in.tif", shape=(4, 96, 84), seed=4, nodata=None)
    res = apply_model(headed_pt, src, tmp_path / "sr.tif",
                      ApplyConfig(tile=20, overlap=4, progress=False, uncertainty=True, uncertainty_level=0.8,
                                  out_dtype="float32"))
    bundle = load_model(headed_pt)
    lr = _read(src).astype(np.float32)
    sr = bundle.predict(lr)
    want = head_of(bundle).half_width(lr[None], sr[None], 0.8, bundle.mean, bundle.std)[0]
    got = _read(res.uncertainty_path)
    assert got.dtype == np.float32
    e = 4 * head_of(bundle).receptive_field  # fine pixels
    inner = (slice(None), slice(e, -e), slice(e, -e))
    np.testing.assert_allclose(got[inner], want[inner], rtol=1e-3, atol=1e-3)
    with rasterio.open(res.uncertainty_path) as u:
        assert u.descriptions[0] == "B2: half-width of the 80 % interval (output units)"


def test_dask_equals_local(make_raster, headed_pt, tmp_path) -> None:
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    src = _scene(make_raster)
    opts = dict(tile=24, overlap=6, progress=False, uncertainty=True)
    apply_model(headed_pt, src, tmp_path / "local.tif", ApplyConfig(**opts))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        apply_model(headed_pt, src, tmp_path / "dask.tif", ApplyConfig(dask=cluster.scheduler_address, **opts))
    for name in ("local", "dask"):
        assert (tmp_path / f"{name}.uncertainty.tif").exists()
    assert np.array_equal(_read(tmp_path / "local.uncertainty.tif"), _read(tmp_path / "dask.uncertainty.tif"))
    assert np.array_equal(_read(tmp_path / "local.tif"), _read(tmp_path / "dask.tif"))


def test_resume_finishes_an_interrupted_uncertainty_output(make_raster, headed_pt, tmp_path, monkeypatch) -> None:
    """A run whose SR finished but whose uncertainty output was cut short: --resume completes the
    uncertainty from its journal and the result equals an uninterrupted run."""
    import json

    from s2sr.infer.output import RunOutput

    src = _scene(make_raster)
    # 64 px blocks: the 280 x 244 output has 20 + 6 + 2 + 1 blocks per output, so a cut journal leaves work
    opts = dict(tile=16, overlap=4, progress=False, uncertainty=True, creation_options={"BLOCKSIZE": "64"})
    full = apply_model(headed_pt, src, tmp_path / "ref.tif", ApplyConfig(**opts))
    # simulate the kill: keep a run's block stores and journals (no COG assembled, nothing removed), then drop
    # all but the first 3 journaled blocks of the uncertainty output
    work = tmp_path / "w"
    work.mkdir()
    with monkeypatch.context() as m:
        m.setattr(RunOutput, "assemble", lambda self: 0)
        m.setattr(RunOutput, "remove", lambda self: None)
        apply_model(headed_pt, src, work / "out.tif", ApplyConfig(**opts))
    assert not (work / "out.tif").exists() and not (work / "out.uncertainty.tif").exists()
    journal = work / ".out.uncertainty.tif.partial.jsonl"
    lines = journal.read_text().splitlines()
    blocks = [b for line in lines[1:] for b in json.loads(line)["blocks"]]
    assert len(blocks) == 29
    journal.write_text("\n".join([lines[0], json.dumps({"blocks": blocks[:3]})]) + "\n")
    res = apply_model(headed_pt, src, work / "out.tif", ApplyConfig(resume=True, **opts))
    assert res.blocks_resumed == 29 and 0 < res.tiles_computed < full.tiles_computed  # the SR was complete
    for name in ("out.tif", "out.uncertainty.tif"):
        assert (work / name).read_bytes() == (tmp_path / name.replace("out", "ref")).read_bytes()
    assert not list(work.glob(".*partial*"))


def test_uncertainty_errors_are_one_line(make_raster, bicubic_pt, headed_pt, tmp_path, capsys) -> None:
    src = _scene(make_raster)
    rc = main(["-q", "apply", str(bicubic_pt), str(src), str(tmp_path / "o.tif"), "--uncertainty"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert err.startswith(f"s2sr apply: error: --uncertainty: model {bicubic_pt} has no uncertainty head; attach one")
    assert not list(tmp_path.glob("o*")) and not list(tmp_path.glob(".o*"))
    rc = main(["-q", "apply", str(headed_pt), str(src), str(tmp_path / "o.tif"), "--uncertainty",
               "--uncertainty-level", "87"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("s2sr apply: error: --uncertainty-level 87: level 0.87 is not calibrated")
    rc = main(["-q", "apply", str(headed_pt), str(src), str(tmp_path / "o.tif"), "--uncertainty",
               "--uncertainty-level", "100"])
    assert rc == 2 and "choose a level in (0, 100) %" in capsys.readouterr().err


def test_cli_prints_both_outputs(make_raster, headed_pt, tmp_path, capsys) -> None:
    src = _scene(make_raster)
    out = tmp_path / "sr.tif"
    assert main(["-q", "apply", str(headed_pt), str(src), str(out), "--uncertainty", "--uncertainty-level", "95",
                 "--tile", "32"]) == 0
    assert capsys.readouterr().out.split() == [str(out), str(tmp_path / "sr.uncertainty.tif")]
    with rasterio.open(tmp_path / "sr.uncertainty.tif") as u:
        assert u.tags()["S2SR_UNCERTAINTY_LEVEL"] == "0.95"


def test_resume_knows_both_finished_outputs(make_raster, headed_pt, tmp_path) -> None:
    """--resume: complete when the SR and its uncertainty file of this run are there; a missing uncertainty
    file is computed again (the SR comes out the same)."""
    src = _scene(make_raster)
    out, unc = tmp_path / "o.tif", tmp_path / "o.uncertainty.tif"
    opts = dict(tile=24, overlap=6, progress=False, uncertainty=True, resume=True)
    first = apply_model(headed_pt, src, out, ApplyConfig(**opts))
    sr_bytes, unc_bytes = out.read_bytes(), unc.read_bytes()
    with rasterio.open(out) as a, rasterio.open(unc) as b:
        assert a.tags()["S2SR_RUN"] != b.tags()["S2SR_RUN"]  # each file has its own run id
        assert list(b.colorinterp)[1:] == [ColorInterp.undefined] * 3  # half-widths, not true colour
    again = apply_model(headed_pt, src, out, ApplyConfig(**opts))
    assert not first.already_complete and again.already_complete and again.tiles_computed == 0
    assert again.uncertainty_path == unc
    unc.unlink()
    third = apply_model(headed_pt, src, out, ApplyConfig(**opts))
    assert not third.already_complete and third.tiles_computed == first.tiles_computed
    assert out.read_bytes() == sr_bytes and unc.read_bytes() == unc_bytes


def test_a_corrupt_input_leaves_neither_output(make_raster, corrupt_block, headed_pt, tmp_path, capsys) -> None:
    src = corrupt_block(make_raster(shape=(4, 64, 64), tiled=True, blockxsize=16, blockysize=16, compress="deflate"))
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(headed_pt), str(src), str(out), "--tile", "32", "--uncertainty"]) == 2
    assert "pixel data is corrupt or truncated" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["headed.pt", src.name])


def test_onnx_export_and_backend_of_a_model_with_a_head(make_raster, headed_pt, tmp_path) -> None:
    """The shipped model has a head: export leaves it out of the ONNX metadata (its weights are not
    JSON) and apply --backend onnx gives the torch SR."""
    import json

    import onnx

    from s2sr.infer.export import ONNX_META_KEY, export_onnx

    out = export_onnx(headed_pt, tmp_path / "m.onnx")
    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}[ONNX_META_KEY])
    assert "uncertainty" not in meta and meta["arch"]
    src = _scene(make_raster)
    apply_model(headed_pt, src, tmp_path / "torch.tif", ApplyConfig(tile=24, overlap=6, progress=False))
    apply_model(headed_pt, src, tmp_path / "onnx.tif", ApplyConfig(tile=24, overlap=6, progress=False,
                                                                   backend="onnx"))
    a, b = _read(tmp_path / "torch.tif").astype(float), _read(tmp_path / "onnx.tif").astype(float)
    assert np.abs(a - b).max() <= 1.0
