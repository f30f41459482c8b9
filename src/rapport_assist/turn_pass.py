"""A second recognition pass over each closed turn.

    recognized utterances (first pass: one decode per endpointer segment)
        ──► TurnPass (mirrors the rule engine's turns) ──► TurnRevision before the item that closes a turn

The first pass decodes each endpointer segment alone, so a segment cut at a pause inside a
sentence is heard without the rest of its sentence: a short tail loses its first words, a name
is misheard without the words around it. When a turn closes, ``TurnPass`` decodes the turn's
segments again together, laid end to end in one window (``Recognizer.recognize_batch``: each
segment's audio, 0.2 s of silence between them; a turn of more than ``TURN_WINDOW_S`` of speech
goes in several windows). Whisper's encoder costs the same for 3 s as for 28 s, so a turn costs
one more decode, whatever its number of utterances; turns of one utterance are not decoded again.
Each word goes back to the segment its start falls in (``recognizer.piece_of``: the alignment
stretches a segment's last word over the silence after it, so its middle can land in the next
segment), so the revision keeps the utterances,
their indices and times, and changes their text, words and confidence.

Only the turn's short pieces (at most ``turn_pass_max_words`` words in the first pass) take the
new text: a longer utterance was heard with its own sentence around it, and on the real calls and
the spoken dev set the window changed its words for the worse about as often as for the better
(BENCHMARKS.md); a turn without a short piece is not decoded again. The revision is kept only if
the audio supports it as well as the first pass (else the first pass stands, and nothing is
published):

* every utterance of the turn keeps some words, each passing the recognizer's text guards
  (``recognizer.check_recognition``: no speech, failed decoding, stock phrases, loops);
* the whole turn's text passes them too (a loop across the segment boundaries);
* the revised turn has between ``turn_pass_min_ratio`` and ``turn_pass_max_ratio`` times the
  first pass's words (a window that invents or drops a phrase changes the count);
* its average log-probability (word-weighted) is no worse than the first pass's by more than
  ``turn_pass_logprob_margin``;
* and some short piece reads differently (not only in how numbers, case or punctuation are written).

The pass mirrors the rule engine's turns (a ``turns.TurnTracker`` with the same defaults, fed the
same utterances and clock; it has no parse, so it reads a question from a final "?" only: a short
answer to a question the recognizer wrote without its mark closes the engine's turn, not the
pass's, and that turn keeps its first pass), and the ``TurnRevision`` comes on the timeline right before the
utterance that closes the turn (or at the end of the call), so the pipeline has it before the
rule engine decides that turn. Replay, ``qa`` and ``rapport-assist eval`` run it when
``RecognizerOptions.turn_pass`` is on (``sources.walk_timeline``); a live call runs
``OpenTurnPass`` in its recognizer thread (the open turn so far, when the recognizer is idle).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from .annotate import count_words
from .recognizer import check_recognition
from .turns import TurnTracker
from .types import Recognition, SpeechSegment, Turn, TurnRevision, Utterance
from .wer import normalize as wer_normalize

if TYPE_CHECKING:  # pragma: no cover
    from .recognizer import Recognizer, RecognizerOptions

logger = logging.getLogger(__name__)

TURN_WINDOW_S = 28.0  # a turn's segments go in windows of at most this much audio (Whisper's is 30 s)


@dataclass(frozen=True)
class _Heard:
    """A first-pass utterance with what it was decoded from."""

    utterance: Utterance
    segment: SpeechSegment
    recognition: Recognition


def _logprob(recs: Sequence[Recognition]) -> float:
    """The recognitions' average log-probability, weighted by their words."""
    weights = np.array([max(1, len(r.words)) for r in recs], dtype=np.float64)
    return float(np.average([r.avg_logprob for r in recs], weights=weights))


def judge_revision(
    first: Sequence[Recognition], revised: Sequence[Recognition | None], options: RecognizerOptions
) -> str | None:
    """Why the turn's second pass (``revised``, per utterance) should not replace its first
    (``first``), or None when it should (the guards of the module doc, but "it differs")."""
    missing = [k for k, rec in enumerate(revised) if rec is None or not rec.words]
    if missing:
        return f"no words kept for utterance {missing[0] + 1} of {len(revised)}"
    kept = [rec for rec in revised if rec is not None]
    joined = Recognition(
        text=" ".join(r.text for r in kept),
        words=tuple(w for r in kept for w in r.words),
        confidence=float(np.mean([w.probability for r in kept for w in r.words])),
        no_speech_prob=max(r.no_speech_prob for r in kept),
        avg_logprob=_logprob(kept),
    )
    reason = check_recognition(joined, options)
    if reason is not None:
        return "the turn: " + reason
    n_first = sum(count_words(r.text) for r in first)
    n_revised = count_words(joined.text)
    ratio = n_revised / max(1, n_first)
    if not options.turn_pass_min_ratio <= ratio <= options.turn_pass_max_ratio:
        return f"{n_revised} words against {n_first} in the first pass"
    lp_first = _logprob(first)
    if joined.avg_logprob < lp_first - options.turn_pass_logprob_margin:
        return f"avg logprob {joined.avg_logprob:.2f} against {lp_first:.2f} in the first pass"
    return None


def short_utterances(heard: Sequence[_Heard], options: RecognizerOptions) -> list[int]:
    """Which of a turn's utterances the second pass may revise: those of at most
    ``turn_pass_max_words`` words in the first pass (0: all of them). A longer utterance was
    heard with enough of its own sentence around each word; a short piece cut off at a pause
    was not, and that is where hearing the rest of the turn helps (BENCHMARKS.md)."""
    limit = options.turn_pass_max_words
    return [k for k, h in enumerate(heard) if limit <= 0 or count_words(h.utterance.text) <= limit]


def make_revision(
    heard: Sequence[_Heard], revised: Sequence[Recognition | None], options: RecognizerOptions, t_s: float
) -> TurnRevision | str:
    """The revision of the turn ``heard`` decoded again as ``revised`` (per utterance), or why
    the first pass stands: a guard (``judge_revision``, on the whole turn), or no utterance it
    may revise (``short_utterances``) reads differently (numbers written as digits or words,
    punctuation and case aside)."""
    reason = judge_revision([h.recognition for h in heard], revised, options)
    if reason is not None:
        return reason
    changed: list[Utterance] = []
    before: list[str] = []
    for k in short_utterances(heard, options):
        rec, first = revised[k], heard[k].utterance
        if rec is not None and wer_normalize(rec.text) != wer_normalize(first.text):
            changed.append(replace(first, text=rec.text, words=rec.words, confidence=rec.confidence))
            before.append(first.text)
    if not changed:
        return "the same words"
    return TurnRevision(speaker=heard[0].utterance.speaker, utterances=tuple(changed), before=tuple(before), t_s=t_s)


class _Decoder:
    """A turn's segments decoded again, timed (shared by ``TurnPass`` and ``OpenTurnPass``)."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self.options = recognizer.options
        self.cpu_s: list[float] = []
        self.wall_s: list[float] = []
        self.judged = 0
        self.accepted = 0

    def revise(self, heard: Sequence[_Heard], t_s: float, what: str) -> TurnRevision | None:
        wall, cpu = time.perf_counter(), time.process_time()
        segments = [h.segment for h in heard]
        if self.options.turn_pass_packed:
            revised = self.recognizer.recognize_batch(segments, window_s=TURN_WINDOW_S)
        else:
            revised = self.recognizer.recognize_window(segments, self.options.turn_pass_gap_s, TURN_WINDOW_S)
        self.wall_s.append(time.perf_counter() - wall)
        self.cpu_s.append(time.process_time() - cpu)
        self.judged += 1
        made = make_revision(heard, revised, self.options, t_s)
        if isinstance(made, str):
            logger.debug("%s: first pass kept: %s", what, made)
            return None
        self.accepted += 1
        return made


class TurnPass(_Decoder):
    """Follows one call's recognized utterances and decodes each closed turn again (see the
    module doc). ``on_utterance`` before an utterance goes on the timeline, ``finish`` at the end;
    both give the revisions to put on the timeline first. ``cpu_s``/``wall_s``: the cost of each
    second decode (process CPU across the model's threads, wall time), for benchmarks; ``judged``
    counts the turns decoded again, ``accepted`` the revisions kept."""

    def __init__(self, recognizer: Recognizer, backchannels: Iterable[str] = ()) -> None:
        super().__init__(recognizer)
        self.tracker = TurnTracker(backchannels=backchannels)
        self._held: dict[int, _Heard] = {}

    def on_utterance(self, utterance: Utterance, segment: SpeechSegment, rec: Recognition) -> list[TurnRevision]:
        """The next first-pass utterance (timeline order), before it goes on: the revisions of the
        turns it closes (as the pipeline's clock at its end, then the utterance itself, close them)."""
        closed: list[Turn] = []
        if not utterance.timing_estimated:
            closed += self.tracker.tick(utterance.end_s, (utterance.speaker,))
        step = self.tracker.on_utterance(utterance)
        closed += step.closed
        revisions = [r for turn in closed if (r := self._revise(turn)) is not None]
        if step.turn is not None:
            self._held[utterance.index] = _Heard(utterance, segment, rec)
        return revisions

    def finish(self, t_s: float = 0.0) -> list[TurnRevision]:
        """The call ended: the revision of the open turn, if any."""
        revisions = [r for turn in self.tracker.finish(t_s) if (r := self._revise(turn)) is not None]
        self._held.clear()
        return revisions

    def _revise(self, turn: Turn) -> TurnRevision | None:
        heard = [self._held.pop(i) for i in turn.utterances if i in self._held]
        if len(heard) < max(1, self.options.turn_pass_min_utterances) or not short_utterances(heard, self.options):
            return None
        return self.revise(heard, turn.t_s, f"turn {turn.index} ({turn.speaker.value})")


class OpenTurnPass(_Decoder):
    """The turn pass of a live call (``live_recognition.RecognitionWorker``): there a revision
    must reach the rules before the turn closes, and the closing utterance must not wait for it,
    so the open turn so far is decoded again whenever it has gained an utterance (two or more,
    one of them short) and the recognizer has nothing more urgent to do; each kept revision
    covers the turn so far. A turn that closed before its pass ran keeps its first pass. ``add``
    each final utterance as it goes on the timeline; ``pending_s`` is the audio a pass would
    decode (None: nothing to do); ``run`` decodes it and gives the revision to put on the
    timeline, if kept; ``skip`` lets the turn so far go without a pass."""

    def __init__(self, recognizer: Recognizer, backchannels: Iterable[str] = ()) -> None:
        super().__init__(recognizer)
        self.tracker = TurnTracker(backchannels=backchannels)
        self._held: list[_Heard] = []
        self._dirty = False

    def add(self, utterance: Utterance, segment: SpeechSegment, rec: Recognition) -> None:
        closed = self.tracker.tick(utterance.end_s, (utterance.speaker,)) if not utterance.timing_estimated else []
        step = self.tracker.on_utterance(utterance)
        if closed or step.closed:  # too late for that turn
            self._held = []
            self._dirty = False
        if step.turn is not None:
            self._held.append(_Heard(utterance, segment, rec))
            self._dirty = len(self._held) >= max(1, self.options.turn_pass_min_utterances) and bool(
                short_utterances(self._held, self.options)
            )

    def pending_s(self) -> float | None:
        return sum(h.segment.duration_s for h in self._held) if self._dirty else None

    def skip(self) -> None:
        self._dirty = False

    def run(self, t_s: float) -> TurnRevision | None:
        """Decode the open turn so far again; the revision (at call time ``t_s``) if kept."""
        heard, self._dirty = list(self._held), False
        return self.revise(heard, t_s, f"open {heard[0].utterance.speaker.value} turn") if heard else None


def apply_revisions(items: Iterable[object]) -> list[Utterance]:
    """The utterances of a timeline or event stream with each ``TurnRevision`` applied (the
    final text of each utterance, as a transcript reader wants it), in order."""
    out: list[Utterance] = []
    at: dict[int, int] = {}
    for item in items:
        if isinstance(item, Utterance):
            at[item.index] = len(out)
            out.append(item)
        elif isinstance(item, TurnRevision):
            for u in item.utterances:
                k = at.get(u.index)
                if k is not None:
                    out[k] = replace(out[k], text=u.text, words=u.words, confidence=u.confidence)
    return out
