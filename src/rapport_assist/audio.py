"""Decoding recordings into one 16 kHz float32 array per channel.

Speakers are channels, so channels are never mixed here: a stereo call recording comes out
as two mono arrays (agent left, customer right by convention; the caller decides). Anything
FFmpeg (through PyAV) decodes is accepted: wav, flac, mp3, ogg/opus, m4a..., at any sample
rate and channel count. Resampling is FFmpeg's (libswresample), each channel on its own; its
float output is split back into one row per channel.

Errors are one line with a fix (``InputNotFound`` for paths, ``BadInput`` for content);
PyAV exceptions never escape. A stream that breaks after some audio decoded is returned
with ``truncated=True`` and a ``warning`` so the good part is not lost.

A long recording need not be held whole: ``probe_audio`` decodes it once to learn its exact
length at 16 kHz and whether it breaks off (keeping nothing), and ``stream_blocks`` decodes it
again as consecutive fixed-size blocks, so replay, ``qa`` and the QA review hold a block at a
time instead of the file (a 2-hour stereo call is 920 MB as float32 at 16 kHz). Both passes
run the same decoder and resampler, so the blocks put end to end are ``decode_channels``'s
arrays, sample for sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .errors import BadInput, InputNotFound

if TYPE_CHECKING:  # pragma: no cover
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer

STREAM_RATE_HZ = 16000
# the file names taken as recordings (qa's folders; a rule path that names a call, rules/loader.py)
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".webm", ".mka", ".mp4")
"""Sample rate of every array that leaves this module (and of the whole pipeline)."""

MIN_SOURCE_RATE_HZ = 4000
"""The lowest sample rate taken (a phone line's is 8 kHz). Below it a header lies: read at 1 Hz,
each sample is a second, so 10 s of sound would be 22 hours to decode and recognize."""

_FORMAT_HINT = "convert it with e.g. 'ffmpeg -i INPUT -ar 16000 out.wav', or check the file was copied completely"


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A decoded recording: one mono float32 array at 16 kHz per source channel.

    ``truncated`` is True when decoding failed partway; ``channels`` then hold what decoded
    before the failure and ``warning`` says where and why.
    """

    path: Path
    channels: tuple[np.ndarray, ...]
    source_rate_hz: int
    source_channels: int
    duration_s: float
    truncated: bool = False
    warning: str = ""


def decode_channels(path: str | os.PathLike[str]) -> DecodedAudio:
    """Decode ``path`` to 16 kHz float32, keeping every channel separate.

    Raises ``InputNotFound`` if the path is missing, a folder or unreadable, and ``BadInput``
    if the file is empty, not audio, or holds no decodable audio at all.
    """
    path = Path(path)
    planes: list[np.ndarray] = []
    with _open(path) as (source_rate_hz, source_channels, frames):
        planes.extend(frames)
        failure = frames.failure
    if planes:
        channels = tuple(np.ascontiguousarray(c, dtype=np.float32) for c in np.concatenate(planes, axis=1))
    else:
        channels = ()
    n_samples = channels[0].shape[0] if channels else 0
    info = _info(path, source_rate_hz, source_channels, n_samples, failure)
    return DecodedAudio(
        path=path,
        channels=channels,
        source_rate_hz=source_rate_hz,
        source_channels=source_channels,
        duration_s=info.duration_s,
        truncated=info.truncated,
        warning=info.warning,
    )


TWIN_CORRELATION = 0.98
"""Two channels correlated at least this much over a whole recording carry one signal: a mono
recording saved as stereo (the same samples twice, or a lossy codec's near copy) or one mix of
both voices on each channel. A real two-sided call sits far below: each side is mostly quiet
while the other talks, and echo or crosstalk leaks at -20 dB or less
(``tests/test_twin_channels.py`` measures both kinds)."""

SILENT_PEAK = 10 ** (-50 / 20)
"""A channel whose loudest sample stays below -50 dBFS holds no one's voice: digital silence or
a line's hiss. Measured on five real 8 kHz bank-call sides (``bench/silent_channel.py``): the
quietest voiced side peaks at -11 dBFS, 39 dB above this; the same lines while their party says
nothing run at -55 to -77 dBFS RMS, and 85% of their idle seconds peak under it, but over a
whole call a breath, a click or the other side's echo lifts three of the five above it. So a
side that was recorded and stayed quiet is usually not called silent: it keeps the measures
between the sides, as before; only a side nobody was on (not recorded, or muted at the source)
is."""


@dataclass(frozen=True)
class AudioInfo:
    """What a full decoding pass learned about a recording, without keeping its audio:
    ``n_samples`` per channel at 16 kHz (what decoded before any fault), and whether (and
    why: ``warning``) decoding broke off."""

    path: Path
    source_rate_hz: int
    source_channels: int
    n_samples: int
    truncated: bool = False
    warning: str = ""
    # each channel's loudest sample (0…1; at 16 kHz): a channel below ``SILENT_PEAK`` is silent
    # throughout (``sources.CallAudio``: its side was not heard). Empty: not measured
    peaks: tuple[float, ...] = ()
    # the correlation of the first two channels over the whole file (1: the same signal on both,
    # at any level; near 0: two sides, each mostly quiet while the other talks); None: one
    # channel, a silent channel, or not measured
    channel_correlation: float | None = None

    @property
    def twin_channels(self) -> bool:
        """Both channels carry the same audio (a mono recording saved as stereo, or one mix on
        both): which side spoke cannot be read from the channels (``sources.CallAudio``)."""
        return self.channel_correlation is not None and abs(self.channel_correlation) >= TWIN_CORRELATION

    @property
    def duration_s(self) -> float:
        return self.n_samples / STREAM_RATE_HZ


def probe_audio(path: str | os.PathLike[str]) -> AudioInfo:
    """Decode ``path`` once, counting its 16 kHz samples and keeping none: the errors of
    ``decode_channels`` (raised here, before any work on the call starts), its length and its
    truncation, each channel's peak and how much the first two channels differ, at the memory
    of one decoded frame."""
    path = Path(path)
    n_samples = 0
    peaks: np.ndarray | None = None
    ll = rr = lr = 0.0  # the first two channels' energies and their cross product
    with _open(path) as (source_rate_hz, source_channels, frames):
        for frame in frames:
            n_samples += frame.shape[1]
            if frame.shape[1]:
                loudest = np.abs(frame).max(axis=1)
                peaks = loudest if peaks is None else np.maximum(peaks, loudest)
                if frame.shape[0] >= 2:  # per-frame float32 sums (no copies), added up as floats
                    left, right = frame[0], frame[1]
                    ll += float(left @ left)
                    rr += float(right @ right)
                    lr += float(left @ right)
        failure = frames.failure
    info = _info(path, source_rate_hz, source_channels, n_samples, failure)
    if peaks is None:
        return info
    return replace(
        info,
        peaks=tuple(float(p) for p in peaks),
        channel_correlation=lr / (ll * rr) ** 0.5 if ll > 0.0 and rr > 0.0 else None,
    )


def stream_blocks(info: AudioInfo, block_samples: int) -> Iterator[np.ndarray]:
    """The recording ``probe_audio`` described, decoded again as float32 blocks shaped
    ``(channels, block_samples)`` (the last one shorter), ``info.n_samples`` in all.

    Holds one block and one decoded frame at a time. If the file fails before ``info.n_samples``
    (it changed since the probe), the stream ends there; it never runs past them."""
    if block_samples <= 0:
        raise ValueError("block_samples must be positive")
    remaining = info.n_samples
    held: list[np.ndarray] = []
    n_held = 0
    with _open(info.path) as (_rate, _channels, frames):
        for frame in frames:
            if remaining <= 0:
                break
            frame = frame[:, :remaining]
            remaining -= frame.shape[1]
            held.append(frame)
            n_held += frame.shape[1]
            if n_held < block_samples:
                continue
            data = np.concatenate(held, axis=1) if len(held) > 1 else held[0]
            cut = (n_held // block_samples) * block_samples
            for at in range(0, cut, block_samples):
                yield np.ascontiguousarray(data[:, at : at + block_samples], dtype=np.float32)
            held = [data[:, cut:]] if cut < n_held else []
            n_held -= cut
    if n_held:
        yield np.ascontiguousarray(np.concatenate(held, axis=1), dtype=np.float32)


def _info(path: Path, source_rate_hz: int, source_channels: int, n_samples: int, failure: str | None) -> AudioInfo:
    """The decoding outcome, or the ``BadInput`` of a recording with no audio at all."""
    duration_s = n_samples / STREAM_RATE_HZ
    if failure is not None and n_samples == 0:
        raise BadInput(f"{path} could not be decoded ({failure})", _FORMAT_HINT)
    if n_samples == 0:
        raise BadInput(f"{path} contains no audio samples", "check the recording is not empty")
    warning = ""
    if failure is not None:
        warning = f"{path}: decoding stopped after {duration_s:.1f} s ({failure}); the rest of the file is ignored"
    else:  # FFmpeg reads a cut WAV or Ogg file to its end without complaint: its header knows better
        declared_s = wav_declared_s(path)
        if declared_s is not None and declared_s - duration_s > 0.1:
            warning = (
                f"{path}: the file ends after {duration_s:.1f} s, but its header says {declared_s:.1f} s: "
                "it was cut short or copied incompletely (what it holds is used)"
            )
        elif ogg_ends_unfinished(path):
            warning = (
                f"{path}: the file ends after {duration_s:.1f} s without the end of its Ogg stream: "
                "it was cut short or copied incompletely (what it holds is used)"
            )
    return AudioInfo(path, source_rate_hz, source_channels, n_samples, bool(warning), warning)


def wav_declared_s(path: Path) -> float | None:
    """The length a RIFF WAV file's header declares (its ``data`` chunk over the byte rate), or
    None: not a WAV, or a size left open (0 or 0xFFFFFFFF, as a recorder that never finished
    writes it)."""
    import struct

    try:
        with path.open("rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = 0
            for _ in range(64):  # chunks before 'data': fmt, LIST, fact...
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if kind == b"fmt " and size >= 16:
                    fmt = handle.read(16)
                    if len(fmt) < 16:
                        return None
                    byte_rate = struct.unpack("<I", fmt[8:12])[0]
                    handle.seek(size - 16 + (size & 1), os.SEEK_CUR)
                elif kind == b"data":
                    if byte_rate <= 0 or size in (0, 0xFFFFFFFF):
                        return None
                    return size / byte_rate
                else:
                    handle.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None
    return None


_OGG_CAPTURE = b"OggS"
_OGG_HEADER = 27  # capture pattern, version, header type, granule position, serial, sequence, CRC, segment count
_OGG_END_OF_STREAM = 0x04  # the header type flag of a logical stream's last page
_OGG_TAIL = 65536  # the longest Ogg page is 65,307 bytes: the last one starts in the file's last 64 KiB


def ogg_ends_unfinished(path: Path) -> bool:
    """Does the Ogg file ``path`` (Vorbis, Opus…) end without finishing its stream? A finished
    file ends with a whole page flagged end-of-stream; a cut one ends inside a page, or after one
    that is not the last (an Ogg file does not record its length, so this is how a cut shows).
    False for a file that is not Ogg or cannot be read."""
    try:
        with path.open("rb") as handle:
            if handle.read(4) != _OGG_CAPTURE:
                return False
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - _OGG_TAIL)
            handle.seek(start)
            tail = handle.read()
    except OSError:
        return False
    at = tail.rfind(_OGG_CAPTURE)
    while at >= 0:  # the page that ends where the file ends, found from the end back
        header = tail[at : at + _OGG_HEADER]
        if len(header) == _OGG_HEADER and header[4] == 0:  # version 0: a page header, not the bytes of a packet
            segments = header[26]
            table = tail[at + _OGG_HEADER : at + _OGG_HEADER + segments]
            if len(table) == segments and at + _OGG_HEADER + segments + sum(table) == len(tail):
                return not header[5] & _OGG_END_OF_STREAM  # the header type's flags
        at = tail.rfind(_OGG_CAPTURE, 0, at)
    return True  # no page ends where the file does: it was cut inside one


class _Frames:
    """The resampled frames of one audio stream, each shaped ``(channels, samples)``; after
    the loop, ``failure`` is a short reason if decoding broke off."""

    def __init__(self, container: InputContainer, stream: AudioStream) -> None:
        self._container = container
        self._stream = stream
        self.failure: str | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        """Decode and resample to float at 16 kHz. The resampler keeps the source layout, so
        the interleaved samples it gives are split into one row per channel here."""
        import av

        # packed ("flt"), not planar: PyAV miscounts the planes of a planar frame of 8 channels or
        # more and reads plane pointers past the frame's eight (a segmentation fault). The samples
        # are the same either way: libswresample works per channel and only interleaves its output.
        resampler = av.AudioResampler(format="flt", layout=None, rate=STREAM_RATE_HZ)
        try:
            for frame in self._container.decode(self._stream):
                for out in resampler.resample(frame):
                    yield _by_channel(out)
        except (av.error.FFmpegError, ValueError) as exc:
            self.failure = _reason(exc)
        try:
            for out in resampler.resample(None):
                yield _by_channel(out)
        except (av.error.FFmpegError, ValueError) as exc:
            self.failure = self.failure or _reason(exc)


def _by_channel(frame: AudioFrame) -> np.ndarray:
    """The samples of a packed float frame shaped ``(channels, samples)``, each row contiguous.
    A sample that is no number (NaN, infinite: a glitch in a float recording, spread by the
    resampler to its neighbours) is silence: kept, it took the recognizer's whole utterance with it."""
    interleaved = frame.to_ndarray().reshape(-1, frame.layout.nb_channels)
    planes = np.ascontiguousarray(interleaved.T)
    if not np.isfinite(planes).all():
        planes[~np.isfinite(planes)] = 0.0
    return planes


class _open:
    """``with _open(path) as (source_rate_hz, source_channels, frames)``: the first audio
    stream of ``path``, checked, with the one-line errors of ``decode_channels``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._container: InputContainer | None = None

    def __enter__(self) -> tuple[int, int, _Frames]:
        import av

        path = self._path
        _check_readable(path)
        try:
            # a tag in another encoding than UTF-8 (a Windows recorder's Latin-1 'café') is not the
            # call's business: PyAV would raise UnicodeDecodeError for it
            container = av.open(str(path), mode="r", metadata_errors="replace")
        except av.error.FFmpegError as exc:
            raise BadInput(f"{path} is not a recording that can be decoded ({_reason(exc)})", _FORMAT_HINT) from None
        self._container = container
        try:
            if not container.streams.audio:
                raise BadInput(f"{path} has no audio stream", "give a recording of the call (wav, flac, mp3, ogg, m4a)")
            stream = container.streams.audio[0]
            if stream.codec_context is None:  # a codec FFmpeg does not know (a WAV's format tag 0)
                raise BadInput(f"{path} holds audio in a format there is no decoder for", _FORMAT_HINT)
            source_rate_hz = int(stream.codec_context.sample_rate or 0)
            source_channels = int(stream.codec_context.channels or 0)
            if source_rate_hz <= 0 or source_channels <= 0:
                raise BadInput(f"{path} has an audio stream without a sample rate or channel layout", _FORMAT_HINT)
            if source_rate_hz < MIN_SOURCE_RATE_HZ:  # a header that lies: seconds of sound read as hours
                raise BadInput(
                    f"{path} gives a sample rate of {source_rate_hz} Hz, too low for speech (a phone line's is "
                    "8000 Hz): its header is damaged",
                    "export the recording again from where it came from, or check the file was copied completely",
                )
        except BaseException:
            container.close()
            raise
        return source_rate_hz, source_channels, _Frames(container, stream)

    def __exit__(self, *exc: object) -> None:
        if self._container is not None:
            self._container.close()


def _check_readable(path: Path) -> None:
    """Raise the right one-line error for a path that cannot be opened as a file of audio."""
    if not path.exists():
        raise InputNotFound(f"no such file: {path}", "check the path (relative paths start from the current folder)")
    if path.is_dir():
        raise InputNotFound(
            f"{path} is a folder, not an audio file",
            "give the path of a recording inside it, or run 'rapport-assist qa FOLDER' for every call in it",
        )
    try:
        with path.open("rb") as handle:
            first = handle.read(1)
    except OSError as exc:
        raise InputNotFound(
            f"cannot read {path}: {exc.strerror or exc.__class__.__name__}", "check the file's permissions"
        ) from None
    if not first:
        raise BadInput(f"{path} is empty (0 bytes)", "the recording was not saved or copied completely")


def _reason(exc: Exception) -> str:
    """A short human reason from a PyAV/FFmpeg exception (no file path, no errno noise)."""
    strerror = getattr(exc, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(exc)
    return text.strip().rstrip(".") or exc.__class__.__name__
