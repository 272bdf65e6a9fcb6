"""Run the model over the LR raster with the same streaming code as ``s2sr apply``."""

from __future__ import annotations

from pathlib import Path

from s2sr.bundle import ModelBundle


def super_resolve(bundle: ModelBundle, lr_path: Path, out_path: Path, bands: list[int],
                  progress: bool = False, input_check: str = "refuse", uncertainty: float | None = None,
                  safe: bool = False) -> Path:
    """Write the super-resolved ``lr_path`` (as float32, no rounding) to ``out_path`` on the LR's fine grid.

    This is :func:`s2sr.infer.apply.apply_model`, the code behind ``s2sr apply``, so the
    scored pixels are the pixels users get (tiling, blending and edge handling included).
    ``input_check`` as :class:`~s2sr.infer.apply.ApplyConfig`'s ("skip" when the caller checked).
    ``uncertainty``: also write ``<out stem>.uncertainty.tif`` at that level (``apply --uncertainty``).
    ``safe``: the ``apply --safe`` output instead of the plain one.
    """
    from s2sr.infer.apply import ApplyConfig, apply_model

    opts = ApplyConfig(bands=list(bands), out_dtype="float32", progress=progress, input_check=input_check,
                       uncertainty=uncertainty is not None, uncertainty_level=uncertainty or 0.9, safe=safe)
    return Path(apply_model(bundle, lr_path, out_path, opts).path)
