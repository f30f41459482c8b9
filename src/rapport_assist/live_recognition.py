"""A live call's recognizer thread: finals first, then early finals, then live captions.

``RecognitionWorker.run`` owns the speech model. It takes the audio thread's speech
(``live_shared.SpeechFeed``) and puts utterances, captions (``Partial``) and its statuses on the
call timeline, each utterance carrying its ``RecognitionTiming`` (when its segment closed, when
the recognizer started and ended on it).

Finals go first, in end order; an agent utterance that could overlap half of customer speech
still being endpointed waits for it (up to ``leak_wait_s``), and an agent utterance that repeats
the words of a customer utterance said at the same time is dropped (``is_leak``: without a
headset the customer leaks into the agent's microphone). When no final waits, the segment an
utterance in its hangover becomes if the silence lasts (an early final); its result is kept for
when that segment closes, and dropped if speech resumed (the segment that closes is another
one). Then the 30 s redos (``LiveSettings.redo_later``): a final whose short-window decoding
had a doubt of a kind in ``redo_later_doubts`` (a doubtful word, a no-speech score, a low log
probability; not a repeat, whose first text doubles words) went out at once, and is decoded
again in Whisper's full window once nobody talks; other words come as a ``TurnRevision``
(``redo``). A kept decoding the guards drop is decoded in 30 s at once, as other doubts are. A final
that rewrote words two caption passes had agreed on, while an early nudge (``rules.early``) stands on
them, gets a second opinion before it goes out (``LiveSettings.caption_agreement``): the same speech
decoded once more with a little less onset padding, and that text goes out when it keeps the
caption's words (Whisper's choice between two close readings can follow where the audio is cut);
else the final stands and the early nudge is withdrawn. With room to spare, and no side in its
hangover (its final would wait for the pass), it re-recognizes open utterances and puts their
stable prefix on the timeline (``captions.CaptionTracker``); a caption pass never decodes again
in 30 s. Caption passes come when due, not on a fixed clock: an utterance's first as soon as the
audio thread offers it (``caption_first_s`` after the voice began), then each once
``caption_step_s`` more audio is in — ``caption_every_s``, or the expected pass time over
``caption_share`` when passes are slow, so the cadence follows the measured pass time and a busy
PC gets fewer passes rather than older ones (the audio thread offers the utterance so far every
``caption_offer_s``; the latest offer is what a pass hears). ``passes`` keeps each pass's timing
(``PassTrace``) for benchmarks.

It degrades in order, never skipping final text: caption passes stop when a pass is expected
to take over ``caption_max_pass_s`` (``expected_pass_s``, from the recent passes), the
recognizer was busy more than ``caption_max_load`` of the last 10 s, a final waits, or one
waited over ``caption_strain_lag_s`` in the last ``caption_strain_hold_s`` (``recognizer_busy``,
then ``recognizer_ready``); early finals start later in the silence when
it is busy (the audio thread reads ``SpeechFeed.recognizer_load``), and stop when a pass is
expected to take over ``early_max_pass_s`` or the oldest waiting segment is ``behind_s / 2``
old, as does decoding in context; a 30 s redo is skipped (the first text stays) when it is
expected to take over ``redo_max_pass_s``, and the oldest waiting redo when more than
``redo_max_waiting`` wait (a recognizer behind the call never gets to them; each holds its
utterance's audio). Of the audio thread's offers only each side's latest waits
(``live_shared.LatestPerSide``); closed segments all wait, however far behind. A final
waiting over ``behind_s`` is ``recognizer_behind`` (until ``recognizer_caught_up``).
"""

from __future__ import annotations

import difflib
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from .audio import STREAM_RATE_HZ
from .captions import CaptionTracker, contradicts, join_words
from .errors import RapportError
from .live_shared import CallTimeline, ClosedSegment, LiveSettings, SpeechFeed
from .recognizer import WHISPER_WINDOW_S, Recognizer, RecognizerOptions, encoder_frames, normalize_text
from .sources import to_utterance
from .timefmt import clock
from .turn_pass import OpenTurnPass
from .wording import plural
from .types import (
    Recognition,
    RecognitionTiming,
    SpeechActivity,
    SpeechSegment,
    Speaker,
    TurnRevision,
    Utterance,
)

logger = logging.getLogger(__name__)


class SegmentRecognizer(Protocol):
    """What the worker needs of a recognizer (``recognizer.Recognizer``; tests give stand-ins)."""

    def warm_up(self) -> None: ...

    def recognize(self, segment: SpeechSegment) -> Recognition | None: ...


def is_leak(utt: Utterance, recent_customer: list[Utterance], similarity: float) -> bool:
    """Is the agent's ``utt`` the customer leaking into the microphone: words that repeat (most
    of) a customer utterance said at the same time?"""
    words = normalize_text(utt.text).split()
    if not words:
        return False
    for other in recent_customer:
        overlap = min(utt.end_s, other.end_s) - max(utt.start_s, other.start_s)
        if overlap < 0.5 * max(utt.duration_s, 0.1):
            continue
        theirs = normalize_text(other.text).split()
        matcher = difflib.SequenceMatcher(None, theirs, words, autojunk=False)
        matched = sum(b.size for b in matcher.get_matching_blocks())
        if matched / len(words) >= similarity:  # most of the agent's words are the customer's, in order
            return True
    return False


_CAPTION_CUT_EARLY_S = 0.15  # a windowed caption pass starts this far before the committed word's end


PassKind = Literal["final", "early", "caption", "redo", "agreement"]


@dataclass(frozen=True)
class PassTrace:
    """One recognizer pass of a live call, for benchmarks (``RecognitionWorker.passes``): what it
    was for, the segment it heard (call times), when the worker took that segment, when the pass
    started and ended (call times), and whether the recognizer decoded it twice (a short-window
    decoding done again in 30 s, ``recognizer.short_window_doubt``), and the kind of its
    short-window doubt if it had one (``recognizer.DoubtKind``: redone, or kept to go out first)."""

    kind: PassKind
    speaker: Speaker
    segment_start_s: float
    segment_end_s: float
    taken_s: float
    start_s: float
    end_s: float
    redone: bool
    doubt: str | None = None


@dataclass(frozen=True)
class _Held:
    """A recognized final not yet on the timeline: an agent utterance waiting for the customer's
    overlapping one (the leak filter), with what it needs to go out."""

    closed: ClosedSegment
    utterance: Utterance
    recognition: Recognition
    timing: RecognitionTiming
    redo: bool  # decode it again in 30 s once it is out (a mild doubt)


@dataclass(frozen=True)
class _Redo:
    """An utterance that went out with a mild short-window doubt, to decode again in 30 s."""

    utterance: Utterance
    segment: SpeechSegment
    queued_t: float  # time.monotonic() it was queued


class _EarlyResult:
    """An early final's result, kept for the segment it was made of."""

    __slots__ = ("key", "recognition", "timing", "kept", "in_30")

    def __init__(
        self,
        key: tuple[float, float],
        recognition: Recognition | None,
        start_s: float,
        end_s: float,
        kept: str | None,
        in_30: bool,
    ) -> None:
        self.key = key  # (start, end) of the segment it recognized
        self.recognition = recognition
        self.timing = (start_s, end_s)  # call times the recognizer started and ended on it
        self.kept = kept  # the short-window doubt it kept (to go out first, then be redone)
        self.in_30 = in_30  # its last decoding was in Whisper's full window (what a dropped one would get)


class RecognitionWorker:
    """The recognizer thread of a live call (see the module doc)."""

    def __init__(
        self,
        settings: LiveSettings,
        timeline: CallTimeline,
        feed: SpeechFeed,
        recognizer: SegmentRecognizer | None = None,
    ) -> None:
        self.settings = settings
        self._timeline = timeline
        self._feed = feed
        self._recognizer = recognizer  # None: made (and warmed up) by the thread
        self.stats = {
            "segments": 0,
            "utterances": 0,
            "leaks_dropped": 0,
            "guard_dropped": 0,
            "early_used": 0,
            "early_discarded": 0,
            "early_skipped": 0,
            "caption_passes": 0,
            "caption_skipped": 0,
            "partials": 0,
            "turn_passes": 0,
            "turn_revisions": 0,
            "turn_skipped": 0,
            "redo_later": 0,
            "agreement_checked": 0,  # finals that contradicted their caption's committed words: decoded again
            "agreement_kept": 0,  # ... and the second decoding, which agreed with the caption, went out
            "redo_revised": 0,
            "redo_skipped": 0,
            "leak_held": 0,
            "recognizer_errors": 0,  # passes whose recognizer raised (the utterance's final: recognizer_failed)
            "most_waiting_kb": 0,  # the most audio of closed segments and redos waiting at once (kB)
        }
        self._turn_pass: OpenTurnPass | None = None  # RecognizerOptions.turn_pass: the open turn heard again
        self.rtf: float | None = None  # final recognition time / audio time, smoothed (1.0: just keeping up)
        self._busy_spans: deque[tuple[float, float]] = deque()  # when the recognizer was busy (load)
        self._pass_rate = 0.0  # recent recognition wall time per (1 + audio s / 4), smoothed (expected_pass_s)
        # the recognizer thread's state
        self._model: SegmentRecognizer | None = None  # the recognizer, once loaded and warm (None: it failed)
        self._lean: SegmentRecognizer | None = None  # the same without context extras, for when the call is behind
        self._caption_model: SegmentRecognizer | None = None  # the same for caption passes (no word recheck)
        # redo_later: finals and early finals decoded without the word check (first), the 30 s redo afterwards
        self._first: SegmentRecognizer | None = None
        self._first_lean: SegmentRecognizer | None = None
        self._redo_model: SegmentRecognizer | None = None  # straight in the 30 s window
        self._full: SegmentRecognizer | None = None  # the same with the call's context options
        self._kept: str | None = None  # the doubt kind the latest pass kept (``Recognizer.kept_doubt``)
        self._in_30 = False  # the latest pass decoded in Whisper's full window (redone there, or long)
        self._error: Exception | None = None  # what the latest pass raised (it gave no text), if it did
        self._redos: list[_Redo] = []
        self._redos_dropped_said = False  # redos_skipped said (redo_max_waiting)
        self._redo_ratio = 4.0  # a 30 s decoding's wall time against expected_pass_s, smoothed (a first guess)
        self._held: list[_Held] = []  # agent finals waiting for an overlapping customer utterance
        self._speculative = True  # early and caption passes allowed (not with the previous text as prompt)
        self._waiting: list[ClosedSegment] = []  # closed segments not yet recognized
        self._early: dict[Speaker, SpeechSegment] = {}  # the latest early segment per side, not yet recognized
        self._early_done: dict[Speaker, _EarlyResult] = {}  # an early pass per side, for when its segment closes
        self._captions: dict[Speaker, SpeechSegment] = {}  # the latest open-utterance audio per side
        self._caption_heard: dict[Speaker, tuple[float, float]] = {}  # per side: (utterance start, audio end) of
        # its latest caption pass
        self._final_end: dict[Speaker, float] = {}  # where each side's last final segment ended
        self._tracker = CaptionTracker()
        self._recent_customer: list[Utterance] = []  # for the leak filter
        self._index = 0  # the next utterance's index
        self._behind = False  # recognizer_behind said (until recognizer_caught_up)
        self._paused_said = False  # recognizer_busy said (until recognizer_ready)
        self._strained_until = 0.0  # time.monotonic() until which caption passes give way (a final waited)
        self.passes: deque[PassTrace] = deque(maxlen=4096)  # the latest passes (bench/live_latency.py)
        # caption_agreement's second opinions: (speaker, segment start, committed words, first text, second text
        # or None when dropped, kept), for benchmarks
        self.agreements: deque[tuple[Speaker, float, str, str, str | None, bool]] = deque(maxlen=512)
        self._taken: dict[tuple[Speaker, float, float], float] = {}  # segment -> call time the worker took it
        self._skip = threading.Event()  # skip_backlog(): the finals not yet recognized are dropped

    def skip_backlog(self) -> None:
        """The call was stopped and the user will not wait for the backlog (a second Ctrl-C): once
        the pass under way ends, what is transcribed goes out and the finals not yet recognized
        are dropped (``backlog_skipped`` says how many), so the timeline ends soon."""
        self._skip.set()

    # ------------------------------------------------------------ load

    def load(self, window_s: float = 10.0) -> float:
        """Share of the last ``window_s`` the recognizer spent recognizing (0..1)."""
        now = time.monotonic()
        spans = self._busy_spans
        while spans and spans[0][1] < now - window_s:
            spans.popleft()
        busy = sum(end - max(start, now - window_s) for start, end in spans)
        return busy / window_s

    def expected_pass_s(self, audio_s: float) -> float:
        """How long recognizing ``audio_s`` of audio should take now: the recent passes' wall time
        per (1 + audio_s / 4) (Whisper's encoder costs the same for any length, the decoder grows
        with the words), smoothed; 0 before the first pass."""
        return self._pass_rate * (1.0 + audio_s / 4.0)

    def _busy(self, start: float, end: float, audio_s: float, rated: bool = True) -> None:
        self._busy_spans.append((start, end))
        if not rated:  # (a 30 s redo: not what a short-window pass costs)
            return
        rate = (end - start) / (1.0 + audio_s / 4.0)
        self._pass_rate = rate if self._pass_rate == 0.0 else 0.7 * self._pass_rate + 0.3 * rate

    def _rtf(self, seconds: float, audio_s: float, early: bool) -> None:
        """The real-time factor of final recognition (recognition time / audio), smoothed."""
        if early or audio_s <= 0:
            return
        value = seconds / audio_s
        self.rtf = value if self.rtf is None else 0.8 * self.rtf + 0.2 * value

    def _timed(
        self, recognizer: SegmentRecognizer | None, segment: SpeechSegment, kind: PassKind
    ) -> tuple[Recognition | None, float, float]:
        """Recognize ``segment`` (None without a recognizer); the result and the wall times
        (``time.monotonic``) the pass started and ended."""
        retries = getattr(recognizer, "short_window_retries", 0)
        start = time.monotonic()
        self._error = None
        try:
            rec = recognizer.recognize(segment) if recognizer is not None else None
        except Exception as exc:  # CTranslate2 out of memory, a bug: this pass gives no text, the call goes on
            logger.exception(
                "%s pass over %s's %.2f-%.2f s failed", kind, segment.speaker.value, segment.start_s, segment.end_s
            )
            self._error, rec = exc, None
            self.stats["recognizer_errors"] += 1
        end = time.monotonic()
        self._kept = getattr(recognizer, "kept_doubt", None) if self._error is None else None
        options = getattr(recognizer, "options", None)
        self._in_30 = getattr(recognizer, "short_window_retries", 0) > retries or (
            options is not None and encoder_frames(segment.duration_s, options) is None
        )
        self._busy(start, end, segment.duration_s, rated=kind != "redo")
        at = self._timeline.at
        key = (segment.speaker, segment.start_s, segment.end_s)
        self.passes.append(
            PassTrace(
                kind,
                segment.speaker,
                segment.start_s,
                segment.end_s,
                self._taken.pop(key, at(start)),
                at(start),
                at(end),
                getattr(recognizer, "short_window_retries", 0) > retries,
                getattr(recognizer, "last_doubt", None),
            )
        )
        return rec, start, end

    # ------------------------------------------------------------ the recognizer thread

    def _start_recognizer(self) -> SegmentRecognizer | None:
        recognizer = self._recognizer
        try:
            if recognizer is None:
                recognizer = Recognizer(self.settings.recognizer)
            warm_start = time.monotonic()
            recognizer.warm_up()
        except RapportError as exc:
            self._timeline.status("error", "model_failed", f"no transcription: {exc.one_line()}")
            return None
        except Exception as exc:  # the model's own errors (CTranslate2) on its first decoding
            logger.exception("the speech model failed to start")
            self._timeline.status(
                "error", "model_failed", f"no transcription: the speech model failed ({exc.__class__.__name__}: {exc})"
            )
            return None
        self._pass_rate = (time.monotonic() - warm_start) / 1.25  # a first guess (1 s of audio)
        self._timeline.status("info", "model_ready", "speech model loaded and warmed up")
        return recognizer

    def run(self) -> None:
        """Finals first, in end order; then early finals (a segment as it closes if the silence
        lasts); then, when the recognizer has room, caption passes over open utterances. Ends
        the timeline when the audio is done and every final is out, or, should this thread fail
        (a bug: a pass that raises only loses its own text), at once with a status saying so,
        so the call still ends and its record is closed."""
        try:
            self._run()
        except Exception as exc:
            logger.exception("live recognizer thread failed")
            self._timeline.status(
                "error",
                "recognizer_failed",
                f"transcription stopped: {exc.__class__.__name__}: {exc} — the call record so far is kept; "
                "please report it",
            )
        finally:
            self._timeline.end()

    def _run(self) -> None:
        feed = self._feed
        self._model = self._start_recognizer()
        options = getattr(self._model, "options", None)
        self._speculative = not getattr(options, "prompt_previous_text", False)  # an early pass would set the prompt
        self._lean = self._model
        with_options = getattr(self._model, "with_options", None)
        if options is not None and getattr(options, "context_s", 0.0) > 0 and with_options is not None:
            self._lean = with_options(replace(options, context_s=0.0))
        self._caption_model = self._model
        if options is not None and with_options is not None:
            # a caption pass cuts the last word short: its doubt is no reason for a 30 s pass, nor is a
            # worse doubt (no caption from that pass: the next one may do better; finals would wait for it)
            recheck = self.settings.caption_recheck_words  # (as finals: every doubt decoded again in 30 s)
            self._caption_model = with_options(
                replace(
                    options,
                    short_window_min_word_prob=options.short_window_min_word_prob if recheck else 0.0,
                    short_window_fallback=recheck,
                )
            )
        if getattr(options, "turn_pass", False) and isinstance(self._model, Recognizer):
            self._turn_pass = OpenTurnPass(self._model)
        self._first, self._first_lean = self._model, self._lean
        later = self.settings.redo_later_doubts - {"word"}  # (a doubtful word: checked on the words, _mild_doubt)
        if (
            self.settings.redo_later
            and options is not None
            and with_options is not None
            and (options.short_window_min_word_prob > 0 and "word" in self.settings.redo_later_doubts or later)
            and options.encoder_window_s < WHISPER_WINDOW_S
        ):

            def first(o: RecognizerOptions) -> SegmentRecognizer:
                made = with_options(replace(o, short_window_min_word_prob=0.0))
                keeping = getattr(made, "keeping", None)  # (Recognizer.keeping; stand-ins may not have it)
                return keeping(later) if keeping is not None and later else made

            self._first = first(options)
            self._first_lean = self._first
            if self._lean is not self._model:
                self._first_lean = first(getattr(self._lean, "options", options))
            self._redo_model = with_options(replace(options, context_s=0.0, encoder_window_s=WHISPER_WINDOW_S))
            self._full = with_options(replace(options, encoder_window_s=WHISPER_WINDOW_S))
        while True:
            self._take()
            if self._skip.is_set():
                self._drop_backlog()
                break
            feed.recognizer_load = self.load()
            lag = self._timeline.now() - min(c.closed_s for c in self._waiting) if self._waiting else 0.0
            self._say_behind(lag)
            if lag > self.settings.caption_strain_lag_s:  # a final waited: no caption pass for a while
                self._strained_until = time.monotonic() + self.settings.caption_strain_hold_s
            self._release_held()
            if self._waiting:
                self._waiting.sort(key=lambda c: c.segment.end_s)
                closed = self._waiting.pop(0)
                self._final(closed, lag)
                continue
            if feed.done.is_set() and feed.closed.empty() and not self._held and not self._redos:
                break
            if self._model is None:
                self._early.clear()
                self._captions.clear()
                continue
            # no final to recognize now: an early final, then a redo, then a caption pass, if the call is not behind
            if self._early and self._speculative and lag < self.settings.behind_s / 2:
                self._early_pass(self._first or self._model)
            elif self._redos and self._redo_due(self._redos[0]):
                self._redo(self._redos.pop(0))
            elif self._turn_pass is not None and self._turn_pass.pending_s() is not None:
                self._open_turn_pass(self._turn_pass, lag)
            elif self._captions and not any(feed.in_hangover.values()):
                # (not while a side's segment may close any moment: its final would wait for the pass)
                due = self._caption_due()
                if due is not None:
                    self._caption_pass(self._caption_model or self._model, due, lag)

    def _drop_backlog(self) -> None:
        """``skip_backlog``: the transcribed utterances held for the leak filter go out; the
        segments not recognized (those the audio thread still closes too) are dropped and counted."""
        for held in sorted(self._held, key=lambda h: h.closed.segment.end_s):
            self._publish(held)
        self._held.clear()
        self._feed.done.wait(5.0)  # the audio thread closes the open utterances as it ends
        self._take()
        skipped = len(self._waiting)
        self._waiting.clear()
        self._redos.clear()
        self._early.clear()
        self._captions.clear()
        if skipped:
            self._timeline.status(
                "warning",
                "backlog_skipped",
                f"the call was ended before {plural(skipped, 'utterance')} could be transcribed: "
                "they are not in the transcript; everything transcribed before is kept",
            )

    def _take(self) -> None:
        """What the audio thread handed over: closed segments wait in ``_waiting``; of the early
        segments and caption audio only each side's latest counts."""
        feed = self._feed
        if feed.closed.empty():
            feed.wake.wait(0.05)  # set by the audio thread as it hands something over
        feed.wake.clear()
        try:
            while True:
                self._waiting.append(feed.closed.get_nowait())
        except queue.Empty:
            pass
        waiting = sum(c.segment.audio.nbytes for c in self._waiting) + sum(r.segment.audio.nbytes for r in self._redos)
        self.stats["most_waiting_kb"] = max(self.stats["most_waiting_kb"], waiting // 1024)
        try:
            while True:
                seg = feed.early.get_nowait()
                self._early[seg.speaker] = seg
                self._taken[(seg.speaker, seg.start_s, seg.end_s)] = self._timeline.now()
        except queue.Empty:
            pass
        try:
            while True:
                seg = feed.captions.get_nowait()
                self._captions[seg.speaker] = seg
                self._taken[(seg.speaker, seg.start_s, seg.end_s)] = self._timeline.now()
        except queue.Empty:
            pass
        if len(self._taken) > 64:  # segments never recognized (skipped, replaced)
            for key in list(self._taken)[:-64]:
                del self._taken[key]

    def _say_behind(self, lag: float) -> None:
        if not self._behind and lag > self.settings.behind_s:
            self._behind = True
            self._timeline.status(
                "warning",
                "recognizer_behind",
                f"transcription is {lag:.0f} s behind the call (the computer is busy); captions are "
                "off and nudges come late until it catches up — close other programs or use a "
                "smaller model",
            )
        elif self._behind and lag < 1.0:
            self._behind = False
            self._timeline.status("info", "recognizer_caught_up", "transcription has caught up with the call")

    def _final(self, closed: ClosedSegment, lag: float) -> None:
        """A closed segment becomes an utterance (its early result if it is the same audio), or
        a speech-ended mark when the guards or the leak filter drop it. An agent utterance that
        could be the customer's voice leaking in, said while the customer's own utterance is
        still open, waits for it (``_release_held``)."""
        s = self.settings
        segment = closed.segment
        speaker = segment.speaker
        self.stats["segments"] += 1
        key = (segment.start_s, segment.end_s)
        done = self._early_done.pop(speaker, None)
        pending = self._early.get(speaker)
        if pending is not None and pending.end_s <= segment.end_s + 1e-6:
            del self._early[speaker]  # this segment (or an older one of its side) is final now
        used_early = done is not None and done.key == key
        strict = self._lean if lag > s.behind_s / 2 else self._model  # context is an extra
        if done is not None and used_early:
            self.stats["early_used"] += 1
            rec = done.recognition
            rec_start_s, rec_end_s = done.timing
            kept, in_30 = done.kept, done.in_30
        else:
            if done is not None:
                self.stats["early_discarded"] += 1  # speech resumed after the early pass
            use = self._first_lean if lag > s.behind_s / 2 else self._first
            self._taken[(speaker, segment.start_s, segment.end_s)] = closed.closed_s
            rec, rec_start, rec_end = self._timed(use, segment, "final")
            rec_start_s, rec_end_s = self._timeline.at(rec_start), self._timeline.at(rec_end)
            kept, in_30 = self._kept, self._in_30
        failed = self._error if not used_early else None  # (a failed early pass was not kept)
        if rec is None and not in_30 and self._redo_model is not None and strict is not None:
            # dropped without the word check or with a kept doubt: as before (a doubtful short decoding is done
            # again in 30 s first; a kept one straight in 30 s, the short window's result is known). Not when
            # the guards dropped a decoding in the full window: the same decoding again would be dropped too
            rec, _, rec_end = self._timed(self._full if kept is not None and self._full else strict, segment, "final")
            rec_end_s = self._timeline.at(rec_end)
            kept = None
            failed = self._error or failed
        if rec is not None and s.caption_agreement and lag < s.behind_s / 2:
            second = self._second_opinion(segment, rec)
            if second is not None:
                rec, rec_end_s, kept = second, self._timeline.now(), self._kept
        self._final_end[speaker] = segment.end_s
        self._tracker.finish(speaker)
        self._caption_heard.pop(speaker, None)
        if speaker in self._captions and self._captions[speaker].start_s < segment.end_s:
            del self._captions[speaker]  # that utterance's caption pass is too late now
        self._rtf(rec_end_s - rec_start_s, segment.duration_s, used_early)
        if rec is None:
            if failed is not None:  # the recognizer raised: say what was lost (the guards drop quietly)
                self._timeline.status(
                    "error",
                    "recognizer_failed",
                    f"the {speaker.value}'s words at {clock(segment.start_s)}-{clock(segment.end_s)} could not be "
                    f"transcribed ({failed.__class__.__name__}: {failed}); transcription goes on — please report it",
                )
            else:
                self.stats["guard_dropped"] += 1
            self._timeline.put(SpeechActivity(speaker, segment.end_s, False))
            return
        held = _Held(
            closed,
            to_utterance(segment, rec, -1),
            rec,
            RecognitionTiming(closed.closed_s, rec_start_s, rec_end_s),
            kept is not None or self._mild_doubt(segment, rec),
        )
        if speaker is Speaker.AGENT and self._must_hold(held):
            self.stats["leak_held"] += 1
            self._held.append(held)
            return
        self._publish(held)

    def _second_opinion(self, segment: SpeechSegment, rec: Recognition) -> Recognition | None:
        """When ``rec`` (a final) rewrote or dropped words two caption passes agreed on (their
        committed words, ``captions.contradicts``) that an early nudge fired on (the pipeline
        thread notes it in ``SpeechFeed.early_nudged``), the same speech decoded once more as another
        cut (``caption_agreement_trim_s`` less of its onset padding: Whisper's choice between two
        close readings can follow the cut, as it did for the caption passes): that decoding when
        it agrees with the caption (three decodings against one), else None (the final stands)."""
        nudged = tuple(self._feed.early_nudged)  # (a copy in one step: the pipeline thread appends to it)
        words = max((n for s, t, n in nudged if s is segment.speaker and abs(t - segment.start_s) < 1e-6), default=0)
        committed = self._tracker.committed(segment.speaker, segment.start_s)
        if not words or not contradicts(committed, rec.text, words):
            return None  # no early nudge stands on words the final rewrote: its reading costs nothing to settle
        self.stats["agreement_checked"] += 1
        cut = int(round(self.settings.caption_agreement_trim_s * STREAM_RATE_HZ))
        other = SpeechSegment(
            segment.speaker, segment.start_s + cut / STREAM_RATE_HZ, segment.end_s, segment.audio[cut:]
        )
        second, _, _ = self._timed(self._first or self._model, other, "agreement")
        keep = second is not None and not contradicts(committed, second.text, words)
        self.agreements.append(
            (segment.speaker, segment.start_s, join_words(committed), rec.text, second.text if second else None, keep)
        )
        if second is None or not keep:
            return None
        self.stats["agreement_kept"] += 1
        return second

    def _mild_doubt(self, segment: SpeechSegment, rec: Recognition) -> bool:
        """Was ``rec`` decoded in a short window with a word below ``short_window_min_word_prob``
        (and nothing worse: that is decoded again at once unless its kind is in
        ``LiveSettings.redo_later_doubts``), so it is to be decoded again in 30 s once it is out?"""
        options = getattr(self._model, "options", None)
        if (
            self._redo_model is None
            or options is None
            or encoder_frames(segment.duration_s, options) is None
            or "word" not in self.settings.redo_later_doubts
        ):
            return False
        least = min((w.probability for w in rec.words), default=1.0)
        return least < options.short_window_min_word_prob

    def _must_hold(self, held: _Held) -> bool:
        """Must the agent utterance ``held`` wait before the leak filter judges it? While a
        customer segment that overlaps it waits to be recognized, or the customer's open utterance
        (begun at ``customer_open_s``) could overlap half of it (``is_leak``'s test: an utterance
        that began later than that cannot be what leaked), for up to ``leak_wait_s``."""
        utt = held.utterance
        for c in self._waiting:
            if (
                c.segment.speaker is Speaker.CUSTOMER
                and c.segment.start_s < utt.end_s
                and c.segment.end_s > utt.start_s
            ):
                return True
        open_since = self._feed.customer_open_s
        return (
            open_since is not None
            and utt.end_s - open_since >= 0.5 * max(utt.duration_s, 0.1)
            and self._timeline.now() - held.closed.closed_s < self.settings.leak_wait_s
            and not self._feed.done.is_set()
        )

    def _release_held(self) -> None:
        """Put out the held agent utterances that need not wait any more (in end order)."""
        for held in list(self._held):
            if not self._must_hold(held):
                self._held.remove(held)
                self._publish(held)

    def _publish(self, held: _Held) -> None:
        """The utterance goes on the timeline, unless the leak filter drops it; a mild doubt
        queues its 30 s redo."""
        utt, speaker = held.utterance, held.utterance.speaker
        segment = held.closed.segment
        if speaker is Speaker.AGENT and is_leak(utt, self._recent_customer, self.settings.leak_similarity):
            self.stats["leaks_dropped"] += 1
            self._timeline.put(SpeechActivity(speaker, segment.end_s, False))
            return
        utt = replace(utt, index=self._index, timing=held.timing)
        if speaker is Speaker.CUSTOMER:
            self._recent_customer.append(utt)
            del self._recent_customer[:-8]
        self._index += 1
        self.stats["utterances"] += 1
        self._timeline.put(utt)
        if held.redo:
            self.stats["redo_later"] += 1
            self._redos.append(_Redo(replace(utt, timing=None), segment, time.monotonic()))
            if len(self._redos) > max(self.settings.redo_max_waiting, 0):  # behind the call: finals come first
                del self._redos[0]
                self.stats["redo_skipped"] += 1
                if not self._redos_dropped_said:  # (a notice: the recognizer's row says it is behind)
                    self._redos_dropped_said = True
                    self._timeline.status(
                        "info",
                        "redos_skipped",
                        "transcription is behind the call: doubtful words keep their first text, without the "
                        "slower second check (final text and nudges go on)",
                    )
        if self._turn_pass is not None:
            self._turn_pass.add(utt, segment, held.recognition)

    def _redo_due(self, redo: _Redo) -> bool:
        """May the 30 s redo start now: nobody talks (a segment that closed meanwhile would wait
        for it; from silence the next one is at least a short word and a hangover away), or it
        has waited ``redo_max_wait_s``, or the audio is done."""
        feed = self._feed
        return (
            not any(feed.talking.values())
            or time.monotonic() - redo.queued_t >= self.settings.redo_max_wait_s
            or feed.done.is_set()
        )

    def _redo(self, redo: _Redo) -> None:
        """Decode an utterance that went out with a mild doubt again in 30 s (unless that is
        expected to take over ``redo_max_pass_s``: then its first text stays); a different text
        (not only in case or punctuation) goes on the timeline as a ``TurnRevision`` of that one
        utterance."""
        short_s = self.expected_pass_s(redo.segment.duration_s)
        if self._redo_ratio * short_s > self.settings.redo_max_pass_s and not self._feed.done.is_set():
            self.stats["redo_skipped"] += 1  # slow now: a final that closed meanwhile would wait for it
            return
        rec, start, end = self._timed(self._redo_model, redo.segment, "redo")
        if short_s > 0:
            self._redo_ratio = 0.7 * self._redo_ratio + 0.3 * (end - start) / short_s
        first = redo.utterance
        if rec is None or normalize_text(rec.text) == normalize_text(first.text):
            return  # (a revision of other words only: the transcript after it is what replay gives)
        self.stats["redo_revised"] += 1
        revised = replace(first, text=rec.text, words=rec.words, confidence=rec.confidence)
        self._timeline.put(
            TurnRevision(first.speaker, (revised,), (first.text,), round(self._timeline.now(), 3), redo=True)
        )

    def _open_turn_pass(self, turns: OpenTurnPass, lag: float) -> None:
        """Decode the open turn so far again (``turn_pass.OpenTurnPass``) when no final waits, the
        call is not behind and the pass is expected to be quick; its revision, if kept, goes on
        the timeline for the rules to read before the turn closes."""
        audio_s = turns.pending_s() or 0.0
        expected = self.expected_pass_s(min(audio_s, 30.0))
        if self._waiting or lag > self.settings.behind_s / 2 or expected > self.settings.turn_pass_max_pass_s:
            self.stats["turn_skipped"] += 1
            turns.skip()
            return
        start = time.monotonic()
        try:
            revision = turns.run(self._timeline.now())
        except Exception:  # (as a failed pass in _timed: the turn keeps its finals' text)
            logger.exception("turn pass failed")
            self.stats["recognizer_errors"] += 1
            turns.skip()
            return
        self._busy(start, time.monotonic(), audio_s)
        self.stats["turn_passes"] += 1
        if revision is not None:
            self.stats["turn_revisions"] += 1
            self._timeline.put(revision)

    def _early_pass(self, model: SegmentRecognizer) -> None:
        """Recognize the earliest early segment now (unless passes are slow), kept for when it closes."""
        speaker, segment = min(self._early.items(), key=lambda item: item[1].end_s)
        del self._early[speaker]
        if self.expected_pass_s(segment.duration_s) > self.settings.early_max_pass_s:
            self.stats["early_skipped"] += 1  # slow now: a wasted pass would hold up the next final
        elif segment.start_s >= self._final_end.get(speaker, -1.0) and not self._feed.done.is_set():
            rec, rec_start, rec_end = self._timed(model, segment, "early")
            kept = self._kept
            if rec is None and kept is not None and self._full is not None:
                # a kept doubt the guards dropped: decoded in 30 s now, as the doubt would have been, not
                # when the segment closes (most low-log-probability doubts end here)
                rec, _, rec_end = self._timed(self._full, segment, "early")
                kept = None
            if self._error is not None:  # no result to keep: the segment is decoded when it closes
                return
            in_30 = self._in_30
            if speaker in self._early_done:  # an earlier pause of the same utterance: speech resumed after it
                self.stats["early_discarded"] += 1
            self._early_done[speaker] = _EarlyResult(
                (segment.start_s, segment.end_s),
                rec,
                self._timeline.at(rec_start),
                self._timeline.at(rec_end),
                kept,
                in_30,
            )

    def caption_step_s(self, audio_s: float) -> float:
        """How much more audio of an open utterance (``audio_s`` long) waits for its next caption
        pass: ``caption_every_s``, or the expected pass time over ``caption_share`` when passes
        are slower (a busy PC: fewer passes, each heard as soon as it is due)."""
        s = self.settings
        return max(s.caption_every_s, self.expected_pass_s(audio_s) / max(s.caption_share, 1e-3))

    def _caption_due(self) -> Speaker | None:
        """The side whose open utterance is due a caption pass: its first (the audio thread offers
        it ``caption_first_s`` after the voice began), or ``caption_step_s`` more audio since its
        last; a first pass before a later one, then the earliest. None: none is due yet (the
        audio thread offers the utterance so far every ``caption_offer_s``)."""
        due = []
        for speaker, segment in self._captions.items():
            heard = self._caption_heard.get(speaker)
            audio_s = min(segment.duration_s, self.settings.caption_window_s)  # (a window_start pass hears less)
            first = heard is None or heard[0] != segment.start_s
            if heard is None or first or segment.end_s - heard[1] >= self.caption_step_s(audio_s) - 1e-6:
                due.append((not first, segment.end_s, speaker))
        return min(due, key=lambda d: d[:2])[2] if due else None

    def _caption_pass(self, model: SegmentRecognizer, speaker: Speaker, lag: float) -> None:
        """Re-recognize ``speaker``'s open utterance for its caption, when there is room."""
        s = self.settings
        segment = self._captions.pop(speaker)
        if segment.start_s < self._final_end.get(speaker, -1.0) or self._feed.done.is_set():
            return  # that utterance is final already
        self._caption_heard[speaker] = (segment.start_s, segment.end_s)  # (a skipped one too: the next is a step on)
        utterance_start = segment.start_s
        from_s = None
        if segment.duration_s > s.caption_window_s:  # a long utterance: hear its tail after a committed word
            from_s = self._tracker.window_start(
                speaker, segment.start_s, segment.end_s, s.caption_window_s, s.caption_tail_s
            )
            if from_s is not None:
                # (a little before the word's end, Whisper's word ends are not exact: a word heard twice lines up
                # with the committed one, a clipped next word would be lost)
                cut_s = max(segment.start_s, from_s - _CAPTION_CUT_EARLY_S)
                cut = int(round((cut_s - segment.start_s) * STREAM_RATE_HZ))
                taken = self._taken.pop((speaker, segment.start_s, segment.end_s), None)
                segment = SpeechSegment(
                    speaker, segment.start_s + cut / STREAM_RATE_HZ, segment.end_s, segment.audio[cut:]
                )
                if taken is not None:
                    self._taken[(speaker, segment.start_s, segment.end_s)] = taken
        load = self.load()
        expected = self.expected_pass_s(segment.duration_s)
        strained = time.monotonic() < self._strained_until  # (lag is 0 here: the waiting finals went first)
        slow = lag > 1.0 or strained or load > s.caption_max_load or expected > s.caption_max_pass_s
        if self._waiting or slow or not self._speculative:
            self.stats["caption_skipped"] += 1
            if not self._paused_said and slow:
                self._paused_said = True
                self._timeline.status(
                    "info",
                    "recognizer_busy",
                    f"live captions paused: the computer is busy (a pass would take {expected:.1f} "
                    f"s, the recognizer was busy {load:.0%} of the time); final text and nudges go on",
                )
            return
        if self._paused_said and load < s.caption_max_load * 0.7:
            self._paused_said = False
            self._timeline.status("info", "recognizer_ready", "live captions are back")
        rec, _, _ = self._timed(model, segment, "caption")
        self.stats["caption_passes"] += 1
        if rec is None:
            return
        partial = self._tracker.update(speaker, utterance_start, segment.end_s, rec.words, from_s)
        if partial is not None:
            self.stats["partials"] += 1
            self._timeline.put(partial)
