"""Turns from audio, through the real recognizer: a long complaint said with pauses is one turn.

The endpointer cuts speech at every pause longer than its hangover (300 ms), so a 45-word
complaint said with two 1-second pauses arrives as three utterances of at most 20 words, none
of them long enough for missed-reflection (35 words). The rule reads turns, so it sees the
whole complaint, and the agent's whole next turn as the reply.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from rapport_assist.cli import main

pytestmark = [pytest.mark.model, pytest.mark.slow]

RATE = 16_000
COMPLAINT = (  # 45 words, no part long enough on its own
    "I have been trying to get my internet fixed for two weeks now and it keeps dropping every single evening.",
    "I restarted the router five times and replaced the cable and nothing changed.",
    "Now I cannot work from home at all, it's a real problem.",
)
PROCEDURE = ("Can I have your account number please?", "I need it to check the line.")
REFLECTION = (
    "Can I have your account number please?",
    "So your internet keeps dropping every evening, even after restarting the router.",
)


def call_audio(speak: Callable[[str], np.ndarray], reply: tuple[str, ...], pause_s: float = 1.0) -> np.ndarray:
    """Stereo (agent left, customer right): the complaint in three parts with ``pause_s`` between,
    then the agent's reply in two parts with 0.8 s between."""
    sides: list[list[np.ndarray]] = [[], []]

    def put(side: int, audio: np.ndarray, gap_s: float) -> None:
        silence = np.zeros(int(gap_s * RATE), dtype=np.float32)
        for k in (0, 1):
            sides[k].append(silence)
            sides[k].append(audio if k == side else np.zeros_like(audio))

    for i, part in enumerate(COMPLAINT):
        put(1, speak(part), 0.5 if i == 0 else pause_s)
    for i, part in enumerate(reply):
        put(0, speak(part), 0.7 if i == 0 else 0.8)
    put(0, np.zeros(RATE, dtype=np.float32), 0.0)
    return np.stack([np.concatenate(sides[0]), np.concatenate(sides[1])]) * 0.8


def replay(path: Path) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", str(path), "--format", "jsonl"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    return [json.loads(x) for x in out.getvalue().splitlines() if x.strip()]


def test_complaint_with_pauses_fires_missed_reflection_from_audio(speak, write_audio, tmp_path: Path) -> None:
    assert sum(len(p.split()) for p in COMPLAINT) == 45
    events = replay(write_audio(tmp_path / "procedure.wav", call_audio(speak, PROCEDURE), RATE))
    utts = [e for e in events if e["type"] == "utterance"]
    customer = [u for u in utts if u["speaker"] == "customer"]
    assert len(customer) >= 2, f"the endpointer did not cut the complaint at its pauses: {customer}"
    assert all(len(u["text"].split()) < 35 for u in customer), "a part is long enough on its own"
    turns = [e for e in events if e["type"] == "turn"]
    assert [t["speaker"] for t in turns] == ["customer", "agent"], turns
    assert turns[0]["utterances"] == [u["index"] for u in customer] and turns[0]["words"] >= 40
    assert all(t["closed"] for t in turns)
    nudges = [e for e in events if e["type"] == "nudge" and e["rule"] == "missed-reflection"]
    assert len(nudges) == 1, [e for e in events if e["type"] == "nudge"]
    nudge = nudges[0]
    # decided when the agent's turn closed (the end of the call here), at its last utterance
    assert nudge["utterance_index"] == utts[-1]["index"] and utts[-1]["speaker"] == "agent"
    trigger = next(e for e in nudge["evidence"] if e["speaker"] == "customer")
    assert all(w in trigger["text"].lower() for w in ("evening", "cable", "problem")), trigger  # all three parts


def test_reflection_in_the_second_part_of_the_reply_satisfies_it_from_audio(speak, write_audio, tmp_path: Path) -> None:
    events = replay(write_audio(tmp_path / "reflection.wav", call_audio(speak, REFLECTION), RATE))
    agent = [e for e in events if e["type"] == "utterance" and e["speaker"] == "agent"]
    assert len(agent) == 2, agent  # the reflection is its own utterance
    assert not [e for e in events if e["type"] == "nudge" and e["rule"] == "missed-reflection"]
