"""The fault catalogue: bad input, bad places to write and bad models, for every command.

One parametrised test per command; each case must end with exit code 2 and one line on
stderr naming the file, no traceback, no leftovers, inputs untouched (see conftest.py).
"""

from __future__ import annotations

import pytest

from .conftest import Case, Workspace

W = Workspace


def _p(ws: W, name: str) -> str:
    return str(ws.root / name)


# ---- synth ---------------------------------------------------------------------------------------

SYNTH = [
    Case("outdir-is-a-file", lambda ws: ([str(ws.copy("notes.txt")), "--size", "64"], "notes.txt")),
    Case("unwritable", lambda ws: ([str(ws.unwritable() / "pair"), "--size", "64"], "locked")),
    Case("disk-full", lambda ws: ([_p(ws, "disk/pair"), "--size", "256"], "disk"), disk_kib=64),
    Case("size-not-a-multiple", lambda ws: ([_p(ws, "pair"), "--size", "66"], "--size")),
]


@pytest.mark.parametrize("case", SYNTH, ids=[c.id for c in SYNTH])
def test_synth(run_case, case: Case) -> None:
    run_case("synth", case)


# ---- prepare -------------------------------------------------------------------------------------

def _prepare(lr: str, hr: str, out: str) -> list[str]:
    return ["--lr", lr, "--hr", hr, "--scale", "4", "--patch-size", "8", "--out", out]


def _pair(ws: W) -> tuple[str, str]:
    return str(ws.copy("pair/lr.tif")), str(ws.copy("pair/hr.tif"))


PREPARE = [
    Case("missing-lr", lambda ws: (_prepare(_p(ws, "nope.tif"), _pair(ws)[1], _p(ws, "ds")), "nope.tif")),
    Case("empty-hr", lambda ws: (_prepare(_pair(ws)[0], str(ws.file("empty.tif", b"")), _p(ws, "ds")), "empty.tif")),
    Case("truncated-lr", lambda ws: (_prepare(str(ws.truncated("pair/lr.tif", "cut.tif")), _pair(ws)[1],
                                              _p(ws, "ds")), "cut.tif")),
    Case("wrong-format-hr", lambda ws: (_prepare(_pair(ws)[0], str(ws.copy("notes.txt", "hr.tif")), _p(ws, "ds")),
                                        "hr.tif")),
    Case("lr-is-a-directory", lambda ws: (_prepare(str(ws.copy("ds")), _pair(ws)[1], _p(ws, "out")), "ds")),
    Case("unwritable", lambda ws: (_prepare(*_pair(ws), str(ws.unwritable() / "ds")), "locked")),
    Case("disk-full", lambda ws: (_prepare(*_pair(ws), _p(ws, "disk/ds")), "disk"), disk_kib=64),
    Case("out-holds-the-input", lambda ws: (_prepare(*_pair(ws), str(ws.root / "pair")), "pair")),
    Case("out-is-the-input", lambda ws: (_prepare(*_pair(ws), _pair(ws)[0]), "lr.tif")),
]


@pytest.mark.parametrize("case", PREPARE, ids=[c.id for c in PREPARE])
def test_prepare(run_case, case: Case) -> None:
    run_case("prepare", case)


# ---- train ---------------------------------------------------------------------------------------

def _train(ws: W, data: str, out: str) -> list[str]:
    return ["--data", data, "--out", out, "--config", str(ws.copy("tiny.json"))]


def _damaged_store(ws: W, part: str, data: bytes | None = None) -> str:
    ds = ws.copy("ds")
    f = ds / "store" / "train" / part
    f.write_bytes(data if data is not None else f.read_bytes()[: f.stat().st_size // 2])
    return str(ds)


TRAIN = [
    Case("missing-data", lambda ws: (_train(ws, _p(ws, "nope"), _p(ws, "run")), "nope")),
    Case("data-is-a-file", lambda ws: (_train(ws, str(ws.copy("notes.txt")), _p(ws, "run")), "notes.txt")),
    Case("empty-data-folder", lambda ws: (_train(ws, str(ws.file("empty", b"").parent / "emptyds"), _p(ws, "run")),
                                          "emptyds"), ),
    Case("corrupt-store-meta", lambda ws: (_train(ws, _damaged_store(ws, "meta.json", b'{"count": 3, "ban'),
                                                  _p(ws, "run")), "meta.json")),
    Case("truncated-store", lambda ws: (_train(ws, _damaged_store(ws, "lr.f32"), _p(ws, "run")), "lr.f32")),
    Case("corrupt-prepare-json", lambda ws: (_train(ws, _corrupt_prepare_json(ws), _p(ws, "run")), "prepare.json")),
    Case("wrong-format-config", lambda ws: (["--data", str(ws.copy("ds")), "--out", _p(ws, "run"), "--config",
                                             str(ws.copy("pair/lr.tif", "cfg.toml"))], "cfg.toml")),
    Case("unwritable", lambda ws: (_train(ws, str(ws.copy("ds")), str(ws.unwritable() / "run")), "locked")),
    Case("disk-full", lambda ws: (_train(ws, str(ws.copy("ds")), _p(ws, "disk/run")), "disk"), disk_kib=16,
         allow=("disk/run",)),
    Case("out-overwrites-the-config", lambda ws: (["--data", str(ws.copy("ds")), "--out", _p(ws, "run"), "--config",
                                                   str(ws.copy("tiny.json", "run/config.json"))], "config.json")),
]


def _corrupt_prepare_json(ws: W) -> str:
    ds = ws.copy("ds")
    (ds / "prepare.json").write_text("{not json")
    return str(ds)


@pytest.mark.parametrize("case", TRAIN, ids=[c.id for c in TRAIN])
def test_train(run_case, case: Case) -> None:
    if case.id == "empty-data-folder":
        case = Case(case.id, lambda ws: (_train(ws, str(_mkdir(ws, "emptyds")), _p(ws, "run")), "emptyds"))
    run_case("train", case)


def _mkdir(ws: W, name: str):
    d = ws.root / name
    d.mkdir()
    return d


# ---- apply ---------------------------------------------------------------------------------------

def _apply(ws: W, model: str, src: str, out: str, *extra: str) -> list[str]:
    return [model, src, out, *extra]


APPLY = [
    Case("missing-input", lambda ws: (_apply(ws, str(ws.copy("model.pt")), _p(ws, "nope.tif"), _p(ws, "o.tif")),
                                      "nope.tif")),
    Case("empty-input", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(ws.file("e.tif", b"")),
                                           _p(ws, "o.tif")), "e.tif")),
    Case("truncated-input", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(ws.truncated("pair/lr.tif", "c.tif")),
                                               _p(ws, "o.tif")), "c.tif")),
    Case("wrong-format-input", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(ws.copy("notes.txt", "n.tif")),
                                                  _p(ws, "o.tif")), "n.tif")),
    Case("input-is-a-directory", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(_mkdir(ws, "d.tif")),
                                                    _p(ws, "o.tif")), "d.tif")),
    Case("missing-model", lambda ws: (_apply(ws, _p(ws, "nope.pt"), str(ws.copy("pair/lr.tif")), _p(ws, "o.tif")),
                                      "nope.pt")),
    Case("truncated-model", lambda ws: (_apply(ws, str(ws.truncated("light.pt", "m.pt")), str(ws.copy("pair/lr.tif")),
                                               _p(ws, "o.tif")), "m.pt")),
    Case("wrong-format-model", lambda ws: (_apply(ws, str(ws.copy("pair/hr.tif", "m.pt")),
                                                  str(ws.copy("pair/lr.tif")), _p(ws, "o.tif")), "m.pt")),
    Case("malicious-model", lambda ws: (_apply(ws, str(ws.copy("evil.pt")), str(ws.copy("pair/lr.tif")),
                                               _p(ws, "o.tif")), "evil.pt"), marker="PWNED"),
    Case("truncated-onnx", lambda ws: (_apply(ws, str(ws.truncated("model.onnx", "m.onnx")),
                                              str(ws.copy("pair/lr.tif")), _p(ws, "o.tif"), "--backend", "onnx"),
                                       "m.onnx")),
    Case("unwritable", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(ws.copy("pair/lr.tif")),
                                          str(ws.unwritable() / "o.tif")), "locked")),
    Case("disk-full", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(ws.copy("pair/lr.tif")),
                                         _p(ws, "disk/o.tif")), "o.tif"), disk_kib=64),
    Case("output-is-the-input", lambda ws: (_apply(ws, str(ws.copy("model.pt")), str(ws.copy("pair/lr.tif")),
                                                   _p(ws, "pair/lr.tif")), "lr.tif")),
    Case("output-is-the-model", lambda ws: (_apply(ws, str(ws.copy("model.pt", "m.tif")), str(ws.copy("pair/lr.tif")),
                                                   _p(ws, "m.tif")), "m.tif")),
]


@pytest.mark.parametrize("case", APPLY, ids=[c.id for c in APPLY])
def test_apply(run_case, case: Case) -> None:
    run_case("apply", case)


# ---- export --------------------------------------------------------------------------------------

EXPORT = [
    Case("missing-model", lambda ws: ([_p(ws, "nope.pt"), _p(ws, "o.onnx")], "nope.pt")),
    Case("empty-model", lambda ws: ([str(ws.file("m.pt", b"")), _p(ws, "o.onnx")], "m.pt")),
    Case("truncated-model", lambda ws: ([str(ws.truncated("light.pt", "m.pt")), _p(ws, "o.onnx")], "m.pt")),
    Case("wrong-format-model", lambda ws: ([str(ws.copy("model.onnx")), _p(ws, "o.onnx")], "model.onnx")),
    Case("model-is-a-directory", lambda ws: ([str(_mkdir(ws, "m.pt")), _p(ws, "o.onnx")], "m.pt")),
    Case("malicious-model", lambda ws: ([str(ws.copy("evil.pt")), _p(ws, "o.onnx")], "evil.pt"), marker="PWNED"),
    Case("unwritable", lambda ws: ([str(ws.copy("light.pt")), str(ws.unwritable() / "o.onnx")], "locked")),
    Case("disk-full", lambda ws: ([str(ws.copy("light.pt")), _p(ws, "disk/o.onnx")], "o.onnx"), disk_kib=16),
    Case("output-is-the-model", lambda ws: ([str(ws.copy("light.pt", "m.onnx")), _p(ws, "m.onnx")], "m.onnx")),
]


@pytest.mark.parametrize("case", EXPORT, ids=[c.id for c in EXPORT])
def test_export(run_case, case: Case) -> None:
    run_case("export", case)


# ---- evaluate ------------------------------------------------------------------------------------

def _evaluate(ws: W, model: str, lr: str, hr: str, out: str, *extra: str) -> list[str]:
    return ["--model", model, "--lr", lr, "--hr", hr, "--out", out, *extra]


def _eval_inputs(ws: W) -> tuple[str, str, str]:
    return str(ws.copy("model.pt")), str(ws.copy("pair/lr.tif")), str(ws.copy("pair/hr.tif"))


EVALUATE = [
    Case("missing-lr", lambda ws: (_evaluate(ws, str(ws.copy("model.pt")), _p(ws, "nope.tif"),
                                             str(ws.copy("pair/hr.tif")), _p(ws, "ev")), "nope.tif")),
    Case("truncated-hr", lambda ws: (_evaluate(ws, str(ws.copy("model.pt")), str(ws.copy("pair/lr.tif")),
                                               str(ws.truncated("pair/hr.tif", "c.tif")), _p(ws, "ev")), "c.tif")),
    Case("wrong-format-hr", lambda ws: (_evaluate(ws, str(ws.copy("model.pt")), str(ws.copy("pair/lr.tif")),
                                                  str(ws.copy("notes.txt", "h.tif")), _p(ws, "ev")), "h.tif")),
    Case("hr-coarser-than-lr", lambda ws: (_evaluate(ws, str(ws.copy("model.pt")), str(ws.copy("pair/hr.tif")),
                                                     str(ws.copy("pair/lr.tif")), _p(ws, "ev")), "lr.tif")),
    Case("model-is-a-directory", lambda ws: (_evaluate(ws, str(_mkdir(ws, "m.pt")), str(ws.copy("pair/lr.tif")),
                                                       str(ws.copy("pair/hr.tif")), _p(ws, "ev")), "m.pt")),
    Case("malicious-model", lambda ws: (_evaluate(ws, str(ws.copy("evil.pt")), str(ws.copy("pair/lr.tif")),
                                                  str(ws.copy("pair/hr.tif")), _p(ws, "ev")), "evil.pt"), marker="PWNED"),
    Case("corrupt-split-store", lambda ws: (_evaluate(ws, *_eval_inputs(ws), _p(ws, "ev"), "--split-from",
                                                      _corrupt_prepare_json(ws)), "prepare.json")),
    Case("unwritable", lambda ws: (_evaluate(ws, *_eval_inputs(ws), str(ws.unwritable() / "ev")), "locked")),
    Case("disk-full", lambda ws: (_evaluate(ws, *_eval_inputs(ws), _p(ws, "disk/ev")), "ev"), disk_kib=64),
    Case("out-holds-the-input", lambda ws: (_evaluate(ws, *_eval_inputs(ws), _p(ws, "pair")), "pair")),
]


@pytest.mark.parametrize("case", EVALUATE, ids=[c.id for c in EVALUATE])
def test_evaluate(run_case, case: Case) -> None:
    run_case("evaluate", case)


# ---- degrade -------------------------------------------------------------------------------------

def _degrade(img: str, out: str) -> list[str]:
    return [img, out, "--scale", "4"]


DEGRADE = [
    Case("missing", lambda ws: (_degrade(_p(ws, "nope.tif"), _p(ws, "out")), "nope.tif")),
    Case("empty", lambda ws: (_degrade(str(ws.file("e.tif", b"")), _p(ws, "out")), "e.tif")),
    Case("truncated", lambda ws: (_degrade(str(ws.truncated("pair/hr.tif", "c.tif")), _p(ws, "out")), "c.tif")),
    Case("wrong-format", lambda ws: (_degrade(str(ws.copy("notes.txt", "n.tif")), _p(ws, "out")), "n.tif")),
    Case("input-is-a-directory", lambda ws: (_degrade(str(_mkdir(ws, "d.tif")), _p(ws, "out")), "d.tif")),
    Case("unwritable", lambda ws: (_degrade(str(ws.copy("pair/hr.tif")), str(ws.unwritable() / "out")), "locked")),
    Case("disk-full", lambda ws: (_degrade(str(ws.copy("pair/hr.tif")), _p(ws, "disk/out")), "out"), disk_kib=64),
    Case("output-is-the-input", lambda ws: (_degrade(str(ws.copy("pair/hr.tif", "t/lr.tif")), _p(ws, "t")),
                                            "lr.tif")),
]


@pytest.mark.parametrize("case", DEGRADE, ids=[c.id for c in DEGRADE])
def test_degrade(run_case, case: Case) -> None:
    run_case("degrade", case)


# ---- serve (validated at start; no case may reach the server loop) --------------------------------

def _serve(sr: str, *extra: str) -> list[str]:
    return ["--sr", sr, "--port", "0", *extra]


SERVE = [
    Case("missing-sr", lambda ws: (_serve(_p(ws, "nope.tif")), "nope.tif")),
    Case("empty-sr", lambda ws: (_serve(str(ws.file("e.tif", b""))), "e.tif")),
    Case("truncated-sr", lambda ws: (_serve(str(ws.truncated("pair/hr.tif", "c.tif"))), "c.tif")),
    Case("wrong-format-sr", lambda ws: (_serve(str(ws.copy("notes.txt", "n.tif"))), "n.tif")),
    Case("sr-is-a-directory", lambda ws: (_serve(str(_mkdir(ws, "d.tif"))), "d.tif")),
    Case("malicious-model-card", lambda ws: (_serve(str(ws.copy("pair/hr.tif")), "--model-card",
                                                    str(ws.copy("evil.pt"))), "evil.pt"), marker="PWNED"),
    Case("corrupt-footprint", lambda ws: (_serve(str(ws.copy("pair/hr.tif")), "--footprint",
                                                 str(ws.file("f.geojson", b'{"type": "FeatureCo'))), "f.geojson")),
]


@pytest.mark.timeout(120)  # a case that wrongly passes validation would start the server
@pytest.mark.parametrize("case", SERVE, ids=[c.id for c in SERVE])
def test_serve(run_case, case: Case) -> None:
    run_case("serve", case)


def test_catalogue_size() -> None:
    """The issue asks for at least 40 cases."""
    assert sum(map(len, (SYNTH, PREPARE, TRAIN, APPLY, EXPORT, EVALUATE, DEGRADE, SERVE))) >= 40
