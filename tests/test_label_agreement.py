"""scripts/label_agreement.py: Cohen's kappa on hand-checked 2x2 tables, and the per-moment
comparison of two small labels files (borderline left out of 'clear', turn differences)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("label_agreement", ROOT / "scripts" / "label_agreement.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def test_kappa_hand_checked():
    kappa = _script().cohen_kappa
    # 50 items: 20 both yes, 15 both no, 5 A only, 10 B only.
    # po = 35/50 = 0.7; A yes 25/50 = 0.5, B yes 30/50 = 0.6; pe = 0.5*0.6 + 0.5*0.4 = 0.5;
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    assert kappa(20, 15, 5, 10) == pytest.approx(0.4)
    # 10 items: 2 both yes, 6 both no, 1 A only, 1 B only.
    # po = 0.8; both yes-rates 0.3; pe = 0.09 + 0.49 = 0.58; kappa = 0.22 / 0.42 = 11/21
    assert kappa(2, 6, 1, 1) == pytest.approx(11 / 21)
    # full agreement with both answers present -> 1; disagreement on every item -> negative
    assert kappa(3, 7, 0, 0) == pytest.approx(1.0)
    assert kappa(0, 0, 5, 5) == pytest.approx(-1.0)
    # undefined: no items, or both raters said "no" to everything (pe = 1)
    assert kappa(0, 0, 0, 0) is None
    assert kappa(0, 9, 0, 0) is None


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(rid, notes="", **labels):
    moments = ("angry-no-apology", "you-not-we", "uncommitted-promise", "missed-reflection")
    return {
        "id": rid,
        "n_turns": 4,
        "labels": {m: labels.get(m.replace("-", "_"), []) for m in moments},
        "notes": notes,
    }


def test_compare_tables_borderline_and_turns(tmp_path):
    mod = _script()
    a = _write(
        tmp_path / "a.jsonl",
        [
            _row("t1", angry_no_apology=[1]),
            _row("t2", "angry-no-apology @1, borderline: fed up", angry_no_apology=[1]),
            _row("t3", angry_no_apology=[1]),
            _row("t4"),
            _row("only-a"),
        ],
    )
    b = _write(
        tmp_path / "b.jsonl",
        [
            _row("t1", angry_no_apology=[1]),
            _row("t2"),
            _row("t3", angry_no_apology=[3]),
            _row("t4", "angry-no-apology not fired, borderline: a joke"),
        ],
    )
    res = mod.compare(mod.read_labels(a), mod.read_labels(b))
    assert res["ids"] == 4 and res["only_a"] == ["only-a"] and res["only_b"] == []
    angry = res["moments"]["angry-no-apology"]
    assert (angry["all"]["both_yes"], angry["all"]["both_no"], angry["all"]["a_only"], angry["all"]["b_only"]) == (
        2,
        1,
        1,
        0,
    )
    assert angry["all"]["same_turns"] == 1
    assert angry["all"]["agreement"] == pytest.approx(0.75)
    # po 0.75; A yes 0.75, B yes 0.5; pe = 0.375 + 0.125 = 0.5; kappa 0.5
    assert angry["all"]["kappa"] == pytest.approx(0.5)
    # clear: t2 (A borderline) and t4 (B borderline) left out -> t1, t3 both yes; kappa undefined
    assert angry["clear"]["n"] == 2 and angry["clear"]["both_yes"] == 2 and angry["clear"]["kappa"] is None
    kinds = {d["id"]: (d["kind"], d["borderline"]) for d in angry["disagreements"]}
    assert kinds == {"t2": ("A only", ["A"]), "t3": ("turns", [])}
    # a moment nobody labelled: all both-no, kappa n/a, no disagreements
    you = res["moments"]["you-not-we"]
    assert you["all"]["both_no"] == 4 and you["all"]["kappa"] is None and you["disagreements"] == []
    text = mod.report(res, "a", "b")
    assert "| angry-no-apology | all | 4 | 2 | 1 | 1 | 0 | 75% | 0.50 | 1/2 |" in text
    assert "t3" in text and "only in A: 1" in text
