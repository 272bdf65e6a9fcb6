"""Installed models: the registry, loading by name, the one resolver, and ``s2sr models``."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

import s2sr
from s2sr.bundle import load_model
from s2sr.cli.main import main
from s2sr.errors import ConfigError, ModelError
from s2sr.models import installed_models, resolve_model
from s2sr.models.listing import list_models
from s2sr.models.registry import REGISTRY_FILE

from ..conftest import S2_STATS, make_bundle

PACKAGE_MODELS = Path(s2sr.__file__).parent / "models"
MAX_BYTES = 8 * 2**20


def test_shipped_registry_is_valid_and_packaged() -> None:
    """The registry that ships parses; each entry's bundle, card and notes are there, small, and load by name."""
    models = installed_models(PACKAGE_MODELS)
    for name, m in models.items():
        assert m.path.parent == PACKAGE_MODELS and m.path.is_file(), name
        assert m.path.stat().st_size <= MAX_BYTES, f"{name}: {m.path.stat().st_size} bytes"
        assert m.card is not None and m.card.is_file(), f"{name}: no model card"
        assert m.attribution, f"{name}: no training data attribution in {REGISTRY_FILE}"
        bundle = load_model(m.path)
        assert bundle.input_stats and bundle.input_res, f"{name}: bundle without input_stats/input_res"
    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["s2sr"]
    shipped = [p.relative_to(PACKAGE_MODELS.parent).as_posix() for p in PACKAGE_MODELS.iterdir()
               if p.suffix in (".toml", ".pt", ".md")]
    assert "models/registry.toml" in shipped
    for f in shipped:
        assert any(fnmatch.fnmatch(f, pat) for pat in patterns), f"{f} is not package data in pyproject.toml"


def test_load_by_name_equals_load_by_path(install_model) -> None:
    folder = install_model("tiny")
    by_name, by_path = s2sr.load_model("tiny"), s2sr.load_model(folder / "tiny.pt")
    assert by_name.path == str(folder / "tiny.pt")
    assert (by_name.arch, by_name.scale, by_name.bands) == ("bicubic", 4, ["B2", "B3", "B4", "B8"])
    assert by_name.input_stats == S2_STATS
    x = np.random.default_rng(0).uniform(500, 3000, (4, 9, 7)).astype(np.float32)
    np.testing.assert_array_equal(by_name.predict(x), by_path.predict(x))


def test_existing_path_wins_over_a_name(install_model, tmp_path, monkeypatch) -> None:
    install_model("tiny")
    work = tmp_path / "work"
    work.mkdir()
    make_bundle(input_stats=S2_STATS, input_res=20.0).save(work / "tiny")  # a local file that happens to be called tiny
    monkeypatch.chdir(work)
    assert resolve_model("tiny") == Path("tiny")
    assert s2sr.load_model("tiny").input_res == 20.0
    monkeypatch.chdir(tmp_path)
    assert s2sr.load_model("tiny").input_res == 10.0


def test_unknown_name_is_one_line_listing_installed_models(install_model) -> None:
    install_model("tiny")
    install_model("other")
    with pytest.raises(ModelError) as e:
        s2sr.load_model("tinyy")
    assert str(e.value) == ("tinyy: model file not found, and no installed model has that name (installed: tiny, "
                            "other); pass the path of RUN/best.pt (or of an .onnx export) or a name listed by "
                            "`s2sr models`")


def test_registered_file_missing(install_model) -> None:
    folder = install_model("tiny")
    (folder / "tiny.pt").unlink()
    with pytest.raises(ModelError, match=r"^tiny: the installed model's file .*tiny.pt is missing; reinstall s2sr"):
        resolve_model("tiny")


@pytest.mark.parametrize(("entry", "message"), [
    ('[models.x]\nfile = "x.pt"\nweights = "y"\n', r"\[models.x\] has unknown key\(s\) weights"),
    ('[models.x]\nfile = "/abs/x.pt"\n', r"file '/abs/x.pt' must be a file name beside the registry"),
    ('[models.x]\nfile = "../x.pt"\n', r"file '../x.pt' must be a file name beside the registry"),
    ('[models.x]\nfile = "x.onnx"\n', r"must be a model bundle \(\*.pt\)"),
    ('[models.x]\ncard = "x.md"\n', r'needs file = "x.pt"'),
    ('[models."a b"]\nfile = "x.pt"\n', r"model name 'a b' must be letters"),
    ('[models.x]\nfile = 3\n', r'needs file = "x.pt"'),
    ("[models.x\n", r"cannot parse"),
])
def test_bad_registry_entries_name_the_registry(tmp_path, monkeypatch, entry, message) -> None:
    (tmp_path / REGISTRY_FILE).write_text(entry)
    monkeypatch.setenv("S2SR_MODELS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=message) as e:
        resolve_model("x")
    assert str(e.value).startswith(str(tmp_path / REGISTRY_FILE))


def test_models_dir_without_registry(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("S2SR_MODELS_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as e:
        resolve_model("x")
    assert str(e.value) == (f"S2SR_MODELS_DIR={tmp_path}: no registry.toml in that folder; point S2SR_MODELS_DIR at "
                            "a folder with a registry.toml, or unset it to use the installed models")


def test_cli_models_empty(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / REGISTRY_FILE).write_text("[models]\n")
    monkeypatch.setenv("S2SR_MODELS_DIR", str(tmp_path))
    assert main(["models"]) == 0
    assert capsys.readouterr().out == (f"no models installed (registry: {tmp_path / REGISTRY_FILE}); pass a model "
                                       "file instead, e.g. s2sr apply RUN/best.pt IN.tif OUT.tif\n")
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_models_lists_name_arch_scale_bands_pixel_size_figures_card(install_model, capsys) -> None:
    metrics = {"val_psnr": 34.5, "bicubic_psnr": 32.25, "val_ssim": 0.9, "bicubic_ssim": 0.875, "step": 10}
    folder = install_model("tiny", make_bundle(input_stats=S2_STATS, metrics=metrics),
                           extra='description = "test model"\nattribution = "Contains modified Copernicus '
                                 'Sentinel data"\nlicence = "CC BY 4.0"\n')
    size = (folder / "tiny.pt").stat().st_size
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"tiny: bicubic x4, bands B2,B3,B4,B8, for 10 m pixels, {size / 1e6:.1f} MB - test model",
        "  validation: psnr 34.5 (bicubic 32.25), ssim 0.9 (bicubic 0.875)",
        f"  file: {folder / 'tiny.pt'}",
        f"  card: {folder / 'tiny.md'}",
        "  training data: Contains modified Copernicus Sentinel data",
        "  licence: CC BY 4.0",
    ]
    assert main(["models", "--json"]) == 0
    (d,) = json.loads(capsys.readouterr().out)
    assert d["name"] == "tiny" and d["arch"] == "bicubic" and d["scale"] == 4 and d["input_res"] == 10.0
    assert d["bands"] == ["B2", "B3", "B4", "B8"] and d["size_bytes"] == size
    assert d["validation"] == [{"metric": "psnr", "model": 34.5, "bicubic": 32.25},
                               {"metric": "ssim", "model": 0.9, "bicubic": 0.875}]
    assert d["card"] == str(folder / "tiny.md") and d["path"] == str(folder / "tiny.pt")


def test_list_models_without_card(install_model) -> None:
    install_model("bare", card=None)
    (m,) = list_models()
    assert m.card is None and m.validation == []


def test_export_and_onnx_apply_by_name(install_model, make_raster, tmp_path) -> None:
    """`s2sr export NAME out.onnx`: the ONNX carries the name; it applies like the bundle does."""
    import onnx

    install_model("tiny")
    out = tmp_path / "tiny.onnx"
    assert main(["-q", "export", "tiny", str(out)]) == 0
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["s2sr_bundle"])["name"] == "tiny"
    src = make_raster(shape=(4, 16, 16), data=_s2_like((4, 16, 16)))
    assert main(["-q", "apply", "tiny", str(src), str(tmp_path / "a.tif")]) == 0
    assert main(["-q", "apply", str(out), str(src), str(tmp_path / "b.tif"), "--backend", "onnx"]) == 0
    import rasterio

    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        assert a.tags()["S2SR_MODEL"] == "tiny"
        assert np.abs(a.read().astype(int) - b.read().astype(int)).max() <= 1


def test_evaluate_and_serve_card_by_name(install_model, make_raster, tmp_path) -> None:
    from s2sr.evaluate.config import make_eval_config
    from s2sr.evaluate.run import evaluate
    from s2sr.serve.card import load_card
    from s2sr.serve.config import load_config

    folder = install_model("tiny", card="# Tiny\ntrained on nothing\n")
    img = make_raster("img.tif", shape=(4, 64, 64), data=_s2_like((4, 64, 64)), nodata=None)
    res = evaluate(make_eval_config(model="tiny", wald=img, out=tmp_path / "ev", tile=16, progress=False))
    doc = json.loads(res.metrics_path.read_text())
    assert doc["model"] == {"arch": "bicubic", "path": str(folder / "tiny.pt")}
    card = load_card("tiny")
    assert card["arch"] == "bicubic" and card["markdown"] == "# Tiny\ntrained on nothing\n"
    cfg_file = tmp_path / "serve.toml"
    cfg_file.write_text(f'[[scenes]]\nsr = "{res.sr_path}"\nmodel = "tiny"\n')
    assert str(load_config(cfg_file).scenes[0].model) == "tiny"
    cfg_file.write_text(f'[[scenes]]\nsr = "{res.sr_path}"\nmodel = "best.pt"\n')
    assert load_config(cfg_file).scenes[0].model == tmp_path / "best.pt"


def test_torch_load_is_weights_only_for_installed_models(install_model) -> None:
    """An installed name goes through the same safe loader as a path (no pickled code runs)."""
    folder = install_model("tiny")
    torch.save({"format": "s2sr-model", "evil": object()}, folder / "tiny.pt")
    with pytest.raises(ModelError, match="holds Python objects other than weights and metadata"):
        s2sr.load_model("tiny")


def _s2_like(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Seeded smooth uint16 image whose bands sit in the S2 L1C B2,B3,B4,B8 ranges of S2_STATS."""
    rng = np.random.default_rng(seed)
    b = rng.normal(size=shape).cumsum(axis=1).cumsum(axis=2)
    b = (b - b.min(axis=(1, 2), keepdims=True)) / np.ptp(b, axis=(1, 2), keepdims=True)
    lo, hi = np.array(S2_STATS["p01"])[:, None, None], np.array(S2_STATS["p99"])[:, None, None]
    return (lo + (hi - lo) * b).astype("uint16")
