"""A "stereo" recording with the same audio on both channels (a mono call saved as stereo, or one
mix of both voices on each channel) cannot be split into agent and customer: read as two sides,
every word would be said twice and the call would be one long talk-over. It is refused with a
clear error, or read as the one side the user names.

The measurement runs on generated signals and on the bundled demo call; the replay runs the
real recognizer on the demo call's agent channel saved twice."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.audio import TWIN_CORRELATION, decode_channels, probe_audio
from rapport_assist.cli import main

DATA_DIR = Path(__file__).resolve().parent.parent / "src" / "rapport_assist" / "data"
RATE = 16000


def write_stereo(path: Path, left: np.ndarray, right: np.ndarray, rate: int = RATE) -> Path:
    data = np.clip(np.stack([left, right], axis=1), -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def voice_like(seconds: float, seed: int) -> np.ndarray:
    """Noise shaped in bursts, loud enough to be far above the silent-channel threshold."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = (np.sin(np.linspace(0, seconds * 2 * np.pi * 1.5, n)) > 0).astype(np.float64)
    return 0.3 * rng.standard_normal(n) * envelope


def test_the_same_samples_on_both_channels_are_twins(tmp_path: Path) -> None:
    s = voice_like(3.0, 1)
    info = probe_audio(write_stereo(tmp_path / "twice.wav", s, s))
    assert info.channel_correlation == pytest.approx(1.0, abs=1e-6)
    assert info.twin_channels


def test_one_mix_at_two_levels_or_a_lossy_copy_is_still_one_signal(tmp_path: Path) -> None:
    s = voice_like(3.0, 2)
    noise = np.random.default_rng(3).standard_normal(s.size) * 0.003  # about -40 dB under the voice
    assert probe_audio(write_stereo(tmp_path / "levels.wav", s, 0.5 * s)).twin_channels
    assert probe_audio(write_stereo(tmp_path / "near.wav", s, s + noise)).twin_channels


def test_two_sides_taking_turns_with_crosstalk_are_not_twins(tmp_path: Path) -> None:
    agent = np.concatenate([voice_like(2.0, 4), np.zeros(2 * RATE)])
    customer = np.concatenate([np.zeros(2 * RATE), voice_like(2.0, 5)])
    # each side's voice leaks into the other's channel at -20 dB (a headset's sidetone, line echo)
    left, right = agent + 0.1 * customer, customer + 0.1 * agent
    info = probe_audio(write_stereo(tmp_path / "call.wav", left, right))
    assert info.channel_correlation is not None
    assert abs(info.channel_correlation) < TWIN_CORRELATION
    assert not info.twin_channels


def test_a_silent_channel_is_not_measured(tmp_path: Path) -> None:
    info = probe_audio(write_stereo(tmp_path / "one.wav", voice_like(2.0, 6), np.zeros(2 * RATE)))
    assert info.channel_correlation is None
    assert not info.twin_channels


def test_the_bundled_demo_call_is_two_sides() -> None:
    info = probe_audio(DATA_DIR / "demo_call.flac")
    assert info.channel_correlation is not None and abs(info.channel_correlation) < 0.05


@pytest.fixture(scope="module")
def agent_twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo call's first 12 s of agent channel (its greeting), saved on both channels."""
    demo = decode_channels(DATA_DIR / "demo_call.flac")
    left = demo.channels[0][: 12 * RATE].astype(np.float64)
    return write_stereo(tmp_path_factory.mktemp("twin") / "greeting.wav", left, left)


def replay(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_replay_refuses_to_split_twin_channels_and_says_what_to_do(agent_twice: Path) -> None:
    code, out, err = replay(str(agent_twice), "--format", "jsonl")
    assert code == 4, err
    assert "same audio on both channels" in err
    assert "--speaker agent|customer" in err
    assert out == ""  # nothing was recognized or claimed


def test_replay_reads_twin_channels_as_the_one_side_named(agent_twice: Path) -> None:
    code, out, err = replay(str(agent_twice), "--speaker", "agent", "--format", "jsonl")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    utterances = [e for e in events if e["type"] == "utterance"]
    assert utterances and {u["speaker"] for u in utterances} == {"agent"}
    assert "thank you for calling" in " ".join(u["text"].lower() for u in utterances)
    assert not [e for e in events if e["type"] == "status" and e.get("code") == "downmixed"]


def test_qa_takes_a_twin_file_named_for_one_side_as_that_side(agent_twice: Path, tmp_path: Path) -> None:
    from rapport_assist.qa.inputs import discover
    from rapport_assist.types import Speaker

    side = tmp_path / "call7_agent.wav"
    side.write_bytes(agent_twice.read_bytes())
    calls, warnings = discover([side])
    (call,) = calls
    assert call.spec.speaker is Speaker.AGENT and call.spec.path == side
    assert not [w for w in warnings if "named like one side" in w]
    assert [w for w in warnings if "no customer side found" in w]


def test_one_recording_given_as_both_sides_is_refused_as_twin_channels_are(
    agent_twice: Path, tmp_path: Path, write_audio
) -> None:
    """``--agent a.wav --customer a.wav``, or a pair whose two files are copies of one recording:
    every word was heard from both sides, the whole call talk-over, with no word of warning."""
    side = write_audio(tmp_path / "greeting.wav", decode_channels(agent_twice).channels[0], RATE)
    code, out, err = replay("--agent", str(side), "--customer", str(side), "--format", "jsonl")
    assert code == 4, err
    assert "are the same recording" in err and "give each side's own recording" in err
    assert out == ""
    calls = tmp_path / "calls"
    calls.mkdir()
    for name in ("call7_agent.wav", "call7_customer.wav"):
        (calls / name).write_bytes(side.read_bytes())
    err_io = io.StringIO()
    qa = ["qa", str(calls), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(qa, io.StringIO(), err_io) == 10, err_io.getvalue()
    assert "call7: the agent's file" in err_io.getvalue() and "are the same recording" in err_io.getvalue()
