"""Training config: defaults, built-ins, overrides, and one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2sr.errors import ConfigError
from s2sr.train.config import builtin_config, builtin_names, builtin_path, load_config


def test_defaults_and_overrides() -> None:
    c = load_config(None, {"arch": "srresnet", "max_steps": 7, "run.val_every": 3,
                           "minutes": None, "optim.lr": 1e-4, "model.kwargs": {"blocks": 2}})
    assert (c.model.arch, c.run.max_steps, c.run.val_every, c.optim.lr) == ("srresnet", 7, 3, 1e-4)
    assert c.model.kwargs == {"blocks": 2}
    assert c.run.minutes is None and c.run.batch_size == 16


def test_builtin_configs_load() -> None:
    assert {"demo", "light", "rrdb", "srresnet"} <= set(builtin_names())
    for name in builtin_names():
        cfg = builtin_config(name)
        assert cfg.model.arch in ("light", "srresnet", "rrdb", "equisr", "equifine")
        assert builtin_path(name).parent.name == "configs"
    assert builtin_config("srresnet").gan.enabled
    with pytest.raises(ConfigError, match="no built-in config 'nope'; choose one of"):
        builtin_config("nope")
    demo = builtin_config("demo", {"minutes": 1.5})
    assert demo.run.minutes == 1.5


def _write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_unknown_key_is_one_line_error_naming_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "[run]\nmax_stepz = 10\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, {})
    msg = str(e.value)
    assert msg.startswith(f"{p}: run.max_stepz: unknown key;")
    assert "\n" not in msg


@pytest.mark.parametrize("text,where", [
    ("[run]\nbatch_size = 0\n", "run.batch_size: Input should be greater than 0"),
    ("[optim]\nschedule = 'linear'\n", "optim.schedule: Input should be 'cosine', 'step' or 'constant'"),
    ("[model]\narch = 'vdsr'\n", "model.arch: unknown architecture 'vdsr'"),
    ("[run]\ndevice = 'tpu'\n", "run.device:"),
    ("[loss]\nperceptual_weight = 1.0\n", "loss: perceptual_weight > 0 needs perceptual_weights"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, text: str, where: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p, {})
    assert str(e.value).startswith(f"{p}: {where}")
    assert "\n" not in str(e.value)


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "[run\nseed = 1\n")
    with pytest.raises(ConfigError, match=rf"^{p}: cannot parse \(.*\); fix the syntax$"):
        load_config(p, {})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", {})


def test_bad_override_value_is_reported() -> None:
    with pytest.raises(ConfigError, match=r"^--max-steps -1: run.max_steps: Input should be greater than 0"):
        load_config(None, {"max_steps": -1})


def test_yaml_and_json(tmp_path: Path) -> None:
    y = _write(tmp_path, "model:\n  arch: rrdb\nrun:\n  seed: 5\n", "c.yaml")
    assert load_config(y, {}).run.seed == 5
    j = _write(tmp_path, load_config(y, {}).model_dump_json(), "c.json")
    assert load_config(j, {}) == load_config(y, {})


def test_resolve_config_for_new_and_resumed_runs(tmp_path: Path) -> None:
    from s2sr.train.config import TrainConfig, resolve_config

    assert resolve_config(None) == TrainConfig()
    assert resolve_config("srresnet", {"max_steps": 5}).run.max_steps == 5  # a built-in name
    assert resolve_config(TrainConfig(), {"arch": "rrdb"}).model.arch == "rrdb"
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"run": {"max_steps": 9, "seed": 4}}')
    resumed = resolve_config(None, {"max_steps": 12}, run=run)  # the run's own config, then overrides
    assert (resumed.run.max_steps, resumed.run.seed) == (12, 4)
    assert resolve_config("light", run=run).run.seed == 0  # an explicit config wins over the run's
    with pytest.raises(ConfigError, match="unknown config type '.cfg'; use .toml, .yaml or .json"):
        (tmp_path / "c.cfg").write_text("x = 1")
        resolve_config(str(tmp_path / "c.cfg"))
