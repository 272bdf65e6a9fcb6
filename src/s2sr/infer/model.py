"""What ``apply`` needs from a model, whether a torch bundle (``.pt``) or an exported ONNX file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2sr.errors import ConfigError, ModelError


@dataclass
class LoadedModel:
    """Model description plus a way to build its predictor."""

    name: str
    arch: str
    scale: int
    bands: list[str]
    receptive_field: int
    input_res: float | None
    version: str
    fingerprint: str
    bundle: Any = None  # ModelBundle for the torch backend
    onnx_path: Path | None = None
    input_dtype: str | None = None  # dtype of the training LR data (None: unknown)
    norm_mean: tuple[float, ...] = ()  # per-band mean of the training LR data (fills nodata far from data)
    input_stats: dict[str, Any] = field(default_factory=dict)  # per-band p01/p50/p99 of the training input
    _dict: dict[str, Any] | None = field(default=None, repr=False)

    def predictor(self, precision: str, threads: int | None = None) -> Any:
        from s2sr.infer.backends import OnnxPredictor, TorchPredictor

        if self.onnx_path is not None:
            if precision != "fp32":
                raise ConfigError(f"--precision {precision}: the onnx backend runs fp32 only; use --precision fp32")
            return OnnxPredictor(self.onnx_path, threads)
        return TorchPredictor(self.bundle, precision, threads)

    def as_dict(self) -> dict[str, Any]:
        """The bundle as a plain dict (for Dask workers); torch backend only."""
        if self.bundle is None:
            raise ConfigError("--dask runs the torch backend only; drop --backend onnx or pass a .pt model")
        if self._dict is None:
            self._dict = self.bundle.to_dict()
        return self._dict


def bundle_fingerprint(d: dict[str, Any]) -> str:
    """sha256 of a bundle dict: metadata as canonical JSON plus every weight tensor's bytes."""
    h = hashlib.sha256()
    skip = ("state_dict", "provenance", "train_config", "metrics", "uncertainty")  # the head: its own fingerprint
    meta = {k: v for k, v in d.items() if k not in skip}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for k in sorted(d["state_dict"]):
        h.update(k.encode())
        h.update(d["state_dict"][k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_for_apply(model: str | os.PathLike[str] | Any, backend: str, device: str) -> LoadedModel:
    """Load ``model`` (bundle object, ``.pt`` or ``.onnx`` path, or an installed model's name) for ``backend``."""
    from s2sr.bundle import ModelBundle, load_model
    from s2sr.models.registry import resolve_model

    if backend not in ("torch", "onnx"):
        raise ConfigError(f"--backend {backend!r}: choose torch or onnx")
    check_device(device)
    if not isinstance(model, ModelBundle):
        model = resolve_model(model)
    if not isinstance(model, ModelBundle) and model.suffix.lower() == ".onnx":
        if backend != "onnx":
            raise ModelError(f"{model}: is an ONNX file; pass --backend onnx or the .pt bundle")
        return _from_onnx(Path(model))
    bundle = model if isinstance(model, ModelBundle) else load_model(model, device=device)
    if isinstance(model, ModelBundle) and device != "cpu":
        bundle.module.to(device)
    d = bundle.to_dict()
    return LoadedModel(
        name=Path(bundle.path).stem if bundle.path else bundle.arch, arch=bundle.arch,
        scale=int(bundle.scale), bands=list(bundle.bands), receptive_field=int(bundle.receptive_field),
        input_res=bundle.input_res, version=bundle.version, fingerprint=bundle_fingerprint(d),
        bundle=bundle, input_dtype=bundle.input_dtype, norm_mean=tuple(float(v) for v in bundle.mean),
        input_stats=dict(bundle.input_stats), _dict=d,
    )  # for --backend onnx the caller exports it to a temporary .onnx and sets onnx_path


def check_device(device: str) -> None:
    """A torch device string that exists on this machine, else a one-line ConfigError."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {device!r}: not a torch device; use cpu or cuda (e.g. cuda:0)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA device is available to torch; use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device}: no Apple MPS device is available to torch; use --device cpu")


def _from_onnx(path: Path) -> LoadedModel:
    from s2sr.infer.backends import OnnxPredictor, read_onnx_meta
    from s2sr.model_check import probe

    meta = read_onnx_meta(path)
    probe(OnnxPredictor(path, threads=1), list(meta["bands"]), int(meta["scale"]), str(path),
          "the ONNX file was edited or is damaged; re-run `s2sr export`")
    return LoadedModel(
        name=str(meta.get("name", path.stem)), arch=str(meta["arch"]), scale=int(meta["scale"]),
        bands=list(meta["bands"]), receptive_field=int(meta.get("receptive_field", 16)),
        input_res=meta.get("input_res"), version=str(meta.get("version", "?")),
        fingerprint=file_sha256(path), onnx_path=path, input_dtype=meta.get("input_dtype"),
        norm_mean=tuple(float(v) for v in meta["norm"]["mean"]), input_stats=dict(meta.get("input_stats") or {}),
    )
