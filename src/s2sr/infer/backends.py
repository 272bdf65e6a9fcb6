"""Model backends: turn a model bundle (torch) or an exported ONNX file into a tile predictor."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from s2sr.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

ONNX_META_KEY = "s2sr_bundle"


class TorchPredictor:
    """Runs ``bundle.predict_batch`` (normalise, model, denormalise) at fp32 or bf16."""

    def __init__(self, bundle: Any, precision: str = "fp32", threads: int | None = None) -> None:
        import torch

        if precision not in ("fp32", "bf16"):
            raise ConfigError(f"--precision {precision!r}: choose fp32 or bf16")
        if threads:
            torch.set_num_threads(threads)
        # channels_last: 1.3-1.9x faster convolutions with oneDNN on CPU (fp32 and bf16), same values
        bundle.module.to(memory_format=torch.channels_last)
        self.bundle = bundle
        self.precision = precision

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        xt = torch.from_numpy(x)
        if self.bundle.device.type == "cuda":  # page-locked host memory: an asynchronous copy to the device
            xt = xt.pin_memory().to(self.bundle.device, non_blocking=True)
        xt = xt.contiguous(memory_format=torch.channels_last)
        y = self.bundle.predict_batch(xt, self.precision)
        if y.device.type == "cuda":  # into page-locked host memory (torch caches it): no page faults, full speed
            host = torch.empty_strided(y.size(), y.stride(), dtype=y.dtype, device="cpu", pin_memory=True)
            host.copy_(y, non_blocking=True)
            torch.cuda.current_stream(y.device).synchronize()
            return host.numpy()
        return y.cpu().numpy()  # channels-last strides: the (h, w, C) file layout is then a free view


class OnnxPredictor:
    """Runs an exported ONNX generator with onnxruntime; normalisation is done here in numpy."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.meta = read_onnx_meta(self.path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            first = (str(e).splitlines() or [type(e).__name__])[0][:160]
            raise ModelError(f"{self.path}: cannot load ONNX model ({first}); re-run `s2sr export`") from None
        norm = self.meta["norm"]
        self.mean = np.asarray(norm["mean"], np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(norm["std"], np.float32).reshape(1, -1, 1, 1)
        self.input_name = self.session.get_inputs()[0].name
        proj = self.meta.get("projection")
        self.projection: Any = None
        if proj:  # exported without it (see infer/export.py): applied here, as the torch model does
            from s2sr.archs.consistency import ConsistencyLayer

            self.projection = ConsistencyLayer(int(proj["scale"]), float(proj["mtf_nyquist"]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xn = ((x - self.mean) / self.std).astype(np.float32)
        y = self.session.run(None, {self.input_name: xn})[0]
        if self.projection is not None:
            import torch

            with torch.inference_mode():
                y = self.projection(torch.from_numpy(y), torch.from_numpy(xn)).numpy()
        return (y * self.std + self.mean).astype(np.float32)


def read_onnx_meta(path: str | Path) -> dict[str, Any]:
    """The bundle metadata (everything but weights) stored in an exported ONNX file."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: ONNX model file not found; create it with `s2sr export MODEL {p.name}`")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        first = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise ModelError(f"{p}: corrupt ONNX file ({first}); re-run `s2sr export`") from None
    try:
        props = {m.key: m.value for m in model.metadata_props}
    except UnicodeDecodeError as e:  # protobuf decodes string fields lazily: a flipped bit surfaces here
        raise ModelError(f"{p}: corrupt ONNX file (metadata is not text: {e.reason}); re-run `s2sr export`") from None
    if ONNX_META_KEY not in props:
        raise ModelError(f"{p}: ONNX file has no s2sr metadata; export it with `s2sr export`")
    try:
        meta = json.loads(props[ONNX_META_KEY])
        ok = isinstance(meta, dict) and isinstance(meta["arch"], str) and int(meta["scale"]) >= 1 and \
            len(meta["bands"]) == len(meta["norm"]["mean"]) == len(meta["norm"]["std"]) > 0
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ModelError(f"{p}: corrupt s2sr metadata in the ONNX file (arch, scale, bands, norm); re-run `s2sr export`")
    return dict(meta)
