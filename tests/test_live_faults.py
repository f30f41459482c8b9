"""Faults of a live call, through a real PulseAudio server: inside its own threads (the call must
say what went wrong, keep every utterance it still can, stop when asked and close its record),
on its clock (both sides of one two-channel input stay in step), and in the devices it lists (a
desktop in another language)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.capture import DeviceChoice, list_devices
from rapport_assist.live import LiveCall, LiveSettings
from rapport_assist.live_capture import CaptureSupervisor
from rapport_assist.live_recording import CallAudio
from rapport_assist.live_shared import CallTimeline, SpeechFeed
from rapport_assist.types import CallSummary, Speaker, Status, Utterance

from live_support import ScriptedRecognizer, timeline_items

from live_support import settled
from pulse_server import PulseServer


def _stop_within(call: LiveCall, timeout_s: float) -> bool:
    """Stop the call from another thread (a hung stop must not hang the test); whether it returned."""
    stopper = threading.Thread(target=call.stop, daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    return not stopper.is_alive()


def test_a_recognizer_error_on_one_utterance_is_said_and_the_call_goes_on(
    pulse: PulseServer, speak, tmp_path: Path
) -> None:
    """The recognizer raises on the second of three utterances: a recognizer_failed error says the
    words at that time were lost, the first and third are still transcribed, stop() returns, the
    CallSummary comes last and the call record is closed with its call_end."""
    speech = speak("Thank you for calling today.")
    gap = np.zeros(16000, np.float32)
    line = np.concatenate([gap, speech, gap, speech, gap, speech, gap, gap])
    events: list = []
    recognizer = ScriptedRecognizer(failing=2)
    call = LiveCall(
        LiveSettings(
            agent=DeviceChoice("pulse:agent_line.monitor"),
            customer=DeviceChoice("pulse:customer_line.monitor"),
            record_to=tmp_path,
        ),
        recognizer=recognizer,
    )
    call.start(events.append)
    time.sleep(1.0)
    pulse.play({"agent_line": line, "customer_line": np.zeros(len(line), np.float32)})
    pulse.wait_played(timeout_s=len(line) / 16000 + 30)
    settled(events)
    assert _stop_within(call, 30), "the call did not stop (its recognizer thread died)"
    assert len(recognizer.starts) == 3, recognizer.starts  # three utterances were heard
    failed = [e for e in events if isinstance(e, Status) and e.code == "recognizer_failed"]
    assert len(failed) == 1 and failed[0].level == "error", [e for e in events if isinstance(e, Status)]
    assert "RuntimeError: std::bad_alloc" in failed[0].message and "agent" in failed[0].message
    assert [e.text for e in events if isinstance(e, Utterance)] == ["segment 1", "segment 3"]
    assert isinstance(events[-1], CallSummary) and events[-1].utterances == 2
    assert call.log_path is not None
    logged = [json.loads(line) for line in call.log_path.read_text().splitlines()]
    assert logged[-1]["type"] == "call_end"
    assert any(e["type"] == "status" and e["code"] == "recognizer_failed" for e in logged)


class _FailsToWarmUp(ScriptedRecognizer):
    """A recognizer whose first decoding (the warm-up) raises, as CTranslate2 does for a model its
    build cannot run (``RuntimeError``)."""

    def warm_up(self) -> None:
        raise RuntimeError("unsupported compute type")


def test_a_speech_model_that_fails_to_warm_up_is_model_failed_and_the_call_still_stops(
    pulse: PulseServer, tmp_path: Path
) -> None:
    events: list = []
    call = LiveCall(
        LiveSettings(agent=DeviceChoice("pulse:agent_line.monitor"), customer=None, record_to=tmp_path),
        recognizer=_FailsToWarmUp(failing=0),
    )
    call.start(events.append)
    time.sleep(2.0)
    assert _stop_within(call, 30), "the call did not stop (its recognizer thread died)"
    failed = [e for e in events if isinstance(e, Status) and e.code == "model_failed"]
    assert len(failed) == 1 and "RuntimeError: unsupported compute type" in failed[0].message, events
    assert isinstance(events[-1], CallSummary)
    assert call.log_path is not None
    assert json.loads(call.log_path.read_text().splitlines()[-1])["type"] == "call_end"


def test_both_sides_of_a_two_channel_input_that_appears_late_stay_in_step(
    pulse: PulseServer, speak, tmp_path: Path
) -> None:
    """Agent on channel 0 and customer on channel 1 of one input (a two-channel sink's monitor)
    that only appears 12 s into the call: its first block puts both sides on the call clock at
    the same sample (they are one stream), so the same speech on both channels starts at the same
    call time on both sides and lines up sample for sample in the call's stereo WAV."""
    settings = LiveSettings(
        agent=DeviceChoice("pulse:stereo_line.monitor", 0),
        customer=DeviceChoice("pulse:stereo_line.monitor", 1),
        retry_s=0.5,
        device_timeout_s=30.0,
    )
    timeline, feed = CallTimeline(), SpeechFeed()
    wav = CallAudio(tmp_path / "call.wav", (Speaker.AGENT, Speaker.CUSTOMER), print)
    supervisor = CaptureSupervisor(settings, timeline, feed, audio=wav)
    timeline.start_clock()
    supervisor.open_all()  # no such input yet: device_unavailable, retried
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    time.sleep(12.0)
    loaded = pulse.pactl("load-module", "module-null-sink", "sink_name=stereo_line", "rate=16000", "channels=2")
    assert loaded.returncode == 0, loaded.stderr
    deadline = time.monotonic() + 10
    while not any(s == "agent+customer" and not lost for s, _, lost in supervisor.inputs):
        assert time.monotonic() < deadline, supervisor.inputs
        time.sleep(0.1)
    time.sleep(1.0)
    speech = speak("Thank you for calling today.")
    line = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(16000, np.float32)])
    player = subprocess.run(
        [
            "pacat",
            "--playback",
            "--device=stereo_line",
            "--rate=16000",
            "--channels=2",
            "--format=float32le",
            "--latency-msec=100",
        ],
        input=np.repeat(line, 2).astype("<f4").tobytes(),  # the same speech on both channels
        env=pulse._env(),
        capture_output=True,
        timeout=30,
    )
    assert player.returncode == 0, player.stderr
    time.sleep(1.0)
    supervisor.stop()
    thread.join(10)
    assert not thread.is_alive()
    wav.close()
    codes = [i.code for i in timeline_items(timeline) if isinstance(i, Status)]
    assert "device_unavailable" in codes and "capture_resumed" in codes, codes
    starts = {}
    while not feed.closed.empty():
        segment = feed.closed.get().segment
        starts.setdefault(segment.speaker, segment.start_s)
    assert set(starts) == {Speaker.AGENT, Speaker.CUSTOMER}, starts
    assert starts[Speaker.AGENT] == starts[Speaker.CUSTOMER], starts
    with wave.open(str(tmp_path / "call.wav"), "rb") as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    loud = [int(np.flatnonzero(np.abs(frames[:, side]) > 300)[0]) for side in (0, 1)]
    assert loud[0] == loud[1], f"the customer's side is {loud[1] - loud[0]} samples off the agent's"


def test_pulseaudio_sources_are_listed_on_a_desktop_in_another_language(
    pulse: PulseServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pactl translates its long listing ("Quelle #0", "Beschreibung:", "Standard-Quelle:" in
    German): the PulseAudio sources, monitors included, are listed all the same, with the default
    one marked, so the customer's side (pulse:<sink>.monitor) can be chosen on a German desktop."""
    if shutil.which("localedef") is None or not Path("/usr/share/i18n/locales/de_DE").is_file():
        pytest.skip("needs localedef and glibc's de_DE locale source (Debian: locales)")
    locales = tmp_path / "locale"
    locales.mkdir()
    made = subprocess.run(
        ["localedef", "-i", "de_DE", "-f", "UTF-8", str(locales / "de_DE.UTF-8")], capture_output=True
    )
    if not (locales / "de_DE.UTF-8").is_dir():
        pytest.skip(f"localedef could not build de_DE.UTF-8: {made.stderr[-200:]!r}")
    english = pulse.pactl("info").stdout
    default = next(line.split(":", 1)[1].strip() for line in english.splitlines() if line.startswith("Default Source:"))
    monkeypatch.setenv("LOCPATH", str(locales))
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("LANGUAGE", "de")
    if "Quelle #" not in pulse.pactl("list", "sources").stdout:
        pytest.skip("pactl has no German messages here (PulseAudio's translations are not installed)")
    pulse_devices = [d for d in list_devices() if d.backend == "pulse"]
    assert {d.id for d in pulse_devices} == {"pulse:agent_line.monitor", "pulse:customer_line.monitor"}, pulse_devices
    monitor = next(d for d in pulse_devices if d.name == "customer_line.monitor")
    assert (monitor.kind, monitor.channels, monitor.default_rate_hz) == ("monitor", 1, 16000.0)
    assert [d.name for d in pulse_devices if d.is_default] == [default]
