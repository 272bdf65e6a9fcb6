"""Fixtures for the prepare tests: cached small synthetic scenes and a prepare() runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from s2sr.data.config import PrepareConfig
from s2sr.data.prepare import prepare
from s2sr.synth import SynthResult, synthesise


@pytest.fixture(scope="session")
def synth_scene(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., SynthResult]:
    """``synth_scene(seed, size=512)``: a synthetic pair, made once per session."""
    cache: dict[tuple[int, int], SynthResult] = {}

    def _get(seed: int = 0, size: int = 512) -> SynthResult:
        key = (seed, size)
        if key not in cache:
            cache[key] = synthesise(tmp_path_factory.mktemp(f"synth{seed}_{size}"), seed=seed, size=size, scale=4)
        return cache[key]

    return _get


@pytest.fixture(scope="session")
def prepared(synth_scene: Callable[..., SynthResult], tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """``prepared(scene_seed, **cfg)``: prepare() on a synthetic scene, cached by arguments."""
    cache: dict[tuple[Any, ...], Any] = {}

    def _run(scene: int = 0, size: int = 512, **kw: Any) -> Any:
        key = (scene, size, tuple(sorted(kw.items())))
        if key not in cache:
            s = synth_scene(scene, size)
            out = tmp_path_factory.mktemp("prep") / "ds"
            kw.setdefault("patch_size", 16)
            cfg = PrepareConfig(pairs=[(s.lr, s.hr)], scale=4, out=out, **kw)
            cache[key] = (prepare(cfg), s)
        return cache[key]

    return _run

