"""Audio devices and capture streams for live calls.

    list_devices()  ->  [AudioDevice]   inputs and monitors, each with the backend that records it
    open_capture(device, channels, on_block)  ->  Capture   an open, started input stream

Two backends, both through PortAudio (``sounddevice``):

* ``portaudio``: the input devices PortAudio lists (microphones, line-ins, a multi-channel
  interface whose channel 2 carries the softphone). Id ``pa:<name>``.
* ``pulse``: PulseAudio / PipeWire sources, including the *monitors* of output devices, which
  PortAudio does not list. The customer's side of a softphone is the monitor of the sink it
  plays to. Id ``pulse:<source name>``. They are recorded through PortAudio's ``pulse`` ALSA
  device (the ALSA pulse plugin, Debian package ``libasound2-plugins``), with ``PULSE_SOURCE``
  naming the source while the stream connects. Sources are listed with ``pactl``.

Windows (WASAPI loopback) and macOS (BlackHole, Loopback) route the softphone's output to an
input device that PortAudio lists; see README.md, "Live calls".

The audio callback only copies each block and hands it on (``on_block``); it never blocks.
Capture is behind the small ``Capture`` protocol so tests can feed arrays through the same
live pipeline (``ArrayCapture``) faster than real time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np

from .audio import STREAM_RATE_HZ
from .errors import DeviceError, UsageError
from .wording import plural

Backend = Literal["portaudio", "pulse"]
DeviceKind = Literal["input", "monitor"]
BlockCallback = Callable[[np.ndarray], None]
"""Receives each captured block: float32, shape (frames, channels), at the capture's rate."""

BLOCK_FRAMES_16K = 512  # 32 ms blocks at 16 kHz: one VAD frame
_PULSE_DEVICE = "pulse"
_PACTL_TIMEOUT_S = 3.0
_open_lock = threading.Lock()  # PULSE_SOURCE is process-wide: one stream connects at a time


@dataclass(frozen=True)
class AudioDevice:
    """One place audio can be captured from."""

    id: str  # what to pass as --agent/--customer and to save: "pa:<name>" or "pulse:<source>"
    name: str
    description: str
    backend: Backend
    kind: DeviceKind
    channels: int
    default_rate_hz: float | None
    host_api: str = ""
    is_default: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "backend": self.backend,
            "kind": self.kind,
            "channels": self.channels,
            "default_rate_hz": self.default_rate_hz,
            "host_api": self.host_api,
            "default": self.is_default,
        }


@dataclass(frozen=True)
class DeviceChoice:
    """Which device records one side of the call, and which of its channels (0-based; None =
    mix all channels down)."""

    device: str
    channel: int | None = None

    @classmethod
    def parse(cls, text: str) -> "DeviceChoice":
        """``"pulse:sink.monitor"``, ``"pa:USB Audio"``, ``"pa:Focusrite#1"`` (channel 1), ``"default"``."""
        text = text.strip()
        if not text:
            raise ValueError("empty device: give an id from 'rapport-assist devices'")
        device, channel = text, None
        head, sep, tail = text.rpartition("#")
        if sep and tail.isdigit():
            device, channel = head, int(tail)
        return cls(device, channel)

    def __str__(self) -> str:
        return self.device if self.channel is None else f"{self.device}#{self.channel}"

    def to_json(self) -> dict[str, object]:
        return {"device": self.device, "channel": self.channel}


def check_sides(agent: DeviceChoice | None, customer: DeviceChoice | None) -> None:
    """UsageError when both sides are set to the same input (device and channel): read as both,
    every word would come out twice, once per side (a call-long talk-over)."""
    if agent is not None and customer is not None and agent == customer:
        from .errors import UsageError

        raise UsageError(
            f"the agent and the customer are both set to {agent}: each side would hear the other's words as its own",
            "give the customer side its own input (the softphone's output, e.g. pulse:<sink>.monitor), or one "
            "channel each of a two-channel device (DEVICE#0, DEVICE#1); see 'rapport-assist devices'",
        )


def channel_problem(choice: DeviceChoice, device: AudioDevice) -> str | None:
    """What is wrong when ``choice`` picks a channel ``device`` does not have (None: nothing)."""
    if choice.channel is None or choice.channel < device.channels:
        return None
    if device.channels <= 0:
        return f"{device.id} has no input channels, so channel {choice.channel} ({choice}) cannot be captured"
    have = "channel 0" if device.channels == 1 else f"channels 0 to {device.channels - 1}"
    return (
        f"{device.id} has {plural(device.channels, 'channel')} ({have}), so channel {choice.channel} "
        f"({choice}) is not there"
    )


def channel_fix(device: AudioDevice) -> str:
    """How to pick a channel ``device`` has (the hint of ``channel_problem``)."""
    picks = " or ".join(f"{device.id}#{i}" for i in range(min(device.channels, 3)))
    mixed = f"{device.id} (no #N) for all its channels mixed down"
    return (
        f"channels count from 0: pick {picks + ', or ' if picks else ''}{mixed}; "
        "'rapport-assist devices' lists each device's channels"
    )


def check_channel(choice: DeviceChoice, device: AudioDevice) -> None:
    """UsageError when ``choice`` picks a channel ``device`` does not have (``pa:X#3`` on a
    two-channel input): refused before the call, since capture could never open it."""
    problem = channel_problem(choice, device)
    if problem is not None:
        raise UsageError(problem, channel_fix(device))


def _sounddevice() -> Any:  # the sounddevice module (no type stubs)
    """Import sounddevice, or say how to get PortAudio."""
    try:
        import sounddevice
    except OSError:  # the wheel finds no libportaudio on Linux
        raise DeviceError(
            "PortAudio is not installed, so no audio device can be opened",
            "install it (Debian/Ubuntu: sudo apt-get install libportaudio2 libasound2-plugins), "
            "or try 'rapport-assist demo'",
        ) from None
    except ImportError:
        raise DeviceError("the sounddevice package is missing", "run 'make setup'") from None
    return sounddevice


# ------------------------------------------------------------------ listing


# Threads working in PortAudio in the background outside a stream's callback (a review's sound
# output opening or closing): PortAudio must not be terminated (at exit, or to re-read the device
# list) while one of them is inside it: that aborts the process or hangs it.
_portaudio_threads: list[threading.Thread] = []
_portaudio_lock = threading.Lock()


def start_portaudio_thread(thread: threading.Thread) -> None:
    """Start ``thread``, which calls into PortAudio; ``wait_portaudio_idle`` waits for it."""
    with _portaudio_lock:
        _portaudio_threads[:] = [t for t in _portaudio_threads if t.is_alive()]
        _portaudio_threads.append(thread)
    thread.start()


def wait_portaudio_idle(timeout_s: float = 5.0) -> bool:
    """Wait until no thread started with ``start_portaudio_thread`` runs (call before PortAudio is
    terminated); False if one was still running after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    with _portaudio_lock:  # not the caller itself (a review's sound thread rescanning the devices)
        threads = [t for t in _portaudio_threads if t is not threading.current_thread()]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with _portaudio_lock:
        _portaudio_threads[:] = [t for t in _portaudio_threads if t.is_alive()]
        return not [t for t in _portaudio_threads if t is not threading.current_thread()]


def rescan_devices() -> None:
    """PortAudio lists devices once, when it starts: restart it so a headset plugged in (or a sound
    server started) since then is listed. Only with no stream open (it would close them)."""
    try:
        import sounddevice as sd
    except (ImportError, OSError):
        return
    wait_portaudio_idle()  # a review's sound output still closing must not be inside PortAudio now
    try:
        sd._terminate()  # sounddevice's own way to re-read the device list
        sd._initialize()
    except Exception:  # an older or newer sounddevice without them: keep the list it has
        pass


def _pactl_env() -> dict[str, str]:
    """This process's environment with pactl's messages untranslated: its long listings are
    translated ("Quelle #0", "Beschreibung:" on a German desktop), and ``parse_pactl_sources``
    reads the English labels. LANGUAGE goes too (gettext reads it before LC_ALL unless the
    locale is C); the values pactl prints (names, descriptions) stay as they are."""
    env = dict(os.environ, LC_ALL="C")
    env.pop("LANGUAGE", None)
    return env


def pulse_sources() -> list[AudioDevice] | None:
    """PulseAudio/PipeWire sources via ``pactl``, or None when there is no such server."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return None
    env = _pactl_env()
    try:
        proc = subprocess.run(
            [pactl, "list", "sources"], capture_output=True, text=True, timeout=_PACTL_TIMEOUT_S, env=env
        )
        info = subprocess.run([pactl, "info"], capture_output=True, text=True, timeout=_PACTL_TIMEOUT_S, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    default = ""
    for line in info.stdout.splitlines():
        if line.startswith("Default Source:"):
            default = line.split(":", 1)[1].strip()
    return parse_pactl_sources(proc.stdout, default)


def parse_pactl_sources(text: str, default: str = "") -> list[AudioDevice]:
    """Parse ``pactl list sources`` (the long form, in English: run with ``_pactl_env``)."""
    devices: list[AudioDevice] = []
    block: dict[str, str] = {}

    def flush() -> None:
        name = block.get("Name")
        if not name:
            return
        spec = block.get("Sample Specification", "")
        channels, rate = 2, None
        for part in spec.split():
            if part.endswith("ch") and part[:-2].isdigit():
                channels = int(part[:-2])
            elif part.endswith("Hz") and part[:-2].isdigit():
                rate = float(part[:-2])
        monitor = name.endswith(".monitor") or block.get("Monitor of Sink", "n/a") not in ("n/a", "")
        devices.append(
            AudioDevice(
                id=f"pulse:{name}",
                name=name,
                description=block.get("Description", name),
                backend="pulse",
                kind="monitor" if monitor else "input",
                channels=channels,
                default_rate_hz=rate,
                host_api="PulseAudio",
                is_default=name == default,
            )
        )

    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("Source #"):
            flush()
            block = {}
        elif ":" in line and raw.startswith("\t") and not raw.startswith("\t\t"):
            key, value = line.split(":", 1)
            block.setdefault(key.strip(), value.strip())
    flush()
    return devices


def list_devices() -> list[AudioDevice]:
    """Every input PortAudio lists, then every PulseAudio/PipeWire source (inputs and monitors)
    when the ``pulse`` device is there to record them. Empty when there is nothing to record."""
    sd = _sounddevice()
    devices: list[AudioDevice] = []
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except Exception:  # PortAudio failed to initialize: no devices
        return []
    has_pulse = False
    for index, dev in enumerate(raw):
        if dev["max_input_channels"] <= 0:
            continue
        if dev["name"] == _PULSE_DEVICE:
            has_pulse = True
        # PortAudio builds with WASAPI loopback (PortAudio >= 19.7) list each output's loopback as
        # an input named "... [Loopback]": that is a monitor.
        kind: DeviceKind = "monitor" if "[loopback]" in dev["name"].lower() else "input"
        devices.append(
            AudioDevice(
                id=f"pa:{dev['name']}",
                name=dev["name"],
                description=dev["name"],
                backend="portaudio",
                kind=kind,
                channels=int(dev["max_input_channels"]),
                default_rate_hz=float(dev["default_samplerate"]),
                host_api=apis[dev["hostapi"]]["name"],
                is_default=index == default_in,
            )
        )
    if has_pulse:
        devices.extend(pulse_sources() or [])
    return devices


def find_device(choice: DeviceChoice, devices: Sequence[AudioDevice]) -> AudioDevice:
    """The listed device ``choice`` names: by id, by exact name, or by a unique part of the name."""
    want = choice.device
    if want == "default":
        for dev in devices:
            if dev.backend == "portaudio" and dev.is_default:
                return dev
    for dev in devices:
        if dev.id == want or dev.name == want:
            return dev
    low = want.lower()
    hits = [d for d in devices if low in d.id.lower() or low in d.description.lower()]
    if len(hits) == 1:
        return hits[0]
    hint = "list them with 'rapport-assist devices'"
    if len(hits) > 1:
        raise DeviceError(
            f"{want!r} matches {len(hits)} devices: " + ", ".join(d.id for d in hits[:5]), "give the full id; " + hint
        )
    raise DeviceError(f"no audio device {want!r}", hint)


# ------------------------------------------------------------------ capture


class Capture(Protocol):
    """An open input stream. Blocks go to the ``on_block`` it was opened with, from its own thread.
    It may count ``overflows`` (blocks whose audio was partly lost)."""

    rate_hz: int
    channels: int

    def close(self) -> None: ...


CaptureOpener = Callable[[AudioDevice, int, BlockCallback], Capture]
"""Opens ``device`` with that many channels and starts it: the default is ``open_capture``."""


class SoundDeviceCapture:
    """A started ``sounddevice.InputStream``; at 16 kHz if the device takes it, else its own rate."""

    def __init__(self, device: AudioDevice, channels: int, on_block: BlockCallback) -> None:
        sd = _sounddevice()
        self.channels = channels
        target = _PULSE_DEVICE if device.backend == "pulse" else device.name

        self.overflows = 0  # blocks PortAudio reported as overflowed (audio lost: the PC was too busy)

        def callback(
            indata: np.ndarray, frames: int, time_info: Any, status: Any
        ) -> None:  # PortAudio's thread: copy and go
            if status.input_overflow:
                self.overflows += 1
            on_block(indata.copy())

        rates = [STREAM_RATE_HZ]
        if device.default_rate_hz and int(device.default_rate_hz) != STREAM_RATE_HZ:
            rates.append(int(device.default_rate_hz))
        last: Exception | None = None
        self._stream = None
        for rate in rates:
            try:
                with _open_lock:
                    saved = os.environ.get("PULSE_SOURCE")
                    if device.backend == "pulse":
                        os.environ["PULSE_SOURCE"] = device.name
                    try:
                        stream = sd.InputStream(
                            device=target,
                            channels=channels,
                            samplerate=rate,
                            dtype="float32",
                            blocksize=BLOCK_FRAMES_16K * rate // STREAM_RATE_HZ,
                            latency="low",
                            callback=callback,
                        )
                        stream.start()
                    finally:
                        if device.backend == "pulse":
                            if saved is None:
                                os.environ.pop("PULSE_SOURCE", None)
                            else:
                                os.environ["PULSE_SOURCE"] = saved
            except Exception as exc:  # sounddevice.PortAudioError, ValueError for bad device/channels
                last = exc
                continue
            self._stream = stream
            self.rate_hz = rate
            return
        raise DeviceError(
            f"cannot open {device.id} ({_first_line(last)})",
            "check it is plugged in and not used exclusively by another program; "
            "'rapport-assist devices' lists what is there",
        )

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.abort()
            stream.close()
        except Exception:  # the device may already be gone; nothing more to release
            pass


def open_capture(device: AudioDevice, channels: int, on_block: BlockCallback) -> Capture:
    return SoundDeviceCapture(device, channels, on_block)


def pulse_source_names() -> set[str] | None:
    """Names of the PulseAudio/PipeWire sources now (one quick ``pactl`` call), None without a server.

    Watched during a call: PulseAudio quietly moves a stream whose source vanished to another
    source, so the stream alone cannot tell that the customer's monitor is gone."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return None
    try:
        proc = subprocess.run(
            [pactl, "list", "short", "sources"],
            capture_output=True,
            text=True,
            timeout=_PACTL_TIMEOUT_S,
            env=_pactl_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return {line.split("\t")[1] for line in proc.stdout.splitlines() if line.count("\t") >= 1}


class ArrayCapture:
    """Plays an array (frames, channels) at ``rate_hz`` into ``on_block`` from a thread, in blocks,
    paced at ``speed`` x real time (``0``: as fast as the consumer keeps up). For tests and the
    benchmark's silence check: the live pipeline after the audio callback is the same."""

    def __init__(
        self,
        samples: np.ndarray,
        on_block: BlockCallback,
        speed: float = 1.0,
        block_frames: int = BLOCK_FRAMES_16K,
        loop: bool = False,
        rate_hz: int = STREAM_RATE_HZ,
    ) -> None:
        self.rate_hz = rate_hz
        samples = np.asarray(samples, dtype=np.float32)
        self._samples = samples.reshape(len(samples), -1)
        self.channels = self._samples.shape[1]
        self._on_block = on_block
        self._speed = speed
        self._block = block_frames
        self._loop = loop
        self._stop = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="array-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        sent = 0
        n = len(self._samples)
        while not self._stop.is_set():
            pos = sent % n if self._loop else sent
            if not self._loop and pos >= n:
                break
            block = self._samples[pos : pos + self._block]
            self._on_block(block.copy())
            sent += len(block)
            if self._speed > 0:
                delay = started + sent / (self.rate_hz * self._speed) - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
        self.done.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


class StreamResampler:
    """Streaming resampling of one mono channel to 16 kHz (FFmpeg's libswresample via PyAV)."""

    def __init__(self, rate_hz: int) -> None:
        import av

        self.rate_hz = rate_hz
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=STREAM_RATE_HZ)
        self._pts = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        import av

        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self.rate_hz
        frame.pts = self._pts
        self._pts += len(samples)
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


def _first_line(exc: Exception | None) -> str:
    if exc is None:
        return "unknown error"
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
