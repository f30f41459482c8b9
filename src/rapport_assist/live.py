"""A live call: capture both sides, endpoint, recognize, and run the call pipeline as it happens.

    capture callbacks ──► audio thread ──────────► recognizer thread ──► pipeline thread ──► on_event
    (copy each block)     (resample, WAV, one       (owns the model;      (CallPipeline.run:
                           Endpointer per side,      finals in end order,  annotate, signals,
                           device watchdog)          leak filter)          rules; Tick every 0.25 s)
                          live_capture.py           live_recognition.py   this module
                          (+ live_recording.py)

``LiveCall(settings).start(on_event)`` returns at once; ``on_event`` is called from the pipeline
thread with the events ``CallPipeline`` yields (Utterance, Nudge, RecordItem, Status, DeadAir,
TalkOver, ToneChange, CallSummary, and Partial: live captions), and with ``SpeechActivity`` marks
as a side starts talking
(before its words are recognized; not written to the event log), so a view can tell the agent is
mid-sentence. ``stop()`` stops capture, lets the queued audio finish,
emits the final ``CallSummary`` and joins the threads.

``LiveCall`` is the coordinator: it wires the parts together on one call clock and timeline
(``live_shared``), runs the pipeline thread, and writes the call's record. The parts:

* ``live_capture.CaptureSupervisor`` (the audio thread): the devices, supervised (``mic_lost``,
  ``device_gone``, retried every ``retry_s`` until ``capture_resumed``; ``rate_fallback``), one
  ``Endpointer`` per side, early segments and caption audio for the recognizer, hangover cuts
  when the other side starts talking.
* ``live_recognition.RecognitionWorker`` (the recognizer thread): finals first in end order,
  then early finals, then live captions (``captions.CaptionTracker``), giving way under load
  (``recognizer_busy``/``recognizer_ready``, ``recognizer_behind``); the leak filter.
* ``live_recording.CallRecord``: the call's event log (``<record_to>/<stamp>.jsonl``, append-only,
  flushed per event) and, with ``record_audio``, the exact 16 kHz audio the endpointers heard as a
  stereo WAV beside it (agent left, customer right), which ``rapport-assist replay`` reproduces.

Nothing in a call crashes it: device problems, a recognizer that falls behind, a full disk and
a bug in a pipeline stage all become ``Status`` events, and the call goes on (or ends cleanly
with its record kept).

Each utterance carries its ``RecognitionTiming`` from the recognizer thread through the
pipeline; ``LiveCall.timings`` adds when it was delivered (``bench/live_latency.py``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Union, cast

from .capture import AudioDevice, CaptureOpener, check_channel, check_sides, find_device, list_devices
from .endpoint import load_vad
from .errors import RapportError
from .live_capture import CaptureSupervisor
from .live_recognition import PassTrace, RecognitionWorker, SegmentRecognizer, is_leak
from .live_recording import CallRecord
from .live_shared import STATUS_COMPONENTS, CallTimeline, LiveSettings, SpeechFeed
from .recognizer import normalize_text, one_malloc_arena
from .types import CallSummary, Event, Nudge, Partial, SpeechActivity, Speaker, Status, Tick, TurnRevision, Utterance

if TYPE_CHECKING:
    from pathlib import Path

    from .annotate import Annotator
    from .rules import RuleEngine

__all__ = ["EventCallback", "LiveCall", "LiveEvent", "LiveSettings", "STATUS_COMPONENTS", "UtteranceTiming", "is_leak"]

logger = logging.getLogger(__name__)

LiveEvent = Union[Event, SpeechActivity]  # what on_event gets: the pipeline's events and activity marks
EventCallback = Callable[[LiveEvent], None]


@dataclass(frozen=True)
class UtteranceTiming:
    """Call times (s) in one utterance's trip: its last word ends, the endpointer closes its
    segment (hangover), the recognizer starts and ends on it, the pipeline hands it on."""

    index: int
    speaker: Speaker
    speech_end_s: float
    segment_closed_s: float
    recognizer_start_s: float
    recognizer_end_s: float
    delivered_s: float


class LiveCall:
    """One live call at a time (see the module doc). Not reusable after ``stop``."""

    def __init__(
        self,
        settings: LiveSettings,
        *,
        opener: CaptureOpener | None = None,
        devices: list[AudioDevice] | Callable[[], list[AudioDevice]] | None = None,
        recognizer: SegmentRecognizer | None = None,
        engine: RuleEngine | None = None,
        annotator: Annotator | None = None,
    ) -> None:
        from .rules import RuleEngine, default_rules_dir, load_rules

        if settings.agent is None and settings.customer is None:
            raise ValueError("a live call needs at least one side to capture")
        # settings and installation problems are refused here, before start() opens the record and
        # the devices (the sidebar says why live is off; from start() they escaped its button)
        check_sides(settings.agent, settings.customer)
        _refuse_missing_channels(settings, devices)
        load_vad()  # (the endpointers' model, cached)
        if not settings.recognizer.keep_freed_memory:
            one_malloc_arena()  # before the call's threads and devices make arenas of their own
        self.settings = settings
        self._engine = engine or RuleEngine(load_rules(list(settings.rule_paths) or [default_rules_dir()]))
        self._annotator = annotator
        self._opener = opener
        self._devices = devices
        self._timeline = CallTimeline()
        self._feed = SpeechFeed()
        self._capture: CaptureSupervisor | None = None  # made at start(), with the record's WAV
        self._recognition = RecognitionWorker(settings, self._timeline, self._feed, recognizer)
        self._threads: list[threading.Thread] = []
        self._on_event: EventCallback | None = None
        self._started = False
        self._stopped = False
        self._stop_s: float | None = None  # call time of stop(): the call's clock stops there
        self._record: CallRecord | None = None
        self._close_lock = threading.Lock()
        self.log_path: Path | None = None
        self.wav_path: Path | None = None
        self.timings: list[UtteranceTiming] = []  # where each utterance's time went (bench/live_latency.py)

    # ------------------------------------------------------------ public

    def start(self, on_event: EventCallback) -> None:
        """Open the devices and start the worker threads; returns at once. Problems opening a
        device become Status events (and retries), never exceptions."""
        if self._started:
            raise RuntimeError("LiveCall.start() called twice")
        self._started = True
        self._on_event = on_event
        s = self.settings
        if s.record_to is not None:
            self._open_record(s.record_to)
        self._timeline.start_clock()
        self._capture = CaptureSupervisor(
            s,
            self._timeline,
            self._feed,
            opener=self._opener,
            devices=self._devices,
            audio=self._record.audio if self._record is not None else None,
        )
        self._capture.open_all()
        for name, target in (
            ("rapport-audio", self._capture.run),
            ("rapport-recognizer", self._recognition.run),
            ("rapport-pipeline", self._pipeline_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, wait: bool = True) -> None:
        """Stop capture; what was heard is still recognized, then the CallSummary comes. With
        ``wait`` (the CLI) return when all that is done; without (the sidebar, whose window must
        not freeze while a recognizer that fell behind works off its backlog) return at once:
        a background thread finishes the call and closes its record; ``join()`` waits for it."""
        if not self._started or self._stopped:
            return
        self._stopped = True
        self._stop_s = self.call_time()
        if self._capture is not None:
            self._capture.stop()  # the audio thread closes the devices (no race with its reopening)
        if wait:
            self.join()
        else:
            threading.Thread(target=self.join, name="rapport-call-finish", daemon=True).start()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait (at most ``timeout_s``) for a stopped call's threads; once they have ended, the
        call record is closed. Whether they have ended."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            return False
        with self._close_lock:  # the finishing thread and a caller may both get here: close once
            record, self._record = self._record, None
        if record is not None:
            record.close()
        return True

    def skip_backlog(self) -> None:
        """For a stopped call whose user will not wait (a second Ctrl-C): the utterances not yet
        transcribed are dropped (``backlog_skipped``), what was transcribed still goes out, the
        CallSummary comes and ``join`` closes the record as usual."""
        if self._capture is not None:
            self._capture.stop()  # (already, unless stop() was interrupted before it got there)
        self._recognition.skip_backlog()

    def call_time(self) -> float:
        """Seconds since the call started (the call clock of every event time)."""
        return self._timeline.now()

    def _clock(self) -> float:
        """The call's clock for its timers and length: the call time, up to the stop time (the
        backlog recognized after it is what was said before it)."""
        now, stop_s = self.call_time(), self._stop_s
        return now if stop_s is None else min(now, stop_s)

    @property
    def inputs(self) -> list[tuple[str, str, bool]]:
        """(side(s), device id, lost) per input, for a status display."""
        return self._capture.inputs if self._capture is not None else []

    @property
    def stats(self) -> dict[str, int]:
        """Counts so far: audio blocks, hangovers cut (capture); segments, utterances, drops, early
        finals used/discarded/skipped, caption passes and partials (recognition)."""
        capture = self._capture.stats if self._capture is not None else {"blocks": 0, "hangovers_cut": 0}
        return {**capture, **self._recognition.stats}

    @property
    def agreements(self) -> list[tuple[Speaker, float, str, str, str | None, bool]]:
        """The second opinions on finals that contradicted their caption (``caption_agreement``;
        benchmarks): speaker, segment start, committed words, first text, second text, kept."""
        return list(self._recognition.agreements)

    @property
    def passes(self) -> list[PassTrace]:
        """The recognizer's latest passes (finals, early finals, captions) and their times (benchmarks)."""
        return list(self._recognition.passes)

    @property
    def rtf(self) -> float | None:
        """Final recognition time / audio time, smoothed (1.0: just keeping up); None before the first."""
        return self._recognition.rtf

    def load(self, window_s: float = 10.0) -> float:
        """Share of the last ``window_s`` the recognizer spent recognizing (0..1)."""
        return self._recognition.load(window_s)

    def expected_pass_s(self, audio_s: float) -> float:
        """How long recognizing ``audio_s`` of audio should take now (``RecognitionWorker.expected_pass_s``)."""
        return self._recognition.expected_pass_s(audio_s)

    # ------------------------------------------------------------ events and records

    def _emit(self, event: Event) -> None:
        # utterances were masked by the pipeline's first stage, before anything was made from them
        if self._record is not None:
            try:
                self._record.log(event)
            except RapportError as exc:  # disk full: say it once, keep the call going
                self._deliver(
                    Status(
                        "error", "log_failed", f"the event log stopped: {exc.one_line()}", round(self.call_time(), 3)
                    )
                )
        self._deliver(event)

    def _deliver(self, event: LiveEvent) -> None:
        try:
            assert self._on_event is not None
            self._on_event(event)
        except Exception:  # a consumer's bug must not end the call
            logger.exception("on_event failed for %s", type(event).__name__)

    def _open_record(self, folder: Path) -> None:
        def audio_failed(message: str) -> None:
            self._timeline.status("error", "record_failed", message)

        try:
            self._record = CallRecord.open(
                folder, self.settings.captured(), audio=self.settings.record_audio, on_audio_failed=audio_failed
            )
        except OSError as exc:
            self._timeline.put(
                Status(
                    "error",
                    "record_failed",
                    f"cannot write the call record in {folder}: {exc.strerror or exc} — "
                    "the call runs without it; pick a writable folder",
                    0.0,
                )
            )
            return
        self.log_path, self.wav_path = self._record.log_path, self._record.wav_path

    # ------------------------------------------------------------ pipeline thread

    def _timeline_items(self) -> Iterator[Utterance | Status | SpeechActivity | Tick | Partial | TurnRevision]:
        """The timeline, with a ``Tick`` of the call's clock every ``tick_s`` nobody puts an item on
        it, until the call is stopped: the clock stops at the stop time (a tick while the backlog
        is recognized would run out a reply window that was still open when the call ended, on
        the clock of a call that had ended, before the reply queued in the backlog lands). The
        last item is a ``Tick`` at the call's end (the stop time): the call lasted until then."""
        while True:
            try:
                item = self._timeline.get(self.settings.tick_s)
            except queue.Empty:
                if self._stop_s is None:
                    yield Tick(self.call_time())
                continue
            if item is None:
                yield Tick(self._clock())
                return
            if isinstance(item, SpeechActivity):  # the sidebar holds cards while the agent is mid-sentence
                self._deliver(item)  # (not logged: marks, not events of the call record)
            yield item

    def _pipeline_loop(self) -> None:
        from .annotate import Annotator
        from .pipeline import CallPipeline
        from .privacy import masker_for

        try:
            annotator = self._annotator or Annotator()
            pipeline = CallPipeline(annotator, self._engine, masker=masker_for(self.settings.mask_digits))
            # (run passes Partial items on too; its annotation predates captions)
            items = cast(Iterable[Union[Utterance, Status, SpeechActivity, Tick]], self._timeline_items())
            stable: dict[Speaker, str] = {}  # per side: the committed words of its latest caption
            # an agent-only call (no customer device) has no dead air, talk-over or reply from the
            # customer to wait for: the pipeline leaves those out, as for a one-sided recording
            for event in pipeline.run(items, read_ahead=1, sides=self.settings.captured()):
                if isinstance(event, Partial):
                    stable[event.speaker] = event.text
                elif isinstance(event, Nudge) and event.early and event.evidence:  # (caption_agreement)
                    said = event.evidence[0]  # (fired on the caption just before it)
                    words = len(normalize_text(stable.get(said.speaker, "")).split())
                    self._feed.early_nudged.append((said.speaker, said.start_s, words))
                if isinstance(event, Utterance) and event.timing is not None:
                    t = event.timing
                    self.timings.append(
                        UtteranceTiming(
                            event.index,
                            event.speaker,
                            event.end_s,
                            t.segment_closed_s,
                            t.recognizer_start_s,
                            t.recognizer_end_s,
                            self.call_time(),
                        )
                    )
                self._emit(event)
        except Exception as exc:  # a bug in a stage: say so, keep the record, end the call cleanly
            logger.exception("live pipeline failed")
            self._emit(
                Status(
                    "error",
                    "pipeline_failed",
                    f"the live pipeline stopped: {exc.__class__.__name__}: "
                    f"{exc} — the call record so far is kept; please report it",
                    round(self.call_time(), 3),
                )
            )
            self._emit(CallSummary(duration_s=self._clock(), utterances=self.stats["utterances"], nudges=0))
            while self._timeline.get() is not None:  # let the other threads finish
                pass


def _refuse_missing_channels(
    settings: LiveSettings, devices: list[AudioDevice] | Callable[[], list[AudioDevice]] | None
) -> None:
    """UsageError when a side picks a channel (``DEVICE#N``) its device, listed now, does not have:
    capture could never open it (it was retried all call long). A device not there now is left
    to the call (it says so and retries until it comes)."""
    choices = [c for c in (settings.agent, settings.customer) if c is not None and c.channel is not None]
    if not choices:
        return
    try:
        listed = devices() if callable(devices) else devices if devices is not None else list_devices()
    except RapportError:  # no audio now: the call says so and retries
        return
    for choice in choices:
        try:
            device = find_device(choice, listed)
        except RapportError:
            continue
        check_channel(choice, device)
