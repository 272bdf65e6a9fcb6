"""``train(data, out, config)``: stage-1 pixel-loss training, optional stage-2 GAN
fine-tuning, EMA, periodic validation against bicubic, best/last checkpoints.

Reproducible: the generator/discriminator init is seeded, batches are a pure
function of (seed, step) and the LR schedule of the step, so ``resume=True``
continues exactly where an interrupted run stopped (same next batch, same
optimizer/EMA state and RNG state).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from s2sr.data.dataset import DatasetInfo, open_dataset
from s2sr.errors import ConfigError, OutputError
from s2sr.io.atomic import atomic_file, make_dir
from s2sr.io.guard import check_outputs
from s2sr.sensor.family import DegradationFamily
from s2sr.train import checkpoint as ck
from s2sr.train.config import TrainConfig, resolve_config, resolve_config_arg
from s2sr.train.data import Batches, input_stats, norm_stats, open_train_val
from s2sr.train.device import pick_device, pick_precision
from s2sr.train.metrics_log import MetricsLog
from s2sr.train.trainer import Trainer
from s2sr.train.validate import validate

log = logging.getLogger(__name__)

StepCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    """Where the run is and how it did (``metrics`` are those of ``best``)."""

    out: Path
    best: Path
    last: Path
    metrics: dict[str, Any]
    last_metrics: dict[str, Any]
    steps: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def _graceful_sigint() -> Iterator[dict[str, bool]]:
    """First Ctrl-C: finish the current step, save, stop. Second: abort at once."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True
        log.warning("Ctrl-C: saving after this step (press again to abort without saving)")

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, old)


def _resume_state(out: Path, config: TrainConfig) -> dict[str, Any]:
    state = ck.load_last(out / "last.pt")
    saved = TrainConfig.model_validate(state["config"])
    if saved.model != config.model or saved.gan.discriminator != config.gan.discriminator:
        raise ConfigError(f"{out}/config.json: the model section differs from the run being "
                          "resumed; resume with the run's own config or start a new --out")
    return state


def _make_out(out: Path) -> None:
    if not out.name:
        raise OutputError(f"output path {str(out)!r} has no folder name; pass a run folder such as --out run")
    if (out / "last.pt").exists():
        raise OutputError(f"{out}: already holds a training run; pass --resume {out} or choose another --out")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    make_dir(out)


def _provenance(data: Path, info: DatasetInfo, cfg: TrainConfig, device: torch.device,
                precision: str) -> dict[str, Any]:
    return {"data": str(data.resolve()), "prepare": info.summary, "seed": cfg.run.seed,
            "device": str(device), "precision": precision, "torch": str(torch.__version__)}


def _init_model(config: TrainConfig, info: Any) -> Any:
    """The model ``run.init`` names (None without it), checked against the data's bands and scale."""
    if not config.run.init:
        return None
    from s2sr.bundle import load_model
    from s2sr.train.trainer import resolve_arch_kwargs

    b = load_model(config.run.init)
    if b.scale != info.scale or len(b.bands) != len(info.bands):
        raise ConfigError(f"run.init {config.run.init}: model is x{b.scale} with {len(b.bands)} bands, the data "
                          f"x{info.scale} with {len(info.bands)}; fine-tune on data of the same scale and bands")
    mine = resolve_arch_kwargs(config, info)
    if b.arch != config.model.arch or dict(b.arch_kwargs) != mine:
        raise ConfigError(f"run.init {config.run.init}: its model is {b.arch} {dict(b.arch_kwargs)}, the config's "
                          f"{config.model.arch} {mine}; copy its [model] section into the config")
    return b


RUN_FILES = ("best.pt", "last.pt", "MODEL_CARD.md", "config.json", "metrics.csv", "tb")


def train(data: Path | None, out: Path, config: TrainConfig | str | Path | None = None, resume: bool = False,
          on_step: StepCallback | None = None, overrides: dict[str, Any] | None = None) -> TrainResult:
    """Train a generator on the patch store in ``data``; write the run into ``out``.

    ``config`` is a :class:`TrainConfig`, a config file or a built-in name (None: defaults, or
    with ``resume`` the run's own ``config.json``); ``overrides`` apply on top (dotted keys).
    ``resume=True`` continues ``out/last.pt`` (``data=None`` then means the run's
    own data folder). ``on_step(step, values)`` is called after each step.
    A fresh run may not write over its config file or its dataset.
    Ctrl-C saves ``out/last.pt`` and re-raises :class:`KeyboardInterrupt`.
    """
    out = Path(out)
    if not resume:  # a resumed run rewrites its own config.json on purpose
        config_file = resolve_config_arg(str(config)) if isinstance(config, str | Path) else None
        check_outputs([out / n for n in RUN_FILES], [("config file", config_file), ("dataset", data)],
                      "choose another --out")
    config = resolve_config(config, overrides, out if resume else None)
    state = _resume_state(out, config) if resume else None
    if data is None:
        if state is None:
            raise ConfigError("train: no --data given; pass the folder written by `s2sr prepare`")
        data = Path(state["data"])
    data = Path(data)
    dataset = open_dataset(data)
    tr, va = open_train_val(dataset)
    info = dataset.training_info(tr)
    device = pick_device(config.run.device)
    precision = pick_precision(config.run.precision, device)
    init = _init_model(config, info) if state is None else None
    if state is None:
        if init is not None:  # fine-tuning keeps the normalisation the weights were trained with
            mean, std = np.asarray(init.mean, np.float32), np.asarray(init.std, np.float32)
        else:
            mean, std = norm_stats(tr, config.run.norm_patches, config.run.seed)  # bad data: no run folder made
        _make_out(out)
    else:
        mean, std = np.asarray(state["mean"], np.float32), np.asarray(state["std"], np.float32)
    with atomic_file(out / "config.json") as tmp:
        tmp.write_text(json.dumps(config.to_dict(), indent=2))
    info.input_stats = input_stats(tr, config.run.norm_patches, config.run.seed)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    family = (DegradationFamily.from_dict(info.degradation["family"])
              if info.degradation and info.degradation.get("family") else None)
    batches = Batches(tr, config.run.batch_size, config.run.seed, mean, std, config.run.augment, config.run.crop,
                      family)
    trainer = Trainer(config, info, batches, device, precision)
    if state is not None:
        trainer.load_state(state)
    elif init is not None:
        trainer.init_from(init)
    log.info("train: %s on %s (%s), %d train / %d val patches, from step %d",
             config.model.arch, device, precision, len(tr), len(va), trainer.step)
    loop = _Loop(trainer, config, info, data, out, va, mean, std, on_step)
    return loop.run()


class _Loop:
    def __init__(self, trainer: Trainer, cfg: TrainConfig, info: DatasetInfo, data: Path,
                 out: Path, val_split: Any, mean: np.ndarray, std: np.ndarray,
                 on_step: StepCallback | None) -> None:
        self.t, self.cfg, self.info, self.data, self.out = trainer, cfg, info, data, out
        self.val_split, self.mean, self.std, self.on_step = val_split, mean, std, on_step
        self.last_metrics: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []

    def _state(self) -> dict[str, Any]:
        return {**self.t.state_dict(), "config": self.cfg.to_dict(), "data": str(self.data.resolve()),
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    def _validate(self, mlog: MetricsLog) -> None:
        t = self.t
        m: dict[str, Any] = validate(t.eval_model(), self.val_split, self.mean, self.std, self.info.sensor,
                                     self.cfg.run.data_range, self.cfg.run.val_patches, t.device)
        m["step"] = t.step
        self.last_metrics = m
        mlog.write(t.step, "val", {**m, "seconds": round(t.seconds, 2)})
        if t.improved(m):
            prov = {**_provenance(self.data, self.info, self.cfg, t.device, t.precision),
                    "steps": t.step, "train_seconds": round(t.seconds, 1)}
            bundle = ck.make_bundle(self.cfg.model.arch, t.arch_kwargs, t.eval_model(), self.info,
                                    self.mean, self.std, self.cfg.to_dict(), prov, m)
            ck.save_best(self.out, bundle, t.seconds, t.step, str(t.device), t.precision)

    def run(self) -> TrainResult:
        t, r = self.t, self.cfg.run
        mlog = MetricsLog(self.out, t.step, r.tensorboard)
        bar = tqdm(total=r.max_steps, initial=t.step, desc="train", unit="step", file=sys.stderr,
                   dynamic_ncols=True, disable=None)  # None: no bar when stderr is not a terminal
        t.start_clock()
        validated_at = -1
        try:
            with _graceful_sigint() as stop:
                while t.step < r.max_steps:
                    vals = t.train_step()
                    t.tick()
                    self.history.append({"step": t.step, **vals})
                    if t.step % r.log_every == 0 or t.step == r.max_steps:
                        mlog.write(t.step, "train", {**vals, "seconds": round(t.seconds, 2)})
                    if t.step % r.val_every == 0:
                        self._validate(mlog)
                        validated_at = t.step
                    bar.update(1)
                    bar.set_postfix(self._postfix(vals), refresh=False)
                    if t.step % r.ckpt_every == 0:
                        ck.save_last(self.out / "last.pt", self._state())
                    if self.on_step is not None:
                        self.on_step(t.step, vals)
                    if stop["stop"]:
                        raise KeyboardInterrupt
                    if r.minutes is not None and t.seconds >= r.minutes * 60:
                        log.info("train: --minutes %.2f reached at step %d", r.minutes, t.step)
                        break
        except KeyboardInterrupt:
            bar.close()
            ck.save_last(self.out / "last.pt", self._state())
            mlog.close()
            log.warning("train: interrupted at step %d; state saved to %s; continue with "
                        "`s2sr train --resume %s`", t.step, self.out / "last.pt", self.out)
            raise
        except Exception:  # e.g. a full disk: end the progress line so the error starts a line of its own
            bar.close()
            mlog.close()
            raise
        bar.close()
        if validated_at != t.step:
            self._validate(mlog)
        ck.save_last(self.out / "last.pt", self._state())
        mlog.close()
        m = t.best_metrics
        log.info("train: done, %d steps in %.1f min; best val PSNR %.2f dB (bicubic %.2f dB) at step %s",
                 t.step, t.seconds / 60, m["val_psnr"], m["bicubic_psnr"], m["step"])
        return TrainResult(out=self.out, best=self.out / "best.pt", last=self.out / "last.pt",
                           metrics={**m, "steps": t.step, "seconds": round(t.seconds, 1)},
                           last_metrics=self.last_metrics, steps=t.step, seconds=t.seconds,
                           history=self.history)

    def _postfix(self, vals: dict[str, float]) -> dict[str, str]:
        p = {"loss": f"{vals['loss']:.4f}"}
        m = self.last_metrics
        if m:
            p["psnr"] = f"{m['val_psnr']:.2f}"
            p["bicubic"] = f"{m['bicubic_psnr']:.2f}"
        return p
