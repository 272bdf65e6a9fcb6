"""Streamed whole-scene inference: tile plan, local/Dask pipelines, ONNX backend, COG output.

Public entry points: :func:`s2sr.infer.apply.apply_model` with
:class:`s2sr.infer.apply.ApplyConfig`, and :func:`s2sr.infer.export.export_onnx`.
"""
