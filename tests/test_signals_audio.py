"""Conversation signals on generated 8 kHz telephone speech, through the real pipeline.

One stereo call is synthesized with espeak-ng (agent left, customer right): calm turns, angry
words said calmly, a neutral sentence said louder and faster, a 10 s silence, and the agent
starting while the customer is still talking. It is replayed with ``rapport-assist replay``
(Silero VAD, tiny.en, spaCy, signals, rules) and the signals are read from the JSONL events.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.audio import decode_channels
from rapport_assist.cli import main

pytestmark = pytest.mark.model

RATE = 8000
AGENT_WPM, CALM_WPM, FAST_WPM = 135, 150, 205
LOUDER = 10 ** (10 / 20)  # +10 dB
NEUTRAL = "I would like to know when the new router will arrive at my house."

# (speaker, text, speed wpm, gain, pause before it in s; negative = starts before the other ends)
SCRIPT = [
    ("agent", "Thank you for calling, this is Sam. How can I help you today?", AGENT_WPM, 1.0, 0.5),
    ("customer", "Hello, I ordered a new router last week for my home office.", CALM_WPM, 1.0, 0.6),
    ("agent", "Thank you. Let me look at the order for you.", AGENT_WPM, 1.0, 0.6),
    ("customer", "The tracking page says it was shipped on Monday morning.", CALM_WPM, 1.0, 0.6),
    ("agent", "Yes, I can see it left the warehouse on Monday.", AGENT_WPM, 1.0, 0.6),
    (
        "customer",
        "It was supposed to be here two days ago, and the page has not changed since then.",
        CALM_WPM,
        1.0,
        0.6,
    ),
    ("agent", "I understand. I'm going to put you on hold for a moment.", AGENT_WPM, 1.0, 0.6),
    ("agent", "Thank you for waiting. The courier has it at the local depot.", AGENT_WPM, 1.0, 10.0),
    ("customer", "This is the third time I am calling.", CALM_WPM, 1.0, 0.6),
    ("agent", "I'm sorry about that. It will be delivered tomorrow before noon.", AGENT_WPM, 1.0, 0.6),
    ("customer", NEUTRAL, FAST_WPM, LOUDER, 0.6),
    ("agent", "It will arrive tomorrow before noon, and I will send you a text message tonight.", AGENT_WPM, 1.0, -1.5),
]
ANGRY_BY_TEXT, ANGRY_BY_VOICE = 8, 10  # script lines
CALM_CUSTOMER = [1, 3]
GAP_AFTER, OVERLAP_AT = 6, 11


def _espeak(text: str, wpm: int, voice: str, folder: Path, name: str) -> np.ndarray:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed; it is a required test dependency: run 'make setup'")
    path = folder / f"{name}.wav"
    subprocess.run([espeak, "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True, capture_output=True)
    return decode_channels(path).channels[0]


@pytest.fixture(scope="module")
def signals_call(tmp_path_factory: pytest.TempPathFactory, write_audio) -> tuple[Path, list[tuple[float, float]]]:
    """The stereo call at 8 kHz (100-3400 Hz band) and each script line's (start, end) in s."""
    folder = tmp_path_factory.mktemp("signals_call")
    voices = {"agent": "en-us+f3", "customer": "en-us+m1"}
    clips = [
        (spk, _espeak(text, wpm, voices[spk], folder, str(i)) * gain, pause)
        for i, (spk, text, wpm, gain, pause) in enumerate(SCRIPT)
    ]
    sr = 16000
    spans: list[tuple[float, float]] = []
    t = 0.0
    for _, clip, pause in clips:
        start = max(0.0, t + pause)
        spans.append((start, start + clip.shape[0] / sr))
        t = spans[-1][1]
    n = int((t + 1.0) * sr)
    track = {"agent": np.zeros(n, np.float32), "customer": np.zeros(n, np.float32)}
    for (spk, clip, _), (start, _) in zip(clips, spans):
        i = int(start * sr)
        track[spk][i : i + clip.shape[0]] += clip
    # telephone band, then 8 kHz
    spectrum_freqs = np.fft.rfftfreq(n, 1 / sr)
    band = (spectrum_freqs >= 100) & (spectrum_freqs <= 3400)
    stereo = []
    for spk in ("agent", "customer"):
        filtered = np.fft.irfft(np.fft.rfft(track[spk]) * band, n)
        stereo.append(filtered[::2] * 0.5)
    path = write_audio(folder / "signals_call.wav", np.stack(stereo), RATE)
    return path, spans


@pytest.fixture(scope="module")
def events(signals_call) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", str(signals_call[0]), "--format", "jsonl"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def _utterance_for(events: list[dict], span: tuple[float, float], speaker: str) -> dict:
    utts = [e for e in events if e["type"] == "utterance" and e["speaker"] == speaker]
    overlaps = [min(span[1], u["end"]) - max(span[0], u["start"]) for u in utts]
    best = int(np.argmax(overlaps))
    assert overlaps[best] > 0, f"no {speaker} utterance near {span}"
    return utts[best]


def test_neutral_words_louder_and_faster_are_angry_by_voice(events, signals_call) -> None:
    u = _utterance_for(events, signals_call[1][ANGRY_BY_VOICE], "customer")
    s = u["signals"]
    assert "anger" not in s["cues"], u["text"]
    assert s["loudness_rise_db"] > 6 and s["rate_rise"] > 0.15, s
    assert s["tone"]["label"] == "angry", s["tone"]
    assert any("louder" in e for e in s["tone"]["evidence"])


def test_angry_words_at_calm_volume_are_angry_by_text(events, signals_call) -> None:
    u = _utterance_for(events, signals_call[1][ANGRY_BY_TEXT], "customer")
    s = u["signals"]
    assert abs(s["loudness_rise_db"]) < 3, s
    assert s["tone"]["label"] == "angry" and any("third time" in e for e in s["tone"]["evidence"]), s["tone"]


def test_calm_turns_are_not_angry(events, signals_call) -> None:
    for line in CALM_CUSTOMER:
        u = _utterance_for(events, signals_call[1][line], "customer")
        assert u["signals"]["tone"]["label"] == "calm", u
    agent = [e for e in events if e["type"] == "utterance" and e["speaker"] == "agent"]
    assert all(a["signals"]["tone"]["label"] != "angry" for a in agent)


def test_ten_second_gap_is_dead_air_after_an_announced_hold(events, signals_call) -> None:
    spans = signals_call[1]
    dead = [e for e in events if e["type"] == "signal" and e["kind"] == "dead_air"]
    assert len(dead) == 1, dead
    assert dead[0]["silence_s"] == pytest.approx(spans[GAP_AFTER + 1][0] - spans[GAP_AFTER][1], abs=0.8)
    assert dead[0]["hold_announced"] is True


def test_agent_speaking_over_the_customer_is_talk_over(events, signals_call) -> None:
    spans = signals_call[1]
    over = [e for e in events if e["type"] == "signal" and e["kind"] == "talk_over"]
    assert len(over) == 1, over
    assert (over[0]["speaker"], over[0]["over"]) == ("agent", "customer")
    true_overlap = spans[OVERLAP_AT - 1][1] - spans[OVERLAP_AT][0]
    assert over[0]["overlap_s"] == pytest.approx(true_overlap, abs=0.5)


def test_angry_no_apology_follows_the_tone_estimate(events, signals_call) -> None:
    """The angry words are answered with 'I'm sorry': quiet. The turn that is angry only by
    voice is answered without an apology: angry-no-apology fires on it."""
    spans = signals_call[1]
    fired = [e for e in events if e["type"] == "nudge" and e["rule"] == "angry-no-apology"]
    assert len(fired) == 1, fired
    [trigger] = [ev for ev in fired[0]["evidence"] if ev["speaker"] == "customer"]
    voice_turn = spans[ANGRY_BY_VOICE]
    assert min(voice_turn[1], trigger["end"]) - max(voice_turn[0], trigger["start"]) > 0, trigger
