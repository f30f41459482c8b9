"""scripts/hvb_dialogues.py: compact call files (Harper Valley style) -> dialogue JSONL.

The calls are written here, in the corpus's form (lowercase, no punctuation, transcriber marks),
not read from the corpus."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rapport_assist.evaluate import read_dialogues

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("hvb_dialogues", ROOT / "scripts" / "hvb_dialogues.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CALL = """# some/repo data/transcript/abc.json @0123
a\t1000\t3000\tgood morning this is the credit union how can i help
c\t4500\t300\t[noise]
c\t5000\t2000\thi i <unk> need a new card
c\t7500\t1500\tmine was wou~ stolen
a\t9000\t2500\tokay we will mail a new one
a\t8800\t1000\t[cough] anything else
c\t12000\t800\tno thanks
"""

LABELS = {
    "id": "hvb-abc",
    "n_turns": 4,
    "labels": {"uncommitted-promise": [2]},
    "notes": "uncommitted-promise @2: mail with no time.",
}


def _write(tmp_path: Path, labels: dict | None = None) -> tuple[Path, Path | None]:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "abc.tsv").write_text(CALL, encoding="utf-8")
    if labels is None:
        return raw, None
    lab = tmp_path / "labels.jsonl"
    lab.write_text(json.dumps(labels) + "\n", encoding="utf-8")
    return raw, lab


def test_marks_dropped_and_one_speaker_merged(tmp_path: Path) -> None:
    mod = _script()
    raw, lab = _write(tmp_path, LABELS)
    out = tmp_path / "hvb.jsonl"
    assert mod.main([str(raw), "--out", str(out), "--labels", str(lab)]) == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["id"] == "hvb-abc" and row["source"].startswith("some/repo")
    assert [t["speaker"] for t in row["turns"]] == ["agent", "customer", "agent", "customer"]
    assert row["turns"][1]["text"] == "hi i need a new card mine was stolen"
    assert row["turns"][2]["text"] == "okay we will mail a new one anything else"
    # the customer turn spans its segments; the agent's second segment, stamped a little early,
    # does not move the turn's start back
    assert row["turns"][1]["start"] == 5.0 and row["turns"][1]["end"] == 9.0
    starts = [t["start"] for t in row["turns"]]
    assert starts == sorted(starts)
    assert row["labels"] == LABELS["labels"] and row["notes"] == LABELS["notes"]
    # what 'rapport-assist eval' reads
    (conv,) = read_dialogues(out)
    assert conv.labels is not None and conv.labels.moments["uncommitted-promise"] == (2,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_turns": 5}, "n_turns 5, the call has 4"),
        ({"labels": {"you-not-we": [1]}}, "names turn 1, a customer turn"),
        ({"id": "hvb-other"}, "no labels for hvb-abc"),
    ],
)
def test_labels_that_do_not_fit_fail_loudly(tmp_path: Path, change: dict, message: str, capsys) -> None:
    mod = _script()
    raw, lab = _write(tmp_path, {**LABELS, **change})
    out = tmp_path / "hvb.jsonl"
    assert mod.main([str(raw), "--out", str(out), "--labels", str(lab)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_line_names_file_and_line(tmp_path: Path, capsys) -> None:
    mod = _script()
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "x.tsv").write_text("a\t100\tnot a number\thello\n", encoding="utf-8")
    assert mod.main([str(raw), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "x.tsv:1" in capsys.readouterr().err
