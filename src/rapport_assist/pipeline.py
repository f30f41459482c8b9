"""The call pipeline, shared by replay, batch QA and (later) live capture.

    timeline ──► masking ──► annotator (spaCy) ──► conversation signals ──► rule engine (turns) ──► events

``CallPipeline.run`` is a generator: it yields each ``Utterance`` as it lands (with its
signals), the signal events (dead air, talk-over, tone changes) and ``Nudge`` events it
triggers right after it, ``Status`` events from the source, and at the end the agent's
``CallCoaching`` (``coaching.py``: praise, one thing to try, promises) and one ``CallSummary``. Consumers (the terminal printer, the JSONL log, the sidebar) only read events.

Masking (``privacy.Masker``) is the first stage: every utterance is masked (text and words)
before spaCy, the signals and the rules see it, so every event, and everything made from the
events (logs, reports, cards, feedback, explain traces), holds only masked text. It is on by
default (the saved setting ``mask_digits``, on unless turned off); ``masker=None`` turns it off.
The ``CallSummary`` records which it was.

Timers: dead air fires from the call clock that every timed item moves (a replay notices a
silence at the next item; the ``DeadAir`` event is the same). Live capture also puts ``Tick``
items on the timeline while nobody speaks, so dead air fires on time, and an expectation whose
``within.seconds`` ran out fails at its deadline (``RuleEngine.tick``) instead of waiting for the
late turn, which is when a replay, having no gaps to wait in, reports it. A live call's last
``Tick`` is its stop time: the call lasted until then (``CallSummary.duration_s``, as a replay's
is its recording's length), not only until its last utterance ended.

Turns: the rule engine groups the utterances into turns (``turns.TurnTracker``: a speaker's run
of utterances until the other side takes the floor; a backchannel does not take it) for the
rules that read turns (``unit: turn``). A turn closes as soon as it can be known: when the other
side's (non-backchannel) utterance lands, on a ``Tick`` past the tracker's gap, or at the end of
the call. Each closed turn is a ``Turn`` event, yielded right after the utterance (or the clock
tick) that closed it, before the nudges it decided.

Turn revisions (``turn_pass.py``, optional): a ``TurnRevision`` on the timeline is a turn heard
again in one window before it closes. Its utterances (keeping their signals) are annotated again
and the rule engine re-reads the open turn with them (``RuleEngine.revise_turn``), so the turn
rules decide the turn on the revised text; it is yielded as an event, then what the turn rules
gave. One for a turn that is no longer open changes nothing and is not yielded, except a live
call's redo of one utterance (``TurnRevision.redo``), which is yielded as it is for the transcript.

Early nudges (live calls): each ``Partial`` (a live caption) is yielded, then the early nudges
it fires (``rules.early.EarlyNudges``: the early-eligible rules probed on the caption's words,
``Nudge(early=True)``). When the utterance's final text lands, its nudges that bear an early
one out carry ``confirms`` and come first; the early ones it no longer supports are withdrawn
(``Withdrawn`` events, right before its nudges); the call's end withdraws the open ones. Early
nudges are not counted in the ``CallSummary`` (their confirming final nudges are).

A source may say how far the pipeline can read ahead of the utterance it is working on
(``sources.Timeline.read_ahead``): a transcript can be read ahead, so its utterances are
annotated in batches; live capture and audio replay go one utterance at a time.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import Iterable, Iterator, Protocol, Sequence, Union

from .annotate import AnnotatedUtterance, Annotator
from .coaching import CoachingTracker
from .privacy import MASK_CHAR, Masker, masker_for, saved_masking
from .rules import RuleEngine
from .rules.early import EarlyNudges
from .rules.model import EventIs
from .signals import SignalTracker, one_side_only
from .sources import Timeline
from .types import (
    CallSummary,
    DeadAir,
    Event,
    Nudge,
    Partial,
    Praise,
    RecordItem,
    SignalEvent,
    Speaker,
    SpeechActivity,
    Status,
    TalkOver,
    Tick,
    TurnRevision,
    Utterance,
    Withdrawn,
)


class StepObserver(Protocol):
    """Sees each step of the rules (``rules explain`` traces one rule with it)."""

    def before_utterance(self, au: AnnotatedUtterance) -> None: ...

    def after_utterance(self, au: AnnotatedUtterance, outputs: Sequence[Nudge | RecordItem | Praise]) -> None: ...

    def after_event(self, event: SignalEvent, outputs: list[Nudge]) -> None: ...


TimelineItem = Union[
    Utterance, Status, Partial, SpeechActivity, Tick, TurnRevision
]  # what a call's source gives the pipeline

DEFAULT_MASKING = object()  # CallPipeline's default: the saved masking choice (on unless turned off)


class CallPipeline:
    """Runs one call at a time through annotation and rules."""

    def __init__(
        self,
        annotator: Annotator,
        engine: RuleEngine,
        tracker: SignalTracker | None = None,
        observer: StepObserver | None = None,
        masker: "Masker | None | object" = DEFAULT_MASKING,
    ) -> None:
        self.annotator = annotator
        self.engine = engine
        self.tracker = tracker or SignalTracker(engine.ruleset, compiler=engine.compiler)
        self.observer = observer
        if masker is DEFAULT_MASKING:
            masker = masker_for(saved_masking())
        self.masker: Masker = masker if isinstance(masker, Masker) else Masker(None)
        self.early: EarlyNudges | None = None  # made at the first caption (live calls only)

    def revise_turn(
        self, revision: TurnRevision, skip: Sequence[str] = ()
    ) -> tuple[TurnRevision, list[Nudge | RecordItem | Praise]] | None:
        """Apply a turn's second recognition pass (``turn_pass.py``) to the open turn: its
        utterances (with their signals) take the new text and words, are annotated again, and the
        rule engine re-reads the turn (``RuleEngine.revise_turn``). Returns the revision as an
        event (the turn's index, the revised utterances) and the turn rules' outputs; None when
        the open turn does not hold its utterances (it closed already: nothing changes)."""
        held = self.engine.open_turn_utterances()
        if not revision.utterances or any(u.index not in held for u in revision.utterances):
            return None
        changed = tuple(
            replace(held[u.index], text=u.text, words=u.words, confidence=u.confidence) for u in revision.utterances
        )
        done = self.engine.revise_turn([self.annotator.annotate(u, skip) for u in changed])
        if done is None:
            return None
        turn, outputs = done
        return replace(revision, utterances=changed, turn=turn.index), outputs

    def run(
        self,
        source: Iterable[TimelineItem],
        audio_s: float | None = None,
        read_ahead: int | None = None,
        sides: tuple[Speaker, ...] | None = None,
    ) -> Iterator[Event]:
        """Yield events for every item of ``source`` (utterances and activity marks in timeline
        order, or status).

        ``read_ahead``: how many utterances may be annotated together before the first of them
        goes on (see ``Annotator.annotate_timeline``); by default the source's own
        ``read_ahead`` when it is a ``Timeline``, else 1. It changes speed, never the events.

        ``sides``: whose audio the call has (by default the source's, when it is a ``Timeline``;
        None: not known). A call of one side only (a mono recording replayed with ``--speaker``)
        has no dead air, talk-over or measures between the sides (``signals.BOTH_SIDES_FIELDS``),
        and no nudge from a rule that waits for the missing side's reply (it could never come);
        its ``CallSummary`` says which side it had.
        """
        if read_ahead is None:
            read_ahead = source.read_ahead if isinstance(source, Timeline) else 1
        if sides is None and isinstance(source, Timeline):
            sides = source.sides
        one_side = one_side_only(sides)
        # rules that wait for the missing side (an 'expect' of its words) or react to timing between the sides
        needs_other = (
            set()
            if one_side is None
            else {
                r.id
                for r in self.engine.ruleset.rules
                if isinstance(r.when, EventIs) or (r.expect is not None and r.expect.speaker is not one_side)
            }
        )
        started = time.perf_counter()
        self.engine.start_call()
        self.tracker.start_call(audio_s, sides)
        n_utterances = 0
        n_masked = 0
        last_end_s = 0.0
        clock_s = 0.0  # the latest Tick: a live call's clock (its last one: where the call was stopped)
        by_rule: Counter[str] = Counter()
        coach = CoachingTracker()

        def counted(outputs: Sequence[Nudge | RecordItem | Praise]) -> Iterator[Nudge | RecordItem | Praise]:
            for out in outputs:
                if isinstance(out, (Nudge, Praise)) and out.rule in needs_other:
                    continue  # one side only: the reply it waited for could not be heard
                coach.add(out)
                if isinstance(out, Nudge):
                    by_rule[out.rule] += 1
                yield out

        def with_rules(events: list[SignalEvent]) -> Iterator[Event]:
            """Signal events, each followed by the nudges of rules that react to it."""
            for event in events:
                yield event
                if isinstance(event, (DeadAir, TalkOver)):
                    outputs = self.engine.on_event(event)
                    if self.observer is not None:
                        self.observer.after_event(event, outputs)
                    yield from counted(outputs)

        def clock(now_s: float) -> Iterator[Event]:
            """Timers up to ``now_s``: expectation windows that ran out, then dead air."""
            nudges = self.engine.tick(now_s, self.tracker.speaking)
            yield from self.engine.take_turns()
            yield from counted(nudges)
            yield from with_rules(self.tracker.tick(now_s))

        skip = self.annotator.skipping(self.engine.ruleset.needs_entities)
        if self.early is not None:
            self.early.start_call()
        items: Iterator[TimelineItem] = self.masker.timeline(source)
        timeline: Iterator[AnnotatedUtterance | Status | Partial | SpeechActivity | Tick | TurnRevision] = iter(
            self.annotator.annotate_timeline(items, read_ahead, skip)
        )
        while True:
            try:
                item = next(timeline)
            except StopIteration:
                break
            except Exception:
                # the source failed (a bad transcript line): the open turn closes where the call
                # got to, so what the turn rules decided from the lines before is not lost
                nudges = self.engine.close_open_turn(last_end_s)
                yield from self.engine.take_turns()
                yield from counted(nudges)
                raise
            if isinstance(item, Status):
                yield item
                continue
            if isinstance(item, Partial):  # a live caption (masked above), then the early nudges it fires
                yield item
                if self.early is None:
                    self.early = EarlyNudges(self.engine, self.annotator, skip)
                yield from self.early.on_partial(item)
                continue
            if isinstance(item, Tick):
                clock_s = max(clock_s, item.t_s)
                yield from clock(item.t_s)
                continue
            if isinstance(item, TurnRevision):  # a turn heard again before it closes: the turn rules re-read it
                revised = self.revise_turn(item, skip)
                if revised is not None:
                    yield revised[0]
                    yield from counted(revised[1])
                elif item.redo:  # a live redo after its turn closed: the transcript takes it (the rules decided)
                    yield item
                continue
            if isinstance(item, SpeechActivity):
                yield from with_rules(self.tracker.on_activity(item))
                continue
            n_utterances += 1
            if self.masker.enabled and MASK_CHAR in item.utterance.text:
                n_masked += 1
            last_end_s = max(last_end_s, item.utterance.end_s)
            annotated, signal_events = self.tracker.on_utterance(item)
            yield from with_rules([e for e in signal_events if isinstance(e, DeadAir)])  # the silence came first
            utt = annotated.utterance
            if not utt.timing_estimated:
                # the clock ran while it was said: the other side's turn, quiet for the gap by
                # now, closed then (live ticks close it as it happens; a transcript or a
                # recognized recording has no ticks, and its turns would wait for this line)
                during = self.engine.tick(utt.end_s, self.tracker.speaking | {utt.speaker})
                yield from self.engine.take_turns()
                yield from counted(during)
            yield utt
            if self.observer is not None:
                self.observer.before_utterance(annotated)
            nudges = self.engine.on_utterance(annotated)
            turns = self.engine.take_turns()
            # Signals and rules have read it: drop the utterance's link to its features (which
            # link back to it), so its Doc is freed as soon as the rules' history lets it go
            # instead of waiting for the cycle collector.
            annotated.features = None
            if self.observer is not None:
                self.observer.after_utterance(annotated, nudges)
            yield from turns
            yield from with_rules([e for e in signal_events if not isinstance(e, DeadAir)])
            withdrawn: list[Withdrawn] = []
            if self.early is not None and self.early.waiting(annotated.utterance):
                # early nudges of this utterance: confirmed by its final nudges (yielded first), or withdrawn
                finals, withdrawn = self.early.on_utterance(
                    annotated.utterance, [n for n in nudges if isinstance(n, Nudge)]
                )
                nudges = [*finals, *(n for n in nudges if not isinstance(n, Nudge))]
            yield from withdrawn
            yield from counted(nudges)
        end_s = max(last_end_s, audio_s or 0.0, clock_s)  # the recording's length, or how long the live call ran
        if self.early is not None:
            yield from self.early.finish(end_s)
        nudges = self.engine.finish(end_s)
        yield from self.engine.take_turns()
        yield from counted(nudges)
        if n_utterances == 0:
            yield Status("info", "no_speech", "no speech found in this call", end_s)
        yield coach.build(end_s, n_utterances)
        yield CallSummary(
            duration_s=end_s,
            utterances=n_utterances,
            nudges=sum(by_rule.values()),
            nudges_by_rule=dict(by_rule),
            audio_s=audio_s,
            processing_s=time.perf_counter() - started,
            masking=self.masker.enabled,
            masked_utterances=n_masked,
            one_side=one_side,
        )
