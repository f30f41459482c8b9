"""bench/nudge_volume.py: nudges per call per rule, on calls written here with real segment times.

The calls are made up in the style of real spoken calls (lowercase, unpunctuated, measured
start/end times): a calm call whose agent says the closing lines fast, one whose agent rushes two
long explanations at a slow caller, and one with a long unannounced silence. The script runs
``rapport-assist eval`` on them, so this also checks that pace-mismatch wants a sustained
mismatch, not one fast set phrase."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("nudge_volume", ROOT / "bench" / "nudge_volume.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass resolves its annotations through the module
    spec.loader.exec_module(mod)
    return mod


def _turn(speaker: str, text: str, start: float, end: float) -> dict:
    return {"speaker": speaker, "text": text, "start": start, "end": end}


CALM = [  # the closing lines at 5-6 words a second after a slow dictation: normal, no nudge
    _turn("agent", "hello this is the savings bank my name is ann how can i help you today", 1.0, 5.5),
    _turn("customer", "hi i lost my card and i need a new one please", 7.0, 11.0),
    _turn("agent", "sure what is the card number", 12.0, 14.0),
    _turn("customer", "it is four one seven seven two two nine zero", 15.0, 23.0),
    _turn("agent", "okay your new card is on its way is there anything else i can help you with", 24.0, 27.5),
    _turn("customer", "no that is all thank you", 28.5, 30.0),
    _turn("agent", "thank you for calling have a great day", 30.5, 32.0),
]

RUSHED = [  # two long explanations at about twice the caller's pace: one nudge
    _turn("agent", "hello this is the savings bank my name is ann how can i help you today", 1.0, 5.5),
    _turn("customer", "hi um i got a letter about my escrow and i do not really understand it", 7.0, 14.0),
    _turn(
        "agent",
        "right so every year we look at your taxes and your insurance and this year the county "
        "raised the taxes so there is a shortage in the account",
        15.0,
        21.0,
    ),
    _turn("customer", "okay", 21.5, 22.0),
    _turn(
        "agent",
        "so the shortage is spread over the next twelve payments which is why your monthly amount "
        "goes up starting in march",
        22.5,
        27.5,
    ),
    _turn("customer", "um i am not sure i follow", 29.0, 32.0),
]

SILENT = [  # the agent works 15 s without a word: dead air
    _turn("agent", "hello this is the savings bank how can i help you today", 1.0, 4.0),
    _turn("customer", "hi i would like to know my balance please", 5.0, 8.0),
    _turn("agent", "your balance is one hundred and six dollars", 23.0, 26.0),
    _turn("customer", "great thank you", 27.0, 28.0),
]


def test_nudges_per_call_per_rule(tmp_path: Path, capsys) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text(
        "".join(
            json.dumps({"id": cid, "turns": turns}) + "\n"
            for cid, turns in [("calm", CALM), ("rushed", RUSHED), ("silent", SILENT)]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "counts.json"
    assert _script().main([str(calls), "--json", str(out)]) == 0
    [col] = json.loads(out.read_text(encoding="utf-8"))
    assert col["name"] == "calls text" and col["calls"] == 3
    assert (col["nudges"]["pace-mismatch"], col["calls_with"]["pace-mismatch"]) == (1, 1)
    assert (col["nudges"]["dead-air"], col["calls_with"]["dead-air"]) == (1, 1)
    assert col["nudges"]["talk-over"] == 0
    table = capsys.readouterr().out
    assert "| pace-mismatch | 0.33 (1) | 33% * |" in table  # fires in more than 1 call in 10: flagged
    assert "| talk-over | 0 | 0% |" in table


def test_a_set_that_is_not_there_is_refused(tmp_path: Path, capsys) -> None:
    import pytest

    with pytest.raises(SystemExit):
        _script().main([str(tmp_path / "missing.jsonl")])
    assert "no such file or folder" in capsys.readouterr().err
