"""The README's Wald example works as written on a 600 x 600 px scene (issue 13, item 3).

The commands are read from README.md itself; only the training time is cut (``--minutes 10``
becomes ``--max-steps 2``): what is tested is that degrade, prepare and train accept them.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import rasterio
from affine import Affine

from s2sr.cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"
DSEN2 = "dsen2/S2A_MSIL1C_20170527_T33UUB_10m.tif"  # 600 x 600 px, real L1C, no CRS


def readme_wald_commands() -> list[list[str]]:
    text = README.read_text()
    block = re.search(r"```bash\n(s2sr degrade S2\.tif.*?)```", text, re.S)
    assert block, "README.md lost its Wald example (s2sr degrade S2.tif ...)"
    cmds = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            argv = shlex.split(line)
            assert argv[0] == "s2sr"
            cmds.append(argv[1:])
    assert [c[0] for c in cmds] == ["degrade", "prepare", "train"]
    return cmds


def run_readme(image: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(cwd)
    (cwd / "S2.tif").symlink_to(image)
    for argv in readme_wald_commands():
        if argv[0] == "train":
            i = argv.index("--minutes")
            argv = argv[:i] + ["--max-steps", "2"] + argv[i + 2:]
        assert main(["-q", *argv]) == 0, argv
    doc = json.loads((cwd / "ds_wald" / "prepare.json").read_text())
    assert all(doc["counts"][s] > 0 for s in ("train", "val", "test")), doc["counts"]
    assert (cwd / "run_wald" / "best.pt").is_file()
    return doc


def test_readme_wald_example_on_a_600px_scene(s2_data, tmp_path, monkeypatch):
    img = tmp_path / "s2_600.tif"
    with rasterio.open(img, "w", driver="GTiff", width=600, height=600, count=4, dtype="uint16", crs="EPSG:32631",
                       transform=Affine(10, 0, 399960, 0, -10, 5000040)) as ds:
        ds.write(s2_data((4, 600, 600), seed=11))
        ds.descriptions = ("B2", "B3", "B4", "B8")
    (tmp_path / "work").mkdir()
    doc = run_readme(img, tmp_path / "work", monkeypatch)
    assert doc["split"]["block_lr_px"] < 4 * 32 + 2 * 4  # 150 LR px: the default 136 px block gave one block


@pytest.mark.shared_data
def test_readme_wald_example_on_real_sentinel2(shared_data, tmp_path, monkeypatch):
    img = shared_data / DSEN2
    if not img.is_file():
        pytest.skip(f"{img} not found in the shared data")
    (tmp_path / "work").mkdir()
    run_readme(img, tmp_path / "work", monkeypatch)
