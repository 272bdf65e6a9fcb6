"""Per-pixel confidence of a super-resolved image: an error model, its calibration, its scores.

- :mod:`~s2sr.uncertainty.head`: the error model (predicts the scale of ``|SR - truth|``)
- :mod:`~s2sr.uncertainty.calibration`: split-conformal quantiles per level and band
- :mod:`~s2sr.uncertainty.section`: the optional ``uncertainty`` section of a model bundle
- :mod:`~s2sr.uncertainty.residuals`, :mod:`~s2sr.uncertainty.fit`: ``s2sr calibrate``
- :mod:`~s2sr.uncertainty.scores`: coverage and rank correlation in ``s2sr evaluate``

``s2sr apply --uncertainty`` (:mod:`s2sr.infer.uncertainty`) writes the half-widths. See
docs/uncertainty.md.
"""
