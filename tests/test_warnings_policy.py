"""Any warning fails the suite; only justified third-party ones are ignored (issue 13, item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    test = tmp_path / "test_policy_probe.py"
    test.write_text(body)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
                           "-p", "no:cacheprovider", "-q", str(test)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)


def test_a_new_warning_fails_the_suite(tmp_path):
    r = _run_pytest(tmp_path, "import warnings\n\ndef test_x():\n    warnings.warn('something new')\n")
    assert r.returncode == 1 and "UserWarning: something new" in r.stdout


def test_rasterios_own_affine_deprecation_is_the_only_kind_ignored(tmp_path):
    body = (
        "import pytest, warnings\n"
        "from affine import Affine\n"
        "from rasterio.windows import Window, transform\n\n"
        "def test_rasterio_internal():\n"
        "    transform(Window(1, 2, 3, 4), Affine.identity())  # rasterio's own `*`: ignored\n\n"
        "def test_own_code():\n"
        "    Affine.identity() * (1, 2)  # the same deprecation from our code: fails\n"
    )
    r = _run_pytest(tmp_path, body)
    assert r.returncode == 1 and "1 failed, 1 passed" in r.stdout
    assert "test_own_code" in r.stdout and "PendingDeprecationWarning" in r.stdout
