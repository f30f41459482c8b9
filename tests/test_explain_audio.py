"""``rules explain`` on a recording hears it as ``qa`` does: the same transcript cache and batch
recognition, so the utterance numbers (which ``eval`` labels use) are qa's."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.audio import decode_channels
from rapport_assist.cli import DEMO_CALL, main

pytestmark = [pytest.mark.slow, pytest.mark.model]
RATE = 16000
HEADING = re.compile(r"^\[[0-9:.]+\] #(\d+) (AGENT|CUSTOMER): (.*)$")


@pytest.fixture(scope="module")
def two_sides(tmp_path_factory: pytest.TempPathFactory, write_audio) -> Path:
    """The first 75 s of the demo call as a stereo recording (agent left, customer right)."""
    agent, customer = decode_channels(DEMO_CALL).channels[:2]
    path = tmp_path_factory.mktemp("call") / "call-1.wav"
    return write_audio(path, np.stack([agent[: 75 * RATE], customer[: 75 * RATE]]), RATE)


def _explained(path: Path, cache: Path) -> list[tuple[int, str, str]]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["rules", "explain", "--rule", "angry-no-apology", str(path), "--cache", str(cache)], out, err)
    assert code == 0, err.getvalue()
    return [(int(m[1]), m[2].lower(), m[3]) for m in map(HEADING.match, out.getvalue().splitlines()) if m]


def _qa(path: Path, cache: Path, out: Path) -> list[tuple[int, str, str]]:
    err = io.StringIO()
    assert main(["qa", str(path), "--out", str(out), "--cache", str(cache)], io.StringIO(), err) == 0, err.getvalue()
    events = [json.loads(line) for line in (out / "calls" / "call-1" / "events.jsonl").read_text().splitlines()]
    return [(e["index"], e["speaker"], e["text"]) for e in events if e["type"] == "utterance"]


def test_explain_numbers_utterances_as_qa_does(two_sides: Path, tmp_path: Path) -> None:
    # each recognizes the recording itself (separate caches): the same path gives the same numbers
    explained = _explained(two_sides, tmp_path / "cache-explain")
    qa = _qa(two_sides, tmp_path / "cache-qa", tmp_path / "out")
    assert len(qa) >= 8
    assert explained == qa
    # explain reuses what qa cached: nothing new is written
    cached = sorted((tmp_path / "cache-qa").rglob("*.jsonl"))
    assert _explained(two_sides, tmp_path / "cache-qa") == qa
    assert sorted((tmp_path / "cache-qa").rglob("*.jsonl")) == cached
