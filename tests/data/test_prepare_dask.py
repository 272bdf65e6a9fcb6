"""prepare --dask: the patches are cut on a Dask cluster, and the dataset is the same, byte for byte."""

from __future__ import annotations

import json

import pytest

from s2sr.data.config import PrepareConfig
from s2sr.data.prepare import prepare


@pytest.mark.slow
def test_prepare_on_a_local_cluster_writes_the_same_store(synth_scene, tmp_path):
    s = synth_scene(0, 512)
    kw = dict(pairs=[(s.lr, s.hr)], scale=4, patch_size=16, coregister=True, harmonise=True)
    here = prepare(PrepareConfig(out=tmp_path / "here", **kw))
    there = prepare(PrepareConfig(out=tmp_path / "there", **kw), dask="local:2")
    assert here.counts == there.counts and here.counts["train"] > 10  # 49 blocks: 4 chunks of up to 16
    files = sorted(p.relative_to(here.out) for p in here.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(there.out) for p in there.out.rglob("*") if p.is_file())
    for f in files:
        a, b = (here.out / f).read_bytes(), (there.out / f).read_bytes()
        if f.name == "prepare.json":  # the output folder is named in the manifest
            a, b = (json.dumps({k: v for k, v in json.loads(x).items() if k != "config"}).encode() for x in (a, b))
        assert a == b, f
