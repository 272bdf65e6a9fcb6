"""Typed training configuration, validated at load (TOML, YAML or JSON; no code executed).

``load_config(path, overrides)`` reads a file (or only defaults when ``path`` is
None), applies overrides and validates the result. Overrides use dotted keys
(``"run.max_steps"``) or the CLI's short names (``"max_steps"``, ``"arch"``...).
Every error is a one-line :class:`~s2sr.errors.ConfigError` naming the file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from s2sr.errors import ConfigError, describe_validation_error
from s2sr.io.configfile import read_mapping

# CLI short names -> dotted keys
SHORT_KEYS = {
    "arch": "model.arch",
    "max_steps": "run.max_steps",
    "minutes": "run.minutes",
    "batch_size": "run.batch_size",
    "seed": "run.seed",
    "device": "run.device",
    "precision": "run.precision",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelCfg(_Strict):
    arch: str = "light"
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arch")
    @classmethod
    def _known(cls, v: str) -> str:
        from s2sr.archs import ARCHS

        if v not in ARCHS or v == "bicubic":
            raise ValueError(f"unknown architecture {v!r}; choose one of {sorted(set(ARCHS) - {'bicubic'})}")
        return v


class OptimCfg(_Strict):
    lr: float = Field(default=2e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.99)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup_steps: int = Field(default=0, ge=0)
    min_lr_ratio: float = Field(default=0.01, ge=0, le=1)
    step_size: int = Field(default=1000, gt=0)
    gamma: float = Field(default=0.5, gt=0, le=1)
    grad_clip: float | None = Field(default=1.0, ge=0)  # 0 or None: off


class LossCfg(_Strict):
    pixel: Literal["charbonnier", "l1"] = "charbonnier"
    pixel_weight: float = Field(default=1.0, ge=0)
    ssim_weight: float = Field(default=0.0, ge=0)
    gradient_weight: float = Field(default=0.0, ge=0)
    consistency_weight: float = Field(default=0.0, ge=0)
    spectral_weight: float = Field(default=0.0, ge=0)  # 1 - cos(spectral angle), x1000, input units
    hallucination_weight: float = Field(default=0.0, ge=0)  # opensr-test hallucination (losses.py)
    hallucination: Literal["softmin", "margin"] = "softmin"
    grid_weight: float = Field(default=0.0, ge=0)  # sub-pixel phase pattern of the error (losses.grid_loss)
    perceptual_weight: float = Field(default=0.0, ge=0)
    perceptual_weights: str | None = None

    @model_validator(mode="after")
    def _perceptual_needs_file(self) -> LossCfg:
        if self.perceptual_weight > 0 and not self.perceptual_weights:
            raise ValueError("perceptual_weight > 0 needs perceptual_weights = path of your feature network file")
        return self


class GanCfg(_Strict):
    """Stage 2: after ``start_step`` pixel-loss steps, add the adversarial loss."""

    enabled: bool = False
    start_step: int = Field(default=0, ge=0)
    adversarial: Literal["ragan", "lsgan"] = "ragan"
    weight: float = Field(default=5e-3, ge=0)
    discriminator: Literal["srgan", "patch"] = "srgan"
    d_kwargs: dict[str, Any] = Field(default_factory=dict)
    d_lr: float = Field(default=1e-4, gt=0)


class RunCfg(_Strict):
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    batch_size: int = Field(default=16, gt=0)
    max_steps: int = Field(default=2000, gt=0)
    minutes: float | None = Field(default=None, gt=0)
    ema_decay: float | None = Field(default=0.999, ge=0, lt=1)
    augment: bool = True
    crop: int | None = Field(default=None, gt=0)  # train on random crops of this many LR px
    threads: int | None = Field(default=None, gt=0)  # torch CPU threads (None: torch's default)
    val_every: int = Field(default=200, gt=0)
    val_patches: int = Field(default=256, gt=0)
    log_every: int = Field(default=10, gt=0)
    ckpt_every: int = Field(default=500, gt=0)
    norm_patches: int = Field(default=512, gt=0)
    data_range: float = Field(default=10000.0, gt=0)
    tensorboard: bool = True
    # start the generator from this model (a checkpoint path or an installed model's name) and
    # keep its normalisation: fine-tuning. Its architecture and kwargs must be the config's.
    init: str | None = None


class TrainConfig(_Strict):
    model: ModelCfg = Field(default_factory=ModelCfg)
    optim: OptimCfg = Field(default_factory=OptimCfg)
    loss: LossCfg = Field(default_factory=LossCfg)
    gan: GanCfg = Field(default_factory=GanCfg)
    run: RunCfg = Field(default_factory=RunCfg)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _apply(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is None:
            continue
        parts = SHORT_KEYS.get(key, key).split(".")
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key}: {p!r} is not a section")
        node[parts[-1]] = value
    return data


def _one_line(where: str, err: ValidationError) -> ConfigError:
    loc, msg, _ = describe_validation_error(err)
    loc = loc or "(top level)"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ConfigError(f"{where}: {loc}: {msg}{more}; fix it (see docs/training.md for the keys)")


def _option(key: str, value: Any) -> str:
    """How the user gave an override: ``--max-steps 5`` for a short name, else ``--set KEY=VALUE``."""
    return f"--{key.replace('_', '-')} {value}" if key in SHORT_KEYS else f"--set {key}={value!r}"


def _blamed_override(err: ValidationError, overrides: dict[str, Any]) -> str | None:
    """The override whose key is (inside) the location of the first validation error, if any."""
    loc, _, _ = describe_validation_error(err)
    for key, value in overrides.items():
        if value is None:
            continue
        full = SHORT_KEYS.get(key, key)
        if loc == full or loc.startswith(full + ".") or full.startswith(loc + "."):
            return _option(key, value)
    return None


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read, override and validate a training config; ``path=None`` means defaults.

    An invalid value names the option it came from (``--set optim.lr=-1.0``), not the file.
    """
    data = read_mapping(path) if path is not None else {}
    return _validated(_apply(data, dict(overrides or {})), str(path) if path is not None else "config",
                      dict(overrides or {}))


def _validated(data: dict[str, Any], where: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        blamed = _blamed_override(e, overrides or {})
        if blamed is not None:
            loc, msg, _ = describe_validation_error(e)
            raise ConfigError(f"{blamed}: {loc}: {msg}; fix the option (see docs/training.md for the keys)") from None
        raise _one_line(where, e) from None


def resolve_config(config: TrainConfig | str | Path | None, overrides: dict[str, Any] | None = None,
                   run: Path | None = None) -> TrainConfig:
    """A run's config: ``config`` (a TrainConfig, a file or a built-in name; None: the resumed
    ``run``'s own ``config.json``, else the defaults), then ``overrides``."""
    if isinstance(config, TrainConfig):
        if not overrides:
            return config
        return _validated(_apply(config.to_dict(), dict(overrides)), "config", dict(overrides))
    path = resolve_config_arg(str(config)) if config is not None else None
    if path is None and run is not None:
        path = run / "config.json"
    return load_config(path, overrides)


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("s2sr.configs").iterdir() if p.name.endswith(".toml"))


def builtin_path(name: str) -> Path:
    """Path of a config shipped with the package (``light``, ``srresnet``, ``rrdb``, ``demo``)."""
    p = resources.files("s2sr.configs") / f"{name}.toml"
    if not p.is_file():
        raise ConfigError(f"no built-in config {name!r}; choose one of {builtin_names()} or pass a file")
    return Path(str(p))


def builtin_config(name: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Load a built-in config by name (works from an installed package)."""
    return load_config(builtin_path(name), overrides)


def resolve_config_arg(arg: str | None) -> Path | None:
    """CLI helper: an existing file path, else a built-in name, else None."""
    if arg is None:
        return None
    p = Path(arg)
    if p.exists() or p.suffix:
        return p
    return builtin_path(arg)
