"""Sound under a QA review: the recording played through PortAudio (``sounddevice``, a core
dependency), following the review clock. No Qt here; the sidebar only wires it.

The review's clock (``playback.Playback``) leads. ``follow(now_s, playing, speed)`` is called on
every tick with where the clock is; it only stores that (it never blocks). PortAudio's callback
thread renders what is due: at 1× the samples themselves, at 2× and 4× a WSOLA time stretch (the
pitch is kept: overlapping 40 ms frames, each taken within ±10 ms of where the speed puts it,
at the offset that continues the previous frame's waveform best), silence while paused and at
"max". The audio jumps to the clock when the timeline is seeked or when it falls behind by more
than ``DRIFT_S`` × speed; when it runs ahead (the clock holds while a replay still computes
events) it waits, silent, for the clock to catch up.

Decoding the file and opening the output happen in a background thread. Without an output
device (no sound server, no sound card) the player says so in ``state`` and the review goes on
silently.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .capture import start_portaudio_thread

RATE_HZ = 16000
DRIFT_S = 0.3
FRAME_S = 0.040
TOLERANCE_S = 0.010
BLOCK = 512  # frames per PortAudio callback (32 ms at 16 kHz)


class Stretch:
    """WSOLA (waveform-similarity overlap-add) over a whole recording, rendered block by block.

    ``audio`` is (samples, channels) float32. ``position_s`` is where the next output comes
    from. ``render(n, speed)`` gives the next ``n`` output samples, taking ``speed`` seconds of
    the recording per second of output with the pitch unchanged.
    """

    def __init__(self, audio: np.ndarray, rate_hz: int = RATE_HZ) -> None:
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        if self.audio.ndim == 1:
            self.audio = self.audio[:, None]
        self.rate_hz = rate_hz
        self.win = 2 * int(FRAME_S * rate_hz / 2)
        self.hop = self.win // 2
        self.tol = int(TOLERANCE_S * rate_hz)
        n = np.arange(self.win)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / self.win)).astype(np.float32)[:, None]  # sums to 1 at 50 %
        self.jump(0.0)

    @property
    def channels(self) -> int:
        return self.audio.shape[1]

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.rate_hz

    @property
    def position_s(self) -> float:
        return self._pos / self.rate_hz

    def jump(self, t_s: float) -> None:
        """Continue from ``t_s`` (a fresh start: the first frame fades in over 20 ms)."""
        self._pos = max(0.0, t_s) * self.rate_hz  # input sample of the next frame's nominal start
        self._prev: int | None = None  # start of the last frame taken
        self._tail = np.zeros((self.hop, self.channels), np.float32)
        self._pending = np.zeros((0, self.channels), np.float32)
        self._speed = 1.0

    def _frame(self, start: int) -> np.ndarray:
        out = np.zeros((self.win, self.channels), np.float32)
        piece = self.audio[max(0, start) : max(0, start + self.win)]
        out[: len(piece)] = piece
        return out

    def _next_start(self, speed: float) -> int:
        nominal = int(round(self._pos))
        if self._prev is None:
            return nominal
        natural = self._prev + self.hop  # the frame that continues the last one exactly
        if speed == 1.0 or abs(natural - nominal) <= 1:
            return natural
        lo = max(0, nominal - self.tol)
        target = self.audio[natural : natural + self.win].mean(axis=1)
        region = self.audio[lo : nominal + self.tol + self.win].mean(axis=1)
        if len(target) < self.win or len(region) < self.win:
            return nominal
        scores = np.correlate(region, target, mode="valid")
        return lo + int(np.argmax(scores))

    def _step(self, speed: float) -> np.ndarray:
        start = self._next_start(speed)
        frame = self._frame(start) * self.window
        out = self._tail + frame[: self.hop]
        self._tail = frame[self.hop :]
        self._prev = start
        self._pos += self.hop * speed
        self._speed = speed
        return out

    def render(self, n: int, speed: float) -> np.ndarray:
        parts = [self._pending]
        have = len(self._pending)
        while have < n:
            block = self._step(speed)
            parts.append(block)
            have += len(block)
        out = np.concatenate(parts)
        self._pending = out[n:]
        return out[:n]

    def heard_s(self) -> float:
        """The recording time of the next sample to leave ``render`` (output not yet taken included)."""
        return max(0.0, (self._pos - len(self._pending) * self._speed) / self.rate_hz)


def _output_device(sd: Any) -> tuple[int | None, str]:
    """The output to use (PulseAudio's ALSA device when listed, else the default) and its name;
    (None, '') when there is none."""

    def outputs() -> list[tuple[int, dict]]:
        return [(i, d) for i, d in enumerate(sd.query_devices()) if d.get("max_output_channels", 0) > 0]

    found = outputs()
    if not found and not list(sd.query_devices()):
        # PortAudio lists devices once, when it starts: a sound server started since then is not
        # in its list. With no device listed at all no stream can be open, so restarting is safe.
        from .capture import rescan_devices

        rescan_devices()
        found = outputs()
    if not found:
        return None, ""
    for i, d in found:
        if d["name"] == "pulse":
            return i, "PulseAudio"
    try:
        default = sd.default.device[1]
    except Exception:
        default = -1
    for i, d in found:
        if i == default:
            return i, str(d["name"])
    return found[0][0], str(found[0][1]["name"])


class ReviewAudio:
    """Plays a recording under a QA review (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._now_s = 0.0
        self._wall = time.monotonic()
        self._playing = False
        self._speed = 1.0
        self._jump: float | None = None
        self._stopped = threading.Event()
        self._stream = None
        self._stretch: Stretch | None = None
        self.state = "opening"  # "opening" | "ready" | "silent" | "stopped"
        self.message = "opening the recording's sound…"
        self.blocks_played = 0  # callback blocks that carried sound
        self._changed = True
        self._thread = threading.Thread(target=self._open, name="qa-review-audio", daemon=True)
        start_portaudio_thread(self._thread)

    # -- the GUI thread ----------------------------------------------------------------------
    def follow(self, now_s: float, playing: bool, speed: float) -> None:
        """Where the review clock is (cheap: stores it for the audio thread)."""
        wall = time.monotonic()
        with self._lock:
            expected = self._now_s + (
                (wall - self._wall) * self._speed if self._playing and not math.isinf(self._speed) else 0.0
            )
            # seeked: the clock went back, or forward further than it runs (it never runs ahead
            # of itself; it holds while events are still being computed, which is no seek)
            if now_s < self._now_s - 0.05 or now_s > expected + 1.0:
                self._jump = now_s
            self._now_s, self._wall, self._playing, self._speed = now_s, wall, playing, speed

    def take_change(self) -> tuple[str, str] | None:
        """(state, message) once after each change of state, else None."""
        with self._lock:
            if not self._changed:
                return None
            self._changed = False
            return self.state, self.message

    def stop(self) -> None:
        """Close the output (in the background: closing a stream may take a moment)."""
        with self._lock:  # with _open's hand-over: a stream is closed by exactly one of them
            self._stopped.set()
            stream, self._stream = self._stream, None
        self._set("stopped", "")
        if stream is not None:
            start_portaudio_thread(
                threading.Thread(target=_close, args=(stream,), name="qa-review-audio-close", daemon=True)
            )

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    # -- the opening thread -------------------------------------------------------------------
    def _set(self, state: str, message: str) -> None:
        with self._lock:
            if self.state == "stopped":
                return
            self.state, self.message, self._changed = state, message, True

    def _open(self) -> None:
        try:
            from .audio import decode_channels
            from .errors import RapportError

            try:
                decoded = decode_channels(self.path)
            except RapportError:
                # the review reads the same file and says why it cannot (the panel's notice, with
                # what to do): said once there, not again on this line
                self._set("silent", "no sound: nothing could be decoded to play")
                return
            channels = decoded.channels[:2]
            self._stretch = Stretch(np.stack(channels, axis=1), RATE_HZ)
            if self._stopped.is_set():
                return
            try:
                import sounddevice as sd
            except (ImportError, OSError) as exc:
                self._set("silent", f"no sound: PortAudio is missing ({exc}); the review goes on silently")
                return
            device, name = _output_device(sd)
            if device is None:
                self._set("silent", "no audio output device found; the review goes on silently")
                return
            audio = np.stack(channels, axis=1)
            try:
                stream = self._stream_at(sd, device, RATE_HZ)
            except Exception:  # a device that does not take 16 kHz: play at its own rate
                rate = int(sd.query_devices(device)["default_samplerate"])
                if rate == RATE_HZ or self._stopped.is_set():
                    raise
                self._stretch = Stretch(_resample(audio, RATE_HZ, rate), rate)
                stream = self._stream_at(sd, device, rate)
            stream.start()
            with self._lock:
                stopped = self._stopped.is_set()
                if not stopped:
                    self._stream = stream
            if stopped:
                _close(stream)
                return
            self._set("ready", f"playing through {name}")
        except Exception as exc:  # PortAudioError and the like: no sound, the review goes on
            self._set("silent", f"no sound ({exc.__class__.__name__}: {exc}); the review goes on silently")

    def _stream_at(self, sd: Any, device: int, rate: int) -> Any:  # sounddevice (no type stubs): an OutputStream
        assert self._stretch is not None
        block = BLOCK * rate // RATE_HZ
        return sd.OutputStream(
            samplerate=rate,
            channels=self._stretch.channels,
            dtype="float32",
            blocksize=block,
            device=device,
            callback=self._callback,
            latency="low",
        )

    # -- PortAudio's thread -------------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        stretch = self._stretch
        with self._lock:
            now_s, wall, playing, speed, jump = self._now_s, self._wall, self._playing, self._speed, self._jump
            self._jump = None
        if stretch is None or not playing or math.isinf(speed) or self._stopped.is_set():
            outdata.fill(0)
            return
        target = now_s + (time.monotonic() - wall) * speed
        if jump is not None:
            stretch.jump(target)
        else:
            ahead = stretch.heard_s() - target
            if ahead < -DRIFT_S * speed:
                stretch.jump(target)
            elif ahead > DRIFT_S * speed:
                outdata.fill(0)  # the clock holds (events still coming): wait for it
                return
        if stretch.position_s >= stretch.duration_s:
            outdata.fill(0)
            return
        outdata[:] = stretch.render(frames, speed)
        self.blocks_played += 1


def _resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Linear interpolation to ``to_hz`` (playback only: the recording is already 16 kHz speech)."""
    n = int(round(len(audio) * to_hz / from_hz))
    x = np.arange(n) * (from_hz / to_hz)
    src = np.arange(len(audio))
    return np.stack([np.interp(x, src, audio[:, c]).astype(np.float32) for c in range(audio.shape[1])], axis=1)


def _close(stream: Any) -> None:
    try:
        stream.stop()
        stream.close()
    except Exception:
        pass


def open_review_audio(path: Path) -> ReviewAudio | None:
    """A player for a recording (None for a transcript: nothing to hear)."""
    from .sources import TRANSCRIPT_SUFFIXES

    if Path(path).suffix.lower() in TRANSCRIPT_SUFFIXES:
        return None
    return ReviewAudio(Path(path))
