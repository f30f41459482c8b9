"""Recordings are streamed, not held whole: the blocks are the whole-file decode, sample for
sample; the segments are those of the whole-file path, in the same call order; and a long
recording is endpointed holding a bounded amount of audio whatever its length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rapport_assist.audio import STREAM_RATE_HZ, decode_channels, probe_audio, stream_blocks
from rapport_assist.endpoint import EndpointerOptions
from rapport_assist.errors import BadInput
from rapport_assist.sources import (
    CallAudio,
    CallSegments,
    ReplayInput,
    endpoint_channel,
    endpoint_recording,
)
from rapport_assist.types import Speaker


def tone(freq_hz: float, seconds: float, rate_hz: int) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * rate_hz)) / rate_hz)


@pytest.mark.parametrize(
    ("name", "codec", "rate_hz", "n_channels"),
    [("a.wav", "pcm_s16le", 8000, 2), ("b.flac", "flac", 44100, 1), ("c.ogg", "libopus", 48000, 2)],
)
def test_blocks_put_end_to_end_are_the_whole_file_decode(
    tmp_path: Path, write_audio, name, codec, rate_hz, n_channels
) -> None:
    path = write_audio(
        tmp_path / name, np.stack([tone(300 + 200 * k, 3.3, rate_hz) for k in range(n_channels)]), rate_hz, codec
    )
    whole = decode_channels(path)
    info = probe_audio(path)
    assert (info.n_samples, info.source_rate_hz, info.source_channels) == (
        whole.channels[0].shape[0],
        whole.source_rate_hz,
        whole.source_channels,
    )
    for block_samples in (8000, 1234):
        blocks = list(stream_blocks(info, block_samples))
        assert all(b.shape == (n_channels, block_samples) and b.dtype == np.float32 for b in blocks[:-1])
        assert 0 < blocks[-1].shape[1] <= block_samples
        joined = np.concatenate(blocks, axis=1)
        for channel, streamed in zip(whole.channels, joined, strict=True):
            np.testing.assert_array_equal(channel, streamed)


def test_a_truncated_file_streams_what_decoded_and_says_so(tmp_path: Path, write_audio) -> None:
    full = write_audio(tmp_path / "full.flac", tone(440, 4, 44100)[None], 44100, "flac")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    whole = decode_channels(cut)
    info = probe_audio(cut)
    assert info.truncated and whole.truncated and info.warning == whole.warning
    assert 0.3 < info.duration_s < 3.0
    np.testing.assert_array_equal(np.concatenate(list(stream_blocks(info, 8000)), axis=1)[0], whole.channels[0])
    notes = CallAudio(ReplayInput(path=cut, speaker=Speaker.AGENT)).notes
    assert [n.code for n in notes] == ["audio_truncated"]


def test_unreadable_input_fails_at_open_as_before(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio\n" * 50)
    with pytest.raises(BadInput, match="not a recording"):
        CallAudio(ReplayInput(path=bad))


def _call_with_turns(speak, turns: list[tuple[int, str]], gap_s: float, total_s: float) -> np.ndarray:
    """A stereo call at 16 kHz: the ``turns`` (side 0 or 1, text) spoken by espeak-ng in order,
    ``gap_s`` of silence after each, repeated until ``total_s``."""
    n_total = int(total_s * STREAM_RATE_HZ)
    call = np.zeros((2, n_total), dtype=np.float32)
    at = int(0.5 * STREAM_RATE_HZ)
    k = 0
    while True:
        side, text = turns[k % len(turns)]
        voice = speak(text)
        if at + len(voice) > n_total:
            return call
        call[side, at : at + len(voice)] = voice
        at += len(voice) + int(gap_s * STREAM_RATE_HZ)
        k += 1


def _whole_file_timeline(path: Path, speakers: tuple[Speaker, Speaker]) -> list[tuple[float, bool, str, float, float]]:
    """What replay did before streaming: every channel decoded whole, endpointed, and all the
    segments sorted into call order (``recognize_segments``' order)."""
    decoded = decode_channels(path)
    segments = [
        s
        for speaker, samples in zip(speakers, decoded.channels)
        for s in endpoint_channel(speaker, samples, EndpointerOptions())
    ]
    order = sorted(
        [(s.start_s, 0, s.start_s, i) for i, s in enumerate(segments)]
        + [(s.end_s, 1, s.start_s, i) for i, s in enumerate(segments)]
    )
    return [(t, bool(end), segments[i].speaker.value, segments[i].start_s, segments[i].end_s) for t, end, _, i in order]


def test_short_call_streams_to_the_same_segments_in_the_same_order(tmp_path: Path, speak, write_audio) -> None:
    turns = [
        (0, "Thank you for calling, how can I help you today?"),
        (1, "Hi, my order never arrived."),
        (0, "I am sorry to hear that, let me check."),
        (1, "Thanks."),
    ]
    call = _call_with_turns(speak, turns, gap_s=0.6, total_s=30.0)
    call[1, 4 * STREAM_RATE_HZ : 5 * STREAM_RATE_HZ] += (
        0.2 * call[0, 4 * STREAM_RATE_HZ : 5 * STREAM_RATE_HZ]
    )  # overlap
    path = write_audio(tmp_path / "call.wav", call, STREAM_RATE_HZ)
    streamed = [
        (t, end, seg.speaker.value, seg.start_s, seg.end_s)
        for t, end, seg, _ in CallSegments(CallAudio(ReplayInput(path=path)), EndpointerOptions())
    ]
    assert len(streamed) >= 8
    assert streamed == _whole_file_timeline(path, (Speaker.AGENT, Speaker.CUSTOMER))
    swapped = ReplayInput(path=path, channel_order=(Speaker.CUSTOMER, Speaker.AGENT))
    recording = endpoint_recording(swapped)
    decoded = decode_channels(path)
    expected = [
        s
        for speaker, samples in zip((Speaker.CUSTOMER, Speaker.AGENT), decoded.channels)
        for s in endpoint_channel(speaker, samples, EndpointerOptions())
    ]
    assert [(s.speaker, s.start_s, s.end_s) for s in recording.segments] == [
        (s.speaker, s.start_s, s.end_s) for s in expected
    ]
    for got, want in zip(recording.segments, expected):
        np.testing.assert_array_equal(got.audio, want.audio)
    assert recording.audio_s == pytest.approx(30.0, abs=0.01)


def test_a_long_recording_is_endpointed_holding_a_bounded_amount_of_audio(tmp_path: Path, speak, write_audio) -> None:
    """Three minutes, mostly silence: short turns every ~6 s and one side talking for 40 s
    without a pause (cut every ``max_utterance_s``, 8 s here so the call holds several times the
    bound in speech). The stream holds at most ``CallSegments``' bound: per side, a force-cut
    part waiting for the next part to start plus the open utterance, and one block."""
    options = EndpointerOptions(max_utterance_s=8.0, cut_search_s=3.0)
    total_s = 180.0
    turns = [(0, "Let me look that up for you."), (1, "Sure, take your time.")]
    call = _call_with_turns(speak, turns, gap_s=4.0, total_s=total_s)
    monologue = np.concatenate([speak("and then I called again and nobody answered the phone")] * 12)
    start = int(60 * STREAM_RATE_HZ)
    call[1, start : start + len(monologue)] = monologue[: call.shape[1] - start]
    path = write_audio(tmp_path / "long.wav", call, STREAM_RATE_HZ)

    audio = CallAudio(ReplayInput(path=path))
    block_sizes = set()
    blocks = audio.blocks

    def counted(block_samples):
        for block in blocks(block_samples):
            block_sizes.update(len(b) for b in block.values())
            yield block

    audio.blocks = counted  # type: ignore[method-assign]
    stream = CallSegments(audio, options)
    segments = [seg for _, end, seg, _ in stream if end]
    speech_s = sum(s.duration_s for s in segments)
    bound_s = 4 * options.max_utterance_s + 2.0
    assert speech_s > 2 * bound_s, "the call must hold more speech than the bound for the test to mean anything"
    assert sum(1 for s in segments if s.duration_s > 5) >= 3, "the monologue is cut at max_utterance_s"
    assert 0 < stream.peak_held_s <= bound_s, (stream.peak_held_s, speech_s)
    assert max(block_sizes) == STREAM_RATE_HZ // 2
    assert audio.duration_s == pytest.approx(total_s, abs=0.01)


def test_two_files_of_different_lengths_and_a_mixed_down_side(tmp_path: Path, speak, write_audio) -> None:
    """A pair streams in step until the shorter file ends; a stereo file given for one side is
    mixed down block by block, as the whole-file path mixed it."""
    agent_voice = _call_with_turns(speak, [(0, "Good morning, you are through to billing.")], 0.8, 12.0)[0]
    customer_voice = _call_with_turns(speak, [(1, "I was charged twice for one order.")], 1.5, 20.0)
    customer_stereo = np.stack([customer_voice[1], 0.5 * customer_voice[1]])
    agent = write_audio(tmp_path / "agent.wav", agent_voice[None], STREAM_RATE_HZ)
    customer = write_audio(tmp_path / "customer.flac", customer_stereo, STREAM_RATE_HZ, "flac")
    spec = ReplayInput(agent_path=agent, customer_path=customer)
    audio = CallAudio(spec)
    assert [n.code for n in audio.notes] == ["downmixed"]
    assert audio.duration_s == pytest.approx(20.0, abs=0.01)
    streamed = [
        (t, end, seg.speaker.value, seg.start_s, seg.end_s)
        for t, end, seg, _ in CallSegments(audio, EndpointerOptions())
    ]
    mixed = np.mean(np.stack(decode_channels(customer).channels), axis=0).astype(np.float32)
    segments = [
        s
        for speaker, samples in ((Speaker.AGENT, decode_channels(agent).channels[0]), (Speaker.CUSTOMER, mixed))
        for s in endpoint_channel(speaker, samples, EndpointerOptions())
    ]
    order = sorted(
        [(s.start_s, 0, s.start_s, i) for i, s in enumerate(segments)]
        + [(s.end_s, 1, s.start_s, i) for i, s in enumerate(segments)]
    )
    expected = [
        (t, bool(end), segments[i].speaker.value, segments[i].start_s, segments[i].end_s) for t, end, _, i in order
    ]
    assert {s for _, _, s, _, _ in streamed} == {"agent", "customer"}
    assert streamed == expected
    assert max(e for _, _, _, _, e in streamed) > 12.0  # the customer goes on after the agent's file ends


def test_batch_recognition_takes_the_timeline_in_chunks_of_speech() -> None:
    """``recognized_in_chunks`` (a recognizer stand-in that names each segment): each end gets
    its own segment's recognition, the entries keep their order, each batch but the last holds
    at least ``chunk_s`` of speech, and a call with less speech is one batch of all its ends."""
    from rapport_assist.sources import recognized_in_chunks, walk_timeline
    from rapport_assist.types import Recognition, SpeechActivity, SpeechSegment, Utterance, Word

    class Naming:
        def __init__(self) -> None:
            self.batches: list[list[float]] = []

        def recognize_batch(self, segments):
            self.batches.append([s.duration_s for s in segments])
            return [
                None
                if s.start_s == 30.0
                else Recognition(f"at {s.start_s:g}", (Word("at", s.start_s, s.end_s, 0.9),), 0.9, 0.0, -0.1)
                for s in segments
            ]

    segments = [
        SpeechSegment(
            Speaker.AGENT if k % 2 else Speaker.CUSTOMER,
            10.0 * k,
            10.0 * k + 4.0,
            np.zeros(4 * STREAM_RATE_HZ, np.float32),
        )
        for k in range(8)
    ]
    entries = sorted(
        [(s.start_s, False, s, None) for s in segments] + [(s.end_s, True, s, None) for s in segments],
        key=lambda e: (e[0], e[1]),
    )
    recognizer = Naming()
    chunked = list(recognized_in_chunks(iter(entries), recognizer, chunk_s=10.0))
    assert [(t, end, seg) for t, end, seg, _ in chunked] == [(t, end, seg) for t, end, seg, _ in entries]
    assert recognizer.batches == [[4.0] * 3, [4.0] * 3, [4.0] * 2]
    for _, end, segment, rec in chunked:
        assert (rec is None) if not end or segment.start_s == 30.0 else rec.text == f"at {segment.start_s:g}"
    items = list(walk_timeline(chunked, lambda rec, _: rec))
    utterances = [i for i in items if isinstance(i, Utterance)]
    assert [u.index for u in utterances] == list(range(7)) and len(items) == 16
    assert sum(1 for i in items if isinstance(i, SpeechActivity) and not i.speaking) == 1  # the one without words

    whole = Naming()
    list(recognized_in_chunks(iter(entries), whole, chunk_s=1000.0))
    assert whole.batches == [[4.0] * 8]
