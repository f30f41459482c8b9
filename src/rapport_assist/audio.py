"""Decoding recordings into one 16 kHz float32 array per channel.

Speakers are channels, so channels are never mixed here: a stereo call recording comes out
as two mono arrays (agent left, customer right by convention; the caller decides). Anything
FFmpeg (through PyAV) decodes is accepted: wav, flac, mp3, ogg/opus, m4a..., at any sample
rate and channel count. Resampling is FFmpeg's (libswresample), done on planar float so each
channel stays its own plane.

Errors are one line with a fix (``InputNotFound`` for paths, ``BadInput`` for content);
PyAV exceptions never escape. A stream that breaks after some audio decoded is returned
with ``truncated=True`` and a ``warning`` so the good part is not lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import BadInput, InputNotFound

if TYPE_CHECKING:  # pragma: no cover
    from av.audio.stream import AudioStream
    from av.container import InputContainer

STREAM_RATE_HZ = 16000
"""Sample rate of every array that leaves this module (and of the whole pipeline)."""

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
    import av

    path = Path(path)
    _check_readable(path)
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise BadInput(
            f"{path} is not a recording that can be decoded ({_reason(exc)})", _FORMAT_HINT
        ) from None
    with container:
        if not container.streams.audio:
            raise BadInput(f"{path} has no audio stream", "give a recording of the call (wav, flac, mp3, ogg, m4a)")
        stream = container.streams.audio[0]
        source_rate_hz = int(stream.codec_context.sample_rate or 0)
        source_channels = int(stream.codec_context.channels or 0)
        if source_rate_hz <= 0 or source_channels <= 0:
            raise BadInput(f"{path} has an audio stream without a sample rate or channel layout", _FORMAT_HINT)
        planes, failure = _decode_stream(container, stream)

    if planes:
        channels = tuple(np.ascontiguousarray(c, dtype=np.float32) for c in np.concatenate(planes, axis=1))
    else:
        channels = ()
    n_samples = channels[0].shape[0] if channels else 0
    duration_s = n_samples / STREAM_RATE_HZ
    if failure is not None and n_samples == 0:
        raise BadInput(f"{path} could not be decoded ({failure})", _FORMAT_HINT)
    if n_samples == 0:
        raise BadInput(f"{path} contains no audio samples", "check the recording is not empty")
    warning = ""
    if failure is not None:
        warning = f"{path}: decoding stopped after {duration_s:.1f} s ({failure}); the rest of the file is ignored"
    return DecodedAudio(
        path=path,
        channels=channels,
        source_rate_hz=source_rate_hz,
        source_channels=source_channels,
        duration_s=duration_s,
        truncated=failure is not None,
        warning=warning,
    )


def _check_readable(path: Path) -> None:
    """Raise the right one-line error for a path that cannot be opened as a file of audio."""
    if not path.exists():
        raise InputNotFound(f"no such file: {path}", "check the path (relative paths start from the current folder)")
    if path.is_dir():
        raise InputNotFound(f"{path} is a folder, not an audio file", "give the path of a recording inside it")
    try:
        with path.open("rb") as handle:
            first = handle.read(1)
    except OSError as exc:
        raise InputNotFound(
            f"cannot read {path}: {exc.strerror or exc.__class__.__name__}", "check the file's permissions"
        ) from None
    if not first:
        raise BadInput(f"{path} is empty (0 bytes)", "the recording was not saved or copied completely")


def _decode_stream(container: InputContainer, stream: AudioStream) -> tuple[list[np.ndarray], str | None]:
    """Decode and resample ``stream`` to planar float at 16 kHz.

    Returns the decoded blocks (each shaped ``(channels, samples)``) and, if decoding broke
    off, a short reason. The resampler keeps the source layout, so planes map to channels.
    """
    import av

    resampler = av.AudioResampler(format="fltp", layout=None, rate=STREAM_RATE_HZ)
    planes: list[np.ndarray] = []
    failure: str | None = None
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                planes.append(out.to_ndarray())
    except (av.error.FFmpegError, ValueError) as exc:
        failure = _reason(exc)
    try:
        for out in resampler.resample(None):
            planes.append(out.to_ndarray())
    except (av.error.FFmpegError, ValueError) as exc:
        failure = failure or _reason(exc)
    return planes, failure


def _reason(exc: Exception) -> str:
    """A short human reason from a PyAV/FFmpeg exception (no file path, no errno noise)."""
    strerror = getattr(exc, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(exc)
    return text.strip().rstrip(".") or exc.__class__.__name__
