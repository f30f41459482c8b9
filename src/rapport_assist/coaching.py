"""The agent's coaching summary of a call: what went well, one thing to try, promises to log.

Built from the call's events (``CoachingTracker``): ``Praise`` from the ``praise`` rules (the
strongest few, by priority, one line per rule), the nudges (the most important kind of the call
becomes the one thing to try next time: severity first, then the rule's priority, then how often
it came up), and the promise list. ``CallPipeline`` emits the result as a ``CallCoaching`` event
just before the ``CallSummary``; the sidebar, ``replay`` and the ``qa`` report show it.

Kind and short on purpose: at most ``MAX_WENT_WELL`` good moments, one thing to try, never a
score or a count of mistakes. Experimental rules (not shown to agents) are left out.
"""

from __future__ import annotations

import re
from typing import Iterable

from .timefmt import clock
from .types import CallCoaching, CoachingLine, Event, Evidence, Nudge, Praise, RecordItem, Speaker

MAX_WENT_WELL = 3
NO_PRAISE = "Nothing in particular stood out this time."  # "what went well" when no praise rule fired
QUOTE_WORDS = 16
CUE_WORDS = 8  # the customer's words that set up a praised moment: enough to recognise it
PROMISE_LIST = "promises"
_SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1}


def clip_words(text: str, n: int = QUOTE_WORDS) -> str:
    """``text`` cut to ``n`` words with an ellipsis."""
    words = text.split()
    return text.strip() if len(words) <= n else " ".join(words[:n]).rstrip(",;:") + "…"


def sentence_with(text: str, phrase: str) -> str:
    """The sentence of ``text`` that holds ``phrase`` (case-insensitive), or ``text``."""
    for sentence in re.split(r"(?<=[.!?…])\s+", text):
        if phrase.lower() in sentence.lower():
            return sentence.strip()
    return text


def time_words(time: str | None) -> str:
    """A promise's time frame, each phrase once ("tomorrow, Tomorrow, at 10" -> "tomorrow, at 10")."""
    unique: list[str] = []
    for part in (p.strip() for p in (time or "").split(",")):
        if part and part.lower() not in (u.lower() for u in unique):
            unique.append(part)
    return ", ".join(p for p in unique if not any(p.lower() != o.lower() and p.lower() in o.lower() for o in unique))


def moment_words(line: CoachingLine) -> str:
    """When a summary line's moment began, as " (at 0:48)" after its title ("" when unknown): a
    call can be praised for one moment and coached on another of the same kind."""
    return "" if line.at_s is None else f" (at {clock(line.at_s, tenths=False)})"


def promise_line(p: RecordItem) -> tuple[str, str]:
    """A promise as (its words, when) for the summary; an open one asks for a time."""
    return p.text, time_words(p.time) or "no time given yet: add one when you log it"


class CoachingTracker:
    """Collects what the coaching summary needs while a call runs; ``build`` at its end."""

    def __init__(self) -> None:
        self.praise: list[Praise] = []
        self.nudges: list[Nudge] = []
        self.promises: list[RecordItem] = []
        self.utterances = 0

    def add(self, event: Event | object) -> None:
        if isinstance(event, Praise):
            if not event.experimental:
                self.praise.append(event)
        elif isinstance(event, Nudge):
            if not event.experimental:
                self.nudges.append(event)
        elif isinstance(event, RecordItem):
            if event.list == PROMISE_LIST:
                self.promises.append(event)

    def build(self, t_s: float, utterances: int | None = None) -> CallCoaching:
        heard = self.utterances if utterances is None else utterances
        went_well = tuple(_praise_line(p) for p in _strongest_praise(self.praise))
        try_next = _try_next(self.nudges)
        return CallCoaching(
            went_well=went_well,
            try_next=try_next,
            promises=tuple(self.promises),
            closing=_closing(heard, went_well, try_next),
            t_s=t_s,
        )


def build_coaching(events: Iterable[Event | object], t_s: float | None = None) -> CallCoaching:
    """The coaching summary of a finished call's events (``t_s``: when it ended; by default the
    last event's time)."""
    from .types import Utterance

    tracker = CoachingTracker()
    end = 0.0
    for event in events:
        tracker.add(event)
        if isinstance(event, Utterance):
            tracker.utterances += 1
            end = max(end, event.end_s)
        else:
            end = max(end, float(getattr(event, "t_s", 0.0) or 0.0))
    return tracker.build(end if t_s is None else t_s)


def _strongest_praise(praise: list[Praise]) -> list[Praise]:
    """One per rule (its first), the highest priority first, at most ``MAX_WENT_WELL``; shown in
    call order."""
    first: dict[str, Praise] = {}
    for p in praise:
        first.setdefault(p.rule, p)
    best = sorted(first.values(), key=lambda p: (-p.priority, p.t_s))[:MAX_WENT_WELL]
    return sorted(best, key=lambda p: p.t_s)


def _praise_line(p: Praise) -> CoachingLine:
    quoted = p.quoted
    said = p.said or (quoted.text if quoted else "")
    # the customer's turn the praised reply answered (a rule with 'expect': its evidence comes first)
    cue = next(
        (e for i, e in enumerate(p.evidence) if e.speaker is Speaker.CUSTOMER and (p.quote is None or i < p.quote)),
        None,
    )
    at = cue if cue is not None else quoted
    return CoachingLine(
        p.rule,
        p.title,
        p.message,
        clip_words(said) if p.quote is not None else "",
        p.t_s,
        at_s=at.start_s if at is not None else p.t_s,
        cue=clip_words(_said_in(cue), CUE_WORDS) if cue is not None else "",
    )


def _said_in(e: Evidence) -> str:
    """The sentence of ``e`` with its first matched words (its whole text when none matched)."""
    return sentence_with(e.text, e.matched[0]) if e.matched else e.text


def _try_next(nudges: list[Nudge]) -> CoachingLine | None:
    """The most important kind of nudge of the call, as one kind suggestion for next time."""
    if not nudges:
        return None
    by_rule: dict[str, list[Nudge]] = {}
    for n in nudges:
        by_rule.setdefault(n.rule, []).append(n)

    def weight(items: list[Nudge]) -> tuple[int, int, int, float]:
        n = items[0]
        return (_SEVERITY_RANK.get(n.severity, 0), n.priority, len(items), -n.t_s)

    items = max(by_rule.values(), key=weight)
    first = items[0]
    quoted = first.quoted
    quote = ""
    if quoted is not None:
        who = "they said" if quoted.speaker is Speaker.CUSTOMER else "you said"
        quote = f"When {who}: “{clip_words(_said_in(quoted))}”"
    text = first.why.strip() or first.message
    at_s = quoted.start_s if quoted is not None else first.t_s
    return CoachingLine(first.rule, first.title, text, quote, first.t_s, at_s=at_s)


def _closing(utterances: int, went_well: tuple[CoachingLine, ...], try_next: CoachingLine | None) -> str:
    if utterances == 0:
        return "No conversation was heard on this call."
    if try_next is None:
        return "Nothing to change from this call — keep it up." if went_well else "A steady call — nothing to change."
    if went_well:
        return "A good call to build on."
    return "Thanks for taking this call — every call is practice."
