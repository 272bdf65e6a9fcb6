"""Export a model bundle to ONNX (dynamic H/W) with the bundle metadata in ``metadata_props``.

A model's hard LR-consistency projection is not in the graph (its matrices depend on the
input size); the metadata's ``projection`` entry holds its sensor parameters and the ONNX
backend applies it after the graph (:class:`s2sr.infer.backends.OnnxPredictor`). Other
runtimes must do the same: ``SR' = SR + B_h (LR - A_h SR A_w^T) B_w^T`` (docs/apply.md).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from s2sr.errors import ConfigError
from s2sr.infer.backends import ONNX_META_KEY

log = logging.getLogger(__name__)

OPSETS = range(11, 21)  # 11: first with bicubic Resize; 20: the last the TorchScript exporter writes


def bundle_meta(bundle: Any) -> dict[str, Any]:
    """The bundle's JSON-able description (no weights) plus its receptive field."""
    d = bundle.to_dict()
    d.pop("state_dict", None)
    d.pop("uncertainty", None)  # the error model (weights) is not in the graph: an .onnx has no head
    d["receptive_field"] = int(bundle.receptive_field)
    d["name"] = Path(bundle.path).stem if bundle.path else bundle.arch
    return d


def export_onnx(model: str | os.PathLike[str] | Any, out: str | os.PathLike[str], opset: int = 17) -> Path:
    """Write ``model`` (bundle, bundle path or installed model's name) as ONNX to ``out``; input ``lr``
    (N, C, H, W), normalised."""
    import onnx
    import torch

    from s2sr.archs.consistency import projection_off
    from s2sr.bundle import ModelBundle, load_model
    from s2sr.io.atomic import atomic_file, check_writable_dir
    from s2sr.io.guard import check_outputs
    from s2sr.models.registry import resolve_model

    if opset not in OPSETS:
        raise ConfigError(f"--opset {opset}: must be in {OPSETS.start}..{OPSETS.stop - 1}; use the default 17")
    out = Path(out)
    if not isinstance(model, ModelBundle):
        model = resolve_model(model)
    check_outputs([out], [("model", None if isinstance(model, ModelBundle) else model)],
                  "choose another output path, e.g. model.onnx")
    check_writable_dir(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"{out}: s2sr export writes an ONNX model; name the output *.onnx")
    bundle = model if isinstance(model, ModelBundle) else load_model(model)
    module = bundle.module.to("cpu").eval()
    x = torch.zeros(1, len(bundle.bands), 32, 32)
    meta = bundle_meta(bundle)
    with atomic_file(out) as tmp, warnings.catch_warnings(), projection_off(module) as layer:
        warnings.simplefilter("ignore")
        if layer is not None:  # its matrices depend on the tile size: applied after the graph (backends.py)
            meta["projection"] = {"scale": layer.sensor.scale, "mtf_nyquist": layer.sensor.mtf_nyquist}
        tmp_onnx = tmp.with_suffix(".onnx")
        try:
            torch.onnx.export(
                module, (x,), str(tmp_onnx), dynamo=False, opset_version=opset,
                input_names=["lr"], output_names=["sr"],
                dynamic_axes={"lr": {0: "n", 2: "h", 3: "w"}, "sr": {0: "n", 2: "H", 3: "W"}},
            )
            m = onnx.load(str(tmp_onnx))
            entry = m.metadata_props.add()
            entry.key = ONNX_META_KEY
            entry.value = json.dumps(meta)
            onnx.save(m, str(tmp))
        finally:
            tmp_onnx.unlink(missing_ok=True)
    log.info("exported %s -> %s", bundle.path or bundle.arch, out)
    return out
