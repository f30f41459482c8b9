"""A live call: capture both sides, endpoint, recognize, and run the call pipeline as it happens.

    capture callbacks ──► audio thread ──────────► recognizer thread ──► pipeline thread ──► on_event
    (copy each block)     (resample, WAV, one       (owns the model;      (CallPipeline.run:
                           Endpointer per side,      finals in end order,  annotate, signals,
                           device watchdog)          leak filter)          rules; Tick every 0.25 s)

``LiveCall(settings).start(on_event)`` returns at once; ``on_event`` is called from the pipeline
thread with the events ``CallPipeline`` yields (Utterance, Nudge, RecordItem, Status, DeadAir,
TalkOver, ToneChange, CallSummary, and Partial: live captions), and with ``SpeechActivity`` marks
as a side starts talking
(before its words are recognized; not written to the event log), so a view can tell the agent is
mid-sentence. ``stop()`` stops capture, lets the queued audio finish,
emits the final ``CallSummary`` and joins the threads.

Nothing in a call crashes it. A device that stops delivering audio (unplugged, its PulseAudio
source unloaded) becomes a ``Status`` (``mic_lost`` for the agent, ``device_gone`` for the
customer); the utterance in progress is kept, and the device is reopened every
``retry_s`` until it is back (``capture_resumed``). A device that will not take 16 kHz is
captured at its own rate and resampled (``rate_fallback``). A recognizer that falls behind
says so (``recognizer_behind``) and catches up in order.

Early finals and captions: the recognizer thread takes finished segments first; when none is
waiting, the segment an utterance in its hangover becomes if the silence lasts
(``Endpointer.early_segment``, offered once the end padding is in), and keeps that result for
when the segment closes; if speech resumed, the segment that closes is another one and the early
result is dropped. When the other side starts an utterance, a side in its hangover is closed at
once (``Endpointer.close_now``). With room to spare it re-recognizes open utterances
(``Endpointer.open_segment``, every ``caption_every_s`` of audio) and puts their stable prefix on
the timeline as ``Partial`` events (``captions.CaptionTracker``), masked by the pipeline. It
degrades in order, never skipping final text: caption passes stop when a pass is expected to
take over ``caption_max_pass_s`` (``expected_pass_s``, from the recent passes), the recognizer was
busy more than ``caption_max_load`` of the last 10 s, or a final waits (``recognizer_busy``);
early finals start later in the silence when it is busy, and stop when a pass is expected to take
over ``early_max_pass_s`` or the oldest waiting segment is ``behind_s / 2`` old, as does
decoding in context. Without a headset the customer leaks
into the agent's microphone: an agent utterance that repeats the words of a customer utterance
said at the same time is dropped.

The call's event log (``<record_to>/<stamp>.jsonl``) is append-only and flushed per event; with
``record_audio`` the exact 16 kHz audio the endpointers heard is saved beside it as a stereo
WAV (agent left, customer right), which ``rapport-assist replay`` reproduces.
"""

from __future__ import annotations

import difflib
from collections import deque
import logging
import queue
import threading
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .audio import STREAM_RATE_HZ
from .capture import (AudioDevice, Capture, CaptureOpener, DeviceChoice, StreamResampler, find_device, list_devices,
                      open_capture, pulse_source_names)
from .endpoint import FRAME_SAMPLES, Endpointer, EndpointerOptions
from .errors import RapportError
from .output import JsonlSink
from .recognizer import Recognizer, RecognizerOptions, normalize_text
from .types import (CallSummary, Component, Event, Recognition, SpeechActivity, SpeechSegment, Speaker, Status,
                    Tick, Utterance)
from .wording import plural

logger = logging.getLogger(__name__)

# The sidebar's status row each of live capture's codes reports on (the others are notices about the
# call; capture_started/_resumed and device_unavailable name the row by their ``speakers``).
STATUS_COMPONENTS: dict[str, Component] = {
    "no_devices": "microphone", "mic_lost": "microphone", "device_gone": "customer",
    "model_failed": "recognizer", "model_ready": "recognizer",
    "recognizer_behind": "recognizer", "recognizer_caught_up": "recognizer",
    "recognizer_busy": "recognizer", "recognizer_ready": "recognizer",
}

EventCallback = Callable[[Event], None]


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
    caption_first_s: float = 0.9  # first caption pass once an open utterance holds this much audio (padding included)
    caption_every_s: float = 0.8  # then a pass per this much more audio
    caption_max_load: float = 0.7  # no caption pass while the recognizer was busy more than this share of the last 10 s
    caption_max_pass_s: float = 0.6  # nor when a pass is expected to take longer (a busy PC; it would hold up finals)
    early_max_pass_s: float = 0.8  # no early finals when a recognition is expected to take longer than this


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


@dataclass
class _Channel:
    """One side of the call: where its audio comes from and its endpointer."""

    speaker: Speaker
    column: int | None  # which channel of the input; None = the first
    endpointer: Endpointer
    resampler: StreamResampler | None = None
    open_since_s: float | None = None
    aligned: bool = False  # the endpointer's clock is set from the call time of the stream's first block
    started: bool = False  # the channel has had audio in this call
    early_key: tuple[float | None, float] | None = None  # (utterance start, silence start) of the last early segment
    caption_at_s: float | None = None  # call time (audio position) of the next caption pass


@dataclass
class _Input:
    """One opened device and the sides it carries."""

    device: AudioDevice | None
    choice: DeviceChoice
    channels: dict[Speaker, _Channel]
    capture: Capture | None = None
    generation: int = 0
    last_block_t: float = 0.0
    last_try_t: float = 0.0
    last_check_t: float = 0.0
    lost: bool = False
    overflows_seen: int = 0
    overflow_said_t: float = -1e9


class _StereoRecorder:
    """The call's audio as a stereo 16-bit WAV (agent left, customer right), written as it
    comes; each side is padded with silence where it has no audio (a side not captured, a
    device gone), so both stay on the call clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wav = wave.open(str(path), "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(STREAM_RATE_HZ)
        self._pending: dict[Speaker, list[np.ndarray]] = {s: [] for s in Speaker}
        self._have: dict[Speaker, int] = {s: 0 for s in Speaker}  # samples received (call clock)
        self._written = 0

    def add(self, speaker: Speaker, samples: np.ndarray) -> None:
        self._pending[speaker].append(samples)
        self._have[speaker] += len(samples)

    def received(self, speaker: Speaker) -> int:
        return self._have[speaker]

    def pad_to(self, speaker: Speaker, position: int) -> None:
        if position > self._have[speaker]:
            self.add(speaker, np.zeros(position - self._have[speaker], dtype=np.float32))

    def flush(self) -> None:
        n = min(self._have.values()) - self._written
        if n <= 0:
            return
        cols = []
        for speaker in (Speaker.AGENT, Speaker.CUSTOMER):
            data = np.concatenate(self._pending[speaker]) if self._pending[speaker] else np.zeros(0, np.float32)
            cols.append(data[:n])
            self._pending[speaker] = [data[n:]] if len(data) > n else []
        # x * 32768, as PulseAudio and FFmpeg scale 16-bit audio: 16-bit capture is saved bit for bit
        frames = np.clip(np.round(np.stack(cols, axis=1) * 32768.0), -32768, 32767).astype("<i2")
        self._wav.writeframes(frames.tobytes())  # also rewrites the header's length
        self._written += n

    def close(self) -> None:
        top = max(self._have.values())
        for speaker in Speaker:
            self.pad_to(speaker, top)
        self.flush()
        self._wav.close()


_STOP = object()


def is_leak(utt: Utterance, recent_customer: list[Utterance], similarity: float) -> bool:
    """Is the agent's ``utt`` the customer leaking into the microphone: words that repeat (most
    of) a customer utterance said at the same time?"""
    words = normalize_text(utt.text).split()
    if not words:
        return False
    for other in recent_customer:
        overlap = min(utt.end_s, other.end_s) - max(utt.start_s, other.start_s)
        if overlap < 0.5 * max(utt.duration_s, 0.1):
            continue
        theirs = normalize_text(other.text).split()
        matcher = difflib.SequenceMatcher(None, theirs, words, autojunk=False)
        matched = sum(b.size for b in matcher.get_matching_blocks())
        if matched / len(words) >= similarity:  # most of the agent's words are the customer's, in order
            return True
    return False


def inp_rate(inp: "_Input") -> int:
    return inp.capture.rate_hz if inp.capture is not None else STREAM_RATE_HZ


class LiveCall:
    """One live call at a time (see the module doc). Not reusable after ``stop``."""

    def __init__(self, settings: LiveSettings, *, opener: CaptureOpener | None = None,
                 devices: list[AudioDevice] | Callable[[], list[AudioDevice]] | None = None,
                 recognizer: Recognizer | None = None,
                 engine=None, annotator=None) -> None:
        from .rules import RuleEngine, default_rules_dir, load_rules

        if settings.agent is None and settings.customer is None:
            raise ValueError("a live call needs at least one side to capture")
        self.settings = settings
        self._opener = opener or open_capture
        self._devices = devices
        self._recognizer = recognizer
        self._engine = engine or RuleEngine(load_rules(list(settings.rule_paths) or [default_rules_dir()]))
        self._annotator = annotator
        self._blocks: queue.SimpleQueue = queue.SimpleQueue()  # (input index, generation, block)
        self._segments: queue.SimpleQueue = queue.SimpleQueue()  # (SpeechSegment, enqueued at)
        self._items: queue.SimpleQueue = queue.SimpleQueue()  # timeline items for the pipeline
        self._early: queue.SimpleQueue = queue.SimpleQueue()  # segments as they will close if silence lasts
        self._caption_audio: queue.SimpleQueue = queue.SimpleQueue()  # open utterances so far, for captions
        self._inputs: list[_Input] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._audio_done = threading.Event()
        self._customer_open: float | None = None  # call time the customer's open utterance began
        self._on_event: EventCallback | None = None
        self._t0 = 0.0
        self._started = False
        self._stopped = False
        self._log: JsonlSink | None = None
        self._log_handle = None
        self._recorder: _StereoRecorder | None = None
        self.log_path: Path | None = None
        self.wav_path: Path | None = None
        self.stats = {"blocks": 0, "segments": 0, "utterances": 0, "leaks_dropped": 0, "guard_dropped": 0,
                      "early_used": 0, "early_discarded": 0, "early_skipped": 0, "hangovers_cut": 0, "caption_passes": 0,
                      "caption_skipped": 0, "partials": 0}
        self.timings: list[UtteranceTiming] = []  # where each utterance's time went (bench/live_latency.py)
        self.rtf: float | None = None  # final recognition time / audio time, smoothed (1.0: just keeping up)
        self._busy_spans: deque[tuple[float, float]] = deque()  # when the recognizer was busy (load)
        self._load_now = 0.0  # the recognizer's load as of its last loop (read by the audio thread)
        self._pass_rate = 0.0  # recent recognition wall time per (1 + audio s / 4), smoothed (expected_pass_s)

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
        self._t0 = time.monotonic()
        self._plan_inputs()
        for inp in self._inputs:
            self._open(inp, first=True)
        for name, target in (("rapport-audio", self._audio_loop), ("rapport-recognizer", self._recognizer_loop),
                             ("rapport-pipeline", self._pipeline_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop capture, finish what was heard, emit the CallSummary, join the threads."""
        if not self._started or self._stopped:
            return
        self._stopped = True
        self._stopping.set()  # the audio thread closes the devices (no race with its reopening)
        for thread in self._threads:
            thread.join()
        self._close_record()

    def call_time(self) -> float:
        """Seconds since the call started (the call clock of every event time)."""
        return time.monotonic() - self._t0

    @property
    def inputs(self) -> list[tuple[str, str, bool]]:
        """(side(s), device id, lost) per input, for a status display."""
        return [("+".join(c.value for c in inp.channels), inp.device.id if inp.device else str(inp.choice), inp.lost)
                for inp in self._inputs]

    # ------------------------------------------------------------ events and records

    def _emit(self, event: Event) -> None:
        # utterances were masked by the pipeline's first stage, before anything was made from them
        if self._log is not None:
            try:
                self._log.write(event)
            except RapportError as exc:  # disk full: say it once, keep the call going
                self._log = None
                self._deliver(Status("error", "log_failed", f"the event log stopped: {exc.one_line()}",
                                    round(self.call_time(), 3)))
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        try:
            assert self._on_event is not None
            self._on_event(event)
        except Exception:  # a consumer's bug must not end the call
            logger.exception("on_event failed for %s", type(event).__name__)

    def _status(self, level: str, code: str, message: str, speakers: tuple[Speaker, ...] = ()) -> None:
        """Put a status on the timeline (delivered in order by the pipeline thread)."""
        self._items.put(Status(level, code, message, round(self.call_time(), 3),  # type: ignore[arg-type]
                               STATUS_COMPONENTS.get(code), speakers))

    def _open_record(self, folder: Path) -> None:
        stamp = datetime.now().strftime("call-%Y%m%d-%H%M%S")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            n = 1
            while (folder / f"{stamp}.jsonl").exists():  # two calls in one second: never append to another
                n += 1
                stamp = datetime.now().strftime(f"call-%Y%m%d-%H%M%S-{n}")
            self.log_path = folder / f"{stamp}.jsonl"
            self._log_handle = self.log_path.open("a", encoding="utf-8")
            self._log = JsonlSink(self._log_handle, str(self.log_path))
            if self.settings.record_audio:
                self.wav_path = folder / f"{stamp}.wav"
                self._recorder = _StereoRecorder(self.wav_path)
        except OSError as exc:
            self._log = None
            self._recorder = None
            self._items.put(Status("error", "record_failed",
                                   f"cannot write the call record in {folder}: {exc.strerror or exc} — "
                                   "the call runs without it; pick a writable folder", 0.0))

    def _close_record(self) -> None:
        if self._recorder is not None:
            try:
                self._recorder.close()
            except OSError:
                pass
        if self._log_handle is not None:
            try:
                self._log_handle.close()
            except OSError:
                pass

    # ------------------------------------------------------------ devices

    def _plan_inputs(self) -> None:
        s = self.settings
        by_device: dict[str, _Input] = {}
        for speaker, choice in ((Speaker.AGENT, s.agent), (Speaker.CUSTOMER, s.customer)):
            if choice is None:
                continue
            inp = by_device.get(choice.device)
            if inp is None:
                inp = by_device[choice.device] = _Input(None, choice, {})
                self._inputs.append(inp)
            inp.channels[speaker] = _Channel(speaker, choice.channel, self._new_endpointer(speaker, 0.0))

    def _new_endpointer(self, speaker: Speaker, start_s: float) -> Endpointer:
        return Endpointer(speaker, self.settings.endpointer, start_s=start_s)

    def _side(self, inp: _Input) -> str:
        return " and ".join(f"{c.value}'s" for c in inp.channels)

    def _lost_code(self, inp: _Input) -> str:
        return "mic_lost" if Speaker.AGENT in inp.channels else "device_gone"

    def _open(self, inp: _Input, first: bool = False) -> bool:
        """Open ``inp``'s device; False (with a status on the first failure) when it cannot."""
        inp.last_try_t = time.monotonic()
        try:
            listed = self._devices if self._devices is not None else list_devices
            devices = listed() if callable(listed) else listed
            if not devices:
                inp.lost = True  # retried by the watchdog
                if first:
                    self._status("error", "no_devices",
                                 "no audio input found (no devices, or no audio server running) — plug in a headset "
                                 "or start PulseAudio/PipeWire; retrying. 'rapport-assist demo' works without audio")
                return False
            device = find_device(inp.choice, devices)
            columns = [c.column for c in inp.channels.values() if c.column is not None]
            n = max(columns) + 1 if columns else 1
            if n > device.channels:
                raise RapportError(f"{device.id} has {plural(device.channels, 'channel')}, channel {n - 1} was asked for",
                                   "channels count from 0; see 'rapport-assist devices'")
            generation = inp.generation + 1
            index = self._inputs.index(inp)
            capture = self._opener(device, n, lambda block, g=generation: self._blocks.put((index, g, block)))
        except RapportError as exc:
            if first or not inp.lost:
                self._status("error", self._lost_code(inp) if not first else "device_unavailable",
                             f"cannot capture the {self._side(inp)} side: {exc.one_line()} (retrying every "
                             f"{self.settings.retry_s:g} s)", tuple(inp.channels))
            inp.lost = True
            return False
        inp.device, inp.capture, inp.generation = device, capture, generation
        inp.overflows_seen = 0
        inp.last_block_t = time.monotonic()
        for ch in inp.channels.values():
            ch.resampler = StreamResampler(capture.rate_hz) if capture.rate_hz != STREAM_RATE_HZ else None
            ch.aligned = False
        if capture.rate_hz != STREAM_RATE_HZ:
            self._status("info", "rate_fallback", f"{device.id} does not take 16 kHz; capturing at "
                                                  f"{capture.rate_hz} Hz and resampling")
        if inp.lost:
            self._status("info", "capture_resumed", f"the {self._side(inp)} audio is back ({device.id})",
                         tuple(inp.channels))
        else:
            self._status("info", "capture_started", f"capturing the {self._side(inp)} side from {device.id}",
                         tuple(inp.channels))
        inp.lost = False
        return True

    def _close(self, inp: _Input) -> None:
        capture, inp.capture = inp.capture, None
        if capture is not None:
            capture.close()

    def _lose(self, inp: _Input, why: str) -> None:
        """The device stopped: keep what it said, say so, and retry."""
        self._close(inp)
        inp.generation += 1  # late blocks of the old stream are ignored
        for ch in inp.channels.values():
            self._close_channel(ch)
        inp.lost = True
        inp.last_try_t = time.monotonic()
        fix = ("plug the headset back in or pick another microphone" if Speaker.AGENT in inp.channels
               else "check the softphone's output device, or pick another source")
        self._status("error", self._lost_code(inp),
                     f"the {self._side(inp)} audio stopped ({why}); the transcript so far is kept — {fix}. "
                     f"Retrying every {self.settings.retry_s:g} s")

    def _close_channel(self, ch: _Channel) -> None:
        for segment in ch.endpointer.finish():
            self._segments.put((segment, time.monotonic()))
        ch.caption_at_s = None
        if ch.open_since_s is not None:
            ch.open_since_s = None
            if ch.speaker is Speaker.CUSTOMER:
                self._customer_open = None

    def _watch(self, inp: _Input, now: float, sources: Callable[[], set[str] | None]) -> None:
        """Reopen a lost device when it is time; notice a running one that stopped."""
        if inp.lost:
            if now - inp.last_try_t >= self.settings.retry_s and not self._stopping.is_set():
                self._open(inp)
            return
        if inp.capture is None:
            return
        overflows = getattr(inp.capture, "overflows", 0)
        if overflows > inp.overflows_seen and now - inp.overflow_said_t >= 60.0:
            inp.overflow_said_t = now
            self._status("warning", "audio_dropped",
                         f"the {self._side(inp)} audio lost {plural(overflows - inp.overflows_seen, 'block')}: the computer "
                         "is too busy to keep up — close other programs; transcription goes on")
            inp.overflows_seen = overflows
        if now - inp.last_block_t > self.settings.device_timeout_s:
            self._lose(inp, f"no audio for {self.settings.device_timeout_s:g} s")
        elif inp.device is not None and inp.device.backend == "pulse" and now - inp.last_check_t >= 1.0:
            inp.last_check_t = now
            names = sources()
            if names is None or inp.device.name not in names:
                self._lose(inp, f"the source {inp.device.name} is gone")

    # ------------------------------------------------------------ audio thread

    def _audio_loop(self) -> None:
        last_watch = 0.0
        closed = False
        while True:
            if self._stopping.is_set() and not closed:
                for inp in self._inputs:
                    self._close(inp)
                closed = True
            try:
                index, generation, block = self._blocks.get(timeout=0.1)
            except queue.Empty:
                block = None
            if block is not None:
                inp = self._inputs[index]
                if generation == inp.generation and not inp.lost:
                    self._route(inp, block)
            now = time.monotonic()
            if now - last_watch >= 0.2 and not self._stopping.is_set():
                last_watch = now
                cache: list[set[str] | None] = []

                def sources() -> set[str] | None:  # one pactl call per round, only when a check is due
                    if not cache:
                        cache.append(pulse_source_names())
                    return cache[0]

                for inp in self._inputs:
                    self._watch(inp, now, sources)
                    if inp.lost and self._recorder is not None:
                        for ch in inp.channels.values():
                            self._recorder.pad_to(ch.speaker, int(self.call_time() * STREAM_RATE_HZ))
            if self._recorder is not None and (block is None or self.stats["blocks"] % 16 == 0):
                self._flush_recorder()
            if closed and block is None:  # the queue is drained
                break
        for inp in self._inputs:
            if not inp.lost:
                for ch in inp.channels.values():
                    self._close_channel(ch)
        self._flush_recorder()
        self._audio_done.set()

    def _flush_recorder(self) -> None:
        if self._recorder is None:
            return
        if self.settings.agent is None or self.settings.customer is None:
            missing = Speaker.AGENT if self.settings.agent is None else Speaker.CUSTOMER
            self._recorder.pad_to(missing, self._recorder.received(missing.other()))
        try:
            self._recorder.flush()
        except OSError as exc:
            self._recorder = None
            self._status("error", "record_failed", f"stopped saving the call audio: {exc.strerror or exc}")

    def _route(self, inp: _Input, block: np.ndarray) -> None:
        inp.last_block_t = time.monotonic()
        self.stats["blocks"] += 1
        block = block.reshape(len(block), -1)
        for ch in inp.channels.values():
            samples = block[:, ch.column if ch.column is not None else 0]
            if ch.resampler is not None:
                samples = ch.resampler.push(samples)
            if not ch.aligned:  # streams start late (PulseAudio: up to a second): put them on the call clock
                ch.aligned = True
                start = max(0.0, self.call_time() - len(block) / inp_rate(inp))
                start_n = int(start * STREAM_RATE_HZ) // FRAME_SAMPLES * FRAME_SAMPLES
                if not ch.started:  # the silence before the first block, as the call's WAV will have it,
                    ch.started = True  # so replaying the WAV meets the same frames and VAD state
                    if ch.endpointer.finished:  # lost before its first block (a slow start on a busy PC)
                        ch.endpointer = self._new_endpointer(ch.speaker, 0.0)
                    ch.endpointer.push(np.zeros(start_n, dtype=np.float32))
                else:  # reopened after a loss: a fresh endpointer from here
                    ch.endpointer = self._new_endpointer(ch.speaker, start_n / STREAM_RATE_HZ)
            if self._recorder is not None:
                start = int(round(ch.endpointer.position_s * STREAM_RATE_HZ))
                self._recorder.pad_to(ch.speaker, start)
                self._recorder.add(ch.speaker, samples)
            for segment in ch.endpointer.push(samples):
                self._segments.put((segment, time.monotonic()))
            open_since = ch.endpointer.open_since_s
            if open_since is not None and open_since != ch.open_since_s:  # a new segment (or a forced cut's rest)
                self._items.put(SpeechActivity(ch.speaker, open_since, True))
                ch.caption_at_s = open_since + self.settings.caption_first_s
                if self.settings.close_on_other_side:
                    self._cut_other_hangovers(ch)
            ch.open_since_s = open_since
            if ch.speaker is Speaker.CUSTOMER:
                self._customer_open = open_since
            if open_since is None:
                ch.caption_at_s = None
            self._offer_early(ch)

    def _offer_early(self, ch: _Channel) -> None:
        """Hand the recognizer the segment the channel's open utterance becomes if its silence
        lasts (once per silence), and, when one is due, the open utterance so far for a caption."""
        ep = ch.endpointer
        silent_since = ep.silent_since_s
        after_ms = self.settings.early_after_busy_ms if self._load_now > 0.5 else self.settings.early_after_ms
        if (self.settings.early_final and silent_since is not None and ch.early_key != (ep.open_since_s, silent_since)
                and ep.position_s - silent_since >= after_ms / 1000):
            early = ep.early_segment()  # (None until the end padding is in)
            if early is not None:
                ch.early_key = (ep.open_since_s, silent_since)  # once per silence
                self._early.put(early)
        if (self.settings.captions and ch.caption_at_s is not None and ep.silent_since_s is None
                and ep.position_s >= ch.caption_at_s):
            ch.caption_at_s = ep.position_s + self.settings.caption_every_s
            so_far = ep.open_segment()
            if so_far is not None:
                self._caption_audio.put(so_far)

    def _cut_other_hangovers(self, talking: _Channel) -> None:
        """``talking`` just started an utterance: the other side's utterance whose hangover is
        running (its end padding in) is over now, not a hangover later."""
        for inp in self._inputs:
            if inp.lost:
                continue
            for other in inp.channels.values():
                if other is talking or other.speaker is talking.speaker:
                    continue
                closed = other.endpointer.close_now()
                for segment in closed:
                    self.stats["hangovers_cut"] += 1
                    self._segments.put((segment, time.monotonic()))
                if closed:
                    other.open_since_s = None
                    other.caption_at_s = None
                    if other.speaker is Speaker.CUSTOMER:
                        self._customer_open = None

    # ------------------------------------------------------------ recognizer thread

    def _recognizer_loop(self) -> None:
        """Finals first, in end order; then early finals (a segment as it closes if the silence
        lasts); then, when the recognizer has room, caption passes over open utterances."""
        from .captions import CaptionTracker
        from .sources import to_utterance

        recognizer = self._recognizer
        if recognizer is None:
            try:
                recognizer = Recognizer(self.settings.recognizer)
            except RapportError as exc:
                self._status("error", "model_failed", f"no transcription: {exc.one_line()}")
                recognizer = None
        if recognizer is not None:
            warm_start = time.monotonic()
            recognizer.warm_up()
            self._pass_rate = (time.monotonic() - warm_start) / 1.25  # a first guess (1 s of audio)
            self._status("info", "model_ready", "speech model loaded and warmed up")
        options = getattr(recognizer, "options", None)
        speculative = not getattr(options, "prompt_previous_text", False)  # an early pass would set the prompt
        lean = recognizer  # the recognizer without context extras, for when the call is behind
        if getattr(options, "context_s", 0.0) > 0 and hasattr(recognizer, "with_options"):
            from dataclasses import replace

            lean = recognizer.with_options(replace(options, context_s=0.0))
        waiting: list[tuple[SpeechSegment, float]] = []
        early: dict[Speaker, SpeechSegment] = {}  # the latest early segment per side, not yet recognized
        early_done: dict[Speaker, tuple[tuple[float, float], Recognition | None, float, float]] = {}
        captions: dict[Speaker, SpeechSegment] = {}  # the latest open-utterance audio per side
        final_end: dict[Speaker, float] = {}  # where each side's last final segment ended
        tracker = CaptionTracker()
        recent_customer: list[Utterance] = []
        index = 0
        behind = False
        paused_said = False

        def drain() -> None:
            try:
                while True:
                    waiting.append(self._segments.get_nowait())
            except queue.Empty:
                pass
            try:
                while True:
                    seg = self._early.get_nowait()
                    early[seg.speaker] = seg
            except queue.Empty:
                pass
            try:
                while True:
                    seg = self._caption_audio.get_nowait()
                    captions[seg.speaker] = seg
            except queue.Empty:
                pass

        while True:
            try:
                waiting.append(self._segments.get(timeout=0.05))
            except queue.Empty:
                pass
            drain()
            self._load_now = self.load()
            now = time.monotonic()
            lag = now - min(t for _, t in waiting) if waiting else 0.0
            if not behind and lag > self.settings.behind_s:
                behind = True
                self._status("warning", "recognizer_behind",
                             f"transcription is {lag:.0f} s behind the call (the computer is busy); captions are "
                             "off and nudges come late until it catches up — close other programs or use a smaller "
                             "model")
            elif behind and lag < 1.0:
                behind = False
                self._status("info", "recognizer_caught_up", "transcription has caught up with the call")
            if waiting:
                waiting.sort(key=lambda item: item[0].end_s)
                segment, queued_at = self._next_segment(waiting)
                if segment is not None:
                    waiting.remove((segment, queued_at))
                    self.stats["segments"] += 1
                    key = (segment.start_s, segment.end_s)
                    done = early_done.pop(segment.speaker, None)
                    pending = early.get(segment.speaker)
                    if pending is not None and pending.end_s <= segment.end_s + 1e-6:
                        del early[segment.speaker]  # this segment (or an older one of its side) is final now
                    if done is not None and done[0] == key:
                        self.stats["early_used"] += 1
                        _, rec, rec_start, rec_end = done
                    else:
                        if done is not None:
                            self.stats["early_discarded"] += 1  # speech resumed after the early pass
                        rec_start = time.monotonic()
                        use = lean if lag > self.settings.behind_s / 2 else recognizer  # context is an extra
                        rec = use.recognize(segment) if use is not None else None
                        rec_end = time.monotonic()
                        self._busy(rec_start, rec_end, segment.duration_s)
                    final_end[segment.speaker] = segment.end_s
                    tracker.finish(segment.speaker)
                    if segment.speaker in captions and captions[segment.speaker].start_s < segment.end_s:
                        del captions[segment.speaker]  # that utterance's caption pass is too late now
                    self._rtf(rec_end - rec_start, segment.duration_s, done is not None and done[0] == key)
                    if rec is None:
                        self.stats["guard_dropped"] += 1
                        self._items.put(SpeechActivity(segment.speaker, segment.end_s, False))
                        continue
                    utt = to_utterance(segment, rec, index)
                    if segment.speaker is Speaker.AGENT and is_leak(utt, recent_customer, self.settings.leak_similarity):
                        self.stats["leaks_dropped"] += 1
                        self._items.put(SpeechActivity(segment.speaker, segment.end_s, False))
                        continue
                    if segment.speaker is Speaker.CUSTOMER:
                        recent_customer.append(utt)
                        del recent_customer[:-8]
                    index += 1
                    self.stats["utterances"] += 1
                    self._items.put((utt, (queued_at, rec_start, rec_end)))
                    continue
            elif self._audio_done.is_set() and self._segments.empty():
                break
            if recognizer is None:
                early.clear()
                captions.clear()
                continue
            # no final to recognize now: an early final, then a caption pass, if the call is not behind
            if early and speculative and lag < self.settings.behind_s / 2:
                speaker, segment = min(early.items(), key=lambda item: item[1].end_s)
                del early[speaker]
                if self.expected_pass_s(segment.duration_s) > self.settings.early_max_pass_s:
                    self.stats["early_skipped"] += 1  # slow now: a wasted pass would hold up the next final
                elif segment.start_s >= final_end.get(speaker, -1.0) and not self._audio_done.is_set():
                    rec_start = time.monotonic()
                    rec = recognizer.recognize(segment)
                    rec_end = time.monotonic()
                    self._busy(rec_start, rec_end, segment.duration_s)
                    if speaker in early_done:  # an earlier pause of the same utterance: speech resumed after it
                        self.stats["early_discarded"] += 1
                    early_done[speaker] = ((segment.start_s, segment.end_s), rec, rec_start, rec_end)
                continue
            if not captions:
                continue
            speaker, segment = min(captions.items(), key=lambda item: item[1].end_s)
            del captions[speaker]
            if segment.start_s < final_end.get(speaker, -1.0) or self._audio_done.is_set():
                continue  # that utterance is final already
            load = self.load()
            expected = self.expected_pass_s(segment.duration_s)
            slow = lag > 1.0 or load > self.settings.caption_max_load or expected > self.settings.caption_max_pass_s
            if waiting or slow or not speculative:
                self.stats["caption_skipped"] += 1
                if not paused_said and slow:
                    paused_said = True
                    self._status("info", "recognizer_busy",
                                 f"live captions paused: the computer is busy (a pass would take {expected:.1f} s, "
                                 f"the recognizer was busy {load:.0%} of the time); final text and nudges go on")
                continue
            if paused_said and load < self.settings.caption_max_load * 0.7:
                paused_said = False
                self._status("info", "recognizer_ready", "live captions are back")
            rec_start = time.monotonic()
            rec = recognizer.recognize(segment)
            rec_end = time.monotonic()
            self._busy(rec_start, rec_end, segment.duration_s)
            self.stats["caption_passes"] += 1
            if rec is None:
                continue
            partial = tracker.update(speaker, segment.start_s, segment.end_s, rec.words)
            if partial is not None:
                self.stats["partials"] += 1
                self._items.put(partial)
        self._items.put(_STOP)

    def load(self, window_s: float = 10.0) -> float:
        """Share of the last ``window_s`` the recognizer spent recognizing (0..1)."""
        now = time.monotonic()
        spans = self._busy_spans
        while spans and spans[0][1] < now - window_s:
            spans.popleft()
        busy = sum(end - max(start, now - window_s) for start, end in spans)
        return busy / window_s

    def expected_pass_s(self, audio_s: float) -> float:
        """How long recognizing ``audio_s`` of audio should take now: the recent passes' wall time
        per (1 + audio_s / 4) (Whisper's encoder costs the same for any length, the decoder grows
        with the words), smoothed; 0 before the first pass."""
        return self._pass_rate * (1.0 + audio_s / 4.0)

    def _busy(self, start: float, end: float, audio_s: float) -> None:
        self._busy_spans.append((start, end))
        rate = (end - start) / (1.0 + audio_s / 4.0)
        self._pass_rate = rate if self._pass_rate == 0.0 else 0.7 * self._pass_rate + 0.3 * rate

    def _rtf(self, seconds: float, audio_s: float, early: bool) -> None:
        """The real-time factor of final recognition (recognition time / audio), smoothed."""
        if early or audio_s <= 0:
            return
        value = seconds / audio_s
        self.rtf = value if self.rtf is None else 0.8 * self.rtf + 0.2 * value

    def _next_segment(self, waiting: list[tuple[SpeechSegment, float]]) -> tuple[SpeechSegment | None, float]:
        """The earliest-ending segment; an agent segment that overlaps customer speech still being
        endpointed waits for it (up to ``leak_wait_s``) so the leak filter can compare them."""
        for segment, queued_at in waiting:
            if segment.speaker is Speaker.AGENT:
                customer = [s for s, _ in waiting if s.speaker is Speaker.CUSTOMER
                            and s.start_s < segment.end_s and s.end_s > segment.start_s]
                if customer:
                    c = customer[0]
                    return c, next(t for s, t in waiting if s is c)
                open_since = self._customer_open
                if (open_since is not None and open_since < segment.end_s
                        and time.monotonic() - queued_at < self.settings.leak_wait_s
                        and not self._audio_done.is_set()):
                    continue
            return segment, queued_at
        return None, 0.0

    # ------------------------------------------------------------ pipeline thread

    def _timeline(self) -> Iterator[Utterance | Status | SpeechActivity | Tick]:
        while True:
            try:
                item = self._items.get(timeout=self.settings.tick_s)
            except queue.Empty:
                yield Tick(self.call_time())
                continue
            if item is _STOP:
                return
            if isinstance(item, tuple):
                utt, self._pending_times = item
                yield utt
                continue
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
            for event in pipeline.run(self._timeline(), read_ahead=1):
                if isinstance(event, Utterance):
                    queued, rec_start, rec_end = self._pending_times
                    self.timings.append(UtteranceTiming(event.index, event.speaker, event.end_s,
                                                        queued - self._t0, rec_start - self._t0, rec_end - self._t0,
                                                        self.call_time()))
                self._emit(event)
        except Exception as exc:  # a bug in a stage: say so, keep the record, end the call cleanly
            logger.exception("live pipeline failed")
            self._emit(Status("error", "pipeline_failed", f"the live pipeline stopped: {exc.__class__.__name__}: "
                                                          f"{exc} — the call record so far is kept; please report it",
                              round(self.call_time(), 3)))
            self._emit(CallSummary(duration_s=self.call_time(), utterances=self.stats["utterances"], nudges=0))
            while self._items.get() is not _STOP:  # let the other threads finish
                pass

    _pending_times: tuple[float, float, float] = (0.0, 0.0, 0.0)
