"""Early nudges: rules that fire on the stable words of an utterance still being spoken.

Live capture re-recognizes an open utterance now and then and puts the words two passes agreed
on on the timeline as a ``Partial`` (``captions.py``). A rule whose trigger is in the words of
one utterance (you-not-we, blame wording, a non-apology, an insult) need not wait for the end of
the utterance: ``EarlyNudges`` reads each caption that grew with spaCy, asks the engine what the
*early* rules would fire if the utterance ended there (``RuleEngine.probe``: no state changes),
and hands on the new ones as ``Nudge(early=True)``. spaCy reads the caption's stable words and
its pending ones (the latest pass's guess at the rest); a match must lie in the stable words, and
fires once its sentence is followed by another or two more words follow it (``SETTLE_WORDS``):
what comes right after "you need to" (a question, "not", "if") can still undo it, and the tests
that skip a match read the pending words too. When the utterance's final text lands, each
early nudge of it is settled: **confirmed** when the engine fires the same rule on the final text
(that final nudge carries ``confirms=<early_id>``: one card, not two), else **withdrawn** (a
``Withdrawn`` event: its card goes). A call that ends first withdraws the open ones. (A final text
that rewrote the caption's agreed words under an early nudge was decoded twice first, as another
cut of the same speech: ``live_recognition``'s second opinion, ``LiveSettings.caption_agreement``.)

Which rules may fire early (``fires_early``): a rule's ``early:`` key, else the default for its
kind. Never (``early_blocker``; ``early: true`` is an error): ``event`` rules, ``unit: turn``,
``expect`` (the moment is decided by a later turn), ``record`` and ``praise`` rules, and
conditions on ``signals`` (pace, loudness, gaps: measured on the whole utterance). Not by default
(``early: true`` allows it): ``tone`` (the voice's share needs the whole utterance),
``max_words`` and ``min_length`` (the length is not known yet). Everything else reads the words
said so far, and earlier utterances (``earlier``), so it is early by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator, Sequence

from ..types import Nudge, Partial, Speaker, Utterance, Withdrawn
from .model import (
    AllOf,
    AnyOf,
    Condition,
    Earlier,
    EventIs,
    MaxWords,
    MinLength,
    Not,
    Reflects,
    Rule,
    SignalTest,
    ToneIs,
    UsesName,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..annotate import Annotator
    from .engine import RuleEngine


def _walk(cond: Condition | None) -> Iterator[Condition]:
    if cond is None:
        return
    yield cond
    if isinstance(cond, (AllOf, AnyOf)):
        for item in cond.items:
            yield from _walk(item)
    elif isinstance(cond, Not):
        yield from _walk(cond.item)
    elif isinstance(cond, Earlier):
        yield from _walk(cond.condition)


def early_blocker(
    *, unit: str, when: Condition | None, unless: Condition | None, has_expect: bool, record: bool, praise: bool
) -> str:
    """Why a rule of this shape can never fire early ("" when it can)."""
    if isinstance(when, EventIs):
        return "an 'event' rule fires on the event itself"
    if unit == "turn":
        return "a 'unit: turn' rule reads the whole turn"
    if has_expect:
        return "a rule with 'expect' is decided by a later turn"
    if record:
        return "a 'record' rule writes the final words to a list"
    if praise:
        return "a 'praise' rule is a line of the call's summary, not a card"
    for cond in (*_walk(when), *_walk(unless)):
        if isinstance(cond, SignalTest):
            return f"signal {cond.name!r} is measured on the whole utterance"
        if isinstance(cond, (Reflects, UsesName)):
            return "'reflects' and 'uses_name' read a reply"
    return ""


def default_off(rule: Rule) -> str:
    """Why a rule that could fire early does not by default ("" when it does)."""
    for cond in (*_walk(rule.when), *_walk(rule.unless)):
        if isinstance(cond, ToneIs):
            return "'tone' reads the voice of the whole utterance"
        if isinstance(cond, (MaxWords, MinLength)):
            return "its length is not known until it ends"
    return ""


def rule_blocker(rule: Rule) -> str:
    return early_blocker(
        unit=rule.unit,
        when=rule.when,
        unless=rule.unless,
        has_expect=rule.expect is not None,
        record=rule.record is not None,
        praise=rule.praise,
    )


def fires_early(rule: Rule) -> bool:
    """Whether ``rule`` may fire on a live caption (its ``early:`` key, else its kind's default)."""
    if rule_blocker(rule):
        return False
    return rule.early if rule.early is not None else not default_off(rule)


SETTLE_WORDS = 2  # a match fires early once two words follow it, or a next sentence has begun


@dataclass
class _Open:
    """An early nudge waiting for its utterance's final text."""

    nudge: Nudge
    speaker: Speaker
    start_s: float  # where the open utterance started (the caption's ``start_s``)


class EarlyNudges:
    """One call's early nudges: fired on captions, then confirmed or withdrawn (see the module doc).

    ``annotate`` runs only when a caption with stable words changed and an early rule can be said
    by its speaker, so a caption costs one spaCy call on a short text (a few ms), or nothing.
    """

    def __init__(self, engine: "RuleEngine", annotator: "Annotator", skip: Sequence[str] = ()) -> None:
        self.engine = engine
        self.annotator = annotator
        self.skip = tuple(skip)
        self.rules = frozenset(r.id for r in engine.ruleset.rules if fires_early(r))
        self.speakers = {s for s in Speaker if engine.can_say(s, self.rules)}
        self.start_call()

    def start_call(self) -> None:
        self._open: list[_Open] = []
        self._read: dict[Speaker, tuple[float, str, str]] = {}  # per speaker: the caption last read
        self._final_end: dict[Speaker, float] = {}
        self._next_id = 1
        self.evaluated = 0  # captions read with spaCy (for the benchmark)

    def on_partial(self, partial: Partial) -> list[Nudge]:
        """The early nudges this caption fires that are not out already."""
        speaker, stable, pending = partial.speaker, partial.text.strip(), partial.pending.strip()
        if (
            not stable
            or speaker not in self.speakers
            or partial.start_s < self._final_end.get(speaker, -1.0)
            or self._read.get(speaker) == (partial.start_s, stable, pending)
        ):
            return []  # nothing stable or new said, no rule for this side, or that utterance is final already
        self._read[speaker] = (partial.start_s, stable, pending)
        text = f"{stable} {pending}" if pending else stable
        utt = Utterance(-1, speaker, text, partial.start_s, max(partial.t_s, partial.start_s))
        au = self.annotator.annotate(utt, self.skip)
        self.evaluated += 1
        out = []
        for nudge in self.engine.probe(au, self.rules, SETTLE_WORDS, stable_chars=len(stable)):
            if any(
                o.nudge.rule == nudge.rule and o.speaker is speaker and o.start_s == partial.start_s for o in self._open
            ):
                continue  # out already for this utterance: it stays until the final text settles it
            early = replace(nudge, early=True, early_id=self._next_id)
            self._next_id += 1
            self._open.append(_Open(early, speaker, partial.start_s))
            out.append(early)
        return out

    def waiting(self, utt: Utterance) -> bool:
        """Whether early nudges wait for this final utterance (else ``on_utterance`` changes nothing
        but noting that its speaker's utterance up to its end is final)."""
        if not any(o.speaker is utt.speaker and o.start_s < utt.end_s for o in self._open):
            self._final_end[utt.speaker] = max(self._final_end.get(utt.speaker, -1.0), utt.end_s)
            return False
        return True

    def on_utterance(self, utt: Utterance, nudges: list[Nudge]) -> tuple[list[Nudge], list[Withdrawn]]:
        """The final ``utt`` landed with these ``nudges`` (its rules' outputs that are nudges):
        the nudges, those that confirm an early nudge first and marked so, and the early
        nudges of it that its final text no longer supports."""
        self._final_end[utt.speaker] = max(self._final_end.get(utt.speaker, -1.0), utt.end_s)
        mine = [o for o in self._open if o.speaker is utt.speaker and o.start_s < utt.end_s]
        if not mine:
            return nudges, []
        self._open = [o for o in self._open if o not in mine]
        confirmed: list[Nudge] = []
        others = list(nudges)
        withdrawn: list[Withdrawn] = []
        for o in mine:
            final = next((n for n in others if n.rule == o.nudge.rule and n.utterance_index == utt.index), None)
            if final is None:
                withdrawn.append(
                    Withdrawn(o.nudge.rule, o.nudge.early_id or 0, o.nudge.t_s, utt.end_s, utt.speaker, utt.index)
                )
            else:
                others.remove(final)
                confirmed.append(replace(final, confirms=o.nudge.early_id))
        return confirmed + others, withdrawn

    def finish(self, t_s: float) -> list[Withdrawn]:
        """The call ended: the early nudges still open are withdrawn (no final text came)."""
        out = [Withdrawn(o.nudge.rule, o.nudge.early_id or 0, o.nudge.t_s, t_s, o.speaker) for o in self._open]
        self._open = []
        return out
