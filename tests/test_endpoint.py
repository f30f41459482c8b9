"""The streaming endpointer: exact state-machine behaviour on scripted probabilities, then real
Silero VAD on espeak-ng speech, silence and noise."""

from __future__ import annotations


import numpy as np
import pytest

from rapport_assist.audio import STREAM_RATE_HZ
from rapport_assist.endpoint import FRAME_SAMPLES, Endpointer, EndpointerOptions, load_vad
from rapport_assist.types import SpeechSegment, Speaker

SR = STREAM_RATE_HZ
PAD = 1536  # speech_pad_ms=96 at 16 kHz
ONSET_PAD = 6400  # onset_pad_ms=400 at 16 kHz


class ScriptedStream:
    """Each frame's speech probability is its first sample, so tests write probabilities as audio."""

    def probabilities(self, frames: np.ndarray) -> np.ndarray:
        return frames[:, 0].copy()


class ScriptedVad:
    def stream(self) -> ScriptedStream:
        return ScriptedStream()


def script(*runs: tuple[float, int]) -> np.ndarray:
    """Audio whose frames hold constant values: ``(probability, n_frames)`` runs."""
    return np.concatenate([np.full(n * FRAME_SAMPLES, p, dtype=np.float32) for p, n in runs])


def endpoint(
    samples: np.ndarray,
    options: EndpointerOptions | None = None,
    vad=None,
    chunk_sizes: np.ndarray | None = None,
    start_s: float = 0.0,
) -> list[SpeechSegment]:
    endpointer = Endpointer(Speaker.AGENT, options or EndpointerOptions(), vad=vad, start_s=start_s)
    segments: list[SpeechSegment] = []
    if chunk_sizes is None:
        segments += endpointer.push(samples)
    else:
        for chunk in np.split(samples, np.cumsum(chunk_sizes)):
            segments += endpointer.push(chunk)
    return segments + endpointer.finish()


def spans(segments: list[SpeechSegment]) -> list[tuple[float, float]]:
    return [(s.start_s, s.end_s) for s in segments]


# --- state machine, on scripted probabilities -------------------------------------------------


def test_padding_and_hangover_are_exact() -> None:
    audio = script((0.0, 20), (0.9, 30), (0.0, 20))
    (segment,) = endpoint(audio, vad=ScriptedVad())
    start, end = 20 * FRAME_SAMPLES - ONSET_PAD, 50 * FRAME_SAMPLES + PAD
    assert (segment.start_s, segment.end_s) == (start / SR, end / SR)
    assert segment.speaker is Speaker.AGENT
    np.testing.assert_array_equal(segment.audio, audio[start:end])


def test_segment_is_returned_once_the_hangover_has_passed() -> None:
    endpointer = Endpointer(Speaker.CUSTOMER, vad=ScriptedVad())
    assert endpointer.push(script((0.9, 20), (0.0, 9))) == []  # 288 ms of silence < 300 ms hangover
    (segment,) = endpointer.push(script((0.0, 1)))
    assert segment.speaker is Speaker.CUSTOMER and endpointer.finish() == []


def test_hysteresis_between_the_two_thresholds() -> None:
    vad = ScriptedVad()
    assert endpoint(script((0.4, 100)), vad=vad) == []  # never reaches threshold
    bridged = endpoint(script((0.9, 10), (0.4, 30), (0.9, 10), (0.0, 20)), vad=vad)
    assert spans(bridged) == [(0.0, (50 * FRAME_SAMPLES + PAD) / SR)]  # 0.4 does not end speech


def test_blips_shorter_than_min_speech_are_dropped() -> None:
    vad = ScriptedVad()
    assert endpoint(script((0.0, 20), (0.9, 7), (0.0, 20)), vad=vad) == []  # 224 ms
    assert len(endpoint(script((0.0, 20), (0.9, 8), (0.0, 20)), vad=vad)) == 1  # 256 ms


def test_long_utterance_is_cut_at_the_quietest_recent_frame() -> None:
    options = EndpointerOptions(max_utterance_s=3.0, cut_search_s=1.0)
    # Speech from frame 20; a quieter (but still speech) frame at 95; speech ends at frame 200.
    audio = script((0.0, 20), (0.9, 75), (0.6, 1), (0.9, 104), (0.0, 20))
    segments = endpoint(audio, options, vad=ScriptedVad())
    first_cut = 96 * FRAME_SAMPLES
    assert segments[0].start_s == (20 * FRAME_SAMPLES - ONSET_PAD) / SR
    assert segments[0].end_s == first_cut / SR
    assert all(s.duration_s <= 3.0 for s in segments)
    for before, after in zip(segments, segments[1:]):
        assert before.end_s == after.start_s  # contiguous: nothing lost at a cut
    assert segments[-1].end_s == (200 * FRAME_SAMPLES + PAD) / SR
    np.testing.assert_array_equal(
        np.concatenate([s.audio for s in segments]), audio[20 * FRAME_SAMPLES - ONSET_PAD : 200 * FRAME_SAMPLES + PAD]
    )


def test_finish_closes_the_open_utterance_at_the_end_of_the_stream() -> None:
    audio = np.concatenate([script((0.0, 20), (0.9, 30)), np.full(100, 0.9, dtype=np.float32)])
    endpointer = Endpointer(Speaker.AGENT, vad=ScriptedVad(), start_s=100.0)
    assert endpointer.push(audio) == []
    assert endpointer.position_s == 100.0 + audio.shape[0] / SR
    (segment,) = endpointer.finish()
    assert (segment.start_s, segment.end_s) == (100.0 + (20 * FRAME_SAMPLES - ONSET_PAD) / SR, endpointer.position_s)
    with pytest.raises(RuntimeError):
        endpointer.push(audio)


def test_memory_stays_bounded() -> None:
    endpointer = Endpointer(Speaker.AGENT, vad=ScriptedVad())
    endpointer.push(script((0.0, 60 * SR // FRAME_SAMPLES)))
    assert endpointer.buffered_s <= (ONSET_PAD + FRAME_SAMPLES) / SR
    for _ in range(40):  # 40 s of unbroken speech, pushed a second at a time
        endpointer.push(script((0.9, SR // FRAME_SAMPLES)))
        assert endpointer.buffered_s <= EndpointerOptions().max_utterance_s + 1.0


def test_segments_carry_their_channels_preceding_audio_up_to_context_s() -> None:
    audio = script((0.0, 20), (0.9, 30), (0.0, 100), (0.9, 30), (0.0, 20))
    audio[np.arange(audio.shape[0]) % FRAME_SAMPLES != 0] = (
        np.arange(audio.shape[0])[np.arange(audio.shape[0]) % FRAME_SAMPLES != 0] / audio.shape[0]
    )  # every sample told apart
    first, second = endpoint(audio, EndpointerOptions(context_s=1.0), vad=ScriptedVad())
    start_1, start_2 = round(first.start_s * SR), round(second.start_s * SR)
    np.testing.assert_array_equal(first.context, audio[:start_1])  # less than 1 s before it
    np.testing.assert_array_equal(second.context, audio[start_2 - SR : start_2])
    (alone,) = endpoint(audio[: 60 * FRAME_SAMPLES], vad=ScriptedVad())
    assert alone.context is None  # context_s=0 by default: nothing kept


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        EndpointerOptions(threshold=0.3, neg_threshold=0.5)
    with pytest.raises(ValueError):
        EndpointerOptions(max_utterance_s=2.0, cut_search_s=5.0)


# --- real Silero VAD -------------------------------------------------------------------------


def speech_bounds(samples: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    return loud[0] / SR, loud[-1] / SR


@pytest.fixture(scope="module")
def two_sentences(speak) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """0.5 s silence, sentence, 1.5 s silence, sentence, 1 s silence; and where the speech is."""
    first = speak("Thank you for calling, how can I help you today?")
    second = speak("I would like to check the status of my order please.")
    silence = [np.zeros(int(s * SR), dtype=np.float32) for s in (0.5, 1.5, 1.0)]
    audio = np.concatenate([silence[0], first, silence[1], second, silence[2]])
    offset_2 = (silence[0].shape[0] + first.shape[0] + silence[1].shape[0]) / SR
    b1, b2 = speech_bounds(first), speech_bounds(second)
    return audio, [(0.5 + b1[0], 0.5 + b1[1]), (offset_2 + b2[0], offset_2 + b2[1])]


def test_two_sentences_give_two_segments_at_the_right_times(two_sentences) -> None:
    audio, truth = two_sentences
    segments = endpoint(audio)
    assert len(segments) == 2
    for segment, (start_s, end_s) in zip(segments, truth):
        assert start_s - 0.45 <= segment.start_s <= start_s
        assert end_s <= segment.end_s <= end_s + 0.35
        assert segment.audio.shape[0] == round(segment.duration_s * SR)


def test_chunking_does_not_change_the_result(two_sentences) -> None:
    audio, _ = two_sentences
    reference = endpoint(audio)
    rng = np.random.default_rng(7)
    for chunk_sizes in (rng.integers(1, 4000, size=audio.shape[0] // 1000), np.full(audio.shape[0] // 512, 512)):
        chunked = endpoint(audio, chunk_sizes=chunk_sizes)
        assert spans(chunked) == spans(reference)
        for a, b in zip(chunked, reference):
            np.testing.assert_array_equal(a.audio, b.audio)


def test_batched_frames_score_exactly_like_single_frames(two_sentences) -> None:
    audio, _ = two_sentences
    frames = audio[: audio.shape[0] // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    batched = load_vad().stream().probabilities(frames)
    one_by_one_stream = load_vad().stream()
    one_by_one = np.concatenate([one_by_one_stream.probabilities(f[None]) for f in frames])
    np.testing.assert_array_equal(batched, one_by_one)
    assert batched.max() > 0.9 and batched[:10].max() < 0.1


def pink_noise(seconds: float, rms: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SR)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spectrum = (rng.normal(size=freqs.shape) + 1j * rng.normal(size=freqs.shape)) / np.sqrt(np.maximum(freqs, 20.0))
    noise = np.fft.irfft(spectrum, n)
    return (noise * rms / noise.std()).astype(np.float32)


def test_silence_and_noise_give_no_segments() -> None:
    rng = np.random.default_rng(3)
    silence = np.zeros(30 * SR, dtype=np.float32)
    white = rng.normal(0.0, 0.01, 30 * SR).astype(np.float32)  # -40 dBFS
    pink = pink_noise(30.0, 0.02, rng)  # -34 dBFS
    for audio in (silence, white, pink):
        assert endpoint(audio) == []


# --- early finals and cut hangovers (live capture recognizes a segment before it closes) -------


def test_early_segment_is_the_segment_the_hangover_closes() -> None:
    """Once the end padding is in after the silence onset, ``early_segment`` is bit for bit
    the segment ``push`` returns when the hangover has passed."""
    options = EndpointerOptions(speech_pad_ms=64, hangover_ms=300)
    endpointer = Endpointer(Speaker.AGENT, options, vad=ScriptedVad())
    audio = script((0.0, 20), (0.9, 30), (0.0, 15))
    assert endpointer.push(audio[: 50 * FRAME_SAMPLES]) == [] and endpointer.early_segment() is None  # speaking
    assert endpointer.silent_since_s is None
    endpointer.push(audio[50 * FRAME_SAMPLES : 51 * FRAME_SAMPLES])
    assert endpointer.silent_since_s == 50 * FRAME_SAMPLES / SR
    assert endpointer.early_segment() is None  # 32 ms of silence: the 64 ms padding is not in yet
    endpointer.push(audio[51 * FRAME_SAMPLES : 52 * FRAME_SAMPLES])
    early = endpointer.early_segment()
    assert early is not None and early.end_s == (50 * FRAME_SAMPLES + 1024) / SR
    (closed,) = endpointer.push(audio[52 * FRAME_SAMPLES :])
    assert (closed.start_s, closed.end_s) == (early.start_s, early.end_s)
    np.testing.assert_array_equal(closed.audio, early.audio)


def test_early_segment_is_void_when_speech_resumes() -> None:
    """Speech resumes inside the hangover: the utterance goes on, and the segment it closes
    later is longer than the early one (live capture throws the early result away)."""
    options = EndpointerOptions(speech_pad_ms=64, hangover_ms=300)
    endpointer = Endpointer(Speaker.AGENT, options, vad=ScriptedVad())
    endpointer.push(script((0.0, 20), (0.9, 30), (0.0, 5)))  # 160 ms pause
    early = endpointer.early_segment()
    assert early is not None
    endpointer.push(script((0.9, 20)))
    assert endpointer.early_segment() is None and endpointer.open_since_s == early.start_s
    (closed,) = endpointer.push(script((0.0, 15)))
    assert closed.start_s == early.start_s and closed.end_s > early.end_s + 0.6


def test_close_now_cuts_the_hangover_short_only_once_the_padding_is_in() -> None:
    options = EndpointerOptions(speech_pad_ms=64, hangover_ms=300)
    endpointer = Endpointer(Speaker.CUSTOMER, options, vad=ScriptedVad())
    endpointer.push(script((0.0, 20), (0.9, 30)))
    assert endpointer.close_now() == []  # still speaking
    endpointer.push(script((0.0, 1)))
    assert endpointer.close_now() == []  # the end padding is not in yet
    endpointer.push(script((0.0, 1)))
    early = endpointer.early_segment()
    (closed,) = endpointer.close_now()
    assert (closed.start_s, closed.end_s) == (early.start_s, early.end_s)
    assert endpointer.open_since_s is None and endpointer.push(script((0.0, 20))) == []


def test_open_segment_is_the_utterance_so_far() -> None:
    endpointer = Endpointer(Speaker.AGENT, vad=ScriptedVad())
    assert endpointer.open_segment() is None
    audio = script((0.0, 20), (0.9, 30))
    endpointer.push(audio)
    so_far = endpointer.open_segment()
    assert so_far is not None and so_far.start_s == (20 * FRAME_SAMPLES - ONSET_PAD) / SR
    assert so_far.end_s == 50 * FRAME_SAMPLES / SR
    np.testing.assert_array_equal(so_far.audio, audio[20 * FRAME_SAMPLES - ONSET_PAD :])
