"""Install a trained run as a model shipped inside the package (maintainers).

    python tools/ship_model.py --bundle RUN/best_u.pt --name s2-rgbn-x4 --recipe finer_x4 \
        --robust benchmarks/robust_wald_test.json --aerial benchmarks/aerial_pairs_test.json \
        --real benchmarks/real_stats.json --results benchmarks/wald_cities_test.json

Copies the bundle to ``src/s2sr/models/NAME.pt`` (with the git commit and recipe added to its
provenance), writes the model card ``NAME.md`` (training data, recipe, commit, and the tables of
the benchmark JSONs given) and adds or replaces the ``[models.NAME]`` entry of
``src/s2sr/models/registry.toml``.
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
               "Lanaras et al. 2018); imagery: OpenAerialMap contributors (CC BY 4.0) via HOT fAIr; (c) swisstopo "
               "(SWISSIMAGE); Estonian Land Board (Maa-amet); USDA FSA NAIP (public domain); SpaceNet/Maxar "
               "WorldView-2 sample via CosmiQ solaris (Apache-2.0 repository)")
LICENCE = ("weights: MIT (as s2sr); training data: Copernicus Sentinel data (free and open), CC BY 4.0 (OpenAerialMap), "
           "swisstopo and Maa-amet open data (attribution), public domain (NAIP)")
DESCRIPTION = ("Sentinel-2 B2,B3,B4,B8 x4 (10 m -> 2.5 m), L1C/L2A, learned from real aerial images at 2.5 m and "
               "12 Sentinel-2 scenes under a range of Sentinel-2 degradations")


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


def _robust_table(path: Path) -> str:
    doc = json.loads(path.read_text())
    names = doc["degradations"]
    rows = [f"Wald x4 on the `{doc['split']}` cities, the 40 m input made by each named degradation "
            "(`benchmarks/robust_wald.py`): gain over GDAL bicubic, dB (SAM model / bicubic, degrees, in brackets):", "",
            "| city | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for city, d in doc["city_means"].items():
        rows.append(f"| {city} | " + " | ".join(f"{d[n]['gain_db']:+.2f} ({d[n]['sam_model']:.2f} / {d[n]['sam_bicubic']:.2f})"
                                                for n in names) + " |")
    return "\n".join(rows)


def _aerial_table(path: Path) -> str:
    doc = json.loads(path.read_text())
    names = doc["degradations"]
    by: dict[str, dict[str, Any]] = {}
    for r in doc["rows"]:
        by.setdefault(r["image"], {})[r["degradation"]] = r
    rows = [f"Held-out real aerial images (`{doc['split']}`, never trained on or chosen with) at 2.5 m as the reference, "
            "their degraded 10 m versions as input (`benchmarks/aerial_pairs.py`): gain over bicubic / over lanczos, dB:",
            "", "| image | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for im, d in by.items():
        rows.append(f"| {im} | " + " | ".join(f"{d[n]['gain_db']:+.2f} / {d[n]['gain_vs_lanczos_db']:+.2f}" for n in names) + " |")
    p = doc.get("real_pair")
    if p:
        rows += ["", f"Real Sentinel-2 / 1 m Satellogic pair (one desert tile): model {p['model']['psnr']:.2f} dB, bicubic "
                 f"{p['bicubic']['psnr']:.2f}, lanczos {p['lanczos']['psnr']:.2f} ({p['gain_db']:+.2f} dB over bicubic)."]
    return "\n".join(rows)


def _real_table(path: Path) -> str:
    doc = json.loads(path.read_text())
    rows = ["Real 10 m input, no reference (`benchmarks/real_stats.py`, `s2sr evaluate --real`): LR-grid spectral peak "
            "model / bicubic, clipped share over the input's (points), largest per-band mean shift (%), share outside "
            "the 3x3 LR range model / bicubic (%):", "",
            "| image | grid peak | clipped | mean shift | outside range |", "|---|---|---|---|---|"]
    for r in doc["real_inputs"]:
        h = r["headline"]
        rows.append(f"| {r['image']} | {h['model']['grid_peak']:.2f} / {h['bicubic']['grid_peak']:.2f} | "
                    f"{h['model']['clipped_share_max']:+.3f} | {h['model']['mean_shift_max_abs']:.3f} | "
                    f"{h['model']['outside_local_range_mean']:.1f} / {h['bicubic']['outside_local_range_mean']:.2f} |")
    ar = doc.get("aerial_range")
    if ar:
        rows += ["", f"Real 2.5 m aerial images against their own 10 m versions: grid peak {ar['grid_peak'][0]:.1f}-"
                 f"{ar['grid_peak'][1]:.1f}, outside the 3x3 LR range {ar['outside_local_range_mean'][0]:.0f}-"
                 f"{ar['outside_local_range_mean'][1]:.0f} %."]
    return "\n".join(rows)


def _family(prov: dict[str, Any]) -> str:
    f = ((prov.get("prepare") or {}).get("degradation") or {}).get("family") or {}
    if not f:
        return "see its dataset's prepare.json"
    text = (f"system MTF {f['system_mtf'][0]}-{f['system_mtf'][1]} with {f['anisotropy']:.0%} anisotropy, shifts of "
            f"std {f['shift_std']} LR px, the L1C cubic resampling in {f['resample_prob']:.0%} of draws, "
            f"{f['noise_scale'][0]}-{f['noise_scale'][1]} x the fitted noise, gains within {f['gain']:.0%}")
    if f.get("sharp_share"):
        text += (f"; {f['sharp_share']:.0%} of draws sharper than the specification, system MTF "
                 f"{f['sharp_mtf'][0]}-{f['sharp_mtf'][1]}")
    return text


def _data_table(prov: dict[str, Any]) -> str:
    rows = ["| source | kind | split |", "|---|---|---|"]
    seen = set()
    for d in prov.get("prepare", {}).get("inputs", []):
        key = (Path(str(d.get("hr") or d.get("lr"))).name, d.get("split"))
        if key in seen:
            continue
        seen.add(key)
        kind = {"pseudo": "finer image (targets at 2.5, 2, 1 m)", "wald": "Sentinel-2 (Wald 10 -> 40 m)"}.get(
            d.get("kind"), d.get("kind"))
        rows.append(f"| {key[0]} | {kind} | {d.get('split') or 'blocks'} |")
    return "\n".join(rows)


def card(name: str, bundle: Any, commit: str, a: argparse.Namespace, size: int) -> str:
    m, p, cfg = bundle.metrics, bundle.provenance, bundle.train_config
    tables = [_robust_table(r) for r in a.robust] + [_aerial_table(r) for r in a.aerial] + \
             [_real_table(r) for r in a.real] + [_results_table(r) for r in a.results]
    return f"""# {name}: Sentinel-2 x4 super-resolution (B2, B3, B4, B8; 10 m -> 2.5 m)

Shipped with s2sr {bundle.version}; weights from commit `{commit}` of s2sr. Load it by name:
`s2sr apply {name} IN.tif OUT.tif`, `s2sr.load_model("{name}")`. File size {size / 1e6:.2f} MB.

## What it does and does not
- Input: Sentinel-2 Level-1C or Level-2A, bands B2, B3, B4, B8 at 10 m, reflectance x 10000 (uint16).
  Output: the same bands and units at 2.5 m, on the input grid refined x4.
- Architecture `{bundle.arch}` {bundle.arch_kwargs} (docs/training.md): equivariant to per-band gain and
  offset (L1C and L2A alike), detail made on the 2.5 m grid with no pattern locked to the 10 m grid, and
  only a low-pass consistency with the input (its band means and colours at 40 m and coarser are the
  input's); it inverts no assumed sensor operator.
- Learned from real finer images: aerial orthophotos area-averaged to 2.5 m (and the same x4 relation at
  2 m and 1 m), inputs drawn per sample from a range of Sentinel-2-like degradations ({_family(p)}),
  plus Sentinel-2 Wald pairs for NIR and Sentinel-2 texture. The aerial images are RGB: NIR (B8) detail comes from the Wald
  pairs and two small NIR-bearing images only; check the per-band gains below before relying on B8.
- What a 10 m pixel does not hold is not there: objects smaller than about a pixel are inferred from what
  such scenes looked like at 2.5 m, plausible rather than observed. Do not count small buildings with it.

## Training data
{_data_table(p)}

Held out by place before training (`src/s2sr/configs/scenes/finer_x4.toml`): val (choice only) and test
(never used). Sentinel-2 cities split whole (`src/s2sr/configs/scenes/s2_cities_wald.toml`).
Attribution: {a.attribution}.

## Recipe
`src/s2sr/configs/{a.recipe}.toml`: loss {json.dumps(cfg.get('loss', {}))}, optimiser {json.dumps(cfg.get('optim', {}))},
gan {json.dumps(cfg.get('gan', {}).get('enabled'))}, run {json.dumps({k: cfg.get('run', {}).get(k) for k in ('batch_size', 'crop', 'max_steps', 'ema_decay', 'threads', 'seed')})}.
{m.get('steps', p.get('steps'))} steps (checkpoint at step {m.get('step')}), {p.get('train_seconds', 0) / 60:.0f} min of
training on {p.get('device')} ({p.get('precision')}), torch {p.get('torch')}. Retrain:

```bash
s2sr prepare --finer src/s2sr/configs/scenes/finer_x4.toml --scene-root ../shared/data --out ds_finer \\
  && s2sr train --data ds_finer --config finer_x4 --out run1          # stage 1: 2250 steps kept
s2sr prepare --finer src/s2sr/configs/scenes/finer_x4_sharp.toml --scene-root ../shared/data --out ds_sharp \\
  && s2sr train --data ds_sharp --config finer_x4_stage2 --out run2 --set run.init=run1/best.pt   # stage 2
```
(This model: `{a.recipe}`; its numbers below are the last stage's.)

Validation during training (val patches: held-out aerial places and Sentinel-2 val cities, each input one
family draw, PSNR peak 10000): {m.get('val_psnr', 0):.2f} dB vs bicubic {m.get('bicubic_psnr', 0):.2f} dB.

## Results (data never trained on or chosen with)
{chr(10).join(t + chr(10) for t in tables)}
Full tables, crops and the runs behind them: docs/RESULTS.md.
{_uncertainty(bundle, name)}
## Input statistics (training LR, per band B2, B3, B4, B8)
p01 {[round(v) for v in bundle.input_stats.get('p01', [])]}, median {[round(v) for v in bundle.input_stats.get('p50', [])]},
p99 {[round(v) for v in bundle.input_stats.get('p99', [])]}. `s2sr apply` refuses inputs on another
scale (8-bit, reflectance x 1000) or at another pixel size, and warns on a likely band-order mix-up.

Licence: {a.licence}.
"""


def registry_entry(name: str, description: str, attribution: str, licence: str) -> str:
    return (f'\n[models.{name}]\nfile = "{name}.pt"\ncard = "{name}.md"\ndescription = "{description}"\n'
            f'attribution = "{attribution}"\nlicence = "{licence}"\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, required=True, help="the model file (RUN/best.pt, or its calibrated copy)")
    ap.add_argument("--name", default="s2-rgbn-x4")
    ap.add_argument("--recipe", default="finer_x4")
    ap.add_argument("--results", type=Path, action="append", default=[], help="benchmarks/wald_cities.py JSON")
    ap.add_argument("--robust", type=Path, action="append", default=[], help="benchmarks/robust_wald.py JSON")
    ap.add_argument("--aerial", type=Path, action="append", default=[], help="benchmarks/aerial_pairs.py JSON")
    ap.add_argument("--real", type=Path, action="append", default=[], help="benchmarks/real_stats.py JSON")
    ap.add_argument("--description", default=DESCRIPTION)
    ap.add_argument("--attribution", default=ATTRIBUTION)
    ap.add_argument("--licence", default=LICENCE)
    a = ap.parse_args()
    bundle = load_model(a.bundle)
    commit = _git("rev-parse", "--short", "HEAD")
    bundle.provenance = {**bundle.provenance, "s2sr_commit": commit, "recipe": a.recipe, "name": a.name}
    dest = bundle.save(MODELS / f"{a.name}.pt")
    size = dest.stat().st_size
    if size > MAX_BYTES:
        dest.unlink()
        raise SystemExit(f"{dest}: {size} bytes, over the 8 MB limit for shipped weights")
    (MODELS / f"{a.name}.md").write_text(card(a.name, load_model(dest), commit, a, size))
    reg = MODELS / "registry.toml"
    text = reg.read_text()
    if a.name in tomllib.loads(text).get("models", {}):
        start = text.index(f"[models.{a.name}]")
        nxt = text.find("\n[models.", start + 1)
        text = text[:start].rstrip("\n") + "\n" + (text[nxt:] if nxt >= 0 else "")
    text = text.replace("# No models are installed yet.\n", "")
    reg.write_text(text.rstrip("\n") + "\n" + registry_entry(a.name, a.description, a.attribution, a.licence))
    print(f"installed {a.name}: {dest} ({size / 1e6:.2f} MB), card {MODELS / (a.name + '.md')}")


if __name__ == "__main__":
    main()
