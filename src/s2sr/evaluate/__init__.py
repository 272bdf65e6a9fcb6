"""Honest evaluation: model vs GDAL interpolation baselines, pair mode or Wald protocol.

Entry points: :func:`s2sr.evaluate.run.evaluate` (``s2sr evaluate``) with
:class:`s2sr.evaluate.config.EvalConfig`; Wald mode degrades the image with
:func:`s2sr.data.wald.degrade_image` (``s2sr degrade``). Metric definitions: docs/evaluate.md.
"""
