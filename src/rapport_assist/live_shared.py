"""What the parts of a live call share: its settings, its clock and timeline, and the speech feed.

    live_capture (audio thread) ──SpeechFeed──► live_recognition (recognizer thread)
            │                                          │
            └──────────── CallTimeline ◄───────────────┘──► live.LiveCall (pipeline thread)

``CallTimeline`` is the call clock and the queue every live thread puts timeline items on
(statuses, speech activity marks, utterances, captions); the pipeline thread takes them in that
order. ``SpeechFeed`` is what the audio thread hands the recognizer thread: closed segments (with
the call time they closed), early segments, open-utterance audio for captions, where the
customer's open utterance began, and that the audio is done; the recognizer thread writes back
its load (the audio thread starts early finals later when it is busy). The audio thread also says
which sides are talking and which are in their hangover (a segment may close, or be offered as
an early final, any moment: the recognizer then starts no caption pass that would hold it up,
and a 30 s redo waits for a moment nobody talks) and sets
``wake`` after each hand-over so the recognizer thread takes it at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from .capture import DeviceChoice
from .endpoint import EndpointerOptions
from .recognizer import RecognizerOptions
from .types import (
    Component,
    Partial,
    SpeechActivity,
    SpeechSegment,
    Speaker,
    Status,
    StatusLevel,
    TurnRevision,
    Utterance,
)

# The sidebar's status row each of live capture's codes reports on (the others are notices about the
# call; capture_started/_resumed and device_unavailable name the row by their ``speakers``).
STATUS_COMPONENTS: dict[str, Component] = {
    "no_devices": "microphone",
    "mic_lost": "microphone",
    "device_gone": "customer",
    "model_failed": "recognizer",
    "model_ready": "recognizer",
    "recognizer_behind": "recognizer",
    "recognizer_caught_up": "recognizer",
    "recognizer_busy": "recognizer",
    "recognizer_ready": "recognizer",
}


@dataclass(frozen=True)
class LiveSettings:
    """Everything a live call needs to know. ``customer=None`` captures only the agent."""

    agent: DeviceChoice | None = DeviceChoice("default")
    customer: DeviceChoice | None = None
    recognizer: RecognizerOptions = field(default_factory=RecognizerOptions)
    endpointer: EndpointerOptions = field(default_factory=EndpointerOptions)
    rule_paths: tuple[Path, ...] = ()
    record_to: Path | None = None  # folder for this call's event log (and WAV with record_audio)
    record_audio: bool = False
    mask_digits: bool = True  # mask personal data (privacy.py; the name is the saved setting's)
    tick_s: float = 0.25  # how often the clock ticks when nothing else happens
    device_timeout_s: float = 2.0  # no audio from a running device this long: it is gone
    retry_s: float = 2.0  # how often a lost device is reopened
    behind_s: float = 3.0  # a segment waiting this long for the recognizer: recognizer_behind
    leak_similarity: float = 0.6  # agent text this close to simultaneous customer text is a leak
    leak_wait_s: float = 1.0  # how long an agent segment waits for an overlapping customer one
    early_final: bool = True  # recognize an utterance when its hangover starts, keep it if speech does not resume
    early_after_ms: int = 96  # silence before an early final starts (at least the end padding is waited for)
    early_after_busy_ms: int = 192  # the same when the recognizer was busy over half of the last 10 s (fewer
    # wasted passes: half the pauses that reach 96 ms resume, a third of those at 192)
    close_on_other_side: bool = True  # the other side starts talking: a side in its hangover is done
    captions: bool = True  # re-recognize open utterances for live captions (Partial events) when there is room
    caption_first_s: float = 0.5  # first caption pass once this much audio follows the open utterance's voice onset
    # (the VAD's, not the onset padding: 0.9 s of padded audio before 2026-12-04 evening)
    caption_offer_s: float = 0.2  # then the audio thread offers the utterance so far per this much more audio; the
    # recognizer runs a pass when one is due (caption_every_s, caption_share)
    caption_every_s: float = 0.4  # at least this much more audio between two caption passes over an utterance
    caption_share: float = 0.4  # and at least the expected pass time / this (a pass of 0.3 s: every 0.75 s of
    # audio), so captions of one side keep the recognizer busy at most this share of the time
    caption_window_s: float = 6.0  # a caption pass over a longer open utterance hears only its last this many
    caption_tail_s: float = 2.0  # (at least this many) seconds: from the end of a committed word (captions.py)
    caption_max_load: float = 0.7  # no caption pass while the recognizer was busy more than this share of the last 10 s
    caption_strain_lag_s: float = 2.0  # a final that waited this long for the recognizer (it fell behind) stops
    caption_strain_hold_s: float = 5.0  # caption passes for this long: captions give way first on a busy PC
    caption_max_pass_s: float = 0.6  # nor when a pass is expected to take longer (a busy PC; it would hold up finals)
    early_max_pass_s: float = 0.8  # no early finals when a recognition is expected to take longer than this
    caption_recheck_words: bool = False  # caption passes, too, redo a short-window decoding in 30 s for a
    # word below RecognizerOptions.short_window_min_word_prob (finals always do; a caption's last word is cut short)
    caption_agreement: bool = True  # a final whose words contradict what two caption passes agreed on (the
    # committed words, captions.py) while an early nudge fired on them is decoded again as another cut of the
    # same speech, and that decoding goes out instead when it agrees with the caption (live_recognition)
    caption_agreement_trim_s: float = 0.15  # that cut: this much less of the onset padding (EndpointerOptions)
    turn_pass_max_pass_s: float = 1.2  # no turn pass (RecognizerOptions.turn_pass) expected to take longer than this
    redo_later: bool = True  # a final whose short-window doubt is of a kind in redo_later_doubts goes out at
    # once and is decoded again in 30 s afterwards (a different text: a TurnRevision); off: decoded again first
    redo_later_doubts: frozenset[str] = frozenset({"word", "no_speech", "low_logprob"})  # recognizer.DoubtKind:
    # "word" (a word below short_window_min_word_prob), "no_speech", "low_logprob", "repeat", "token_cap"; a kept
    # decoding the guards drop is decoded in 30 s at once. Not "repeat": its first text doubles words (pooled WER of
    # the first text 10.2 -> 13.1% on the Harper Valley sides, bench/short_window_doubts.py)
    redo_max_wait_s: float = 15.0  # a redo waits for a moment nobody talks at most this long (it cannot be
    # stopped once started: a final that closes meanwhile waits for it; its revision reaches the transcript
    # whenever it comes)
    redo_max_pass_s: float = 1.2  # no redo when one is expected to take longer (a busy PC): the first text stays
    redo_max_waiting: int = 8  # at most this many redos wait (each holds its utterance's audio): a recognizer
    # behind the call never gets to them, so the oldest is skipped (its first text stays, redo_skipped)

    def captured(self) -> tuple[Speaker, ...]:
        """The sides this call captures."""
        return tuple(
            s for s, choice in ((Speaker.AGENT, self.agent), (Speaker.CUSTOMER, self.customer)) if choice is not None
        )


TimelineItem = Union[Utterance, Status, SpeechActivity, Partial, TurnRevision]


class CallTimeline:
    """The call clock, and the queue of timeline items for the pipeline thread (thread-safe)."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._items: queue.SimpleQueue[TimelineItem | None] = queue.SimpleQueue()  # None: the end

    def start_clock(self) -> None:
        """The call starts now (call time 0)."""
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Seconds since the call started (the call clock of every event time)."""
        return time.monotonic() - self._t0

    def at(self, monotonic_t: float) -> float:
        """The call time of a ``time.monotonic()`` reading."""
        return monotonic_t - self._t0

    def put(self, item: TimelineItem) -> None:
        self._items.put(item)

    def status(self, level: StatusLevel, code: str, message: str, speakers: tuple[Speaker, ...] = ()) -> None:
        """Put a status on the timeline now (delivered in order by the pipeline thread)."""
        self._items.put(Status(level, code, message, round(self.now(), 3), STATUS_COMPONENTS.get(code), speakers))

    def end(self) -> None:
        """The last item: nothing more will come."""
        self._items.put(None)

    def get(self, timeout_s: float | None = None) -> TimelineItem | None:
        """The next item, or None at the end; raises ``queue.Empty`` when none came in ``timeout_s``."""
        return self._items.get(timeout=timeout_s)


@dataclass(frozen=True)
class ClosedSegment:
    """A segment the endpointer closed, and the call time it did (its utterance is final)."""

    segment: SpeechSegment
    closed_s: float


class LatestPerSide:
    """Each side's latest speech segment, for the recognizer thread (thread-safe): ``put``
    replaces a side's segment not yet taken, ``get_nowait`` takes one (``queue.Empty`` when none
    is there). For the audio thread's offers the recognizer only ever uses the latest of
    (early segments, open utterances so far): a queue kept every offer until the recognizer was
    free to take them, and an open utterance is offered again every ``caption_offer_s`` of audio,
    a copy of it all each time, so a busy recognizer held dozens of copies of the same audio
    (BENCHMARKS.md, "Sidebar start-up and memory"). Here at most one per side waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[Speaker, SpeechSegment] = {}
        self._offered: dict[Speaker, int] = {}  # per side: audio bytes offered since the recognizer took one
        self.replaced = 0  # offers replaced before the recognizer took them
        self.most_offered_bytes = 0  # the most audio offered and not yet taken at once (what a queue held)
        self.most_held_bytes = 0  # the most audio held here at once

    def put(self, segment: SpeechSegment) -> None:
        with self._lock:
            if segment.speaker in self._latest:
                self.replaced += 1
            self._latest[segment.speaker] = segment
            self._offered[segment.speaker] = self._offered.get(segment.speaker, 0) + segment.audio.nbytes
            self.most_offered_bytes = max(self.most_offered_bytes, sum(self._offered.values()))
            self.most_held_bytes = max(self.most_held_bytes, sum(s.audio.nbytes for s in self._latest.values()))

    def get_nowait(self) -> SpeechSegment:
        with self._lock:
            if not self._latest:
                raise queue.Empty
            speaker = next(iter(self._latest))
            self._offered[speaker] = 0
            return self._latest.pop(speaker)

    def empty(self) -> bool:
        with self._lock:
            return not self._latest


class SpeechFeed:
    """The audio thread's speech, for the recognizer thread (the queues are thread-safe; the two
    plain fields have one writer each). Closed segments all wait for the recognizer (each becomes
    final text); of the early segments and open utterances only each side's latest does
    (``LatestPerSide``)."""

    def __init__(self) -> None:
        self.closed: queue.SimpleQueue[ClosedSegment] = queue.SimpleQueue()  # finals, in close order
        self.early = LatestPerSide()  # segments as they close if silence lasts
        self.captions = LatestPerSide()  # open utterances so far
        self.done = threading.Event()  # the audio thread has put its last segment
        self.wake = threading.Event()  # set by the audio thread after it put something (the recognizer waits on it)
        self.in_hangover: dict[Speaker, bool] = {}  # per side: its open utterance's trailing silence is running
        self.talking: dict[Speaker, bool] = {}  # per side: an utterance is open (speech or its hangover)
        self.customer_open_s: float | None = None  # call time the customer's open utterance began (audio thread)
        self.recognizer_load = 0.0  # the recognizer's load as of its last loop (recognizer thread)
        # (speaker, start, words) of the latest open utterances an early nudge fired on, with how many words
        # its caption's committed text had then (pipeline thread): their finals get a second opinion when they
        # contradict those words (LiveSettings.caption_agreement)
        self.early_nudged: deque[tuple[Speaker, float, int]] = deque(maxlen=32)
