"""Decoding real encoded files: channels stay apart, everything comes out at 16 kHz, errors are one line."""

from __future__ import annotations

import struct
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from rapport_assist.audio import STREAM_RATE_HZ, DecodedAudio, decode_channels, probe_audio, stream_blocks
from rapport_assist.errors import BadInput, InputNotFound


def tone(freq_hz: float, seconds: float, rate_hz: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


def band_energy(x: np.ndarray, freq_hz: float, width_hz: float = 30.0) -> float:
    """Fraction of the signal's energy within ``width_hz`` of ``freq_hz``."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1 / STREAM_RATE_HZ)
    return float(spectrum[np.abs(freqs - freq_hz) < width_hz].sum() / spectrum.sum())


def assert_is_16k_float32(audio: DecodedAudio, n_channels: int, duration_s: float, tolerance_s: float = 0.01) -> None:
    assert len(audio.channels) == n_channels
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in audio.channels)
    assert len({c.shape[0] for c in audio.channels}) == 1
    assert audio.duration_s == pytest.approx(audio.channels[0].shape[0] / STREAM_RATE_HZ)
    assert audio.duration_s == pytest.approx(duration_s, abs=tolerance_s)
    assert not audio.truncated and audio.warning == ""


def test_8k_stereo_wav_keeps_left_and_right_apart(tmp_path: Path, write_audio) -> None:
    path = write_audio(tmp_path / "call.wav", np.stack([tone(440, 3, 8000), tone(1000, 3, 8000)]), 8000)
    audio = decode_channels(path)
    assert_is_16k_float32(audio, n_channels=2, duration_s=3.0)
    assert (audio.source_rate_hz, audio.source_channels, audio.path) == (8000, 2, path)
    left, right = audio.channels
    assert band_energy(left, 440) > 0.99 and band_energy(left, 1000) < 1e-4
    assert band_energy(right, 1000) > 0.99 and band_energy(right, 440) < 1e-4
    assert np.sqrt(np.mean(left**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


def test_44k_mono_flac(tmp_path: Path, write_audio) -> None:
    path = write_audio(tmp_path / "agent.flac", tone(440, 2, 44100)[None], 44100, "flac")
    audio = decode_channels(path)
    assert_is_16k_float32(audio, n_channels=1, duration_s=2.0)
    assert (audio.source_rate_hz, audio.source_channels) == (44100, 1)
    assert band_energy(audio.channels[0], 440) > 0.99


def test_four_channels_each_keep_their_tone(tmp_path: Path, write_audio) -> None:
    freqs = (300, 700, 1100, 1900)
    path = write_audio(tmp_path / "quad.wav", np.stack([tone(f, 1, 48000) for f in freqs]), 48000)
    audio = decode_channels(path)
    assert_is_16k_float32(audio, n_channels=4, duration_s=1.0)
    for channel, freq in zip(audio.channels, freqs):
        assert band_energy(channel, freq) > 0.99


@pytest.mark.parametrize(
    ("name", "codec", "rate_hz", "n_channels"),
    [("call.mp3", "libmp3lame", 44100, 1), ("call.ogg", "libopus", 48000, 2), ("call.m4a", "aac", 48000, 2)],
)
def test_compressed_formats(tmp_path: Path, write_audio, name: str, codec: str, rate_hz: int, n_channels: int) -> None:
    path = write_audio(tmp_path / name, np.stack([tone(440, 2, rate_hz)] * n_channels), rate_hz, codec)
    audio = decode_channels(path)
    # Lossy codecs add encoder delay/priming: allow 60 ms.
    assert_is_16k_float32(audio, n_channels=n_channels, duration_s=2.0, tolerance_s=0.06)
    assert audio.source_rate_hz == rate_hz
    assert band_energy(audio.channels[0], 440) > 0.95


def test_truncated_file_keeps_what_decoded(tmp_path: Path, write_audio) -> None:
    full = write_audio(tmp_path / "full.flac", tone(440, 4, 44100)[None], 44100, "flac")
    cut = tmp_path / "cut.flac"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    audio = decode_channels(cut)
    assert audio.truncated
    assert 0.3 < audio.duration_s < 3.0
    assert f"{audio.duration_s:.1f} s" in audio.warning and str(cut) in audio.warning


@pytest.mark.parametrize(
    ("name", "codec", "rate_hz", "options"),
    [("call.opus", "libopus", 48000, None), ("call.ogg", "vorbis", 44100, {"strict": "experimental"})],
)
def test_a_cut_ogg_file_says_it_was_cut(tmp_path: Path, write_audio, name, codec, rate_hz, options) -> None:
    """An Ogg file does not record its length, and FFmpeg decodes a cut one to its end without
    complaint: it replayed as a shorter call with no word of it (a cut WAV or FLAC warns). A
    finished Ogg stream ends with a whole page flagged end-of-stream; a cut one does not."""
    from rapport_assist.audio import probe_audio
    from rapport_assist.sources import CallAudio, ReplayInput

    full = write_audio(
        tmp_path / name, np.stack([tone(440, 30, rate_hz), tone(660, 30, rate_hz)]), rate_hz, codec, options
    )
    assert not probe_audio(full).truncated and probe_audio(full).warning == ""
    data = full.read_bytes()
    pages = [at for at in range(len(data)) if data.startswith(b"OggS", at)]
    cuts = {
        "half": data[: len(data) // 2],  # inside a page
        "page": data[: pages[len(pages) // 2]],  # between two pages: the last whole page is not the last
        "last byte": data[:-1],
    }
    for how, cut_bytes in cuts.items():
        cut = tmp_path / f"cut {how}{full.suffix}"
        cut.write_bytes(cut_bytes)
        info = probe_audio(cut)
        assert info.truncated and decode_channels(cut).truncated, how
        assert f"{cut}: the file ends after {info.duration_s:.1f} s without the end of its Ogg stream" in info.warning
        assert "cut short or copied incompletely (what it holds is used)" in info.warning
        assert info.duration_s < (29.9 if how != "last byte" else 30.1), how
    notes = CallAudio(ReplayInput(path=cut)).notes  # replay and qa put it first on the call's timeline
    assert [(n.code, n.message) for n in notes] == [("audio_truncated", info.warning)]


def test_missing_path_and_folder_are_input_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="no such file") as missing:
        decode_channels(tmp_path / "nope.wav")
    assert missing.value.exit_code == 3 and missing.value.hint
    with pytest.raises(InputNotFound, match="is a folder"):
        decode_channels(tmp_path)


def write_video_only(path: Path) -> Path:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def write_header_only_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
    return path


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty.wav", lambda p: p.write_bytes(b""), "empty"),
        ("garbage.wav", lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a recording"),
        ("notes.wav", lambda p: p.write_text("this is a text file, not audio\n" * 20), "not a recording"),
        ("video.mp4", write_video_only, "no audio stream"),
        ("header-only.wav", write_header_only_wav, "no audio samples"),
    ],
)
def test_bad_content_is_one_line_bad_input(tmp_path: Path, name: str, make, message: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(BadInput, match=message) as info:
        decode_channels(path)
    line = info.value.one_line()
    assert info.value.exit_code == 4 and "\n" not in line and "Errno" not in line and info.value.hint


# ---------------------------------------------------------------- headers that lie, found by tests/test_input_fuzz.py


def riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def riff_wav(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int = 1, channels: int = 2, rate_hz: int = 8000, bits: int = 16) -> bytes:
    align = channels * bits // 8
    return riff_chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate_hz, rate_hz * align, align, bits))


def pcm16(*channels: np.ndarray) -> bytes:
    """The interleaved 16-bit samples of ``channels`` (floats in [-1, 1])."""
    return (np.stack(channels).T * 32767).astype("<i2").tobytes()


CALL_PCM = pcm16(tone(440, 1, 8000), tone(1000, 1, 8000))


def test_a_wav_tagged_in_latin_1_decodes(tmp_path: Path) -> None:
    """A LIST/INFO tag written in a Windows code page (a recorder's 'café'), not UTF-8, is the
    file's business, not the call's: it decoded to UnicodeDecodeError, an internal error."""
    info = riff_chunk(b"LIST", b"INFO" + riff_chunk(b"INAM", "Appel client café\0".encode("cp1252")))
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav(fmt_chunk(), info, riff_chunk(b"data", CALL_PCM)))
    audio = decode_channels(path)
    assert_is_16k_float32(audio, n_channels=2, duration_s=1.0)
    assert band_energy(audio.channels[0], 440) > 0.9 and band_energy(audio.channels[1], 1000) > 0.9


@pytest.mark.parametrize("tag", [0, 0xFFFE, 0xFFFF])
def test_a_wav_of_no_codec_is_one_line_bad_input(tmp_path: Path, tag: int) -> None:
    """A format tag that names no codec FFmpeg has (0 'unknown', an extensible header cut short):
    PyAV gives the stream no codec context, which was an AttributeError."""
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav(fmt_chunk(tag=tag), riff_chunk(b"data", CALL_PCM)))
    with pytest.raises(BadInput, match="no decoder for") as info:
        decode_channels(path)
    assert str(path) in info.value.message and info.value.hint


_DECODE_MANY = """
import sys
import numpy as np
from rapport_assist.audio import decode_channels, probe_audio, stream_blocks
path = sys.argv[1]
audio = decode_channels(path)
info = probe_audio(path)
blocks = np.concatenate(list(stream_blocks(info, 4000)), axis=1)
assert blocks.shape == (len(audio.channels), info.n_samples), blocks.shape
assert all(np.array_equal(blocks[k], c) for k, c in enumerate(audio.channels))
spectra = [np.abs(np.fft.rfft(c)) for c in audio.channels]
print(len(audio.channels), [int(np.argmax(s) * 16000 / len(c)) for s, c in zip(spectra, audio.channels)])
"""


@pytest.mark.parametrize("n_channels", [8, 9, 12])
def test_a_recording_of_eight_channels_or_more_decodes_each_apart(tmp_path: Path, n_channels: int) -> None:
    """A conference recorder's 8, 9 or 12 channels (no channel mask): decoded as planar float, PyAV
    read channel planes past the frame's eight (a segmentation fault, the whole process gone:
    a 'qa' batch with it). Run in a process of its own, so a crash fails this test only."""
    path = tmp_path / "room.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(n_channels)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm16(*(tone(200 + 100 * k, 1, 8000) for k in range(n_channels))))
    done = subprocess.run([sys.executable, "-c", _DECODE_MANY, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == str(n_channels)
    assert done.stdout.strip() == f"{n_channels} {[200 + 100 * k for k in range(n_channels)]}"


@pytest.mark.parametrize("rate_hz", [1, 100, 3999])
def test_a_wav_whose_header_gives_a_rate_too_low_for_speech_is_bad_input(tmp_path: Path, rate_hz: int) -> None:
    """A header that says 1 Hz made a second of sound hours of audio: 10 s of samples took 7 s to
    probe and came out as 22 hours to recognize (a 10-minute call: days), a hang in replay and qa."""
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav(fmt_chunk(rate_hz=rate_hz), riff_chunk(b"data", CALL_PCM)))
    with pytest.raises(BadInput, match=f"sample rate of {rate_hz} Hz") as info:
        decode_channels(path)
    assert str(path) in info.value.message and info.value.hint


def float_wav(path: Path, *channels: np.ndarray, rate_hz: int = 16000) -> Path:
    """A 32-bit float WAV (format tag 3), as a DAW or a recorder's float export writes it."""
    data = np.stack(channels).T.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, len(channels), rate_hz, rate_hz * 4 * len(channels), 4 * len(channels), 32)
    path.write_bytes(riff_wav(riff_chunk(b"fmt ", fmt), riff_chunk(b"data", data)))
    return path


@pytest.mark.parametrize("glitch", [np.nan, np.inf, -np.inf])
def test_samples_that_are_no_numbers_decode_as_silence(tmp_path: Path, glitch: float) -> None:
    """Ten NaN or infinite samples in a float recording (a glitch) came out as they were, and
    spread through the resampler: the recognizer then lost that side's whole utterance, without
    a word (tests/test_replay_audio.py), and numpy warned on stderr."""
    left, right = tone(440, 1, 16000), tone(1000, 1, 16000)
    right[8000:8010] = glitch
    path = float_wav(tmp_path / "call.wav", left, right)
    audio = decode_channels(path)
    assert all(np.isfinite(c).all() for c in audio.channels)
    assert np.count_nonzero(audio.channels[1] == 0.0) < 200  # the glitch alone, not the channel
    info = probe_audio(path)
    assert all(np.isfinite(p) for p in info.peaks) and info.channel_correlation is not None
    assert all(np.isfinite(b).all() for b in stream_blocks(info, 4000))
