"""End to end on real audio: the bundled stereo demo call through VAD, tiny.en, spaCy and rules.

The demo call is espeak-ng speech made by scripts/make_demo_call.py (8 kHz, agent left,
customer right); its script is demo_call.jsonl and the moments it must trigger are in
demo_call.expected.json.
"""

from __future__ import annotations

import io
import json
import re
import struct
import wave
from pathlib import Path

import jiwer
import numpy as np
import pytest

from rapport_assist.cli import DATA_DIR, main

pytestmark = pytest.mark.model

DEMO_FLAC = DATA_DIR / "demo_call.flac"
SCRIPT = [json.loads(line) for line in (DATA_DIR / "demo_call.jsonl").read_text().splitlines() if line.strip()]
_EXPECTED_FILE = json.loads((DATA_DIR / "demo_call.expected.json").read_text())
EXPECTED = _EXPECTED_FILE["expected_nudges"]  # the turn where each moment happens
DECIDED = _EXPECTED_FILE["decided_at"]  # the turn at whose end the rule can first know


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


def replay(*argv: str) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", *argv, "--format", "jsonl"], stdout=out, stderr=err)
    return code, [json.loads(x) for x in out.getvalue().splitlines() if x.strip()], err.getvalue()


@pytest.fixture(scope="module")
def demo_events() -> list[dict]:
    code, evs, err = replay(str(DEMO_FLAC))
    assert code == 0, err
    return evs


@pytest.mark.parametrize("speaker", ["agent", "customer"])
def test_each_side_matches_its_script(demo_events: list[dict], speaker: str) -> None:
    heard = " ".join(e["text"] for e in demo_events if e["type"] == "utterance" and e["speaker"] == speaker)
    said = " ".join(t["text"] for t in SCRIPT if t["speaker"] == speaker)
    wer = jiwer.wer(normalize(said), normalize(heard))
    assert wer <= 0.10, f"{speaker} WER {wer:.1%}\nsaid:  {normalize(said)}\nheard: {normalize(heard)}"


def test_utterances_have_words_confidence_and_times(demo_events: list[dict]) -> None:
    utts = [e for e in demo_events if e["type"] == "utterance"]
    assert [u["index"] for u in utts] == list(range(len(utts)))
    for u in utts:
        assert 0 <= u["start"] < u["end"] and 0 < u["confidence"] <= 1 and u["words"]
    ends = [u["end"] for u in utts]
    assert ends == sorted(ends), "utterances arrive in the order they end, as in a live call"


def _turn_of(t_start: float, t_end: float) -> int:
    """The script turn that overlaps [t_start, t_end] the most."""
    overlaps = [min(t_end, t["end"]) - max(t_start, t["start"]) for t in SCRIPT]
    return int(np.argmax(overlaps))


def test_headline_nudges_fire_at_the_right_turns_and_nowhere_else(demo_events: list[dict]) -> None:
    utts = {e["index"]: e for e in demo_events if e["type"] == "utterance"}
    moment: dict[str, list[int]] = {}
    fired: dict[str, list[int]] = {}
    for e in demo_events:
        if e["type"] == "nudge" and e["rule"] in EXPECTED:
            u = utts[e["utterance_index"]]
            fired.setdefault(e["rule"], []).append(_turn_of(u["start"], u["end"]))
            ev = e["evidence"][0]
            moment.setdefault(e["rule"], []).append(_turn_of(ev["start"], ev["end"]))
    assert {r: sorted(v) for r, v in moment.items()} == {r: sorted(v) for r, v in EXPECTED.items() if v}
    assert {r: sorted(v) for r, v in fired.items()} == {r: sorted(v) for r, v in DECIDED.items() if v}


def test_audio_and_transcript_replays_agree(demo_events: list[dict]) -> None:
    code, text_events, err = replay(str(DATA_DIR / "demo_call.jsonl"))
    assert code == 0, err

    def rules(evs: list[dict]) -> list[str]:
        return sorted(e["rule"] for e in evs if e["type"] == "nudge")

    assert rules(demo_events) == rules(text_events)


def _write_wav(path: Path, data: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1 if data.ndim == 1 else data.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(data, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_silence_and_line_noise_yield_no_utterances(tmp_path: Path) -> None:
    rate = 8000
    rng = np.random.default_rng(7)
    n = 30 * rate
    silence = np.zeros(n, dtype=np.float32)
    # Telephone line noise: white noise plus mains hum and a few clicks, at about -40 dBFS.
    hum = 0.004 * np.sin(2 * np.pi * 50 * np.arange(n) / rate)
    noise = (0.01 * rng.standard_normal(n) + hum).astype(np.float32)
    noise[rng.integers(0, n, 20)] += 0.3
    path = _write_wav(tmp_path / "quiet.wav", np.stack([silence, noise], axis=1), rate)
    code, evs, err = replay(str(path))
    assert code == 0, err
    assert [e for e in evs if e["type"] in ("utterance", "nudge")] == []
    assert any(e["type"] == "status" and e["code"] == "no_speech" for e in evs)


def test_two_mono_files_and_swapped_channels(tmp_path: Path) -> None:
    from rapport_assist.audio import decode_channels

    audio = decode_channels(DEMO_FLAC)
    left, right = audio.channels
    agent = _write_wav(tmp_path / "agent.wav", left, 16000)
    swapped = _write_wav(tmp_path / "swapped.wav", np.stack([right, left], axis=1), 16000)
    _, evs_swapped, _ = replay(str(swapped), "--channels", "customer,agent")
    code, evs_agent_only, err = replay("--agent", str(agent))
    assert code == 0, err
    assert {e["speaker"] for e in evs_agent_only if e["type"] == "utterance"} == {"agent"}
    speakers = [(e["speaker"], e["text"]) for e in evs_swapped if e["type"] == "utterance"]
    assert {s for s, _ in speakers} == {"agent", "customer"}
    said_agent = normalize(" ".join(t["text"] for t in SCRIPT if t["speaker"] == "agent"))
    heard_agent = normalize(" ".join(t for s, t in speakers if s == "agent"))
    assert jiwer.wer(said_agent, heard_agent) <= 0.10


def test_a_glitch_of_samples_that_are_no_numbers_keeps_the_sides_words(tmp_path: Path, speak) -> None:
    """Ten NaN samples in the customer's channel of a float WAV, 0.1 s into their words: their
    whole utterance was lost (exit 0, nothing said), and numpy and faster-whisper warned on stderr."""
    agent = speak("Thank you for calling, how can I help you today?")
    customer = speak("My internet keeps dropping every night and I am tired of it.")
    gap = np.zeros(8000, np.float32)
    left = np.concatenate([agent, gap, np.zeros_like(customer)])
    right = np.concatenate([np.zeros_like(agent), gap, customer])
    right[len(agent) + 8000 + 1600 : len(agent) + 8000 + 1610] = np.nan
    data = np.stack([left, right]).T.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 2, 16000, 16000 * 8, 8, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "call.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    code, events, err = replay(str(path))
    assert code == 0 and err == "", err
    heard = [(e["speaker"], normalize(e["text"])) for e in events if e["type"] == "utterance"]
    assert [s for s, _ in heard] == ["agent", "customer"], heard
    assert "tired of it" in heard[1][1]
