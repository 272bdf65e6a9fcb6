"""The model bundle: a self-describing checkpoint that rebuilds its model and uses it.

A bundle file (``*.pt``) is a ``torch.save`` of a plain dict (loaded with
``weights_only=True``, so it cannot execute code)::

    format: "s2sr-model", format_version: 1
    arch, arch_kwargs            -> s2sr.archs.build_arch(arch, **arch_kwargs)
    scale, bands (names)
    norm: {"mean": [...], "std": [...]}   per band, in input units (e.g. reflectance x 10000)
    input_dtype, input_res       dtype and pixel size (m) of the images the model is for
    input_stats                  per-band percentiles (p01, p50, p99) of the training input
    sensor: SensorModel.to_dict()
    train_config, provenance, metrics     free-form dicts (JSON-able)
    version                      s2sr version that wrote it
    state_dict                   generator weights (EMA weights when training used EMA)
    uncertainty                  optional: error model + calibration (s2sr.uncertainty.section)
    weights_sha256               SHA-256 of the weights (names, dtypes, shapes, bytes), checked on load
                                 (bundles written before it are loaded without the check)

``load_model(path).predict(lr)`` takes a (bands, h, w) array in input units and
returns (bands, h*scale, w*scale) float32 in the same units.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from s2sr._version import __version__
from s2sr.archs import build_arch
from s2sr.errors import ConfigError, InputError, ModelError
from s2sr.sensor import SensorModel

FORMAT = "s2sr-model"
FORMAT_VERSION = 1
_REQUIRED = ("format", "arch", "arch_kwargs", "scale", "bands", "norm", "state_dict")


@dataclass
class ModelBundle:
    """A generator plus everything needed to use it on rasters."""

    arch: str
    arch_kwargs: dict[str, Any]
    scale: int
    bands: list[str]
    mean: np.ndarray
    std: np.ndarray
    module: nn.Module
    sensor: SensorModel
    input_dtype: str = "uint16"
    input_res: float | None = None
    input_stats: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str = __version__
    path: str | None = None
    uncertainty: dict[str, Any] | None = None  # the optional error model section (s2sr.uncertainty)

    @property
    def receptive_field(self) -> int:
        """Radius in LR pixels that can influence an output pixel (the minimum tile margin)."""
        return int(getattr(self.module, "receptive_field", 16))

    @property
    def device(self) -> torch.device:
        p = next(iter(self.module.parameters()), None)
        return p.device if p is not None else torch.device("cpu")

    # ---- normalisation ---------------------------------------------------------------
    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - m) / s

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.as_tensor(self.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(self.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        return torch.addcmul(m, x, s)  # float32 in one pass (a bf16 ``x`` is widened on the fly)

    # ---- inference -------------------------------------------------------------------
    @torch.inference_mode()
    def predict_batch(self, lr: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        """(N, C, h, w) float tensor in input units -> (N, C, h*s, w*s) float32 in input units."""
        x = self.normalise(lr.to(self.device, torch.float32))
        if precision == "bf16":
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                y = self.module(x)
        else:
            y = self.module(x)
        return self.denormalise(y)

    def predict(self, lr: np.ndarray, precision: str = "fp32", dtype: str = "float32") -> np.ndarray:
        """(bands, h, w) array in input units -> (bands, h*scale, w*scale) in the same units.

        ``dtype="float32"`` (default): the model's raw values, which can fall outside the input's range
        (below 0 near dark water, above 10000...). ``dtype="same"``: rounded and clipped to the input's
        integer type like ``s2sr apply`` does (a float input stays float32)."""
        if dtype not in ("float32", "same"):
            raise ConfigError(f"predict: dtype {dtype!r}; choose 'float32' (raw model values) or 'same' "
                              "(rounded and clipped to the input's type, like s2sr apply)")
        a = np.asarray(lr)
        if a.ndim != 3 or a.shape[0] != len(self.bands):
            raise InputError(
                f"predict: expected an array (bands={len(self.bands)}, h, w) for bands {self.bands}, "
                f"got shape {a.shape}; select the model's bands"
            )
        y = self.predict_batch(torch.from_numpy(a.astype(np.float32))[None], precision)[0].cpu().numpy()
        if dtype == "same" and np.issubdtype(a.dtype, np.integer):
            from s2sr.io.values import OutputSpec, to_output

            return to_output(y, None, OutputSpec(str(a.dtype), None))
        return y

    # ---- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "arch_kwargs": dict(self.arch_kwargs),
            "scale": int(self.scale),
            "bands": list(self.bands),
            "norm": {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]},
            "input_dtype": self.input_dtype,
            "input_res": self.input_res,
            "input_stats": self.input_stats,
            "sensor": self.sensor.to_dict(),
            "train_config": self.train_config,
            "provenance": self.provenance,
            "metrics": self.metrics,
            "version": self.version,
            "state_dict": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
        }
        d["weights_sha256"] = weights_digest(d["state_dict"])  # type: ignore[arg-type]
        if self.uncertainty:
            d["uncertainty"] = self.uncertainty
        return d

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the bundle atomically to ``path``."""
        return torch_save(self.to_dict(), path)


def weights_digest(state_dict: dict[str, Any]) -> str:
    """SHA-256 over the tensors of a state dict, in key order: name, dtype, shape and bytes."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        # reshape(-1): the values in logical order whatever the memory format (channels-last included)
        h.update(t.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def check_integrity(d: dict[str, Any], path: str) -> None:
    """Refuse a bundle that is newer than this code, whose weights fail their checksum or are not
    finite, or whose normalisation is not finite and positive."""
    fix = "the file is damaged or was edited: re-copy it, or re-train (`s2sr train`)"
    version = d.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(f"{path}: model format_version {version!r} is newer than this s2sr reads "
                         f"({FORMAT_VERSION}); upgrade s2sr (pip install -U s2sr) to load it")
    if not isinstance(d["state_dict"], dict) or not all(isinstance(v, torch.Tensor) for v in d["state_dict"].values()):
        raise ModelError(f"{path}: state_dict is not a mapping of tensors; {fix}")
    want = d.get("weights_sha256")
    if want is not None and weights_digest(d["state_dict"]) != want:
        raise ModelError(f"{path}: the weights do not match their checksum (weights_sha256); {fix}")
    bad = [k for k, v in d["state_dict"].items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelError(f"{path}: weights {bad[0]} hold NaN or infinite values; {fix}")
    norm = d["norm"]
    try:
        mean = [float(v) for v in norm["mean"]]
        std = [float(v) for v in norm["std"]]
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path}: no numeric normalisation (norm.mean, norm.std); {fix}") from None
    if not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std):
        raise ModelError(f"{path}: normalisation mean {mean} / std {std} is not finite and positive; {fix}")


def bundle_from_dict(d: dict[str, Any], path: str = "<memory>", device: str = "cpu") -> ModelBundle:
    missing = [k for k in _REQUIRED if k not in d]
    if d.get("format") != FORMAT or missing:
        raise ModelError(
            f"{path}: not an s2sr model checkpoint (missing {missing or ['format']}); "
            "use RUN/best.pt written by `s2sr train`"
        )
    check_integrity(d, path)
    try:
        module = build_arch(d["arch"], **d["arch_kwargs"])
        module.load_state_dict(d["state_dict"])
    except (RuntimeError, TypeError) as e:
        first = str(e).splitlines()[0]
        raise ModelError(f"{path}: weights do not match architecture {d['arch']!r} ({first}); the checkpoint is damaged") from None
    module.eval().to(device)
    _probe(module, list(d["bands"]), int(d["scale"]), d["norm"], path, device)
    return ModelBundle(
        arch=d["arch"],
        arch_kwargs=dict(d["arch_kwargs"]),
        scale=int(d["scale"]),
        bands=list(d["bands"]),
        mean=np.asarray(d["norm"]["mean"], dtype=np.float32),
        std=np.asarray(d["norm"]["std"], dtype=np.float32),
        module=module,
        sensor=SensorModel.from_dict(d.get("sensor") or {"scale": d["scale"]}),
        input_dtype=d.get("input_dtype", "uint16"),
        input_res=d.get("input_res"),
        input_stats=d.get("input_stats") or {},
        train_config=d.get("train_config") or {},
        provenance=d.get("provenance") or {},
        metrics=d.get("metrics") or {},
        version=d.get("version", "?"),
        path=path,
        uncertainty=d.get("uncertainty") or None,
    )


def _probe(module: nn.Module, bands: list[str], scale: int, norm: dict[str, Any], path: str, device: str) -> None:
    """Refuse a bundle whose band list, normalisation or scale disagrees with its network."""
    from s2sr.model_check import probe

    fix = "the bundle was edited or is damaged; use the RUN/best.pt written by `s2sr train`"
    if not len(norm.get("mean", ())) == len(norm.get("std", ())) == len(bands) > 0:
        raise ModelError(f"{path}: {len(bands)} bands but {len(norm.get('mean', ()))} normalisation means and "
                         f"{len(norm.get('std', ()))} stds; {fix}")

    @torch.inference_mode()
    def run(x: np.ndarray) -> torch.Tensor:
        return module(torch.from_numpy(x).to(device))

    probe(run, bands, scale, path, fix)


def torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` atomically; a full disk or an unwritable folder is a one-line OutputError.

    The object is serialised in memory first and written with Python's own file I/O: torch's
    writer reports a failed write as an opaque ``RuntimeError`` (``inline_container.cc``),
    Python as an ``OSError`` with its errno, which :func:`s2sr.io.atomic.atomic_file` words.
    """
    from s2sr.io.atomic import atomic_file

    buf = io.BytesIO()
    torch.save(obj, buf)
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_bytes(buf.getbuffer())
    return path


def torch_load(path: Path, what: str, fix: str) -> Any:
    """``torch.load(weights_only=True)`` on CPU; any loader failure is one ModelError naming ``path``.

    ``what`` names the file kind ("checkpoint", "training state"), ``fix`` says what to do.
    """
    _check_torch_file(Path(path), what, fix)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch's weights-only unpickler refused a global: code, not weights
        if "Weights only load failed" in str(e):
            raise ModelError(f"{path}: holds Python objects other than weights and metadata (code that loading "
                             f"would run); s2sr refuses to load it: {fix}") from None
        raise ModelError(f"{path}: corrupt or truncated {what} ({_first_line(e)}); {fix}") from None
    except Exception as e:  # torch raises many types for truncated/corrupt pickles/zips
        raise ModelError(f"{path}: corrupt or truncated {what} ({_first_line(e)}); {fix}") from None


def _first_line(e: BaseException, limit: int = 120) -> str:
    """The first line of ``e``, cut at a word boundary near ``limit`` characters (never mid-word)."""
    first = (str(e).splitlines() or [type(e).__name__])[0]
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."


# first bytes of files people pass by mistake, and what they are
_NOT_TORCH = ((b"II*\0", "a GeoTIFF"), (b"MM\0*", "a GeoTIFF"), (b"\x89PNG", "a PNG image"), (b"{", "a JSON file"),
              (b"#", "a text file"))


def _check_torch_file(path: Path, what: str, fix: str) -> None:
    """Refuse, before torch sees it, a file that cannot be read or is no PyTorch file at all."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise ModelError(f"{path}: cannot read the {what} ({e.strerror}); check the file's permissions") from None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):  # torch's zip format, or a legacy pickle
        return
    if path.suffix.lower() == ".onnx":
        raise ModelError(f"{path}: is an ONNX model, not a PyTorch {what}; pass the .pt bundle (RUN/best.pt) "
                         "(an ONNX model runs with `s2sr apply --backend onnx`)")
    kind = "an empty file" if not head else next((k for magic, k in _NOT_TORCH if head.startswith(magic)), None)
    if kind is None:
        raise ModelError(f"{path}: not a PyTorch {what} (unknown format), so not an s2sr model; {fix}")
    raise ModelError(f"{path}: is {kind}, not a PyTorch {what}, so not an s2sr model; {fix}")


def load_model(model: str | os.PathLike[str], device: str = "cpu") -> ModelBundle:
    """Rebuild a model from a bundle file, or from the name of an installed model (``s2sr models``)."""
    from s2sr.models.registry import resolve_model

    p = resolve_model(model)
    if not p.is_file():
        raise ModelError(f"{p}: is not a file; pass the path of RUN/best.pt or a name listed by `s2sr models`")
    d = torch_load(p, "checkpoint", "re-copy or re-train it")
    if not isinstance(d, dict):
        raise ModelError(f"{p}: not an s2sr model checkpoint; use RUN/best.pt written by `s2sr train`")
    return bundle_from_dict(d, str(p), device)
