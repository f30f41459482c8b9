"""What one recognition costs: the short encoder window of one-segment recognition
(``RecognizerOptions.encoder_window_s``) with its fallback to Whisper's 30 s window when the short
decoding is doubtful, and the heap trimmed after each recognition (``trim_memory``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

from rapport_assist.audio import STREAM_RATE_HZ
from rapport_assist import recognizer as recognizer_module
from rapport_assist.recognizer import (
    RecognizerOptions,
    encoder_frames,
    has_repeat,
    normalize_text,
    short_window_doubt,
)
from rapport_assist.types import SpeechSegment, Speaker

SR = STREAM_RATE_HZ


@dataclass
class FakeWord:
    word: str
    probability: float


@dataclass
class FakeSegment:
    """What ``short_window_doubt`` reads of a faster-whisper segment."""

    text: str
    tokens: list[int] = field(default_factory=lambda: [1] * 8)
    avg_logprob: float = -0.3
    no_speech_prob: float = 0.05
    words: list[FakeWord] | None = None

    def __post_init__(self) -> None:
        if self.words is None:
            self.words = [FakeWord(f" {w}", 0.9) for w in self.text.split()]


def test_encoder_frames_fit_the_audio_plus_a_second_of_padding_with_a_floor() -> None:
    opts = RecognizerOptions()  # 10 s floor
    assert encoder_frames(2.0, opts) == 1000
    assert encoder_frames(9.0, opts) == 1000
    assert encoder_frames(9.5, opts) == 1050
    assert encoder_frames(12.345, opts) == 1336  # 13.345 s: 1,335 frames, made even
    assert encoder_frames(29.0, opts) is None  # the full window
    assert encoder_frames(60.0, opts) is None
    assert encoder_frames(2.0, RecognizerOptions(encoder_window_s=30.0)) is None
    assert encoder_frames(2.0, RecognizerOptions(encoder_window_s=5.0)) == 500
    for bad in (0.5, 31.0):
        with pytest.raises(ValueError, match="encoder_window_s"):
            RecognizerOptions(encoder_window_s=bad)


@pytest.mark.parametrize(
    ("text", "repeats"),
    [
        ("hi elizabeth my name is linda hi elizabeth my name is linda", True),
        ("thank you so much thank you so much", True),
        ("no no no", False),  # one word three times: speech, not a window's loop
        ("thank you thank you", False),  # two words twice
        ("my name is mary how can i help you today", False),
        ("the one the two the one the two", True),
    ],
)
def test_has_repeat(text: str, repeats: bool) -> None:
    assert has_repeat(text.split(), 3) is repeats


def test_a_short_decoding_is_doubtful_when_it_loops_runs_out_of_tokens_or_is_unsure() -> None:
    opts = RecognizerOptions()
    clear = [FakeSegment("Hello, this is Harper Valley National Bank.")]
    assert short_window_doubt(clear, 10, 40, opts) is None
    assert short_window_doubt([], 0, 40, opts) == "no text"
    assert "tokens" in (short_window_doubt(clear, 40, 40, opts) or "")
    twice = [FakeSegment("My name is Mary."), FakeSegment("My name is Mary.")]
    assert short_window_doubt(twice, 12, 40, opts) == "a phrase repeated back to back"
    assert "unsure" in (short_window_doubt([FakeSegment("Okay.", avg_logprob=-1.2)], 4, 40, opts) or "")
    assert "unsure" in (short_window_doubt([FakeSegment("Okay.", no_speech_prob=0.8)], 4, 40, opts) or "")
    shaky = [
        FakeSegment("cancel my car", words=[FakeWord(" cancel", 0.9), FakeWord(" my", 0.9), FakeWord(" car", 0.1)])
    ]
    assert "probability 0.10" in (short_window_doubt(shaky, 6, 40, opts) or "")
    assert short_window_doubt(shaky, 6, 40, RecognizerOptions(short_window_min_word_prob=0.05)) is None


# --- tiny.en ---------------------------------------------------------------------------------


class EncoderWidths:
    """The encoder outputs the decoder got (CTranslate2's Whisper with ``generate`` watched)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.widths: list[int] = []

    def generate(self, encoder_output, *args, **kwargs):
        self.widths.append(encoder_output.shape[1])
        return self._inner.generate(encoder_output, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.fixture
def watched(recognizer):
    """The session's recognizer with the decoder's encoder inputs recorded."""
    model = recognizer.model
    inner = model.model
    watch = EncoderWidths(inner)
    model.model = watch
    try:
        yield recognizer, watch
    finally:
        model.model = inner


@pytest.mark.model
def test_a_short_utterance_is_encoded_in_a_short_window_and_recognized(watched, speak) -> None:
    recognizer, watch = watched
    sentence = "I understand how frustrating this must be for you."
    audio = speak(sentence).astype(np.float32)
    seg = SpeechSegment(Speaker.AGENT, 10.0, 10.0 + len(audio) / SR, audio)
    short = recognizer.recognize(seg)
    assert watch.widths == [500]  # 10 s of features, halved by the encoder's first layer
    full = recognizer.with_options(RecognizerOptions(encoder_window_s=30.0)).recognize(seg)
    assert watch.widths == [500, 1500]
    assert short is not None and full is not None
    assert normalize_text(short.text) == normalize_text(sentence) == normalize_text(full.text)
    assert all(seg.start_s <= w.start_s <= w.end_s <= seg.end_s for w in short.words)
    for a, b in zip(short.words, full.words):  # the alignment pass times words the same way
        assert a.start_s == pytest.approx(b.start_s, abs=0.15)


@pytest.mark.model
def test_a_doubtful_short_decoding_is_done_again_in_the_full_window(watched, speak) -> None:
    recognizer, watch = watched
    audio = speak("Thank you for calling, how can I help you today?").astype(np.float32)
    seg = SpeechSegment(Speaker.AGENT, 0.0, len(audio) / SR, audio)
    strict = recognizer.with_options(RecognizerOptions(short_window_min_word_prob=1.0))  # every word doubtful
    retries = strict.short_window_retries  # a count shared with the recognizer it was made from
    result = strict.recognize(seg)
    assert watch.widths == [500, 1500] and strict.short_window_retries == retries + 1
    full = recognizer.with_options(RecognizerOptions(encoder_window_s=30.0)).recognize(seg)
    assert result is not None and full is not None and result.text == full.text


@pytest.mark.model
def test_a_long_segment_keeps_the_full_window(watched, speak) -> None:
    recognizer, watch = watched
    said = speak("I am sorry for the trouble, let me look into your account right away.").astype(np.float32)
    pieces = []
    while sum(len(p) for p in pieces) < 29.2 * SR:  # with a second of padding: past 30 s
        pieces += [said, np.zeros(SR, dtype=np.float32)]
    audio = np.concatenate(pieces)[: int(29.5 * SR)]
    recognizer.recognize(SpeechSegment(Speaker.CUSTOMER, 0.0, len(audio) / SR, audio))
    assert watch.widths and set(watch.widths) == {1500}


_FRAGMENTED = """
import ctypes
from rapport_assist.recognizer import release_free_memory
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
blocks = [libc.malloc(64 * 1024) for _ in range(2000)]  # 125 MB in the heap, below the mmap threshold
for b in blocks:
    ctypes.memset(b, 1, 64 * 1024)
for b in blocks[:-1]:  # the last block keeps the heap's top in use: free() cannot shrink it
    libc.free(b)
held = rss_mb()
done = release_free_memory()
print(held, rss_mb(), done, flush=True)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_release_free_memory_gives_freed_heap_pages_back() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    held, after, done = out.stdout.split()
    held, after = int(held), int(after)
    assert done == "True"
    assert held - after > 100, (held, after)  # the 125 MB freed in the middle of the heap went back


@pytest.mark.model
@pytest.mark.parametrize("trim", [True, False])
def test_recognize_trims_the_heap_only_when_asked(recognizer, speak, monkeypatch, trim: bool) -> None:
    calls: list[int] = []
    monkeypatch.setattr(recognizer_module, "release_free_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(recognizer_module, "_memory_kept", False)  # as live and the sidebar run
    audio = speak("Thank you.").astype(np.float32)
    recognizer.with_options(RecognizerOptions(trim_memory=trim)).recognize(
        SpeechSegment(Speaker.AGENT, 0.0, len(audio) / SR, audio)
    )
    assert calls == ([1] if trim else [])


# --- live: caption passes leave out the word check ------------------------------------------


class _Tagged:
    """A stand-in recognizer that logs which options recognized which segment (and
    ``with_options`` as the real one has it)."""

    def __init__(self, options: RecognizerOptions, log: list[tuple[float, float]]) -> None:
        self.options = options
        self.log = log

    def warm_up(self) -> None:
        pass

    def with_options(self, options: RecognizerOptions) -> _Tagged:
        return _Tagged(options, self.log)

    def recognize(self, segment: SpeechSegment):
        from rapport_assist.types import Recognition, Word

        self.log.append((segment.end_s, self.options.short_window_min_word_prob))
        mid = (segment.start_s + segment.end_s) / 2
        words = (Word("hello", segment.start_s, mid, 0.9), Word("there", mid, segment.end_s, 0.9))
        return Recognition("hello there", words, 0.9, 0.0, -0.2)


@pytest.mark.parametrize("recheck", [False, True])
def test_caption_passes_recheck_doubtful_words_only_when_asked(recheck: bool) -> None:
    import threading
    import time

    from rapport_assist.live_recognition import RecognitionWorker
    from rapport_assist.live_shared import CallTimeline, ClosedSegment, LiveSettings, SpeechFeed

    log: list[tuple[float, float]] = []
    timeline, feed = CallTimeline(), SpeechFeed()
    settings = LiveSettings(caption_recheck_words=recheck, redo_later=False)  # (redo_later: tested below)
    worker = RecognitionWorker(settings, timeline, feed, _Tagged(RecognizerOptions(), log))
    timeline.start_clock()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    audio = np.zeros(2 * SR, np.float32)
    feed.captions.put(SpeechSegment(Speaker.AGENT, 0.0, 1.5, audio[: int(1.5 * SR)]))
    deadline = time.monotonic() + 10
    while not log and time.monotonic() < deadline:
        time.sleep(0.01)
    feed.closed.put(ClosedSegment(SpeechSegment(Speaker.AGENT, 0.0, 2.0, audio), timeline.now()))
    feed.done.set()
    thread.join(10)
    assert not thread.is_alive()
    word_check = RecognizerOptions().short_window_min_word_prob
    assert log == [(1.5, word_check if recheck else 0.0), (2.0, word_check)]  # the caption, then the final


@pytest.mark.model
def test_a_long_prompt_and_a_long_segment_fit_whispers_token_limit(recognizer, speak) -> None:
    """faster-whisper refuses a prompt plus ``max_new_tokens`` over 448 tokens: the short window's
    token allowance stays under what a full prompt leaves."""
    said = speak("I am sorry for the trouble, let me look into your account right away.").astype(np.float32)
    audio = np.concatenate([said, np.zeros(SR // 2, np.float32)] * 5)[: 24 * SR]
    words = recognizer._decode(audio, "word " * 400)  # the prompt is cut to Whisper's 223 tokens
    assert words
