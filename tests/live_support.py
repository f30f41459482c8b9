"""Helpers for the live tests that play speech through a private PulseAudio server."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import numpy as np

from rapport_assist.capture import DeviceChoice
from rapport_assist.live import LiveCall, LiveSettings
from rapport_assist.live_shared import CallTimeline
from rapport_assist.types import Recognition, Utterance

from pulse_server import PulseServer


def timeline_items(timeline: CallTimeline) -> list:
    """Everything on the timeline now, in order (None: its end)."""
    out = []
    while True:
        try:
            out.append(timeline.get(0.0))
        except queue.Empty:
            return out


def settled(events: list, quiet_s: float = 4.0, limit_s: float = 30.0) -> int:
    """Wait until no utterance has arrived for ``quiet_s``; how many there are."""
    deadline = time.monotonic() + limit_s
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = sum(isinstance(e, Utterance) for e in events)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.2)
    return count


def play_agent_line(
    pulse: PulseServer, recognizer, speech: np.ndarray, tmp_path: Path, **settings: object
) -> tuple[list, LiveCall]:
    """``speech`` (16 kHz) played into the agent's null sink, silence on the customer's, through a
    live call with captions on even on a loaded machine (and ``settings`` of ``LiveSettings``);
    the call's events once it has settled."""
    gap = np.zeros(16000, np.float32)
    events: list = []
    settings = LiveSettings(
        agent=DeviceChoice("pulse:agent_line.monitor"),
        customer=DeviceChoice("pulse:customer_line.monitor"),
        record_to=tmp_path,
        caption_max_pass_s=60.0,
        caption_max_load=1.0,
        **settings,  # type: ignore[arg-type]
    )
    call = LiveCall(settings, recognizer=recognizer)
    call.start(events.append)
    time.sleep(1.0)
    pulse.play(
        {
            "agent_line": np.concatenate([gap, speech, gap, gap]),
            "customer_line": np.zeros(len(speech) + 3 * len(gap), np.float32),
        }
    )
    pulse.wait_played(timeout_s=len(speech) / 16000 + 30)
    settled(events)
    call.stop()
    return events, call


class ScriptedRecognizer:
    """A recognizer stand-in that says the n-th distinct utterance (by its start, 1-based) as
    ``texts[n]`` (else "segment N"), taking ``delays[n]`` seconds over it (a slow PC's backlog);
    decoding utterance ``failing`` raises, as faster-whisper does when CTranslate2 cannot
    allocate (``RuntimeError``)."""

    def __init__(
        self, texts: dict[int, str] | None = None, delays: dict[int, float] | None = None, failing: int | None = None
    ) -> None:
        self.texts = texts or {}
        self.delays = delays or {}
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
        time.sleep(self.delays.get(n, 0.0))
        return Recognition(self.texts.get(n, f"segment {n}"), (), 0.9, 0.0, -0.2)
