"""A live call's audio thread: the capture devices, supervised, and one endpointer per side.

``CaptureSupervisor`` opens the call's devices (one input per device; a device may carry both
sides, one per channel), copies each block off the capture callback, resamples to 16 kHz when a
device will not take it (``rate_fallback``), puts each side on the call clock, feeds the side's
``Endpointer`` and the call's WAV (``AudioSink``), and hands the recognizer thread its speech
(``live_shared.SpeechFeed``): closed segments, the segment an utterance becomes if its silence
lasts (early finals), and open utterances so far (captions: first ``caption_first_s`` after the
voice began, then every ``caption_offer_s`` of audio; the recognizer thread decides which it hears). As a side starts talking it puts a
``SpeechActivity`` mark on the timeline, and closes the other side's utterance if that one's
hangover is running.

Nothing here stops the call. A device that stops delivering audio (unplugged, its PulseAudio
source unloaded, silent for ``device_timeout_s``) becomes a ``Status`` (``mic_lost`` for the
agent, ``device_gone`` for the customer); the utterance in progress is kept, and the device is
reopened every ``retry_s`` until it is back (``capture_resumed``). No device at all is
``no_devices``; audio the PC was too busy to take is ``audio_dropped``.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from .audio import STREAM_RATE_HZ
from .capture import (
    AudioDevice,
    Capture,
    CaptureOpener,
    DeviceChoice,
    check_sides,
    StreamResampler,
    channel_fix,
    channel_problem,
    find_device,
    list_devices,
    open_capture,
    pulse_source_names,
)
from .endpoint import FRAME_SAMPLES, Endpointer
from .errors import RapportError
from .live_shared import CallTimeline, ClosedSegment, LiveSettings, SpeechFeed
from .types import SpeechActivity, Speaker
from .wording import plural

DeviceList = Sequence[AudioDevice] | Callable[[], Sequence[AudioDevice]]


class AudioSink(Protocol):
    """Where the audio the endpointers heard is saved (``live_recording.CallAudio``)."""

    def add(self, speaker: Speaker, start: int, samples: np.ndarray) -> None: ...

    def pad_to(self, speaker: Speaker, position: int) -> None: ...

    def flush(self) -> None: ...


@dataclass
class _Channel:
    """One side of the call: where its audio comes from and its endpointer."""

    speaker: Speaker
    column: int | None  # which channel of the input; None = all its channels mixed down
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
    channels_said: bool = False  # that the device lacks a channel asked for was said (once per loss)

    @property
    def rate_hz(self) -> int:
        return self.capture.rate_hz if self.capture is not None else STREAM_RATE_HZ

    def side(self) -> str:
        return " and ".join(f"{c.value}'s" for c in self.channels)

    def lost_code(self) -> str:
        return "mic_lost" if Speaker.AGENT in self.channels else "device_gone"


class CaptureSupervisor:
    """The call's inputs and the audio thread that runs them (see the module doc)."""

    def __init__(
        self,
        settings: LiveSettings,
        timeline: CallTimeline,
        feed: SpeechFeed,
        *,
        opener: CaptureOpener | None = None,
        devices: DeviceList | None = None,
        audio: AudioSink | None = None,
    ) -> None:
        self.settings = settings
        self._timeline = timeline
        self._feed = feed
        self._opener = opener or open_capture
        self._devices = devices
        self._audio = audio
        self._blocks: queue.SimpleQueue[tuple[int, int, np.ndarray]] = queue.SimpleQueue()  # (input, generation, block)
        self._inputs: list[_Input] = []
        self._stopping = threading.Event()
        self.stats = {"blocks": 0, "hangovers_cut": 0}
        self._handed = 0  # hand-overs to the recognizer thread (it is woken when this grows)
        self._plan_inputs()

    @property
    def inputs(self) -> list[tuple[str, str, bool]]:
        """(side(s), device id, lost) per input, for a status display."""
        return [
            ("+".join(c.value for c in inp.channels), inp.device.id if inp.device else str(inp.choice), inp.lost)
            for inp in self._inputs
        ]

    def open_all(self) -> None:
        """Open every input (from the caller's thread, before the audio thread runs); problems
        become statuses and retries."""
        for inp in self._inputs:
            self._open(inp, first=True)
        captured = self.settings.captured()
        for missing in (s for s in Speaker if s not in captured):
            heard = " and ".join(s.value for s in captured)
            self._timeline.status(
                "info",
                "side_not_captured",
                f"no {missing.value} audio chosen: only the {heard} is heard, so dead air, talk-over and "
                "the nudges between the sides are off",
                (missing,),
            )

    def stop(self) -> None:
        """Close the devices (done by the audio thread: no race with its reopening); the queued
        audio is still endpointed, then ``run`` returns."""
        self._stopping.set()

    # ------------------------------------------------------------ devices

    def _plan_inputs(self) -> None:
        s = self.settings
        check_sides(s.agent, s.customer)
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

    def _open(self, inp: _Input, first: bool = False) -> bool:
        """Open ``inp``'s device; False (with a status on the first failure) when it cannot."""
        status = self._timeline.status
        inp.last_try_t = time.monotonic()
        try:
            listed = self._devices if self._devices is not None else list_devices
            devices = listed() if callable(listed) else listed
            if not devices:
                inp.lost = True  # retried by the watchdog
                if first:
                    status(
                        "error",
                        "no_devices",
                        "no audio input found (no devices, or no audio server running) — plug in a headset "
                        "or start PulseAudio/PipeWire; retrying. 'rapport-assist demo' works without audio",
                    )
                return False
            device = find_device(inp.choice, devices)
            columns = [c.column for c in inp.channels.values() if c.column is not None]
            problem = next(
                (p for c in columns if (p := channel_problem(DeviceChoice(inp.choice.device, c), device)) is not None),
                None,
            )
            if problem is not None:  # (LiveCall refuses it before the call; here the device came back with fewer)
                if not inp.channels_said:  # said once, not at every retry
                    inp.channels_said = True
                    status(
                        "error",
                        "device_unavailable" if first else inp.lost_code(),
                        f"cannot capture the {inp.side()} side: {problem} — {channel_fix(device)} "
                        f"(retrying every {self.settings.retry_s:g} s)",
                        tuple(inp.channels),
                    )
                inp.lost = True
                return False
            n = max(columns) + 1 if columns else 1
            if columns and len(columns) < len(inp.channels):  # a side without #N hears all the channels mixed
                n = max(n, device.channels)  # down, as it does with the device to itself (the sound server's mix)
            generation = inp.generation + 1
            index = self._inputs.index(inp)

            def on_block(block: np.ndarray, g: int = generation) -> None:  # the capture's thread: queue and go
                self._blocks.put((index, g, block))

            capture = self._opener(device, n, on_block)
        except RapportError as exc:
            if first or not inp.lost:
                status(
                    "error",
                    inp.lost_code() if not first else "device_unavailable",
                    f"cannot capture the {inp.side()} side: {exc.one_line()} (retrying every "
                    f"{self.settings.retry_s:g} s)",
                    tuple(inp.channels),
                )
            inp.lost = True
            return False
        inp.device, inp.capture, inp.generation = device, capture, generation
        inp.overflows_seen = 0
        inp.channels_said = False
        inp.last_block_t = time.monotonic()
        for ch in inp.channels.values():
            ch.resampler = StreamResampler(capture.rate_hz) if capture.rate_hz != STREAM_RATE_HZ else None
            ch.aligned = False
        if capture.rate_hz != STREAM_RATE_HZ:
            status(
                "info",
                "rate_fallback",
                f"{device.id} does not take 16 kHz; capturing at {capture.rate_hz} Hz and resampling",
            )
        if inp.lost:
            status("info", "capture_resumed", f"the {inp.side()} audio is back ({device.id})", tuple(inp.channels))
        else:
            status("info", "capture_started", f"capturing the {inp.side()} side from {device.id}", tuple(inp.channels))
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
        fix = (
            "plug the headset back in or pick another microphone"
            if Speaker.AGENT in inp.channels
            else "check the softphone's output device, or pick another source"
        )
        self._timeline.status(
            "error",
            inp.lost_code(),
            f"the {inp.side()} audio stopped ({why}); the transcript so far is kept — {fix}. "
            f"Retrying every {self.settings.retry_s:g} s",
        )

    def _close_channel(self, ch: _Channel) -> None:
        for segment in ch.endpointer.finish():
            self._feed.closed.put(ClosedSegment(segment, self._timeline.now()))
        self._feed.in_hangover[ch.speaker] = False
        self._feed.talking[ch.speaker] = False
        self._feed.wake.set()
        ch.caption_at_s = None
        if ch.open_since_s is not None:
            ch.open_since_s = None
            if ch.speaker is Speaker.CUSTOMER:
                self._feed.customer_open_s = None

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
            self._timeline.status(
                "warning",
                "audio_dropped",
                f"the {inp.side()} audio lost {plural(overflows - inp.overflows_seen, 'block')}: "
                "the computer is too busy to keep up — close other programs; transcription goes on",
            )
            inp.overflows_seen = overflows
        if now - inp.last_block_t > self.settings.device_timeout_s:
            self._lose(inp, f"no audio for {self.settings.device_timeout_s:g} s")
        elif inp.device is not None and inp.device.backend == "pulse" and now - inp.last_check_t >= 1.0:
            inp.last_check_t = now
            names = sources()
            if names is None or inp.device.name not in names:
                self._lose(inp, f"the source {inp.device.name} is gone")

    # ------------------------------------------------------------ the audio thread

    def run(self) -> None:
        """The audio thread: blocks to endpointers, the watchdog every 0.2 s, until ``stop``
        and the queued blocks are done; then the open utterances are closed and the feed is done."""
        last_watch = 0.0
        closed = False
        block: np.ndarray | None
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
                sources = functools.cache(pulse_source_names)  # one pactl call per round, only when a check is due
                for inp in self._inputs:
                    self._watch(inp, now, sources)
                    if inp.lost and self._audio is not None:
                        for ch in inp.channels.values():
                            self._audio.pad_to(ch.speaker, int(self._timeline.now() * STREAM_RATE_HZ))
            if self._audio is not None and (block is None or self.stats["blocks"] % 16 == 0):
                self._audio.flush()
            if closed and block is None:  # the queue is drained
                break
        for inp in self._inputs:
            if not inp.lost:
                for ch in inp.channels.values():
                    self._close_channel(ch)
        if self._audio is not None:
            self._audio.flush()
        self._feed.done.set()
        self._feed.wake.set()

    def _route(self, inp: _Input, block: np.ndarray) -> None:
        handed = self._handed
        inp.last_block_t = time.monotonic()
        self.stats["blocks"] += 1
        block = block.reshape(len(block), -1)
        start_n: int | None = None  # the call sample the block starts at, read once for all its channels
        for ch in inp.channels.values():
            if ch.column is not None:
                samples = block[:, ch.column]
            else:  # all the input's channels mixed down (their mean, as PulseAudio mixes a source to mono)
                samples = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
            if ch.resampler is not None:
                samples = ch.resampler.push(samples)
            if not ch.aligned:  # streams start late (PulseAudio: up to a second): put them on the call clock
                ch.aligned = True
                if start_n is None:  # (not per channel: the clock moves while one is endpointed, the other
                    # side of the same stream would start a frame or more later)
                    start = max(0.0, self._timeline.now() - len(block) / inp.rate_hz)
                    start_n = int(start * STREAM_RATE_HZ) // FRAME_SAMPLES * FRAME_SAMPLES
                if not ch.started:  # the silence before the first block, as the call's WAV will have it,
                    ch.started = True  # so replaying the WAV meets the same frames and VAD state
                    if ch.endpointer.finished:  # lost before its first block (a slow start on a busy PC)
                        ch.endpointer = self._new_endpointer(ch.speaker, 0.0)
                    ch.endpointer.push(np.zeros(start_n, dtype=np.float32))
                else:  # reopened after a loss: a fresh endpointer from here
                    ch.endpointer = self._new_endpointer(ch.speaker, start_n / STREAM_RATE_HZ)
            if self._audio is not None:
                self._audio.add(ch.speaker, int(round(ch.endpointer.position_s * STREAM_RATE_HZ)), samples)
            for segment in ch.endpointer.push(samples):
                self._feed.closed.put(ClosedSegment(segment, self._timeline.now()))
                self._handed += 1
            open_since = ch.endpointer.open_since_s
            if open_since is not None and open_since != ch.open_since_s:  # a new segment (or a forced cut's rest)
                self._timeline.put(SpeechActivity(ch.speaker, open_since, True))
                voiced = ch.endpointer.speech_since_s
                ch.caption_at_s = (voiced if voiced is not None else open_since) + self.settings.caption_first_s
                if self.settings.close_on_other_side:
                    self._cut_other_hangovers(ch)
            ch.open_since_s = open_since
            if ch.speaker is Speaker.CUSTOMER:
                self._feed.customer_open_s = open_since
            if open_since is None:
                ch.caption_at_s = None
            self._offer_early(ch)
            in_hangover = ch.endpointer.silent_since_s is not None
            if self._feed.in_hangover.get(ch.speaker, False) != in_hangover:
                self._feed.in_hangover[ch.speaker] = in_hangover
                self._handed += 1
            if self._feed.talking.get(ch.speaker, False) != (open_since is not None):
                self._feed.talking[ch.speaker] = open_since is not None
                self._handed += 1
        if self._handed != handed:
            self._feed.wake.set()

    def _offer_early(self, ch: _Channel) -> None:
        """Hand the recognizer the segment the channel's open utterance becomes if its silence
        lasts (once per silence), and, when one is due, the open utterance so far for a caption."""
        s = self.settings
        ep = ch.endpointer
        silent_since = ep.silent_since_s
        after_ms = s.early_after_busy_ms if self._feed.recognizer_load > 0.5 else s.early_after_ms
        if (
            s.early_final
            and silent_since is not None
            and ch.early_key != (ep.open_since_s, silent_since)
            and ep.position_s - silent_since >= after_ms / 1000
        ):
            early = ep.early_segment()  # (None until the end padding is in)
            if early is not None:
                ch.early_key = (ep.open_since_s, silent_since)  # once per silence
                self._feed.early.put(early)
                self._handed += 1
        if (
            s.captions
            and ch.caption_at_s is not None
            and ep.silent_since_s is None
            and ep.position_s >= ch.caption_at_s
        ):
            ch.caption_at_s = ep.position_s + s.caption_offer_s  # (the recognizer decides which it hears)
            so_far = ep.open_segment()
            if so_far is not None:
                self._feed.captions.put(so_far)
                self._handed += 1

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
                    self._feed.closed.put(ClosedSegment(segment, self._timeline.now()))
                    self._handed += 1
                if closed:
                    self._feed.in_hangover[other.speaker] = False
                    self._feed.talking[other.speaker] = False
                    other.open_since_s = None
                    other.caption_at_s = None
                    if other.speaker is Speaker.CUSTOMER:
                        self._feed.customer_open_s = None
