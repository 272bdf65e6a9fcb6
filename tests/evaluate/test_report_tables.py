"""Winner marks: directions, ties, and the model's losses named in the table."""

from __future__ import annotations

from s2sr.evaluate.report import metric_table, versus_table
from s2sr.evaluate.run import winners


def _methods() -> dict:
    return {
        "model": {"overall": {"psnr": 30.0, "sam": 2.0, "grad_ratio": 0.9, "hallucination": 0.0}},
        "bicubic": {"overall": {"psnr": 29.0, "sam": 1.5, "grad_ratio": 0.5, "hallucination": 0.0}},
        "lanczos": {"overall": {"psnr": 29.5, "sam": 1.8, "grad_ratio": 1.2, "hallucination": 0.1}},
    }


def test_winners_follow_metric_direction_and_keep_ties() -> None:
    w = winners(_methods())
    assert w["psnr"] == ["model"]  # higher is better
    assert w["sam"] == ["bicubic"]  # lower is better
    assert w["grad_ratio"] == ["model"]  # closest to 1: |0.9-1| < |1.2-1| < |0.5-1|
    assert w["hallucination"] == ["model", "bicubic"]  # a tie: both win


def test_table_marks_where_the_model_loses() -> None:
    m = _methods()
    html = metric_table(m, winners(m))
    assert '<td class="lose" title="model loses to bicubic, lanczos">2.0000 ✗</td>' in html
    assert '<td class="win">30.00 ★</td>' in html
    vs = versus_table(m)
    assert '<td class="name">bicubic</td><td>2</td><td>1</td><td class="name">SAM (°)</td>' in vs
