"""A live call's record on disk: the event log, and the audio the endpointers heard.

``CallRecord.open(folder, sides, audio=...)`` makes ``<folder>/<stamp>.jsonl``, the append-only
event log (one JSON line per event, flushed per event, so a crash keeps it), and with ``audio``
``<stamp>.wav`` beside it: the call's 16 kHz audio as a stereo 16-bit WAV (agent left, customer
right), written as it comes, which ``rapport-assist replay`` reproduces. Each side is padded
with silence where it has no audio (a side not captured, a device gone), so both stay on the
call clock.

A disk that fills up loses the record, never the call: ``log`` raises once and the log stops;
the audio stops with one message to ``on_failed``.
"""

from __future__ import annotations

import wave
from datetime import datetime
from pathlib import Path
from typing import IO, Callable

import numpy as np

from .audio import STREAM_RATE_HZ
from .errors import RapportError
from .output import JsonlSink
from .types import Event, Speaker


class StereoRecorder:
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

    def abandon(self) -> None:
        """Stop after a failed write: the file is closed as it is (no error)."""
        try:
            self._wav.close()  # closes the file even when its last write fails
        except OSError:
            pass


class CallAudio:
    """The call's WAV as the audio thread feeds it (``live_capture.AudioSink``): a side that is
    not captured follows the other in silence; a write that fails stops the audio, once."""

    def __init__(self, path: Path, sides: tuple[Speaker, ...], on_failed: Callable[[str], None]) -> None:
        self.path = path
        self._recorder: StereoRecorder | None = StereoRecorder(path)
        self._missing = [s for s in Speaker if s not in sides]
        self._on_failed = on_failed

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def add(self, speaker: Speaker, start: int, samples: np.ndarray) -> None:
        """``samples`` of ``speaker`` from sample ``start`` of the call (silence before it)."""
        if self._recorder is not None:
            self._recorder.pad_to(speaker, start)
            self._recorder.add(speaker, samples)

    def pad_to(self, speaker: Speaker, position: int) -> None:
        """Silence on ``speaker``'s side up to sample ``position`` (its device is gone)."""
        if self._recorder is not None:
            self._recorder.pad_to(speaker, position)

    def flush(self) -> None:
        """Write what both sides have (a side not captured: silence as long as the other)."""
        if self._recorder is None:
            return
        for speaker in self._missing:
            self._recorder.pad_to(speaker, self._recorder.received(speaker.other()))
        try:
            self._recorder.flush()
        except OSError as exc:
            self._recorder.abandon()
            self._recorder = None
            self._on_failed(f"stopped saving the call audio: {exc.strerror or exc}")

    def close(self) -> None:
        """Both sides padded to the longer one, written, the WAV closed (errors: the WAV is as it was)."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            try:
                recorder.close()
            except OSError:
                pass


class CallRecord:
    """One call's event log and (optional) audio in a folder; see the module doc."""

    def __init__(self, log_path: Path, handle: IO[str], audio: CallAudio | None) -> None:
        self.log_path = log_path
        self._handle = handle
        self._log: JsonlSink | None = JsonlSink(handle, str(log_path))
        self.audio = audio

    @property
    def wav_path(self) -> Path | None:
        return self.audio.path if self.audio is not None else None

    @classmethod
    def open(
        cls, folder: Path, sides: tuple[Speaker, ...], *, audio: bool, on_audio_failed: Callable[[str], None]
    ) -> "CallRecord":
        """A new record named by the time (never another call's: two calls in one second get
        ``-2``...); raises OSError when the folder cannot be written."""
        stamp = datetime.now().strftime("call-%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        n = 1
        while (folder / f"{stamp}.jsonl").exists():  # two calls in one second: never append to another
            n += 1
            stamp = datetime.now().strftime(f"call-%Y%m%d-%H%M%S-{n}")
        log_path = folder / f"{stamp}.jsonl"
        handle = log_path.open("a", encoding="utf-8")
        try:
            wav = CallAudio(folder / f"{stamp}.wav", sides, on_audio_failed) if audio else None
        except OSError:
            handle.close()
            raise
        return cls(log_path, handle, wav)

    def log(self, event: Event) -> None:
        """Append ``event`` to the log. A write that fails (disk full) raises its RapportError
        once; the log stops there."""
        if self._log is None:
            return
        try:
            self._log.write(event)
        except RapportError:
            self._log = None
            raise

    def close(self) -> None:
        """Finish the WAV and close the log (errors closing: what was written stays)."""
        if self.audio is not None:
            self.audio.close()
        try:
            self._handle.close()
        except OSError:
            pass
