"""Faults of `s2sr train` that gave tracebacks or blamed the wrong thing (issue 11, items 3, 4, 8, 11)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

TINY = {"model": {"arch": "light", "kwargs": {"width": 8, "depth": 2}},
        "run": {"batch_size": 4, "val_every": 2, "max_steps": 4, "val_patches": 8, "tensorboard": False,
                "ckpt_every": 2, "log_every": 1}}


def _config(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(TINY))
    return p


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_disk_full_while_writing_a_checkpoint_is_one_line(tiny_store: Callable[..., Path], small_disk, tmp_path,
                                                           capsys, cli) -> None:
    """Item 3: ENOSPC inside torch.save was a RuntimeError traceback (inline_container.cc:672)."""
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    disk = small_disk(40)  # config, metrics and best.pt fit; last.pt (optimizer state too) does not
    run = disk / "run"
    assert cli(["-q", "train", "--data", str(ds), "--out", str(run), "--config", str(_config(tmp_path))]) == 2
    assert _err(capsys) == f"s2sr train: error: {run / 'last.pt'}: disk full while writing; free space or write elsewhere\n"
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name]


def test_out_in_a_read_only_folder_is_one_line(tiny_store: Callable[..., Path], unwritable_dir, tmp_path,
                                               capsys, cli) -> None:
    """Item 4: --out in a folder the user cannot write raised PermissionError (here EROFS as well)."""
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    run = unwritable_dir / "run"
    assert cli(["-q", "train", "--data", str(ds), "--out", str(run), "--config", str(_config(tmp_path))]) == 2
    err = _err(capsys)
    assert err.startswith(f"s2sr train: error: {run}: cannot write (")
    assert err.endswith("); choose a writable folder or fix its permissions\n")


CLI = "import sys\nfrom s2sr.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"


def _drop_dac_override() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: root then obeys file modes
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl failed")


def test_out_in_a_folder_without_write_permission_is_one_line(tiny_store: Callable[..., Path], tmp_path) -> None:
    """Item 4, as reported: PermissionError (EACCES) from mkdir. Root runs without its file-mode override."""
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    run = locked / "run"
    p = subprocess.run([sys.executable, "-c", CLI, "-q", "train", "--data", str(ds), "--out", str(run), "--config",
                        str(_config(tmp_path))], capture_output=True, text=True, timeout=300,
                       preexec_fn=_drop_dac_override if os.geteuid() == 0 else None)
    assert p.returncode == 2
    assert p.stderr == (f"s2sr train: error: {run}: cannot write (Permission denied); choose a writable folder or "
                        "fix its permissions\n")


def test_corrupt_store_meta_json_is_one_line(tiny_store: Callable[..., Path], tmp_path, capsys, cli) -> None:
    """Item 8: a corrupt store/<split>/meta.json raised JSONDecodeError."""
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    meta = ds / "store" / "train" / "meta.json"
    meta.write_text('{"count": 8, "bands": [')
    run = tmp_path / "run"
    assert cli(["-q", "train", "--data", str(ds), "--out", str(run), "--config", str(_config(tmp_path))]) == 2
    err = _err(capsys)
    assert err.startswith(f"s2sr train: error: {meta}: not valid JSON (")
    assert err.endswith("; the store is damaged; re-run `s2sr prepare`\n")
    meta.write_text('{"count": 8}')
    assert cli(["-q", "train", "--data", str(ds), "--out", str(run), "--config", str(_config(tmp_path))]) == 2
    assert _err(capsys) == (f"s2sr train: error: {meta}: missing or invalid count, bands, lr_patch, hr_patch or "
                            "scale; the store is damaged; re-run `s2sr prepare`\n")
    assert not run.exists()


def test_set_error_names_the_option_not_the_builtin_config(tiny_store: Callable[..., Path], tmp_path, capsys, cli) -> None:
    """Item 11: `--config light --set optim.lr=-1` blamed .../configs/light.toml."""
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    out = tmp_path / "run"
    assert cli(["-q", "train", "--data", str(ds), "--out", str(out), "--config", "light", "--set", "optim.lr=-1"]) == 2
    assert _err(capsys) == ("s2sr train: error: --set optim.lr=-1: optim.lr: Input should be greater than 0; fix the "
                            "option (see docs/training.md for the keys)\n")
    assert cli(["-q", "train", "--data", str(ds), "--out", str(out), "--config", "light", "--set", "run.bogus=1"]) == 2
    assert _err(capsys) == ("s2sr train: error: --set run.bogus=1: run.bogus: unknown key; fix the option "
                            "(see docs/training.md for the keys)\n")
    bad = tmp_path / "bad.json"
    bad.write_text('{"optim": {"lr": -1}}')
    assert cli(["-q", "train", "--data", str(ds), "--out", str(out), "--config", str(bad), "--seed", "3"]) == 2
    assert _err(capsys).startswith(f"s2sr train: error: {bad}: optim.lr: Input should be greater than 0")


def test_nan_patches_are_named_not_the_learning_rate(tiny_store: Callable[..., Path], tmp_path, capsys, cli) -> None:
    """Item 11: a store of all-NaN patches read "training diverged ...; lower optim.lr"."""
    ds = tiny_store(n_train=8, n_val=4, lr_patch=8, scale=2)
    for name in ("lr.f32", "hr.f32"):
        f = ds / "store" / "train" / name
        f.write_bytes(np.full(f.stat().st_size // 4, np.nan, "<f4").tobytes())
    out = tmp_path / "run"
    assert cli(["-q", "train", "--data", str(ds), "--out", str(out), "--config", str(_config(tmp_path))]) == 2
    assert _err(capsys) == (f"s2sr train: error: {ds / 'store' / 'train'}: the training patches hold NaN or infinite "
                            "values; re-run `s2sr prepare` on the source images\n")
    assert not out.exists()
