"""Streaming endpointing: cut one channel's audio into speech segments with Silero VAD.

The Silero VAD v6 ONNX model that faster-whisper ships scores 512-sample frames (32 ms at
16 kHz), each preceded by the previous frame's last 64 samples as context, and carries an
LSTM state ``(h, c)`` from frame to frame. ``VadStream`` holds that state (and the context)
for one audio stream, so live capture can feed frames as they arrive while replay feeds big
blocks, and both get the same probabilities. The model treats the first axis of its input
as time: a batch of N frames with one ``(h, c)`` is the same computation as N calls with
the state carried, bit for bit with onnxruntime's CPU kernels (``tests/test_endpoint.py``
checks this), so blocks are scored in one call for speed.

``Endpointer`` turns frame probabilities into ``SpeechSegment``s with the hysteresis of
Silero's own ``get_speech_timestamps`` (start above ``threshold``, end after
``hangover_ms`` below ``neg_threshold``), pads them, drops blips shorter than
``min_speech_ms``, and forces a cut at the quietest recent frame of an utterance that runs
past ``max_utterance_s``. It keeps only the open utterance plus a pre-roll for padding, and,
when ``context_s`` is set, a bounded ring of the audio before it (each segment carries that
much of its channel's preceding audio as ``SpeechSegment.context``, for the recognizer).
"""

from __future__ import annotations

import importlib.util
import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .audio import STREAM_RATE_HZ
from .errors import ModelError
from .types import SpeechSegment, Speaker

FRAME_SAMPLES = 512
"""Samples per VAD frame (32 ms at 16 kHz); Silero v6 only accepts this size at 16 kHz."""
CONTEXT_SAMPLES = 64
"""Samples of the previous frame prepended to each frame, as Silero v6 expects."""
VAD_MODEL_FILE = "silero_vad_v6.onnx"
_STATE_SHAPE = (1, 1, 128)
_MAX_BATCH_FRAMES = 1024  # ~33 s of audio per onnxruntime call bounds the input tensor


@dataclass(frozen=True)
class EndpointerOptions:
    """How speech is found and cut. Probabilities are Silero's, 0..1; times carry their unit.

    * ``threshold`` / ``neg_threshold``: a frame at or above ``threshold`` starts (or keeps
      alive) speech; silence starts counting at the first frame below ``neg_threshold``.
    * ``hangover_ms``: silence that ends an utterance.
    * ``min_speech_ms``: shorter detections (clicks, coughs) are dropped.
    * ``onset_pad_ms``: audio kept before the detected speech (never reaching back into the
      previous segment). Silero fires a little late on soft or clipped onsets; 400 ms, as
      faster-whisper's own VAD filter pads, keeps the first word whole (real 8 kHz calls,
      BENCHMARKS.md: pooled WER 13.9% with 150 ms, 10.6% with 400).
    * ``speech_pad_ms``: audio kept after the detected speech (it cannot exceed
      ``hangover_ms``, which is all the audio seen past the speech). Live capture starts
      recognizing a segment this far into its hangover (``early_segment``), so it is short:
      96 ms (3 frames) recognizes the real 8 kHz calls as well as 150 ms did (BENCHMARKS.md:
      pooled WER 10.2% vs 10.6%; 32 ms lost words).
    * ``max_utterance_s``: an utterance reaching this length (padding included) is cut at
      the quietest frame of its last ``cut_search_s`` and continues as a new segment.
    * ``context_s``: seconds of the channel's audio before each segment to attach to it
      (``SpeechSegment.context``), for a recognizer that decodes in context
      (``RecognizerOptions.context_s``); 0 keeps none.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_ms: int = 250
    hangover_ms: int = 300
    onset_pad_ms: int = 400
    speech_pad_ms: int = 96
    max_utterance_s: float = 25.0
    cut_search_s: float = 5.0
    context_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.neg_threshold <= self.threshold < 1.0:
            raise ValueError("need 0 < neg_threshold <= threshold < 1")
        if min(self.min_speech_ms, self.hangover_ms, self.onset_pad_ms, self.speech_pad_ms, self.context_s) < 0:
            raise ValueError("min_speech_ms, hangover_ms, onset_pad_ms, speech_pad_ms and context_s must be >= 0")
        if self.cut_search_s <= 0 or self.max_utterance_s < self.cut_search_s + self.min_speech_ms / 1000:
            raise ValueError("need 0 < cut_search_s and max_utterance_s >= cut_search_s + min_speech_ms")


class SileroVad:
    """The Silero VAD v6 ONNX model in one single-threaded onnxruntime session.

    The session is stateless and thread-safe; each audio stream gets its own ``VadStream``.
    """

    def __init__(self, model_path: Path) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ModelError(
                "onnxruntime is not installed (it runs the voice activity detector)", "run 'make setup'"
            ) from None
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 4
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_path), providers=["CPUExecutionProvider"], sess_options=opts
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(
                f"the voice activity model {model_path} failed to load ({exc.__class__.__name__})",
                "reinstall faster-whisper: run 'make setup'",
            ) from None
        self.model_path = model_path

    def stream(self) -> VadStream:
        """A fresh per-stream state (zero LSTM state, zero context)."""
        return VadStream(self)

    def run(self, inputs: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score ``inputs`` of shape (n, 576) as a time sequence; returns (probs, h, c)."""
        probs, h, c = self._session.run(None, {"input": inputs, "h": h, "c": c})
        return np.asarray(probs, dtype=np.float32).reshape(-1), h, c


class VadStream:
    """Speech probabilities for consecutive 512-sample frames of one audio stream."""

    def __init__(self, vad: SileroVad) -> None:
        self._vad = vad
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def probabilities(self, frames: np.ndarray) -> np.ndarray:
        """Score ``frames`` (shape (n, 512), float32, 16 kHz) that follow the previous call's."""
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != FRAME_SAMPLES:
            raise ValueError(f"frames must have shape (n, {FRAME_SAMPLES})")
        n = frames.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        contexts = np.empty((n, CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        inputs = np.concatenate([contexts, frames], axis=1)
        probs = np.empty(n, dtype=np.float32)
        for lo in range(0, n, _MAX_BATCH_FRAMES):
            hi = min(n, lo + _MAX_BATCH_FRAMES)
            probs[lo:hi], self._h, self._c = self._vad.run(inputs[lo:hi], self._h, self._c)
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        return probs


def vad_model_path() -> Path:
    """Where faster-whisper keeps its Silero VAD model (found without importing faster-whisper)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or spec.origin is None:
        raise ModelError("faster-whisper is not installed (it ships the voice activity model)", "run 'make setup'")
    path = Path(spec.origin).parent / "assets" / VAD_MODEL_FILE
    if not path.is_file():
        raise ModelError(
            f"the voice activity model {VAD_MODEL_FILE} is missing from faster-whisper",
            "install faster-whisper 1.2.1 as pinned (run 'make setup')",
        )
    return path


@lru_cache(maxsize=1)
def load_vad() -> SileroVad:
    """The shared Silero VAD model (loaded once per process)."""
    return SileroVad(vad_model_path())


class Endpointer:
    """Push 16 kHz float32 audio of one channel; get back the speech segments it closes.

    ``push`` takes blocks of any length (a remainder shorter than a frame waits for the next
    block), so segments do not depend on how the stream is chunked. ``finish`` flushes the
    end of the stream; the endpointer cannot be used after it. Segment times are call times:
    ``start_s`` is the call time of the first sample pushed.
    """

    def __init__(
        self,
        speaker: Speaker,
        options: EndpointerOptions = EndpointerOptions(),
        vad: SileroVad | None = None,
        start_s: float = 0.0,
    ) -> None:
        self.speaker = speaker
        self.options = options
        self._start_s = float(start_s)
        self._vad = (vad or load_vad()).stream()
        ms = STREAM_RATE_HZ // 1000
        self._pad = options.speech_pad_ms * ms
        self._onset_pad = options.onset_pad_ms * ms
        self._hangover = options.hangover_ms * ms
        self._min_speech = options.min_speech_ms * ms
        self._max_utterance = int(options.max_utterance_s * STREAM_RATE_HZ)
        self._cut_search = int(options.cut_search_s * STREAM_RATE_HZ)
        self._preroll_frames = math.ceil(self._onset_pad / FRAME_SAMPLES)
        # Frames older than the buffer, newest last: the context ring (bounded, maybe empty).
        self._context_samples = int(options.context_s * STREAM_RATE_HZ)
        self._history: deque[np.ndarray] = deque(maxlen=math.ceil(self._context_samples / FRAME_SAMPLES))

        self._pending = np.zeros(0, dtype=np.float32)  # < one frame, waiting for more audio
        self._samples_pushed = 0
        self._frames_done = 0
        # Recent frames (copies) and their RMS; the first one is frame number _buffer_first.
        self._buffer: deque[np.ndarray] = deque()
        self._rms: deque[float] = deque()
        self._buffer_first = 0
        # Sample indices (stream-relative). _speech_start is None while no utterance is open.
        self._speech_start: int | None = None
        self._silence_start: int | None = None
        self._utterance_start = 0
        self._continued = False  # the open utterance continues one that was force-cut
        self._last_end = 0
        self._finished = False

    @property
    def position_s(self) -> float:
        """Call time just after the last sample pushed."""
        return self._start_s + self._samples_pushed / STREAM_RATE_HZ

    @property
    def open_since_s(self) -> float | None:
        """Call time where the utterance in progress starts (as its segment will), or None
        when no speech is open. Live capture marks the channel busy with it."""
        if self._speech_start is None:
            return None
        return self._start_s + self._utterance_start / STREAM_RATE_HZ

    @property
    def speech_since_s(self) -> float | None:
        """Call time the open utterance's voice began (the VAD's onset, after the onset padding
        ``open_since_s`` includes; where a forced cut's rest continues), or None when no speech is
        open. Live captions count the audio to their first pass from it."""
        if self._speech_start is None:
            return None
        return self._start_s + self._speech_start / STREAM_RATE_HZ

    @property
    def horizon_s(self) -> float:
        """No segment this endpointer returns from now on starts before this call time (the
        oldest frame it still holds: an utterance starts at or after it, padding included);
        infinity once finished. Replay merges the channels' segments into call order with it."""
        if self._finished:
            return math.inf
        return self._start_s + self._buffer_first * FRAME_SAMPLES / STREAM_RATE_HZ

    @property
    def buffered_s(self) -> float:
        """Seconds of audio held: the open utterance (or the pre-roll) plus a partial frame."""
        return (len(self._buffer) * FRAME_SAMPLES + self._pending.shape[0]) / STREAM_RATE_HZ

    @property
    def finished(self) -> bool:
        """``finish`` was called: the endpointer takes no more audio."""
        return self._finished

    @property
    def silent_since_s(self) -> float | None:
        """Call time where the open utterance's trailing silence began (the hangover is
        running), or None (no utterance open, or speech right now)."""
        if self._speech_start is None or self._silence_start is None:
            return None
        return self._start_s + self._silence_start / STREAM_RATE_HZ

    def early_segment(self) -> SpeechSegment | None:
        """The segment the open utterance becomes if its silence lasts out the hangover: the
        same samples ``push`` would return then (start, end, audio), as soon as the end padding
        after the silence onset is in, ``speech_pad_ms`` into the hangover. None while speech
        goes on, before the padding is in, or for a blip. Live capture recognizes it early and
        keeps the result only if the segment it closes is this one (speech did not resume)."""
        if self._speech_start is None or self._silence_start is None:
            return None
        if not (self._continued or self._silence_start - self._speech_start >= self._min_speech):
            return None
        available = min(self._frames_done * FRAME_SAMPLES, self._samples_pushed)
        if available < self._silence_start + self._pad:
            return None
        return self._segment(self._utterance_start, self._silence_start + self._pad)

    def close_now(self) -> list[SpeechSegment]:
        """Cut the hangover short: when the open utterance's trailing silence already holds its
        end padding, close it now (the segment ``early_segment`` gives); otherwise nothing.
        Live capture calls it when the other side starts talking: the turn has passed."""
        if self.early_segment() is None:
            return []
        assert self._silence_start is not None
        segment = self._close(self._silence_start)
        return [segment] if segment is not None else []

    def open_segment(self) -> SpeechSegment | None:
        """The open utterance so far (from its start, padding included, to the last full
        frame), for live captions; None when no speech is open."""
        if self._speech_start is None:
            return None
        available = min(self._frames_done * FRAME_SAMPLES, self._samples_pushed)
        if available <= self._utterance_start:
            return None
        return self._segment(self._utterance_start, available)

    def push(self, samples: np.ndarray) -> list[SpeechSegment]:
        """Feed the next samples of the stream; returns segments that ended within them."""
        if self._finished:
            raise RuntimeError("Endpointer.push() called after finish()")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError("Endpointer.push() takes a 1-D array of mono samples")
        self._samples_pushed += samples.shape[0]
        data = np.concatenate([self._pending, samples]) if self._pending.shape[0] else samples
        n_frames = data.shape[0] // FRAME_SAMPLES
        self._pending = data[n_frames * FRAME_SAMPLES :].copy()
        return self._process(data[: n_frames * FRAME_SAMPLES].reshape(n_frames, FRAME_SAMPLES))

    def finish(self) -> list[SpeechSegment]:
        """End of stream: score the last partial frame and close any open utterance."""
        if self._finished:
            return []
        segments: list[SpeechSegment] = []
        if self._pending.shape[0]:
            last = np.zeros((1, FRAME_SAMPLES), dtype=np.float32)
            last[0, : self._pending.shape[0]] = self._pending
            self._pending = np.zeros(0, dtype=np.float32)
            segments.extend(self._process(last))
        if self._speech_start is not None:
            end = self._silence_start if self._silence_start is not None else self._samples_pushed
            segment = self._close(min(end, self._samples_pushed))
            if segment is not None:
                segments.append(segment)
        self._buffer.clear()
        self._rms.clear()
        self._finished = True
        return segments

    def _process(self, frames: np.ndarray) -> list[SpeechSegment]:
        """Run the VAD over whole frames and step the state machine frame by frame."""
        if frames.shape[0] == 0:
            return []
        probs = self._vad.probabilities(frames)
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
        segments: list[SpeechSegment] = []
        for frame, prob, level in zip(frames, probs.tolist(), rms.tolist(), strict=True):
            segment = self._step(frame, prob, level)
            if segment is not None:
                segments.append(segment)
        return segments

    def _step(self, frame: np.ndarray, prob: float, level: float) -> SpeechSegment | None:
        """Advance by one frame; returns a segment if this frame closed one."""
        opts = self.options
        index = self._frames_done
        self._frames_done += 1
        self._buffer.append(frame.copy())
        self._rms.append(level)
        frame_start = index * FRAME_SAMPLES
        frame_end = frame_start + FRAME_SAMPLES

        if self._speech_start is None:
            if prob >= opts.threshold:
                self._speech_start = frame_start
                self._silence_start = None
                self._continued = False
                self._utterance_start = max(
                    frame_start - self._onset_pad, self._last_end, self._buffer_first * FRAME_SAMPLES
                )
            else:
                self._trim_buffer(len(self._buffer) - self._preroll_frames)
            return None

        if prob >= opts.threshold:
            self._silence_start = None
        elif prob < opts.neg_threshold and self._silence_start is None:
            self._silence_start = frame_start
        if self._silence_start is not None and frame_end - self._silence_start >= self._hangover:
            return self._close(self._silence_start)
        if frame_end - self._utterance_start >= self._max_utterance:
            if self._silence_start is not None:
                return self._close(self._silence_start)
            return self._cut()
        return None

    def _close(self, speech_end: int) -> SpeechSegment | None:
        """End the open utterance at ``speech_end`` (+ padding); drop it if it was a blip."""
        assert self._speech_start is not None
        segment = None
        if self._continued or speech_end - self._speech_start >= self._min_speech:
            available = min(self._frames_done * FRAME_SAMPLES, self._samples_pushed)
            end = min(speech_end + self._pad, available)
            segment = self._segment(self._utterance_start, end)
            self._last_end = end
        self._speech_start = None
        self._silence_start = None
        self._continued = False
        self._trim_buffer(len(self._buffer) - self._preroll_frames)
        return segment

    def _cut(self) -> SpeechSegment:
        """Force a cut at the quietest recent frame; the rest continues as a new utterance."""
        newest = self._frames_done - 1
        first_allowed = max(
            (self._utterance_start + self._min_speech) // FRAME_SAMPLES,
            newest + 1 - max(1, self._cut_search // FRAME_SAMPLES),
            self._buffer_first,
        )
        levels = [self._rms[i - self._buffer_first] for i in range(first_allowed, newest + 1)]
        quietest = first_allowed + int(np.argmin(levels))
        cut = (quietest + 1) * FRAME_SAMPLES
        segment = self._segment(self._utterance_start, cut)
        self._last_end = cut
        self._utterance_start = cut
        self._speech_start = cut
        self._continued = True
        self._trim_buffer(quietest + 1 - self._buffer_first)
        return segment

    def _segment(self, start: int, end: int) -> SpeechSegment:
        """Build the segment for stream samples [start, end) from the buffered frames."""
        offset = self._buffer_first * FRAME_SAMPLES
        audio = np.concatenate(self._buffer)[start - offset : end - offset]
        context = None
        if self._context_samples:
            held = list(self._history) + list(self._buffer)[: (start - offset + FRAME_SAMPLES - 1) // FRAME_SAMPLES]
            first = offset - len(self._history) * FRAME_SAMPLES
            begin = max(start - self._context_samples, first)
            context = np.concatenate(held)[begin - first : start - first] if held else np.zeros(0, np.float32)
        return SpeechSegment(
            speaker=self.speaker,
            start_s=self._start_s + start / STREAM_RATE_HZ,
            end_s=self._start_s + end / STREAM_RATE_HZ,
            audio=audio,
            context=context,
        )

    def _trim_buffer(self, drop: int) -> None:
        """Forget the ``drop`` oldest buffered frames."""
        for _ in range(max(0, drop)):
            frame = self._buffer.popleft()
            if self._history.maxlen:
                self._history.append(frame)
            self._rms.popleft()
            self._buffer_first += 1
