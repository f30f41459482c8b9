"""Faults inside a live call's own threads, through a real PulseAudio server: the call must say
what went wrong, keep every utterance it still can, stop when asked and close its record."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from rapport_assist.capture import DeviceChoice
from rapport_assist.live import LiveCall, LiveSettings
from rapport_assist.types import CallSummary, Recognition, Status, Utterance

from live_support import settled
from pulse_server import PulseServer


class _FailsOnOneUtterance:
    """A recognizer whose decoding of one utterance raises, as faster-whisper does when CTranslate2
    cannot allocate (``RuntimeError``); the others become "segment N" (N: its distinct start)."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.starts: list[float] = []

    def warm_up(self) -> None:
        pass

    def recognize(self, segment):
        if segment.start_s not in self.starts:
            self.starts.append(segment.start_s)
        n = self.starts.index(segment.start_s) + 1
        if n == self.failing:
            raise RuntimeError("std::bad_alloc")
        return Recognition(f"segment {n}", (), 0.9, 0.0, -0.2)


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
    recognizer = _FailsOnOneUtterance(failing=2)
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


class _FailsToWarmUp(_FailsOnOneUtterance):
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
