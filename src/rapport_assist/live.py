"""A live call: capture both sides, endpoint, recognize, and run the call pipeline as it happens.

    capture callbacks ──► audio thread ──────────► recognizer thread ──► pipeline thread ──► on_event
    (copy each block)     (resample, WAV, one       (owns the model;      (CallPipeline.run:
                           Endpointer per side,      finals in end order,  annotate, signals,
                           device watchdog)          leak filter)          rules; Tick every 0.25 s)

``LiveCall(settings).start(on_event)`` returns at once; ``on_event`` is called from the pipeline
thread with the events ``CallPipeline`` yields (Utterance, Nudge, RecordItem, Status, DeadAir,
TalkOver, ToneChange, CallSummary), and with ``SpeechActivity`` marks as a side starts talking
(before its words are recognized; not written to the event log), so a view can tell the agent is
mid-sentence. ``stop()`` stops capture, lets the queued audio finish,
emits the final ``CallSummary`` and joins the threads.

Nothing in a call crashes it. A device that stops delivering audio (unplugged, its PulseAudio
source unloaded) becomes a ``Status`` (``mic_lost`` for the agent, ``device_gone`` for the
customer); the utterance in progress is kept, and the device is reopened every
``retry_s`` until it is back (``capture_resumed``). A device that will not take 16 kHz is
captured at its own rate and resampled (``rate_fallback``). A recognizer that falls behind
says so (``recognizer_behind``) and catches up in order. Without a headset the customer leaks
into the agent's microphone: an agent utterance that repeats the words of a customer utterance
said at the same time is dropped.

The call's event log (``<record_to>/<stamp>.jsonl``) is append-only and flushed per event; with
``record_audio`` the exact 16 kHz audio the endpointers heard is saved beside it as a stereo
WAV (agent left, customer right), which ``rapport-assist replay`` reproduces.
"""

from __future__ import annotations

import difflib
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
from .types import (CallSummary, Component, Event, SpeechActivity, SpeechSegment, Speaker, Status, Tick,
                    Utterance)
from .wording import plural

logger = logging.getLogger(__name__)

# The sidebar's status row each of live capture's codes reports on (the others are notices about the
# call; capture_started/_resumed and device_unavailable name the row by their ``speakers``).
STATUS_COMPONENTS: dict[str, Component] = {
    "no_devices": "microphone", "mic_lost": "microphone", "device_gone": "customer",
    "model_failed": "recognizer", "model_ready": "recognizer",
    "recognizer_behind": "recognizer", "recognizer_caught_up": "recognizer",
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
        self.stats = {"blocks": 0, "segments": 0, "utterances": 0, "leaks_dropped": 0, "guard_dropped": 0}
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
            ch.open_since_s = open_since
            if ch.speaker is Speaker.CUSTOMER:
                self._customer_open = open_since

    # ------------------------------------------------------------ recognizer thread

    def _recognizer_loop(self) -> None:
        recognizer = self._recognizer
        if recognizer is None:
            try:
                recognizer = Recognizer(self.settings.recognizer)
            except RapportError as exc:
                self._status("error", "model_failed", f"no transcription: {exc.one_line()}")
                recognizer = None
        if recognizer is not None:
            recognizer.warm_up()
            self._status("info", "model_ready", "speech model loaded and warmed up")
        waiting: list[tuple[SpeechSegment, float]] = []
        recent_customer: list[Utterance] = []
        index = 0
        behind = False
        while True:
            try:
                waiting.append(self._segments.get(timeout=0.1))
                while True:
                    waiting.append(self._segments.get_nowait())
            except queue.Empty:
                pass
            if not waiting:
                if self._audio_done.is_set():
                    break
                continue
            now = time.monotonic()
            oldest = min(t for _, t in waiting)
            if not behind and now - oldest > self.settings.behind_s:
                behind = True
                self._status("warning", "recognizer_behind",
                             f"transcription is {now - oldest:.0f} s behind the call (the computer is busy); nudges "
                             "come late until it catches up — close other programs or use a smaller model")
            elif behind and now - oldest < 1.0:
                behind = False
                self._status("info", "recognizer_caught_up", "transcription has caught up with the call")
            waiting.sort(key=lambda item: item[0].end_s)
            segment, queued_at = self._next_segment(waiting)
            if segment is None:
                time.sleep(0.05)
                continue
            waiting.remove((segment, queued_at))
            self.stats["segments"] += 1
            rec_start = time.monotonic()
            rec = recognizer.recognize(segment) if recognizer is not None else None
            rec_end = time.monotonic()
            if rec is None:
                self.stats["guard_dropped"] += 1
                self._items.put(SpeechActivity(segment.speaker, segment.end_s, False))
                continue
            from .sources import to_utterance

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
        self._items.put(_STOP)

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
