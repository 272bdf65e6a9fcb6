"""The training loop on tiny seeded stores: it learns, writes a usable run, resumes exactly."""

from __future__ import annotations

import csv
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import s2sr
from s2sr.errors import ConfigError, InputError, OutputError
from s2sr.sensor import SensorModel
from s2sr.train.config import load_config
from s2sr.train.data import batch_indices
from s2sr.train.run import train

TINY = {"arch": "light", "model.kwargs": {"width": 8, "depth": 2}, "batch_size": 4,
        "run.val_every": 4, "run.log_every": 1, "run.val_patches": 8, "run.tensorboard": False,
        "optim.warmup_steps": 0}


def _cfg(**over: Any) -> Any:
    return load_config(None, {**TINY, **over})


def _train_losses(run: Path) -> dict[int, str]:
    with open(run / "metrics.csv", newline="") as f:
        return {int(r["step"]): r["loss"] for r in csv.DictReader(f) if r["phase"] == "train"}


def test_tiny_overfit_loss_falls(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    ds = tiny_store(n_train=4, n_val=4, lr_patch=8, scale=2)
    cfg = _cfg(max_steps=60, **{"run.augment": False, "optim.lr": 3e-3, "run.val_every": 60,
                                "model.kwargs": {"width": 16, "depth": 3}, "optim.schedule": "constant"})
    res = train(ds, tmp_path / "run", cfg)
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 60
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_run_folder_is_complete_and_model_loads(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    run = tmp_path / "run"
    res = train(ds, run, _cfg(max_steps=6, **{"run.tensorboard": True}))
    assert res.best == run / "best.pt" and res.steps == 6
    for key in ("val_psnr", "bicubic_psnr", "val_ssim", "bicubic_ssim", "val_consistency", "steps", "seconds"):
        assert key in res.metrics
    assert (run / "MODEL_CARD.md").read_text().count("bicubic") >= 1
    assert list((run / "tb").iterdir())
    assert load_config(run / "config.json", {}) == _cfg(max_steps=6, **{"run.tensorboard": True})
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows if r["phase"] == "val"] == [4, 6]

    bundle = s2sr.load_model(res.best)
    assert bundle.arch == "light" and bundle.scale == 2 and bundle.bands == ["B2", "B3", "B4", "B8"]
    assert bundle.input_res == 10.0 and bundle.sensor == SensorModel(2, 0.3)
    assert bundle.arch_kwargs == {"width": 8, "depth": 2, "in_ch": 4, "scale": 2, "mtf_nyquist": 0.3}
    assert bundle.provenance["data"] == str(ds.resolve()) and bundle.provenance["prepare"]["scale"] == 2
    assert bundle.metrics["val_psnr"] == pytest.approx(res.metrics["val_psnr"])
    lr = np.full((4, 6, 5), 2000.0, np.float32)
    out = bundle.predict(lr)
    assert out.shape == (4, 12, 10) and out.dtype == np.float32
    # residual over bicubic from a near-bicubic start: a flat field stays near flat
    assert np.abs(out - 2000.0).max() < 300


def test_validation_matches_independent_bicubic_psnr(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    from s2sr.data.store import open_split

    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    res = train(ds, tmp_path / "run", _cfg(max_steps=1))
    va = open_split(ds, "val")
    lr, hr = torch.from_numpy(np.array(va.lr)), torch.from_numpy(np.array(va.hr)).double()
    bic = torch.nn.functional.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False).double()
    mse = float(((bic - hr) ** 2).mean())
    assert res.metrics["bicubic_psnr"] == pytest.approx(10 * np.log10(1e8 / mse), abs=1e-6)


def test_resume_after_ctrl_c_reproduces_uninterrupted_run(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    ds = tiny_store(n_train=6, n_val=4, lr_patch=8, scale=2)
    over = {"max_steps": 8, "gan.enabled": True, "gan.start_step": 2,
            "gan.d_kwargs": {"width": 4, "stages": 2}, "loss.ssim_weight": 0.1}
    full = train(ds, tmp_path / "a", _cfg(**over))
    assert "d_loss" not in full.history[1] and "d_loss" in full.history[2]  # stage 2 from step 2

    def ctrl_c(step: int, values: dict[str, float]) -> None:
        if step == 3:
            signal.raise_signal(signal.SIGINT)  # graceful: finish the step, save, stop

    with pytest.raises(KeyboardInterrupt):
        train(ds, tmp_path / "b", _cfg(**over), on_step=ctrl_c)
    assert (tmp_path / "b" / "last.pt").is_file()
    assert max(_train_losses(tmp_path / "b")) == 3
    resumed = train(None, tmp_path / "b", _cfg(**over), resume=True)
    assert resumed.steps == 8
    assert _train_losses(tmp_path / "b") == _train_losses(tmp_path / "a")
    assert resumed.metrics["val_psnr"] == full.metrics["val_psnr"]
    wa, wb = (torch.load(tmp_path / r / "best.pt", weights_only=True)["state_dict"] for r in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_existing_run_and_mismatched_resume(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    ds = tiny_store(n_train=4, n_val=4, lr_patch=8, scale=2)
    run = tmp_path / "run"
    train(ds, run, _cfg(max_steps=1))
    with pytest.raises(OutputError, match=f"{run}: already holds a training run; pass --resume"):
        train(ds, run, _cfg(max_steps=1))
    with pytest.raises(ConfigError, match="the model section differs from the run being resumed"):
        train(ds, run, _cfg(max_steps=2, **{"model.kwargs": {"width": 4}}), resume=True)
    with pytest.raises(InputError, match="no patch store split 'train'"):
        train(tmp_path / "nothing", tmp_path / "run2", _cfg(max_steps=1))
    assert not (tmp_path / "run2").exists()


def test_empty_out_is_refused_not_written_into_cwd(tiny_store: Callable[..., Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ds = tiny_store(n_train=4, n_val=4, lr_patch=8, scale=2)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(OutputError) as e:
        train(ds, Path(""), _cfg(max_steps=1))
    assert str(e.value) == "output path '.' has no folder name; pass a run folder such as --out run"
    assert list(work.iterdir()) == []


def test_minutes_cap_and_missing_prepare_json(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    ds = tiny_store(n_train=4, n_val=4, lr_patch=8, scale=3, prepare_json=False)
    res = train(ds, tmp_path / "run", _cfg(max_steps=50, minutes=1e-6))
    assert res.steps == 1
    b = s2sr.load_model(res.best)
    assert b.scale == 3 and b.input_res is None


def test_consistency_model_is_lr_consistent_end_to_end(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    ds = tiny_store(n_train=4, n_val=4, lr_patch=8, scale=2)
    res = train(ds, tmp_path / "run", _cfg(max_steps=2, **{"model.kwargs": {"width": 8, "depth": 2, "consistency": True}}))
    assert res.metrics["val_consistency"] < 0.05  # input units (x 10000 reflectance)
    assert res.metrics["bicubic_consistency"] > 5
    b = s2sr.load_model(res.best)
    lr = np.random.default_rng(0).uniform(500, 3000, (4, 10, 10)).astype(np.float32)
    err = np.abs(SensorModel(2, 0.3).degrade(b.predict(lr).astype(np.float64)) - lr).max()
    assert err < 0.05


def test_cli_train_and_errors(tiny_store: Callable[..., Path], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from s2sr.cli.main import main

    ds = tiny_store(n_train=4, n_val=4, lr_patch=8, scale=2)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[model]\narch = "light"\nkwargs = { width = 8, depth = 2 }\n'
                   "[run]\nval_every = 2\ntensorboard = false\n")
    rc = main(["train", "--data", str(ds), "--config", str(cfg), "--out", str(tmp_path / "r"),
               "--max-steps", "2", "--batch-size", "2", "--seed", "3", "--device", "cpu"])
    assert rc == 0
    assert "val PSNR" in capsys.readouterr().out
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["run"]["seed"] == 3 and saved["run"]["batch_size"] == 2
    rc = main(["train", "--resume", str(tmp_path / "r"), "--max-steps", "3"])
    assert rc == 0 and json.loads((tmp_path / "r" / "config.json").read_text())["run"]["max_steps"] == 3
    best = tmp_path / "r" / "best.pt"
    rc = main(["train", "--data", str(ds), "--config", str(cfg), "--out", str(tmp_path / "ft"), "--init", str(best),
               "--max-steps", "1", "--batch-size", "2"])
    assert rc == 0 and json.loads((tmp_path / "ft" / "config.json").read_text())["run"]["init"] == str(best)
    capsys.readouterr()
    rc = main(["train", "--data", str(ds), "--config", "demo", "--out", str(tmp_path / "ft2"), "--init", str(best)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith(f"s2sr train: error: run.init {best}: its model is light")
    assert not (tmp_path / "ft2").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nbatch_size = -2\n")
    rc = main(["train", "--data", str(ds), "--config", str(bad), "--out", str(tmp_path / "r2")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith(f"s2sr train: error: {bad}: run.batch_size:")


def test_random_crops_are_seeded_and_keep_lr_and_hr_aligned(tiny_store: Callable[..., Path]) -> None:
    from s2sr.data.store import open_split
    from s2sr.train.data import Batches

    split = open_split(tiny_store(), "train")
    p, s = split.lr_patch, split.scale
    mean, std = np.zeros(len(split.bands), np.float32), np.ones(len(split.bands), np.float32)
    b = Batches(split, 4, 0, mean, std, augment=False, crop=p // 2)
    lr, hr = b.get(3)
    assert lr.shape[-1] == p // 2 and hr.shape[-1] == p // 2 * s
    lr2, hr2 = Batches(split, 4, 0, mean, std, augment=False, crop=p // 2).get(3)
    assert torch.equal(lr, lr2) and torch.equal(hr, hr2)
    (r, c), = b._offsets(3, 1)[:1]
    i = int(batch_indices(len(split), 4, 3, 0)[0])
    np.testing.assert_array_equal(lr[0].numpy(), np.asarray(split.lr[i])[:, r:r + p // 2, c:c + p // 2])
    np.testing.assert_array_equal(hr[0].numpy(), np.asarray(split.hr[i])[:, r * s:(r + p // 2) * s, c * s:(c + p // 2) * s])
    with pytest.raises(InputError, match="larger than the stored patches"):
        Batches(split, 4, 0, mean, std, augment=False, crop=p + 1)


def test_bundle_stores_training_input_percentiles(tiny_store: Callable[..., Path], tmp_path: Path) -> None:
    from s2sr.bundle import load_model

    res = train(tiny_store(), tmp_path / "run", _cfg(max_steps=2))
    st = load_model(res.best).input_stats
    assert set(st) == {"p01", "p50", "p99"} and len(st["p50"]) == 4
    assert all(a <= b <= c for a, b, c in zip(st["p01"], st["p50"], st["p99"], strict=True))


def test_init_fine_tunes_from_a_model_and_keeps_its_normalisation(tiny_store: Callable[..., Path],
                                                                  tmp_path: Path) -> None:
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    first = train(ds, tmp_path / "a", _cfg(max_steps=4)).best
    base = s2sr.load_model(first)
    tuned = train(ds, tmp_path / "b", _cfg(max_steps=1, **{"run.init": str(first), "optim.lr": 1e-9,
                                                          "loss.hallucination_weight": 1.0}))
    b = s2sr.load_model(tuned.best)
    np.testing.assert_array_equal(b.mean, base.mean)
    for k, v in base.module.state_dict().items():  # one step at lr 1e-9 (EMA of the same start)
        torch.testing.assert_close(b.module.state_dict()[k], v, atol=1e-6, rtol=0)
    assert b.train_config["run"]["init"] == str(first)
    with pytest.raises(ConfigError, match=r"run.init .*copy its \[model\] section"):
        train(ds, tmp_path / "c", _cfg(max_steps=1, **{"run.init": str(first), "model.kwargs": {"width": 4, "depth": 2}}))
    ds4 = tiny_store("ds4", n_train=8, n_val=4, lr_patch=8, scale=4)
    with pytest.raises(ConfigError, match="model is x2 with 4 bands, the data x4"):
        train(ds4, tmp_path / "d", _cfg(max_steps=1, **{"run.init": str(first)}))
