"""Speech segments to text with faster-whisper, with guards against invented text.

One ``transcribe`` call per endpointed segment (greedy, no temperature fallback, no
conditioning on earlier text, no second VAD pass), word timestamps shifted to call time. Batch
QA's packed windows (``recognize_batch``) are decoded with a beam (``batch_beam_size``).
A ``Recognizer`` is not thread-safe: one worker thread owns it.

The encoder gets a short window (the segment plus a second, at least ``encoder_window_s``)
rather than Whisper's 30 s: CTranslate2 takes shorter features and the encoder, four fifths of
a short utterance's cost in 30 s, costs a sixth of that in 10 s. Whisper was trained on 30 s
windows only, and in a short one it sometimes repeats the utterance or doubts words it hears
well in 30 s; such a decoding is done again in 30 s (``short_window_doubt``), about one in five
on real calls. Measured cost and accuracy are in BENCHMARKS.md.

Recognition in context (``RecognizerOptions``; replay, live and ``qa --no-batch`` share
``recognize``): the segment's own audio starts ``EndpointerOptions.onset_pad_ms`` before the
VAD onset, so a clipped first word is heard whole (qa's packed ``recognize_batch`` gets that
padding too, but no context options: its windows already hold the neighbouring utterances). With ``context_s`` the segment is decoded
together with up to that much of its channel's preceding audio (``SpeechSegment.context``,
kept by the endpointer), and only the words whose middle falls inside the segment are kept;
with ``context_check`` it is also decoded alone and the context's words are kept only when
they are at least as many and more confident (context can make Whisper invent or restyle a
phrase). ``prompt_previous_text`` gives the channel's previous text as Whisper's prompt.
What each costs and gains on real calls is in BENCHMARKS.md; off by default where it did not win.

Whisper writes text even when nobody speaks. Every guard below asks the same question —
does the audio carry evidence for this text? — and drops the segment when it does not:

1. Energy (before decoding, so it also saves a call): the loudest frames of the segment
   must stand ``min_contrast_db`` above its quietest frames, and the segment must be louder
   than ``min_rms_dbfs``. Steady hum or hiss that fooled the VAD has no such contrast.
2. No speech: Whisper's own rule — ``no_speech_prob`` above ``max_no_speech_prob`` while
   ``avg_logprob`` is below ``min_avg_logprob``.
3. Failed decoding: ``avg_logprob`` below ``min_avg_logprob`` and mean word probability
   below ``min_confidence`` (gibberish the model itself does not believe). Numbers do not count
   toward that mean: Whisper is unsure how to write digits read out ("4672", "4-6-7-2", "46 72"),
   not whether it heard them, so a card or phone number read with pauses scored as gibberish
   and was lost (``wording_confidence``); the words around them are judged as before.
4. Nothing lexical: text that is only punctuation or bracketed tags ("[Music]", "(sighs)").
5. Stock phrases: Whisper's training data (subtitles) taught it to fill silence with
   "you", "thank you", "thanks for watching", "bye"... These are also real things people
   say, so they are not banned: they must meet a higher bar of acoustic evidence —
   confidence at least ``phrase_min_confidence`` and ``no_speech_prob`` at most
   ``phrase_max_no_speech_prob``. A clearly spoken "Thank you." passes; a "you" made out
   of a breath does not.
6. Loops: an n-gram repeated back to back (decoder stuck in a loop), at least
   ``loop_min_repeats`` times and covering at least ``loop_min_words`` words.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from .audio import STREAM_RATE_HZ
from .errors import ModelError
from .models import resolve_whisper_model_dir
from .types import Recognition, SpeechSegment, Word

if TYPE_CHECKING:  # pragma: no cover
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from faster_whisper.transcribe import Segment as WhisperSegment
    from faster_whisper.transcribe import Word as WhisperWord

logger = logging.getLogger(__name__)

SILENCE_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thank you so much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "thanks for listening",
        "please subscribe",
        "subscribe to my channel",
        "see you next time",
        "bye",
        "bye bye",
        "goodbye",
        "the end",
        "okay",
        "so",
        "oh",
        "hmm",
        "um",
        "uh",
    }
)
"""Texts Whisper is known to produce from silence or noise (normalized: lowercase, no punctuation)."""

_TAG = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪[^♪]*♪")
_NON_WORD = re.compile(r"[^\w' ]+")
_LEXICAL = re.compile(r"[^\W_]")
_HAS_DIGIT = re.compile(r"\d")
_GLUED = tuple("-.,)'’!?:;%")  # a word that starts with one of these follows the last without a space
_MAX_LOOP_NGRAM = 6
_ENERGY_FRAME_SAMPLES = 320  # 20 ms at 16 kHz
# Batch recognition (``Recognizer.recognize_batch``): utterances packed into windows of at most
# PACK_WINDOW_S (Whisper's 30 s context), PACK_GAP_S of silence between them, PACK_BATCH windows
# encoded and decoded together.
PACK_WINDOW_S = 30.0
PACK_GAP_S = 0.2
PACK_BATCH = 4
# A packed word goes to the piece its start falls in, unless it starts in the last PACK_LEAD_S
# of a piece or in the silence after it: then it is the next piece's first word. The word
# alignment stretches a piece's last word over the silence that follows and pulls the next
# piece's first word back a little, so a word's middle ("What's your date of | birth?") often
# lands past the gap, and the end of a question came out as the start of the speaker's next
# utterance. Spoken dev set, errors of words heard in the wrong turn (WER by turn minus per
# side): 115 with the middle, 54 with the start; a start pulled back more than the lead still
# goes to the earlier piece ("…this is Andre how | can I help you").
PACK_LEAD_S = 0.1
# A packed segment of at least PACK_SPARSE_MIN_S that got fewer than PACK_SPARSE_WORDS_PER_S words
# a second is decoded again on its own (``recognize``): batched text-only decoding now and then
# skips a stretch of a window (spoken dev set: an agent's 14 s apology heard as "to"), and speech
# runs at 2-3 words a second, so so few words mean lost words, not a slow talker.
PACK_SPARSE_MIN_S = 1.5
PACK_SPARSE_WORDS_PER_S = 1.0
# A packed segment of PACK_EMPTY_MIN_S or more that got no word at all is decoded on its own too:
# the window's decoding also skips short turns whole (spoken dev set: a customer's loud, fast
# "Before two o'clock? I need it before two!", two 1.3-1.4 s segments, and the "Okay. Mark it
# urgent." after them, all wordless in their window, while decoding alone heard "I need it before
# too"). The energy guard has passed it, so a wordless second of it is more likely skipped speech
# than a breath.
PACK_EMPTY_MIN_S = 0.8
PROMPT_MAX_GAP_S = 30.0
# Whisper now and then ends its text before the audio ends (a number read out: "My card number is
# 4929" for 7 s of "4929, 3810, 4672, 8154"), and the rest of the segment was lost. The endpointer
# ends a segment at most a hangover after the speech, so when the last word ends SKIPPED_TAIL_S or
# more before the segment does, speech went unheard: that stretch is decoded on its own and its
# words added (``Recognizer._with_skipped_tail``).
SKIPPED_TAIL_S = 1.0
LOOP_KEEP_MIN_WORDS = 3  # words before a decoder loop that make it worth keeping them (``trim_loop``)
SKIPPED_TAIL_OVERLAP_S = 0.15  # the stretch starts this much before the last word's end (a clipped onset)
WHISPER_WINDOW_S = 30.0  # Whisper's encoder window (3,000 mel frames)
# A short encoder window's decoding may hold at most SHORT_WINDOW_TOKENS + SHORT_WINDOW_TOKENS_PER_S
# tokens per second of audio (about twice fast speech; more means a loop), and no run of
# SHORT_WINDOW_REPEAT_WORDS words twice back to back (``short_window_doubt``).
SHORT_WINDOW_TOKENS = 16
SHORT_WINDOW_TOKENS_PER_S = 10.0
SHORT_WINDOW_REPEAT_WORDS = 3
# faster-whisper refuses a prompt (up to 223 tokens of previous text, with prompt_previous_text,
# plus the start tokens) and max_new_tokens over Whisper's 448 together
SHORT_WINDOW_MAX_TOKENS = 220
SHORT_WINDOW_MARGIN_S = 1.0  # a short window holds at least this much padding after the audio  # prompt_previous_text: the previous text must have ended at most this long ago


@dataclass(frozen=True)
class RecognizerOptions:
    """Which model runs how, the hallucination guard thresholds and recognition in context
    (see the module doc).

    * ``context_s``: seconds of the segment's channel audio before it (``SpeechSegment.context``,
      which the endpointer keeps only when its own ``context_s`` is set too) decoded along with
      it; 0 decodes the segment alone.
    * ``context_check``: with context, decode the segment alone as well and keep the words heard
      in context only when they are no fewer and more confident (``prefer_in_context``).
    * ``prompt_previous_text``: Whisper's ``initial_prompt`` is the channel's previous kept text
      (if it ended at most ``PROMPT_MAX_GAP_S`` before).
    * ``encoder_window_s``: one-segment recognition (``recognize``: replay, live, captions, early
      finals) encodes the segment plus a second of padding, in at least this many seconds
      (``encoder_frames``), instead of Whisper's 30 s window; 30 restores that. A 2 s utterance
      costs about a third of the CPU time (the encoder was four fifths of it). A decoding that
      looks doubtful in the short window (``short_window_doubt``) is done again in 30 s.
    * ``short_window_min_word_prob``: a word below this probability makes a short-window decoding
      doubtful (0: only loops, running out of tokens and the no-speech scores do).
    * ``short_window_fallback``: a doubtful short-window decoding is done again in 30 s; False
      gives no text instead (live caption passes: a caption can wait for the next pass, a final
      cannot wait behind a 30 s decoding).
    * ``fallback_window_s``: the window of the decodings done again (and of every decoding when
      ``encoder_window_s`` is 30): the audio plus a second, at least this long; 30 is Whisper's
      full window. (Not yet changed from 30: see BENCHMARKS.md for what a shorter one measured.)
    * ``trim_memory``: after each ``recognize`` (and the warm-up), and before each decoding in
      Whisper's full window (a live call's memory peak), hand the heap's free pages back to the
      system (``release_free_memory``); not when ``keep_freed_memory`` is in effect.
    """

    model_dir: Path | None = None
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    # qa's packed recognition (``recognize_batch``) only: its beam. Live and replay decode with
    # ``beam_size`` (greedy: latency); a beam of 5 over qa's 30 s windows took the real 8 kHz
    # sides' pooled WER from 11.8% to 8.2% (BENCHMARKS.md, "Spoken dev set and real calls: a beam")
    batch_beam_size: int = 5
    language: str = "en"
    max_no_speech_prob: float = 0.6
    min_avg_logprob: float = -1.0
    min_confidence: float = 0.5
    phrase_min_confidence: float = 0.7
    phrase_max_no_speech_prob: float = 0.4
    loop_min_repeats: int = 3
    loop_min_words: int = 8
    min_contrast_db: float = 4.0
    min_rms_dbfs: float = -70.0
    context_s: float = 0.0
    context_check: bool = True
    prompt_previous_text: bool = False
    # Batch QA: glibc keeps the big per-layer buffers for reuse (``keep_freed_memory``); off for
    # live capture and the sidebar, which would then hold their peak heap for the whole call.
    keep_freed_memory: bool = False
    encoder_window_s: float = 10.0
    short_window_min_word_prob: float = 0.3
    short_window_fallback: bool = True
    fallback_window_s: float = WHISPER_WINDOW_S
    trim_memory: bool = True
    # The second pass over each closed turn (``turn_pass.py``): its utterances decoded again
    # together in one window, kept when the guards there accept it (word-count ratio against the
    # first pass, avg logprob not worse by more than the margin). Turns of fewer than
    # ``turn_pass_min_utterances`` are not decoded again (one segment alone is what the first pass heard).
    # Only utterances of at most ``turn_pass_max_words`` words are revised (0: all of them); a turn
    # without one is not decoded again. ``turn_pass_packed`` decodes the turn as qa's packed batches
    # do (no timestamps) instead of ``recognize_window``, with ``turn_pass_gap_s`` of silence between
    # its segments. The choices and what they measured: BENCHMARKS.md.
    turn_pass: bool = False
    turn_pass_min_utterances: int = 2
    turn_pass_max_words: int = 4
    turn_pass_min_ratio: float = 0.75
    turn_pass_max_ratio: float = 1.5
    turn_pass_logprob_margin: float = 0.1
    turn_pass_packed: bool = False
    turn_pass_gap_s: float = 1.0

    def __post_init__(self) -> None:
        if self.context_s < 0:
            raise ValueError("context_s must be >= 0")
        if not 1.0 <= self.encoder_window_s <= WHISPER_WINDOW_S:
            raise ValueError(f"encoder_window_s must be 1 to {WHISPER_WINDOW_S:.0f} s")
        if not 1.0 <= self.fallback_window_s <= WHISPER_WINDOW_S:
            raise ValueError(f"fallback_window_s must be 1 to {WHISPER_WINDOW_S:.0f} s")
        if not 0 < self.turn_pass_min_ratio <= 1 <= self.turn_pass_max_ratio:
            raise ValueError("turn_pass_min_ratio must be in (0, 1] and turn_pass_max_ratio >= 1")


def piece_of(starts: np.ndarray, ends: np.ndarray, word_start: float, lead_s: float = PACK_LEAD_S) -> int:
    """Which packed piece (``starts``/``ends`` in order, seconds of the packed audio) a word that
    starts at ``word_start`` belongs to: the piece its start falls in, or the next piece when it
    starts in the last ``lead_s`` of a piece or in the gap after it (``PACK_LEAD_S``)."""
    k = int(np.searchsorted(starts, word_start, side="right")) - 1
    if k < 0:
        return 0
    if word_start > ends[k] - lead_s and k + 1 < len(starts):
        return k + 1
    return k


def _span_recognition(
    segment: SpeechSegment, span_start: float, found_words: Sequence[tuple[WhisperWord, float, float]]
) -> Recognition:
    """The recognition of ``segment`` from the words (each with its Whisper segment's avg_logprob
    and no_speech_prob) found in its span of packed audio, which starts at ``span_start`` seconds:
    word times moved to the call's clock and clamped to the segment. ``found_words`` not empty."""
    words: list[Word] = []
    for w, _, _ in found_words:
        w_start = min(max(segment.start_s + w.start - span_start, segment.start_s), segment.end_s)
        w_end = min(max(segment.start_s + w.end - span_start, w_start), segment.end_s)
        words.append(Word(w.word.strip(), w_start, w_end, float(w.probability)))
    return Recognition(
        text="".join(w.word for w, _, _ in found_words).strip(),
        words=tuple(words),
        confidence=float(np.mean([w.probability for w in words])),
        no_speech_prob=float(np.mean([ns for _, _, ns in found_words])),
        avg_logprob=float(np.mean([lp for _, lp, _ in found_words])),
    )


DoubtKind = Literal["no_text", "token_cap", "repeat", "low_logprob", "no_speech", "word"]
"""Why a short-window decoding is doubtful (``short_window_doubt_kind``): no text; as many tokens
as the audio's length allows; a phrase twice back to back; a low average log probability; a high
no-speech probability (with a fair log probability); a word below ``short_window_min_word_prob``."""
DOUBT_KINDS: tuple[DoubtKind, ...] = ("no_text", "token_cap", "repeat", "low_logprob", "no_speech", "word")


def short_window_doubt_kind(
    results: Sequence[WhisperSegment], tokens: int, max_tokens: int, options: RecognizerOptions
) -> tuple[DoubtKind, str] | None:
    """Why a decoding in a short encoder window should not be trusted (its kind and a reason to
    log), or None.

    Whisper in a window shorter than it was trained on fails in three ways, all seen on the real
    calls: it repeats the utterance (once, or until it runs out of the ``max_tokens`` the
    audio's length allows; ``tokens`` is the most one decoding produced), or it is unsure of
    words it hears well in 30 s (the guards would drop them), or it finds nothing. Each is
    decoded again in the full window (a repeat there is Whisper's own and the guards judge it),
    unless its kind is one the recognizer keeps (``Recognizer.keeping``)."""
    if not results:
        return "no_text", "no text"
    if tokens >= max_tokens:
        return "token_cap", f"{tokens} tokens: the most the audio's length allows"
    words = normalize_text(" ".join(seg.text for seg in results)).split()
    if has_repeat(words, SHORT_WINDOW_REPEAT_WORDS):
        return "repeat", "a phrase repeated back to back"
    weights = [max(1, len(seg.tokens)) for seg in results]
    avg_logprob = float(np.average([seg.avg_logprob for seg in results], weights=weights))
    no_speech = float(np.average([seg.no_speech_prob for seg in results], weights=weights))
    if avg_logprob < options.min_avg_logprob or no_speech > options.max_no_speech_prob:
        kind: DoubtKind = "low_logprob" if avg_logprob < options.min_avg_logprob else "no_speech"
        return kind, f"unsure (avg_logprob {avg_logprob:.2f}, no_speech_prob {no_speech:.2f})"
    least = min((w.probability for seg in results for w in seg.words or () if w.word.strip()), default=1.0)
    if least < options.short_window_min_word_prob:
        return "word", f"a word at probability {least:.2f}"
    return None


def short_window_doubt(
    results: Sequence[WhisperSegment], tokens: int, max_tokens: int, options: RecognizerOptions
) -> str | None:
    """Why a decoding in a short encoder window should not be trusted, or None
    (``short_window_doubt_kind``'s reason)."""
    doubt = short_window_doubt_kind(results, tokens, max_tokens, options)
    return None if doubt is None else doubt[1]


def has_repeat(words: Sequence[str], min_words: int) -> bool:
    """True if some run of at least ``min_words`` words comes twice back to back."""
    for n in range(min_words, len(words) // 2 + 1):
        for start in range(len(words) - 2 * n + 1):
            if words[start : start + n] == words[start + n : start + 2 * n]:
                return True
    return False


def encoder_frames(audio_s: float, options: RecognizerOptions, window_s: float | None = None) -> int | None:
    """How many 10 ms mel frames the encoder gets for ``audio_s`` of audio: the audio plus at
    least ``encoder_margin_s`` of padding, at least ``encoder_window_s`` in all, an even count
    (the encoder's first layer halves it); None for Whisper's full 30 s window.

    CTranslate2 takes Whisper features shorter than 3,000 frames, and the encoder's cost falls
    faster than the window (its attention is quadratic in the frames): 30 s cost six times what
    10 s does on this model. Whisper was trained on 30 s windows only, so a window much shorter
    than that makes it stop early or loop; what each window does to accuracy is in BENCHMARKS.md.
    ``window_s``: the shortest window instead of ``encoder_window_s`` (the fallback decodings give
    ``fallback_window_s``)."""
    window_s = max(options.encoder_window_s if window_s is None else window_s, audio_s + SHORT_WINDOW_MARGIN_S)
    if window_s >= WHISPER_WINDOW_S:
        return None
    frames = math.ceil(window_s * 100)
    return frames + frames % 2


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -3, -4, -8
_memory_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse, once per process; True when in effect.

    CTranslate2 allocates per-layer buffers bigger than glibc's largest mmap threshold (32 MB):
    Whisper's attention scores alone are 6 heads x 1500 x 1500 floats per 30 s window (54 MB,
    216 MB for a batch of four). glibc maps fresh pages for each such buffer and unmaps them on
    free, so every layer of every window faults its memory in again: on two 96 s demo calls,
    0.8 M page faults and a fifth of recognition time spent in the kernel. One arena (the
    model's worker thread allocates in it too), no mmap'd chunks and no trimming of the heap
    top keep those pages for the next layer. The process holds on to its peak heap until it
    exits (no higher than without: 519 vs 565 MB peak in that run), so only batch QA asks for
    it (``RecognizerOptions.keep_freed_memory``); live capture and the sidebar stay below 450 MB
    without it. Other C libraries (musl, macOS) are left alone."""
    global _memory_kept
    if _memory_kept is None:
        _memory_kept = False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.gnu_get_libc_version  # AttributeError when the C library is not glibc
            _memory_kept = all(
                libc.mallopt(param, value) == 1
                for param, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
            )
        except (OSError, AttributeError):
            pass
        logger.debug("malloc keeps freed memory: %s", _memory_kept)
    return _memory_kept


MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
"""glibc's mmap threshold for live capture and the sidebar (``one_malloc_arena``): fixed at the
most its dynamic threshold rises to (32 MB on 64-bit). A fixed threshold also leaves the trim
threshold at its 128 kB default, so the heap's free top goes back to the system as CTranslate2
frees its buffers during a decoding, not only at the ``malloc_trim`` after it. A live call's
probe: peak 362-365 MB instead of 368-377, RSS after recognition 295-301 MB instead of 316-321,
the same page faults and kernel time (BENCHMARKS.md, "Memory, issue 21"). Lower thresholds saved
more (128 kB: peak 342 MB) but each big buffer was then mapped afresh: 1.5 M more page faults
and 3 s more kernel time over the demo call."""


def one_malloc_arena() -> bool:
    """Make all threads allocate from glibc's main malloc arena, with a fixed mmap threshold
    (``MMAP_THRESHOLD_BYTES``); True when in effect.

    For live capture and the sidebar, which do not keep freed memory: big buffers are still
    mapped and unmapped, but the capture, endpointer, model and Qt threads no longer each
    fragment an arena of their own (the sidebar's 30-minute call: 441-457 MB at the end with
    per-thread arenas, 386-405 MB with one; see BENCHMARKS.md)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # AttributeError when the C library is not glibc
        return libc.mallopt(_M_ARENA_MAX, 1) == 1 and libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    except (OSError, AttributeError):
        return False


ONEDNN_CACHE_ENV = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
ONEDNN_CACHE_PRIMITIVES = 8
"""How many oneDNN primitives CTranslate2 may keep (its default: 1,024). The encoder's two
convolutions are oneDNN primitives made for each input length, about 1.7 MB per length kept:
short encoder windows, captions over growing utterances and 30 s fallbacks give many lengths,
and with the default cache 60 lengths held 100 MB more for good (2.7 MB with 8; BENCHMARKS.md,
"Memory"). 8 keeps the last four lengths (the 10 s and 30 s windows recur); another length
costs its primitives' making again, about 5-9 ms of CPU per encoding."""


def bound_onednn_cache() -> None:
    """Limit oneDNN's primitive cache to ``ONEDNN_CACHE_PRIMITIVES`` unless the environment
    sets it; oneDNN reads the setting when it first makes a primitive (the model's first
    encoding), so this must come before it."""
    os.environ.setdefault(ONEDNN_CACHE_ENV, str(ONEDNN_CACHE_PRIMITIVES))


_malloc_trim: Callable[[int], int] | None = None


def release_free_memory() -> bool:
    """Give the free pages of glibc's heap back to the system (``malloc_trim(0)``, a few ms);
    True when done. CTranslate2's decoding buffers below the mmap threshold leave the heap
    holding free memory after a decode that the next decode may not need."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.gnu_get_libc_version  # AttributeError when the C library is not glibc
            _malloc_trim = libc.malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = lambda _pad: 0  # noqa: E731  # not glibc: nothing to do
    return bool(_malloc_trim(0))


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation (apostrophes kept), collapse spaces: 'Thank you!' -> 'thank you'."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def check_energy(audio: np.ndarray, options: RecognizerOptions) -> str | None:
    """Why ``audio`` is too close to its noise floor to hold speech, or None if it may."""
    samples = np.asarray(audio, dtype=np.float64)
    n_frames = samples.shape[0] // _ENERGY_FRAME_SAMPLES
    if n_frames == 0:
        return "segment shorter than 20 ms"
    rms_dbfs = 10 * math.log10(float(np.mean(np.square(samples))) + 1e-20)
    if rms_dbfs < options.min_rms_dbfs:
        return f"segment level {rms_dbfs:.0f} dBFS is below {options.min_rms_dbfs:.0f} dBFS"
    frames = samples[: n_frames * _ENERGY_FRAME_SAMPLES].reshape(n_frames, _ENERGY_FRAME_SAMPLES)
    frame_rms = np.sqrt(np.mean(np.square(frames), axis=1)) + 1e-10
    floor, loud = np.percentile(frame_rms, [10, 90])
    contrast_db = 20 * math.log10(loud / floor)
    if contrast_db < options.min_contrast_db:
        return f"loudest frames only {contrast_db:.1f} dB above the noise floor"
    return None


def check_recognition(rec: Recognition, options: RecognizerOptions) -> str | None:
    """Why ``rec`` is probably invented text (guards 2-6 of the module doc), or None if kept."""
    if rec.no_speech_prob > options.max_no_speech_prob and rec.avg_logprob < options.min_avg_logprob:
        return f"no speech (no_speech_prob {rec.no_speech_prob:.2f}, avg_logprob {rec.avg_logprob:.2f})"
    if rec.avg_logprob < options.min_avg_logprob and wording_confidence(rec) < options.min_confidence:
        return f"unreliable decoding (avg_logprob {rec.avg_logprob:.2f}, confidence {rec.confidence:.2f})"
    lexical = normalize_text(_TAG.sub(" ", rec.text))
    if not _LEXICAL.search(lexical):
        return f"no words in {rec.text!r}"
    if lexical in SILENCE_PHRASES and (
        rec.confidence < options.phrase_min_confidence or rec.no_speech_prob > options.phrase_max_no_speech_prob
    ):
        return (
            f"stock silence phrase {rec.text!r} without enough evidence "
            f"(confidence {rec.confidence:.2f}, no_speech_prob {rec.no_speech_prob:.2f})"
        )
    if has_loop(lexical.split(), options.loop_min_repeats, options.loop_min_words):
        return f"repetition loop in {rec.text!r}"
    return None


def wording_confidence(rec: Recognition) -> float:
    """The mean probability of ``rec``'s words that hold no digit (guard 3); 1.0 for two or more
    words that all do (a number read out), ``rec.confidence`` without words."""
    if not rec.words:
        return rec.confidence
    wording = [w.probability for w in rec.words if not _HAS_DIGIT.search(w.text)]
    if not wording:
        return 1.0 if len(rec.words) >= 2 else rec.confidence
    return sum(wording) / len(wording)


def prefer_in_context(in_context: Recognition, alone: Recognition) -> bool:
    """Whether the words decoded in context should replace the ones decoded alone: no fewer
    of them (context that makes Whisper drop or merge words lost them) and more confident on
    average (an invented or restyled phrase is less sure of itself than the audio alone)."""
    return len(in_context.words) >= len(alone.words) and in_context.confidence > alone.confidence


def has_loop(words: Sequence[str], min_repeats: int, min_words: int) -> bool:
    """True if some n-gram (n <= 6) repeats back to back ``min_repeats``+ times over ``min_words``+ words."""
    return loop_at(words, min_repeats, min_words) is not None


def loop_at(words: Sequence[str], min_repeats: int, min_words: int) -> tuple[int, int] | None:
    """(start, n) of the earliest n-gram (n <= 6) that repeats back to back ``min_repeats``+ times
    over ``min_words``+ words, or None."""
    found: tuple[int, int] | None = None
    for n in range(1, min(_MAX_LOOP_NGRAM, len(words) // 2) + 1):
        for start in range(len(words) - n + 1):
            if found is not None and start >= found[0]:
                break
            gram = words[start : start + n]
            repeats = 1
            while words[start + repeats * n : start + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= min_repeats and repeats * n >= min_words:
                found = (start, n)
                break
    return found


def _joined(words: Sequence[Word]) -> str:
    """The words as text, each after a space unless it starts glued to the last ("5" "-867")."""
    return "".join(w.text if w.text[:1] in _GLUED else f" {w.text}" for w in words)


def trim_loop(rec: Recognition, options: RecognizerOptions) -> Recognition | None:
    """``rec`` cut where its decoder fell into a loop, keeping one pass of the looped words,
    when at least ``LOOP_KEEP_MIN_WORDS`` words came before it ("Call me at 5-5-867-5-3-0-5-0-5-0-…"
    keeps "Call me at 5-5-867-5-3-0-5"); None when the loop is (nearly) all there is, which is
    Whisper inventing text for noise. The words are judged by the other guards after."""
    tokens = [(i, t) for i, w in enumerate(rec.words) for t in normalize_text(w.text).split()]
    found = loop_at([t for _, t in tokens], options.loop_min_repeats, options.loop_min_words)
    if found is None or found[0] < LOOP_KEEP_MIN_WORDS:
        return None
    start, n = found
    keep = tokens[start + n - 1][0] + 1  # through the word that ends the loop's first pass
    words = rec.words[:keep]
    return replace(
        rec,
        text=_joined(words).lstrip(),
        words=words,
        confidence=float(np.mean([w.probability for w in words])),
    )


_windowed_class: type | None = None


def _windowed_model_class() -> type:
    """faster_whisper.WhisperModel whose ``encode`` gives the encoder only the first
    ``encode_frames`` feature frames when that is set (``encoder_frames``): faster-whisper pads
    every window's features to 3,000 frames before encoding. None (the default) encodes them all,
    as plain faster-whisper does; batch QA's pipeline never sets it."""
    global _windowed_class
    if _windowed_class is None:
        from faster_whisper import WhisperModel

        class WindowedWhisperModel(WhisperModel):
            encode_frames: int | None = None
            most_tokens = 0  # the most tokens one decoding produced since this was last reset

            def encode(self, features: np.ndarray) -> object:
                if self.encode_frames is not None and features.shape[-1] > self.encode_frames:
                    features = features[..., : self.encode_frames]
                return super().encode(features)

            def generate_with_fallback(self, *args: object, **kwargs: object) -> tuple[object, ...]:
                found = super().generate_with_fallback(*args, **kwargs)
                self.most_tokens = max(self.most_tokens, len(found[0].sequences_ids[0]))
                return tuple(found)

        _windowed_class = WindowedWhisperModel
    return _windowed_class


class Recognizer:
    """faster-whisper loaded from a local CTranslate2 folder (never from the network)."""

    def __init__(self, options: RecognizerOptions = RecognizerOptions()) -> None:
        self.options = options
        self._batched_pipeline = None
        # speaker -> (end time, text) of the last kept segment, for prompt_previous_text
        self._previous_text: dict[object, tuple[float, str]] = {}
        self.short_window_retries = 0  # short-window decodings done again in 30 s (``short_window_doubt``)
        self.last_doubt: str | None = None  # the last ``recognize``: its short-window doubt (``DoubtKind``), if any
        self.kept_doubt: str | None = None  # the same when its kind is one this keeps (``keeping``)
        self.keep_doubts: frozenset[str] = frozenset()  # (``keeping``)
        self.model_dir = resolve_whisper_model_dir(options.model_dir)
        if not (self.model_dir / "tokenizer.json").is_file():
            # faster-whisper would fetch a tokenizer from the Hugging Face Hub without it.
            raise ModelError(
                f"model folder {self.model_dir} has no tokenizer.json",
                "convert the model with ct2-transformers-converter --copy_files tokenizer.json (see models/README.md)",
            )
        if options.keep_freed_memory:
            keep_freed_memory()  # before the model's threads make their first allocations
        elif not _memory_kept:
            one_malloc_arena()
        bound_onednn_cache()
        try:
            model_class = _windowed_model_class()
        except ImportError:
            raise ModelError("faster-whisper is not installed", "run 'make setup'") from None
        try:
            self._model = model_class(
                str(self.model_dir),
                device="cpu",
                compute_type=options.compute_type,
                cpu_threads=options.cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 reports bad files and options as RuntimeError/ValueError
            reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise ModelError(
                f"the speech model in {self.model_dir} failed to load ({reason})",
                "re-copy or re-convert the model folder, or check --compute-type (int8, int8_float32, float32)",
            ) from None

    def with_options(self, options: RecognizerOptions) -> "Recognizer":
        """A recognizer on this one's loaded model with other guard and context options (the
        model fields must be the same); benchmarks compare options without reloading."""
        model_fields = ("model_dir", "compute_type", "cpu_threads", "beam_size", "language")
        if any(getattr(options, f) != getattr(self.options, f) for f in model_fields):
            raise ValueError(f"with_options changes guard and context options only, not {', '.join(model_fields)}")
        other = object.__new__(Recognizer)
        other.__dict__.update(self.__dict__, options=options, _previous_text={})
        return other

    def keeping(self, kinds: Iterable[str]) -> "Recognizer":
        """This recognizer (same model and options) keeping a short-window decoding whose doubt is of
        one of ``kinds`` (``DoubtKind``) as it is, instead of decoding it again in 30 s; ``kept_doubt``
        then names the kind after ``recognize``. Live calls put such a final out first and decode it
        again in 30 s afterwards (``LiveSettings.redo_later_doubts``); replay and qa keep none.
        (Not a ``RecognizerOptions`` field: it changes when the text comes, not the final text, so
        qa's cache identity does not carry it.)"""
        unknown = set(kinds) - set(DOUBT_KINDS)
        if unknown:
            raise ValueError(f"no short-window doubt kind {', '.join(sorted(unknown))} ({', '.join(DOUBT_KINDS)})")
        other = object.__new__(Recognizer)
        other.__dict__.update(self.__dict__, keep_doubts=frozenset(kinds), _previous_text={})
        return other

    @property
    def model(self) -> WhisperModel:
        """The loaded faster_whisper.WhisperModel (benchmarks compare it used plainly)."""
        return self._model

    def warm_up(self) -> None:
        """Run one decode on a second of near-silence so the first real call is not slow."""
        noise = np.random.default_rng(0).normal(0.0, 1e-3, STREAM_RATE_HZ).astype(np.float32)
        frames = encoder_frames(1.0, self.options)
        self._decode_in(noise, None, frames, None)  # in the window most decodings use (no fallback)
        if self.options.trim_memory and not _memory_kept:
            release_free_memory()  # what loading the model left free

    def recognize(self, segment: SpeechSegment) -> Recognition | None:
        """Transcribe one segment; None when a guard judges there is no real speech in it."""
        rec: Recognition | None = None
        self.last_doubt = self.kept_doubt = None
        reason = check_energy(segment.audio, self.options)
        if reason is None:
            rec = self._recognize_in_context(segment)
            reason = "no text" if rec is None else check_recognition(rec, self.options)
            if rec is not None and reason is not None and reason.startswith("repetition loop"):
                trimmed = trim_loop(rec, self.options)  # the words before the loop, if there are enough
                if trimmed is not None and check_recognition(trimmed, self.options) is None:
                    logger.debug(
                        "%s segment %.2f-%.2f s: %s, kept %r",
                        segment.speaker.value,
                        segment.start_s,
                        segment.end_s,
                        reason[:40],
                        trimmed.text,
                    )
                    rec, reason = trimmed, None
            if self.options.trim_memory and not _memory_kept:
                release_free_memory()
        if reason is None and rec is not None:  # (no recognition always has a reason)
            rec = self._with_skipped_tail(segment, rec)
            if self.options.prompt_previous_text:
                self._previous_text[segment.speaker] = (segment.end_s, rec.text)
            return rec
        logger.debug(
            "dropped %s segment %.2f-%.2f s: %s", segment.speaker.value, segment.start_s, segment.end_s, reason
        )
        return None

    def _with_skipped_tail(self, segment: SpeechSegment, rec: Recognition) -> Recognition:
        """``rec`` with the words of the stretch after its last word when Whisper stopped short
        of the segment's end (``SKIPPED_TAIL_S``): that stretch decoded on its own, kept when it
        holds speech and its words pass the guards."""
        if not rec.words or segment.end_s - rec.words[-1].end_s < SKIPPED_TAIL_S:
            return rec
        last_end = rec.words[-1].end_s
        cut_s = max(segment.start_s, last_end - SKIPPED_TAIL_OVERLAP_S)
        audio = segment.audio[int(round((cut_s - segment.start_s) * STREAM_RATE_HZ)) :]
        if check_energy(audio, self.options) is not None:
            return rec
        tail = self._transcribe(audio, cut_s, segment.end_s)
        if tail is None or check_recognition(tail, self.options) is not None:
            return rec
        added = tuple(w for w in tail.words if (w.start_s + w.end_s) / 2 >= last_end)  # not the last word again
        if not added:
            return rec
        logger.debug(
            "%s segment %.2f-%.2f s: words ended at %.2f s, the rest heard on its own: %r",
            segment.speaker.value,
            segment.start_s,
            segment.end_s,
            last_end,
            " ".join(w.text for w in added),
        )
        words = rec.words + added
        n, m = len(rec.words), len(added)
        return Recognition(
            text=rec.text + _joined(added),
            words=words,
            confidence=float(np.mean([w.probability for w in words])),
            no_speech_prob=(rec.no_speech_prob * n + tail.no_speech_prob * m) / (n + m),
            avg_logprob=(rec.avg_logprob * n + tail.avg_logprob * m) / (n + m),
        )

    def recognize_many(self, segments: Iterable[SpeechSegment]) -> list[Recognition | None]:
        """``recognize`` each segment, in order."""
        return [self.recognize(segment) for segment in segments]

    def recognize_batch(
        self,
        segments: Sequence[SpeechSegment],
        window_s: float = PACK_WINDOW_S,
        gap_s: float = PACK_GAP_S,
        batch_size: int = PACK_BATCH,
        mix_sides: bool = False,
        groups: Sequence[int] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[Recognition | None]:
        """Recognize many segments at once, for batch QA: what ``recognize`` gives for each, in order,
        but packed instead of one decode per segment.

        The segments that pass the energy guard are laid end to end, each side's in call order
        (``gap_s`` of silence between them; with ``mix_sides``, both sides in the same windows),
        into windows of at most ``window_s``; the windows are
        encoded and decoded ``batch_size`` at a time (faster-whisper's batched pipeline, text
        only: no timestamp tokens, which made decoding 5-10% slower and the demo call's words
        worse, 10.0% vs 6.8% WER, real calls even), and each word, timed by the word alignment
        pass, goes back to the segment its start falls in (``piece_of``: a start at a segment's
        very end or in the gap after it begins the next segment). Whisper's encoder costs the same for a
        30 s window as for one word, so a window of ten utterances costs about one utterance.
        The text guards then judge each segment on its own words. A long segment that got very
        few words (``PACK_SPARSE_MIN_S``, ``PACK_SPARSE_WORDS_PER_S``: the window's decoding skipped
        it), or a shorter one that got none (``PACK_EMPTY_MIN_S``), is decoded again on its own,
        and those words are kept when there are more of them.

        ``groups``: which call each segment belongs to, when segments of several calls are
        recognized together (batch QA packs short calls into shared windows); each side of
        each call stays in order, calls one after another.

        ``progress(fraction)``: called as the decoded windows come in (0 to 1 of the packed audio).
        """
        results: list[Recognition | None] = [None] * len(segments)
        kept: list[int] = []
        for i, segment in enumerate(segments):
            reason = check_energy(segment.audio, self.options)
            if reason is None:
                kept.append(i)
            else:
                logger.debug(
                    "dropped %s segment %.2f-%.2f s: %s", segment.speaker.value, segment.start_s, segment.end_s, reason
                )
        if not kept:
            return results
        group = (lambda i: groups[i]) if groups is not None else (lambda i: 0)
        if mix_sides:  # call order, both sides in the same windows
            kept.sort(key=lambda i: (group(i), segments[i].start_s, segments[i].speaker.value))
        else:  # each side in call order, a window holds one side
            kept.sort(key=lambda i: (segments[i].speaker.value, group(i), segments[i].start_s))
        gap = np.zeros(int(gap_s * STREAM_RATE_HZ), dtype=np.float32)
        window_samples = int(window_s * STREAM_RATE_HZ)
        pieces: list[np.ndarray] = []
        clips: list[dict[str, float]] = []
        spans: list[tuple[int, float, float]] = []  # (segment index, start, end) in the packed audio, s
        at = 0  # samples written
        window_start = 0
        last_speaker = None
        for i in kept:
            audio = np.ascontiguousarray(segments[i].audio, dtype=np.float32)[:window_samples]
            n = len(audio)
            fits = at - window_start + len(gap) + n <= window_samples and (
                mix_sides or segments[i].speaker == last_speaker
            )
            if not fits and at > window_start:
                clips.append({"start": window_start / STREAM_RATE_HZ, "end": at / STREAM_RATE_HZ})
                pieces.append(gap)  # keeps windows apart
                at += len(gap)
                window_start = at
            elif at > window_start:
                pieces.append(gap)
                at += len(gap)
            spans.append((i, at / STREAM_RATE_HZ, (at + n) / STREAM_RATE_HZ))
            pieces.append(audio)
            at += n
            last_speaker = segments[i].speaker
        clips.append({"start": window_start / STREAM_RATE_HZ, "end": at / STREAM_RATE_HZ})
        packed = np.concatenate(pieces)
        words_by_span: list[list[tuple[WhisperWord, float, float]]] = [[] for _ in spans]  # word, logprob, no_speech
        starts = np.array([s for _, s, _ in spans])
        ends = np.array([e for _, _, e in spans])
        opts = self.options
        found, _info = self._batched().transcribe(
            packed,
            language=opts.language,
            beam_size=opts.batch_beam_size,
            temperature=0.0,
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            no_speech_threshold=None,
            condition_on_previous_text=False,
            word_timestamps=True,
            without_timestamps=True,
            clip_timestamps=clips,
            batch_size=batch_size,
        )
        total_s = max(at / STREAM_RATE_HZ, 1e-9)
        for seg in found:
            if progress is not None:
                progress(min(1.0, seg.end / total_s))
            for w in seg.words or ():
                if not w.word.strip():
                    continue
                words_by_span[piece_of(starts, ends, w.start)].append((w, seg.avg_logprob, seg.no_speech_prob))
        for (i, span_start, span_end), found_words in zip(spans, words_by_span):
            span_s = span_end - span_start
            if (span_s >= PACK_SPARSE_MIN_S and len(found_words) < PACK_SPARSE_WORDS_PER_S * span_s) or (
                span_s >= PACK_EMPTY_MIN_S and not found_words
            ):
                alone = self.recognize(segments[i])  # words skipped in the window: the segment on its own
                if alone is not None and len(alone.words) > len(found_words):
                    results[i] = alone
                    continue
            if not found_words:
                continue
            segment = segments[i]
            rec = _span_recognition(segment, span_start, found_words)
            reason = check_recognition(rec, self.options)
            if reason is None:
                results[i] = rec
                continue
            if reason.startswith("repetition loop"):
                # the batched decoding has no temperature fallback: a window that fell into a loop
                # ("T-M-It's T-M-It's …") takes every segment it spans with it; each is decoded
                # again on its own, where the guards and the loop trim apply as in replay
                alone = self.recognize(segment)
                if alone is not None:
                    results[i] = alone
                    continue
            logger.debug(
                "dropped %s segment %.2f-%.2f s: %s", segment.speaker.value, segment.start_s, segment.end_s, reason
            )
        return results

    def recognize_window(
        self, segments: Sequence[SpeechSegment], gap_s: float = PACK_GAP_S, window_s: float = PACK_WINDOW_S
    ) -> list[Recognition | None]:
        """Recognize one speaker's consecutive segments decoded together (a turn's second pass,
        ``turn_pass.py``): their audio laid end to end, ``gap_s`` of silence between them, in
        windows of at most ``window_s``, each one ``transcribe`` call as ``recognize`` makes
        (greedy, with timestamps), and each word given back to the segment its start falls in
        (``piece_of``, as ``recognize_batch`` does; times clamped to it). What ``recognize`` gives for each segment, judged by the same
        guards on its own words; None for a segment that kept none."""
        results: list[Recognition | None] = [None] * len(segments)
        gap = np.zeros(int(gap_s * STREAM_RATE_HZ), dtype=np.float32)
        window_samples = int(window_s * STREAM_RATE_HZ)
        windows: list[list[int]] = []
        size = 0
        for i, segment in enumerate(segments):
            n = min(len(segment.audio), window_samples)
            if not windows or size + len(gap) + n > window_samples:
                windows.append([])
                size = 0
            elif windows[-1]:
                size += len(gap)
            windows[-1].append(i)
            size += n
        for members in windows:
            pieces: list[np.ndarray] = []
            spans: list[tuple[float, float]] = []
            at = 0
            for i in members:
                if pieces:
                    pieces.append(gap)
                    at += len(gap)
                audio = np.ascontiguousarray(segments[i].audio, dtype=np.float32)[:window_samples]
                spans.append((at / STREAM_RATE_HZ, (at + len(audio)) / STREAM_RATE_HZ))
                pieces.append(audio)
                at += len(audio)
            found = self._decode_in(np.concatenate(pieces), None, None, None)  # Whisper's full window
            starts = np.array([a for a, _ in spans])
            ends = np.array([b for _, b in spans])
            by_span: list[list[tuple[WhisperWord, float, float]]] = [[] for _ in spans]
            for seg in found:
                for w in seg.words or ():
                    if not w.word.strip():
                        continue
                    by_span[piece_of(starts, ends, w.start)].append((w, seg.avg_logprob, seg.no_speech_prob))
            for i, (span_start, _), found_words in zip(members, spans, by_span):
                if not found_words:
                    continue
                rec = _span_recognition(segments[i], span_start, found_words)
                if check_recognition(rec, self.options) is None:
                    results[i] = rec
        return results

    def _batched(self) -> BatchedInferencePipeline:
        if self._batched_pipeline is None:
            from faster_whisper import BatchedInferencePipeline

            self._batched_pipeline = BatchedInferencePipeline(self._model)
        return self._batched_pipeline

    def _recognize_in_context(self, segment: SpeechSegment) -> Recognition | None:
        """The segment decoded as the options say: alone, or after its channel's preceding audio."""
        opts = self.options
        prompt = None
        if opts.prompt_previous_text and segment.speaker in self._previous_text:
            end_s, text = self._previous_text[segment.speaker]
            # the same call, not long ago (a worker that goes on to another call starts again at 0 s)
            prompt = text if 0.0 <= segment.start_s - end_s <= PROMPT_MAX_GAP_S else None
        context = segment.context
        lead = 0 if context is None else min(len(context), int(opts.context_s * STREAM_RATE_HZ))
        if context is None or lead == 0:
            return self._transcribe(segment.audio, segment.start_s, segment.end_s, prompt=prompt)
        audio = np.concatenate([context[len(context) - lead :], segment.audio])
        in_context = self._transcribe(
            audio, segment.start_s, segment.end_s, prompt=prompt, origin_s=segment.start_s - lead / STREAM_RATE_HZ
        )
        if not opts.context_check:
            return in_context
        alone = self._transcribe(segment.audio, segment.start_s, segment.end_s, prompt=prompt)
        if in_context is None or (alone is not None and not prefer_in_context(in_context, alone)):
            return alone
        return in_context

    def _decode(self, audio: np.ndarray, prompt: str | None) -> list[WhisperSegment]:
        """faster-whisper's segments for ``audio``: in a short encoder window when the options
        allow (``encoder_frames``), again in the full window when that result is doubtful
        (``short_window_doubt``)."""
        frames = encoder_frames(len(audio) / STREAM_RATE_HZ, self.options)
        if frames is not None:
            max_tokens = min(
                SHORT_WINDOW_TOKENS + math.ceil(SHORT_WINDOW_TOKENS_PER_S * len(audio) / STREAM_RATE_HZ),
                SHORT_WINDOW_MAX_TOKENS,
            )
            self._model.most_tokens = 0
            results = self._decode_in(audio, prompt, frames, max_tokens)
            found = short_window_doubt_kind(results, self._model.most_tokens, max_tokens, self.options)
            if found is None:
                return results
            kind, doubt = found
            self.last_doubt = self.last_doubt or kind
            if kind in self.keep_doubts:
                logger.debug("short encoder window (%d frames) doubtful, kept: %s", frames, doubt)
                self.kept_doubt = self.kept_doubt or kind
                return results
            if not self.options.short_window_fallback:
                logger.debug("short encoder window (%d frames) doubtful, no text: %s", frames, doubt)
                return []
            self.short_window_retries += 1
            logger.debug("short encoder window (%d frames) doubtful, decoding again: %s", frames, doubt)
        full = encoder_frames(len(audio) / STREAM_RATE_HZ, self.options, self.options.fallback_window_s)
        return self._decode_in(audio, prompt, full, None)

    def _decode_in(
        self, audio: np.ndarray, prompt: str | None, frames: int | None, max_tokens: int | None
    ) -> list[WhisperSegment]:
        opts = self.options
        model = self._model
        if frames is None and opts.trim_memory and not _memory_kept:
            # Whisper's full window: its encoder holds ~75 MB more while it runs (the attention over 1,500
            # frames), a live call's peak; what the other threads freed since the last trim goes back first
            release_free_memory()
        model.encode_frames = frames
        try:
            found, _info = model.transcribe(
                np.ascontiguousarray(audio, dtype=np.float32),
                language=opts.language,
                beam_size=opts.beam_size,
                best_of=1,
                temperature=0.0,
                compression_ratio_threshold=None,
                log_prob_threshold=None,
                no_speech_threshold=None,
                condition_on_previous_text=False,
                vad_filter=False,
                word_timestamps=True,
                initial_prompt=prompt or None,
                max_new_tokens=max_tokens,
            )
            return list(found)  # decoded here, while the window is set
        finally:
            model.encode_frames = None

    def _transcribe(
        self, audio: np.ndarray, start_s: float, end_s: float, prompt: str | None = None, origin_s: float | None = None
    ) -> Recognition | None:
        """One faster-whisper call; word times become call times clamped to [start_s, end_s].

        ``origin_s``: the call time of the audio's first sample when the audio starts before
        ``start_s`` (decoding in context); then only the words whose middle is at or after
        ``start_s`` are kept, and the scores are those of the decoded segments they come from."""
        results = self._decode(audio, prompt)
        offset_s = start_s if origin_s is None else origin_s
        picked = [(seg, [w for w in seg.words or () if w.word.strip()]) for seg in results]
        if origin_s is not None:  # decoded in context: only the segment's own words
            picked = [
                (seg, [w for w in seg_words if offset_s + (w.start + w.end) / 2 >= start_s])
                for seg, seg_words in picked
            ]
            picked = [(seg, seg_words) for seg, seg_words in picked if seg_words]
            text = " ".join("".join(w.word for w in seg_words).strip() for _, seg_words in picked)
        else:
            text = " ".join(seg.text.strip() for seg, _ in picked if seg.text.strip())
        if not picked:
            return None
        words: list[Word] = []
        for _, seg_words in picked:
            for w in seg_words:
                w_start = min(max(offset_s + w.start, start_s), end_s)
                w_end = min(max(offset_s + w.end, w_start), end_s)
                words.append(Word(text=w.word.strip(), start_s=w_start, end_s=w_end, probability=float(w.probability)))
        segments = [seg for seg, _ in picked]
        weights = np.array([max(1, len(seg.tokens)) for seg in segments], dtype=np.float64)
        return Recognition(
            text=text,
            words=tuple(words),
            confidence=float(np.mean([w.probability for w in words])) if words else 0.0,
            no_speech_prob=float(np.average([seg.no_speech_prob for seg in segments], weights=weights)),
            avg_logprob=float(np.average([seg.avg_logprob for seg in segments], weights=weights)),
        )
