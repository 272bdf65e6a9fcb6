"""Install a trained run as a model shipped inside the package (maintainers).

    python tools/ship_model.py --run RUN --name s2-rgbn-x4 \
        --results benchmarks/wald_cities_test.json --results benchmarks/wald_cities_val.json

Copies ``RUN/best.pt`` to ``src/s2sr/models/NAME.pt`` (with the git commit and recipe added to
its provenance), writes the model card ``NAME.md`` (training data list, recipe, commit,
validation tables from the per-city results written by ``benchmarks/wald_cities.py``) and
adds or replaces the ``[models.NAME]`` entry of ``src/s2sr/models/registry.toml``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from s2sr.bundle import load_model

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src/s2sr/models"
MAX_BYTES = 8 * 1024 * 1024
ATTRIBUTION = ("Contains modified Copernicus Sentinel data 2015-2018 (OSCD, Daudt et al. 2018; DSen2 sample, "
               "Lanaras et al. 2018)")
LICENCE = "weights: MIT (as s2sr); training data: Copernicus Sentinel data, free and open"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def _scene_table(prov: dict[str, Any]) -> str:
    rows = ["| scene | group (city) | split |", "|---|---|---|"]
    for d in prov.get("prepare", {}).get("inputs", []):
        rows.append(f"| {Path(str(d.get('lr'))).name} | {d.get('group')} | {d.get('split') or 'blocks'} |")
    return "\n".join(rows)


def _results_table(path: Path) -> str:
    doc = json.loads(path.read_text())
    rows = [f"Split `{doc['split']}` ({'never used for training or model selection' if doc['split'] == 'test' else 'used only to pick the checkpoint'}), "
            "Wald x4 (40 m -> 10 m), mean over the dates of each city; PSNR with per-band 0.1-99.9 % peaks:",
            "", "| city | PSNR model / bicubic / lanczos dB | gain dB | SAM model / bicubic ° | LR-PSNR dB | "
            "opensr improvement | opensr hallucination model / bicubic |", "|---|---|---|---|---|---|---|"]
    for c in doc["cities"]:
        rows.append(f"| {c['city']} | {c['psnr_model']:.2f} / {c['psnr_bicubic']:.2f} / {c['psnr_lanczos']:.2f} | "
                    f"{c['psnr_gain_db']:+.2f} | {c['sam_model']:.3f} / {c['sam_bicubic']:.3f} | "
                    f"{c['lr_psnr_model']:.1f} | {c['osr_improvement']:.3f} | "
                    f"{c['osr_hallucination_model']:.3f} / {c['osr_hallucination_bicubic']:.3f} |")
    t = doc["targets"]
    rows += ["", f"Mean gain {t['mean_gain_db']:+.2f} dB, smallest city gain {t['min_city_gain_db']:+.2f} dB, "
                 f"SAM not worse than bicubic on every city: {t['sam_not_worse_every_city']}, smallest LR-PSNR "
                 f"{t['min_lr_psnr_db']:.1f} dB."]
    return "\n".join(rows)


def _uncertainty(bundle: Any, name: str) -> str:
    u = bundle.uncertainty
    if not u:
        return "\nNo uncertainty head: `apply --uncertainty` is refused with this model.\n"
    return (f"\n## Per-pixel confidence\nAn error model `{u.get('arch')}` ({u.get('kwargs')}) fitted on the residuals of "
            f"the train split and calibrated (split-conformal) on the val split: `s2sr apply {name} IN.tif OUT.tif --uncertainty` "
            f"writes the half-width of the 90 % interval beside the SR (docs/uncertainty.md). Trained on "
            f"{len(u.get('trained_on', []))} scenes, calibrated on {len(u.get('calibrated_on', []))}.\n")


def card(name: str, bundle: Any, commit: str, results: list[Path], size: int) -> str:
    m, p, cfg = bundle.metrics, bundle.provenance, bundle.train_config
    tables = "\n\n".join(_results_table(r) for r in results) or "(no per-city results given)"
    return f"""# {name}: Sentinel-2 x4 super-resolution (B2, B3, B4, B8; 10 m -> 2.5 m)

Shipped with s2sr {bundle.version}; weights from commit `{commit}` of s2sr. Load it by name:
`s2sr apply {name} IN.tif OUT.tif`, `s2sr.load_model("{name}")`. File size {size / 1e6:.2f} MB.

## What it does and does not
- Input: Sentinel-2 Level-1C or Level-2A, bands B2, B3, B4, B8 (blue, green, red, NIR) at 10 m,
  reflectance x 10000 (uint16). Output: the same bands and units at 2.5 m, on the input grid
  refined x4.
- Architecture `{bundle.arch}` {bundle.arch_kwargs}: each band is normalised by its local mean and
  std, so the output of `a x + b` (per band) is `a SR + b`: L1C and L2A, another processing
  baseline or a calibration change give the same relative result; then an exact sensor-consistency
  projection: the output degraded by the sensor model (Gaussian MTF {bundle.sensor.mtf_nyquist} at
  Nyquist, area mean) equals the input (LR-PSNR limited only by float32 and rounding).
- Trained by the Wald protocol (40 m -> 10 m, the 10 m images degraded x4 by that sensor model) and
  applied one octave-pair down (10 m -> 2.5 m): scale invariance is assumed there, not measured
  (no 2.5 m reference exists for these scenes). Detail finer than 10 m is inferred from what
  40 m -> 10 m looked like in the training cities: plausible, not observed. Do not count or map
  objects smaller than a 10 m pixel with it; read `hallucination` in `s2sr evaluate` reports.

## Training data (real Sentinel-2 L1C, Wald pairs made on the fly)
Cities split whole (both dates on one side), drawn by a seeded permutation before training
(`src/s2sr/configs/scenes/s2_cities_wald.toml`): `train` scenes trained the weights, `val` picked
the checkpoint, `test` was never used.

{_scene_table(p)}

Attribution: {ATTRIBUTION}.

## Recipe
`src/s2sr/configs/s2_x4.toml`: {json.dumps(cfg.get('loss', {}))}, optimiser {json.dumps(cfg.get('optim', {}))},
run {json.dumps({k: cfg.get('run', {}).get(k) for k in ('batch_size', 'crop', 'max_steps', 'ema_decay', 'threads', 'seed')})}.
{m.get('steps', p.get('steps'))} steps (best checkpoint at step {m.get('step')}), {p.get('train_seconds', 0) / 60:.0f} min of
training on {p.get('device')} ({p.get('precision')}), torch {p.get('torch')}. Retrain (docs/RESULTS.md):

```bash
s2sr prepare --scenes src/s2sr/configs/scenes/s2_cities_wald.toml --scene-root ../shared/data \\
             --scale 4 --patch-size 48 --patch-stride 24 --out ds_s2 \\
  && s2sr train --data ds_s2 --config s2_x4 --out run_s2
```

Validation split during training (val cities' patches, PSNR peak 10000): PSNR {m.get('val_psnr', 0):.2f} dB
vs bicubic {m.get('bicubic_psnr', 0):.2f} dB, SSIM {m.get('val_ssim', 0):.4f} vs {m.get('bicubic_ssim', 0):.4f}.

## Per-city results
{tables}

Full tables and the radiometric robustness benchmark: docs/RESULTS.md.
{_uncertainty(bundle, name)}
## Input statistics (training LR, per band B2, B3, B4, B8)
p01 {[round(v) for v in bundle.input_stats.get('p01', [])]}, median {[round(v) for v in bundle.input_stats.get('p50', [])]},
p99 {[round(v) for v in bundle.input_stats.get('p99', [])]}. `s2sr apply` refuses inputs on another
scale (8-bit, reflectance x 1000) or at another pixel size, and warns on a likely band-order mix-up.

Licence: {LICENCE}.
"""


def registry_entry(name: str, description: str) -> str:
    return (f'\n[models.{name}]\nfile = "{name}.pt"\ncard = "{name}.md"\ndescription = "{description}"\n'
            f'attribution = "{ATTRIBUTION}"\nlicence = "{LICENCE}"\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--name", default="s2-rgbn-x4")
    ap.add_argument("--results", type=Path, action="append", default=[])
    ap.add_argument("--description", default="Sentinel-2 B2,B3,B4,B8 x4 (10 m -> 2.5 m), L1C/L2A, trained on 12 real cities + 1 farmland scene (Wald)")
    a = ap.parse_args()
    bundle = load_model(a.run / "best.pt")
    commit = _git("rev-parse", "--short", "HEAD")
    bundle.provenance = {**bundle.provenance, "s2sr_commit": commit, "recipe": "s2_x4", "name": a.name}
    dest = bundle.save(MODELS / f"{a.name}.pt")
    size = dest.stat().st_size
    if size > MAX_BYTES:
        dest.unlink()
        raise SystemExit(f"{dest}: {size} bytes, over the 8 MB limit for shipped weights")
    (MODELS / f"{a.name}.md").write_text(card(a.name, load_model(dest), commit, a.results, size))
    reg = MODELS / "registry.toml"
    text = reg.read_text()
    if a.name in tomllib.loads(text).get("models", {}):
        start = text.index(f"[models.{a.name}]")
        nxt = text.find("\n[models.", start + 1)
        text = text[:start].rstrip("\n") + "\n" + (text[nxt:] if nxt >= 0 else "")
    text = text.replace("# No models are installed yet.\n", "")
    reg.write_text(text.rstrip("\n") + "\n" + registry_entry(a.name, a.description))
    print(f"installed {a.name}: {dest} ({size / 1e6:.2f} MB), card {MODELS / (a.name + '.md')}")


if __name__ == "__main__":
    main()
