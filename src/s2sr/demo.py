"""The end-to-end demo on the embedded default: a seeded synthetic scene pair, and real imagery.

synth -> prepare -> train -> apply -> evaluate on the synthetic pair; then the shipped
Sentinel-2 model (``s2-rgbn-x4``) on the embedded real crop (Nantes, never used in its
training) with a Wald check there (-> serve: both on the map). Every stage is the same
library function the CLI command calls; the demo only chains them and writes
``summary.json`` in its output folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    out: Path = Path("s2sr-demo")
    seed: int = 0
    size: int = 2048
    scale: int = 4
    patch_size: int = 32
    minutes: float | None = None
    max_steps: int | None = None


@dataclass
class DemoResult:
    out: Path
    paths: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


class _TimedStep:
    def __init__(self, result: DemoResult, name: str) -> None:
        self.result, self.name = result, name

    def __enter__(self) -> _TimedStep:
        log.info("demo: %s ...", self.name)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        dt = time.perf_counter() - self.t0
        self.result.seconds[self.name] = round(dt, 1)
        if exc[0] is None:
            log.info("demo: %s done in %.1f s", self.name, dt)


def run_demo(cfg: DemoConfig) -> DemoResult:
    """Run the whole pipeline on the synthetic scene; return where everything is."""
    from s2sr.data.config import make_prepare_config
    from s2sr.data.prepare import prepare
    from s2sr.evaluate.config import make_eval_config
    from s2sr.evaluate.run import evaluate
    from s2sr.infer.apply import apply_model
    from s2sr.synth import synthesise
    from s2sr.train.config import builtin_config
    from s2sr.train.run import train

    check_demo_size(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    res = DemoResult(out=out)

    with _TimedStep(res, "synth"):
        syn = synthesise(out / "scene", seed=cfg.seed, size=cfg.size, scale=cfg.scale)
    res.paths.update(lr=str(syn.lr), hr=str(syn.hr), truth=str(syn.truth))

    with _TimedStep(res, "prepare"):
        prep = prepare(make_prepare_config(
            pairs=[(syn.lr, syn.hr)], scale=cfg.scale, patch_size=cfg.patch_size,
            out=out / "dataset", coregister=True, harmonise=True, seed=cfg.seed, overwrite=True,
        ))
    res.paths["dataset"] = str(out / "dataset")
    res.metrics["prepare_counts"] = getattr(prep, "counts", None)

    overrides: dict[str, Any] = {"seed": cfg.seed}
    if cfg.minutes is not None:
        overrides["minutes"] = cfg.minutes
    if cfg.max_steps is not None:
        overrides["max_steps"] = cfg.max_steps
    run_dir = out / "run"
    if run_dir.exists():  # the demo always trains afresh
        shutil.rmtree(run_dir)
    with _TimedStep(res, "train"):
        tr = train(out / "dataset", out / "run", builtin_config("demo", overrides))
    res.paths["model"] = str(tr.best)
    res.metrics["train"] = tr.metrics

    with _TimedStep(res, "apply"):
        apply_model(tr.best, syn.lr, out / "sr.tif")
    res.paths["sr"] = str(out / "sr.tif")

    with _TimedStep(res, "evaluate"):
        # the sr.tif just written: the model runs once (evaluate scores what the map shows)
        ev = evaluate(make_eval_config(model=tr.best, lr=syn.lr, hr=syn.hr, split_from=out / "dataset",
                                       sr=out / "sr.tif", out=out / "eval", overwrite=True))
    res.paths["report"] = str(out / "eval" / "report.html")
    res.metrics["evaluate"] = getattr(ev, "summary", None)

    _real_imagery(res, out, cfg)
    (out / "summary.json").write_text(json.dumps(asdict(res), indent=2, default=str))
    return res


COREG_MARGIN = 2  # LR px prepare may lose on each side to the co-registration shift (the demo corrects it)


def check_demo_size(cfg: DemoConfig) -> None:
    """``--size`` must give prepare a scene it can split into train, val and test (checked before any work)."""
    from s2sr.data.sampling import min_scene_lr_px
    from s2sr.errors import ConfigError

    gap = max(1, cfg.patch_size // 8)  # prepare's default --split-gap
    need = min_scene_lr_px(cfg.patch_size, gap, COREG_MARGIN)
    if cfg.size // cfg.scale < need:
        smallest = -(-need * cfg.scale // 16) * 16
        raise ConfigError(f"--size {cfg.size}: gives a {cfg.size // cfg.scale} px LR scene at x{cfg.scale}; prepare needs "
                          f"{need} LR px a side for a train, a val and a test block of {cfg.patch_size} px patches; "
                          f"use --size {smallest} or more (default 2048)")


SHIPPED_MODEL = "s2-rgbn-x4"


def _real_imagery(res: DemoResult, out: Path, cfg: DemoConfig) -> None:
    """The shipped Sentinel-2 model on the embedded real crop, and its Wald check there."""
    from s2sr.bundle import load_model
    from s2sr.evaluate.config import make_eval_config
    from s2sr.evaluate.run import evaluate
    from s2sr.infer.apply import ApplyConfig, apply_model
    from s2sr.models import installed_models, resolve_model
    from s2sr.samples import real_s2_sample
    from s2sr.uncertainty.section import head_of

    if SHIPPED_MODEL not in installed_models():
        log.warning("demo: model %s is not installed; skipping the real Sentinel-2 part", SHIPPED_MODEL)
        return
    src = real_s2_sample()
    res.paths.update(real_lr=str(src), real_model=str(resolve_model(SHIPPED_MODEL)))
    with_head = head_of(load_model(SHIPPED_MODEL)) is not None  # then the map shows "SR confidence" too
    with _TimedStep(res, "real: apply"):
        done = apply_model(SHIPPED_MODEL, src, out / "real_sr.tif", ApplyConfig(uncertainty=with_head))
    res.paths["real_sr"] = str(out / "real_sr.tif")
    if done.uncertainty_path is not None:
        res.paths["real_uncertainty"] = str(done.uncertainty_path)
        with _TimedStep(res, "real: apply --safe"):  # detail only where the error model vouches for it
            apply_model(SHIPPED_MODEL, src, out / "real_safe.tif", ApplyConfig(safe=True))
        res.paths["real_safe"] = str(out / "real_safe.tif")
    with _TimedStep(res, "real: Wald check"):
        ev = evaluate(make_eval_config(model=SHIPPED_MODEL, wald=src, out=out / "real_eval", overwrite=True))
    res.paths["real_report"] = str(out / "real_eval" / "report.html")
    res.metrics["real_wald"] = getattr(ev, "summary", None)


def serve_demo(res: DemoResult, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the demo's SR and LR images, footprint and model card on the local web map."""
    from s2sr.serve.app import serve
    from s2sr.serve.config import SceneConfig, ServeConfig

    scenes = []
    if "real_sr" in res.paths:  # first: the map opens on real imagery
        scenes.append(SceneConfig(name="nantes-s2", sr=Path(res.paths["real_sr"]), lr=Path(res.paths["real_lr"]),
                                  model=Path(res.paths["real_model"])))
    if "real_safe" in res.paths:  # the same model with apply --safe, beside it
        scenes.append(SceneConfig(name="nantes-s2-safe", sr=Path(res.paths["real_safe"]),
                                  lr=Path(res.paths["real_lr"]), model=Path(res.paths["real_model"])))
    scenes.append(SceneConfig(
        name="synthetic", sr=Path(res.paths["sr"]), lr=Path(res.paths["lr"]),
        footprint=Path(res.paths["dataset"]) / "footprint.geojson", model=Path(res.paths["model"]),
    ))
    serve(ServeConfig(scenes=scenes, host=host, port=port))
