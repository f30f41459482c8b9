"""The edges of a live call, through a real PulseAudio server: the channels a side asks of its
device (a channel the device lacks is refused before the call, said once when a device comes
back with fewer; a side without ``#N`` hears the device's channels mixed down), and the call's
end (its clock stops at the stop time, its length is from start to stop, a second Ctrl-C in the
terminal still closes the record)."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from rapport_assist.capture import DeviceChoice
from rapport_assist.errors import ExitStatus, UsageError
from rapport_assist.live import LiveCall, LiveSettings
from rapport_assist.live_capture import CaptureSupervisor
from rapport_assist.live_recording import CallAudio
from rapport_assist.live_shared import CallTimeline, SpeechFeed
from rapport_assist.types import CallSummary, Nudge, Speaker, Status, Utterance

from live_support import ScriptedRecognizer, settled, timeline_items
from pulse_server import PulseServer

RATE = 16000


def _pacat(pulse: PulseServer, sink: str, frames: np.ndarray) -> None:
    """Play ``frames`` (n, channels) into ``sink`` (real time; returns when played)."""
    import subprocess

    channels = frames.shape[1]
    player = subprocess.run(
        [
            "pacat",
            "--playback",
            f"--device={sink}",
            f"--rate={RATE}",
            f"--channels={channels}",
            "--format=float32le",
            "--latency-msec=100",
        ],
        input=np.ascontiguousarray(frames, dtype="<f4").tobytes(),
        env=pulse._env(),
        capture_output=True,
        timeout=60,
    )
    assert player.returncode == 0, player.stderr


# ------------------------------------------------------------------ 1. a channel the device lacks


def test_a_channel_the_device_lacks_is_refused_before_the_call_with_its_channels(pulse: PulseServer) -> None:
    """pulse:agent_line.monitor has one channel: #3 of it is refused when the call is made (the
    sidebar's "live is off" and the terminal's exit 2), naming its channels and how to pick one,
    instead of a call that retries it every 2 s for ever."""
    settings = LiveSettings(agent=DeviceChoice("pulse:agent_line.monitor", 3), customer=None)
    with pytest.raises(UsageError) as refused:
        LiveCall(settings, recognizer=ScriptedRecognizer({}))
    said = refused.value.one_line()
    assert "pulse:agent_line.monitor has 1 channel (channel 0)" in said and "channel 3" in said, said
    assert "pulse:agent_line.monitor#0" in said and "mixed down" in said, said


def test_the_terminal_refuses_a_channel_the_device_lacks_before_saving_it(
    pulse: PulseServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rapport_assist.live as live
    from rapport_assist.cli.entry import main

    class QuickCall(LiveCall):  # (no speech model: the call, if it starts, ends after --seconds)
        def __init__(self, settings, **kwargs):
            super().__init__(settings, recognizer=ScriptedRecognizer({}), **kwargs)

    monkeypatch.setattr(live, "LiveCall", QuickCall)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    status = main(
        ["live", "--agent", "pulse:agent_line.monitor", "--customer", "pulse:customer_line.monitor#1", "--seconds", "3"]
    )
    err = capsys.readouterr().err
    assert status is ExitStatus.USAGE, err
    assert "pulse:customer_line.monitor has 1 channel (channel 0), so channel 1" in err, err
    assert not (tmp_path / "config").exists() or "#1" not in "".join(
        p.read_text() for p in (tmp_path / "config").rglob("*.json")
    ), "the refused choice was saved"


def test_a_device_that_comes_back_with_fewer_channels_says_so_once(pulse: PulseServer) -> None:
    """The customer is channel 1 of stereo_line, not there when the call starts (retried); it
    appears with one channel: the call says which channels it has, once, not at every retry."""
    settings = LiveSettings(
        agent=None, customer=DeviceChoice("pulse:stereo_line.monitor", 1), retry_s=0.3, device_timeout_s=30.0
    )
    timeline, feed = CallTimeline(), SpeechFeed()
    supervisor = CaptureSupervisor(settings, timeline, feed)
    timeline.start_clock()
    supervisor.open_all()
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        loaded = pulse.pactl("load-module", "module-null-sink", "sink_name=stereo_line", "rate=16000", "channels=1")
        assert loaded.returncode == 0, loaded.stderr
        time.sleep(4.0)  # a dozen retries
    finally:
        supervisor.stop()
        thread.join(10)
    statuses = [i for i in timeline_items(timeline) if isinstance(i, Status)]
    fewer = [s for s in statuses if "has 1 channel" in s.message]
    assert len(fewer) == 1, [s.message for s in statuses]
    assert fewer[0].level == "error" and fewer[0].speakers == (Speaker.CUSTOMER,), fewer[0]
    assert "pulse:stereo_line.monitor#0" in fewer[0].message, fewer[0].message


# ------------------------------------------------------------------ 4. a side without #N: the mix


def test_a_side_without_a_channel_hears_the_mix_also_when_the_other_side_takes_one(
    pulse: PulseServer, tmp_path: Path
) -> None:
    """Agent: stereo_line.monitor (no #N: its channels mixed down, DeviceChoice and the README),
    customer: its channel 1. A tone on channel 1 only is in the agent's audio at half level (the
    mean of the two channels, as PulseAudio mixes the source when the agent has it alone), not
    silence (channel 0 alone)."""
    loaded = pulse.pactl("load-module", "module-null-sink", "sink_name=stereo_line", "rate=16000", "channels=2")
    assert loaded.returncode == 0, loaded.stderr
    settings = LiveSettings(
        agent=DeviceChoice("pulse:stereo_line.monitor"), customer=DeviceChoice("pulse:stereo_line.monitor", 1)
    )
    timeline, feed = CallTimeline(), SpeechFeed()
    wav = CallAudio(tmp_path / "call.wav", (Speaker.AGENT, Speaker.CUSTOMER), print)
    supervisor = CaptureSupervisor(settings, timeline, feed, audio=wav)
    timeline.start_clock()
    supervisor.open_all()
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        t = np.arange(RATE * 2) / RATE
        tone = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        _pacat(pulse, "stereo_line", np.stack([np.zeros_like(tone), tone], axis=1))
        time.sleep(0.5)
    finally:
        supervisor.stop()
        thread.join(10)
        wav.close()
    with wave.open(str(tmp_path / "call.wav"), "rb") as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2).astype(np.float64) / 32768
    agent, customer = np.abs(frames[:, 0]).max(), np.abs(frames[:, 1]).max()
    assert customer > 0.3, customer
    assert agent == pytest.approx(customer / 2, rel=0.1), (agent, customer)


# ------------------------------------------------------------------ the call's end


WAIT_RULE = textwrap.dedent("""\
    version: 1
    lexicons:
      gripe: [awful]
      apology: [sorry]
    rules:
      - id: gripe-no-sorry
        title: Say sorry
        severity: high
        why: Because.
        message: "Apologize for '{quote}'."
        when: {speaker: customer, says: gripe}
        expect:
          speaker: agent
          says: apology
          within: {seconds: 6}
        cooldown_s: 0
    """)


def test_the_call_clock_stops_at_the_stop_time_while_the_backlog_is_recognized(
    pulse: PulseServer, speak, tmp_path: Path
) -> None:
    """The customer says "This is awful." (the agent has 6 s to apologize), then a second
    utterance, and the call is stopped about 4 s after the first: the apology window had not
    run out. The recognizer takes 10 s over the second utterance (a backlog): the call's clock
    must not tick on past the stop time meanwhile, or the window runs out on the clock of a call
    that had ended, and a "Say sorry" nudge fires for a wait that never happened."""
    from rapport_assist.rules import RuleEngine, load_rules

    rules = tmp_path / "pack.yaml"
    rules.write_text(WAIT_RULE, encoding="utf-8")
    first, second = speak("This is awful."), speak("I waited all day.")
    gap = np.zeros(RATE, np.float32)
    line = np.concatenate([gap, first, gap, second])
    events: list = []
    recognizer = ScriptedRecognizer({1: "This is awful.", 2: "I waited all day."}, delays={2: 10.0})
    call = LiveCall(
        LiveSettings(
            agent=DeviceChoice("pulse:agent_line.monitor"),
            customer=DeviceChoice("pulse:customer_line.monitor"),
            captions=False,
            early_final=False,
        ),
        recognizer=recognizer,
        engine=RuleEngine(load_rules([rules])),
    )
    call.start(events.append)
    time.sleep(1.0)
    pulse.play({"customer_line": line, "agent_line": np.zeros(len(line), np.float32)})
    pulse.wait_played(timeout_s=len(line) / RATE + 30)
    time.sleep(1.2)  # the second utterance's hangover: it is closed, waiting for the recognizer
    stopped_s = call.call_time()
    call.stop()
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert [u.text for u in utterances] == ["This is awful.", "I waited all day."], utterances
    assert stopped_s < utterances[0].end_s + 6, "the call was stopped after the window ran out: no test"
    nudges = [e for e in events if isinstance(e, Nudge)]
    assert nudges == [], f"stopped at {stopped_s:.2f} s: {nudges}"


def test_a_stopped_call_lasts_from_start_to_stop(pulse: PulseServer, speak, tmp_path: Path) -> None:
    """One utterance, then 5 s of silence, then stop: the call lasted until the stop (as replay
    of its WAV says: a recording lasts as long as its file), not until the utterance's end, in
    the CallSummary and the record's call_end."""
    speech = speak("Thank you for calling today.")
    events: list = []
    call = LiveCall(
        LiveSettings(agent=DeviceChoice("pulse:agent_line.monitor"), customer=None, record_to=tmp_path),
        recognizer=ScriptedRecognizer({1: "Thank you for calling today."}),
    )
    call.start(events.append)
    time.sleep(1.0)
    pulse.play({"agent_line": np.concatenate([speech, np.zeros(RATE, np.float32)])})
    pulse.wait_played(timeout_s=30)
    settled(events, quiet_s=4.0)
    stopped_s = call.call_time()
    call.stop()
    (utterance,) = [e for e in events if isinstance(e, Utterance)]
    summary = events[-1]
    assert isinstance(summary, CallSummary)
    assert stopped_s - utterance.end_s > 3.0
    assert summary.duration_s == pytest.approx(stopped_s, abs=0.3), (summary.duration_s, stopped_s, utterance.end_s)
    assert call.log_path is not None
    end = json.loads(call.log_path.read_text().splitlines()[-1])
    assert end["type"] == "call_end" and end["duration"] == pytest.approx(stopped_s, abs=0.3), end


def test_a_second_ctrl_c_skips_the_backlog_but_closes_the_record(
    pulse: PulseServer, speak, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rapport-assist live --record --record-audio: three utterances, the recognizer slow on the
    second and third (a backlog). Ctrl-C ends the call; a second Ctrl-C while the backlog is
    recognized stops that, but the record is still closed: the first utterance (transcribed) is
    in the log, which ends with call_end, and the WAV is whole (its header's length is its data)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Ctrl-C (SIGINT) reaches the main thread only")
    import rapport_assist.live as live
    from rapport_assist.cli.entry import main

    recognizer = ScriptedRecognizer({1: "first words", 2: "second words", 3: "third words"}, delays={2: 4.0, 3: 4.0})

    class SlowCall(LiveCall):
        def __init__(self, settings, **kwargs):
            super().__init__(settings, recognizer=recognizer, **kwargs)

    monkeypatch.setattr(live, "LiveCall", SlowCall)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    speech = speak("Thank you for calling today.")
    gap = np.zeros(RATE, np.float32)
    line = np.concatenate([gap, speech, gap, speech, gap, speech, gap])
    me = os.getpid()

    def drive() -> None:
        time.sleep(3.0)  # the call is listening
        pulse.play({"agent_line": line})
        pulse.wait_played(timeout_s=60)
        time.sleep(1.0)  # all three closed; the second is being recognized
        os.kill(me, signal.SIGINT)
        time.sleep(1.0)
        os.kill(me, signal.SIGINT)

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    record = tmp_path / "calls"
    try:
        status = main(
            ["live", "--agent", "pulse:agent_line.monitor", "--no-customer", "--record", str(record), "--record-audio"]
        )
    except KeyboardInterrupt:
        status = None
    driver.join(5)
    err = capsys.readouterr().err
    (log,) = record.glob("*.jsonl")
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert logged[-1]["type"] == "call_end", logged[-3:]
    texts = [e["text"] for e in logged if e["type"] == "utterance"]
    assert texts[:1] == ["first words"] and "third words" not in texts, texts
    assert any(e["type"] == "status" and e["code"] == "backlog_skipped" for e in logged), logged
    (wav_path,) = record.glob("*.wav")
    with wave.open(str(wav_path), "rb") as w:
        n = w.getnframes()
        assert len(w.readframes(n)) == n * 4
    assert wav_path.stat().st_size == 44 + n * 4
    assert n / RATE > len(line) / RATE, "the WAV lacks the call's audio"
    assert status is ExitStatus.INTERRUPTED and "closing the call record" in err, err
