"""``rapport-assist rules explain``: why one rule fired, or did not, at each utterance of a call.

The call runs through the real pipeline (signals, every rule, timing events), so the rule's
state is exactly what it is live; an observer re-reads the rule's conditions on each utterance
and prints the tree: which parts held, what words matched, which matches a ``skip_if`` test
dropped, what the signals measured, and what the rule did (opened a wait, met, fired, quiet in
cooldown...). A rule that reads turns (``unit: turn``) is traced on the turn so far at each
utterance; what it decides when a turn closes, or at the end of the call, is traced from the
pipeline's events (``on_event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..annotate import AnnotatedUtterance
from ..types import Nudge, Praise, RecordItem, SignalEvent, Turn, Utterance
from ..wording import plural
from .conditions import Compiler, EvalContext
from .features import Features, Match, match_texts
from .engine import RuleEngine, event_matches
from .model import (
    AllOf,
    AnyOf,
    Condition,
    Earlier,
    EventIs,
    FutureActionFinder,
    LexiconFinder,
    MaxWords,
    MinLength,
    Not,
    Reflects,
    RegexFinder,
    Rule,
    Says,
    SignalTest,
    SpeakerIs,
    SubjectFinder,
    ClaimFinder,
    TokenFinder,
    ToneIs,
    UsesName,
    required_speakers,
)

YES, NO = "✓", "✗"


@dataclass
class _Snapshot:
    pending: bool
    turns_seen: int
    latched: bool
    fired: int
    reply_open: bool = False  # turn rules: a reply turn began and is decided when it closes


class RuleExplainer:
    """A ``CallPipeline`` observer that writes a trace of one rule, utterance by utterance."""

    def __init__(self, engine: RuleEngine, rule_id: str) -> None:
        self.engine = engine
        self.rule_id = rule_id
        self.rule = engine.inspect(rule_id)[0]
        self.lines: list[str] = []
        self.fired_at: list[int] = []
        self._before: _Snapshot | None = None
        self._reference: list[Features] = []  # the turns that opened the wait
        self._seen: list[
            Nudge | RecordItem | Praise
        ] = []  # the rule's nudges already traced (at an utterance, an event)

    def _snapshot(self) -> _Snapshot:
        _, state, _, _ = self.engine.inspect(self.rule_id)
        pending = state.pending
        return _Snapshot(
            pending is not None,
            pending.turns_seen if pending else 0,
            state.latched,
            state.fired,
            pending is not None and pending.reply_turn >= 0,
        )

    # ------------------------------------------------------------ observer

    def before_utterance(self, au: AnnotatedUtterance) -> None:
        self._before = self._snapshot()
        pending = self.engine.inspect(self.rule_id)[1].pending
        self._reference = list(pending.context) if pending is not None else []

    def after_utterance(self, au: AnnotatedUtterance, outputs: Sequence[Nudge | RecordItem | Praise]) -> None:
        rule, state, last, compiler = self.engine.inspect(self.rule_id)
        before = self._before or _Snapshot(False, 0, False, 0)
        after = self._snapshot()
        utt = au.utterance
        self.lines.append(_heading(utt))
        if isinstance(rule.when, EventIs):
            self.lines.append("    (an event rule: it reacts to timing events, not to words)")
            return
        mine = [o for o in outputs if o.rule == rule.id]
        self._seen += mine
        if rule.unit == "turn":
            if last is None or last.feats.au.utterance.index != utt.index:
                self.lines.append("    (a backchannel inside the other side's turn: the rule reads turns, not this)")
                if mine:
                    self.lines.append("    → " + self._verdict(rule, before, after, mine, utt))
                return
            reading = last.feats.au.utterance
            self.lines.append(
                f"    the {reading.speaker.value}'s turn so far: {plural(last.feats.word_count, 'word')}"
                + (" (its utterances joined)" if reading.text != utt.text else "")
            )
            history = list(self.engine._turn_history)  # noqa: SLF001 - the explainer is the engine's debugger
        else:
            history = list(self.engine._history)[:-1]  # noqa: SLF001 - the explainer is the engine's debugger
        assert last is not None
        ctx = EvalContext(last.feats, last.other_last, tones=last.tones, history=history)
        expect = rule.expect
        if before.latched:
            self.lines.append("    quiet: after its last nudge it waits for the episode to end")
            if rule.episode is not None:
                self._tree("episode ends when", rule.episode.ends_when, ctx, compiler)
        if before.pending and expect is not None:
            if utt.speaker is expect.speaker:
                ctx_reply = EvalContext(last.feats, last.other_last, self._reference, last.tones, history)
                self._tree(f"expect ({expect.speaker.value})", expect.condition, ctx_reply, compiler)
            else:
                self.lines.append(
                    f"    waiting for the {expect.speaker.value}; the {utt.speaker.value}'s turn "
                    "does not count"
                    + (
                        ""
                        if not self._holds(rule.when, ctx, compiler)
                        else " (it opens a wait of its own when the reply turn closes)"
                        if rule.unit == "turn" and before.reply_open
                        else " (it joins the wait as another trigger)"
                    )
                )
        if not before.pending and not before.latched:
            speakers = required_speakers(rule.when)
            if speakers and utt.speaker not in speakers:
                self.lines.append(
                    f"    when {NO}: the rule starts on the {'/'.join(s.value for s in speakers)}'s turns"
                )
            else:
                self._tree("when", rule.when, ctx, compiler)
        if rule.unless is not None and self._holds(rule.unless, ctx, compiler):
            self.lines.append(f"    unless {YES}: an exception holds here, so no nudge")
        self.lines.append("    → " + self._verdict(rule, before, after, mine, utt))

    def on_event(self, event: object) -> None:
        """Every event of the call: closed turns, and the rule's nudges decided away from an
        utterance's rules (a turn that closed on the clock, the end of the call)."""
        if isinstance(event, Turn) and self.rule.unit == "turn":
            first, last = event.utterances[0], event.utterances[-1]
            span = f"#{first}" if first == last else f"#{first}-#{last}"
            self.lines.append(
                f"  turn {event.index} closed: {event.speaker.value}, {span}, {plural(event.words, 'word')}"
            )
        elif (
            isinstance(event, (Nudge, RecordItem))
            and event.rule == self.rule.id
            and not any(seen is event for seen in self._seen)
        ):
            self._seen.append(event)
            self.fired_at.append(event.utterance_index)
            self.lines.append(
                f"    → FIRES when the turn closes: {event.message}"
                if isinstance(event, Nudge)
                else f"    → RECORDED: \"{event.text}\""
            )

    def after_event(self, event: SignalEvent, outputs: list[Nudge]) -> None:
        rule = self.rule
        if not isinstance(rule.when, EventIs):
            return
        matched = event_matches(rule.when, event)
        desc = _describe_event(event)
        mine = [o for o in outputs if o.rule == rule.id]
        self._seen += mine
        if mine:
            self.fired_at.append(mine[0].utterance_index)
            self.lines.append(f"  {desc}\n    event {YES} → FIRES: {mine[0].message}")
        elif matched:
            self.lines.append(f"  {desc}\n    event {YES} → quiet (cooldown or max_per_call)")
        else:
            self.lines.append(f"  {desc}\n    event {NO}: the rule wants {_describe(rule.when)}")

    # ------------------------------------------------------------ pieces

    def _verdict(
        self, rule: Rule, before: _Snapshot, after: _Snapshot, mine: list[Nudge | RecordItem | Praise], utt: Utterance
    ) -> str:
        if mine:
            self.fired_at.append(utt.index)
            out = mine[0]
            if isinstance(out, RecordItem):
                when = f" (time: {out.time})" if out.time else " (no time frame: not committed)"
                return f"RECORDED on the {out.list} list: \"{out.text}\"{when}"
            if isinstance(out, Praise):
                return f"PRAISE (a line of the call's summary): {out.message}"
            return f"FIRES: {out.message}"
        if before.pending and not after.pending:
            if rule.praise:
                return "the wait is over: not met in time (or 'unless', or max_per_call) — no praise"
            return "the wait is over: met, or cancelled by 'unless' — no nudge"
        if after.pending and not before.pending:
            assert rule.expect is not None
            return f"opens a wait: {_describe_window(rule)}"
        if after.pending and rule.unit == "turn" and rule.expect is not None and utt.speaker is rule.expect.speaker:
            return f"not yet: decided when the {utt.speaker.value}'s turn closes"
        if after.pending:
            return (
                f"still waiting ({plural(after.turns_seen, rule.expect.speaker.value + ' turn')} so far)"
                if rule.expect
                else ""
            )
        if before.latched:
            return "quiet (episode)"
        if after.fired > before.fired:
            return "fired"
        return "no nudge"

    def _holds(self, cond: Condition, ctx: EvalContext, compiler: Compiler) -> bool:
        return compiler.condition(cond)(ctx) is not None

    def _tree(self, label: str, cond: Condition, ctx: EvalContext, compiler: Compiler) -> None:
        held = self._holds(cond, ctx, compiler)
        self.lines.append(f"    {label} {YES if held else NO}")
        for line in _trace(cond, ctx, compiler, 3):
            self.lines.append(line)


def _heading(utt: Utterance) -> str:
    from ..output import format_clock

    return f"[{format_clock(utt.start_s)}] #{utt.index} {utt.speaker.value.upper()}: {utt.text}"


def _trace(cond: Condition, ctx: EvalContext, compiler: Compiler, depth: int) -> Iterable[str]:
    pad = "  " * depth
    if isinstance(cond, (AllOf, AnyOf)):
        for item in cond.items:
            if isinstance(item, (AllOf, AnyOf, Not)):
                held = compiler.condition(item)(ctx) is not None
                yield f"{pad}{YES if held else NO} {'all of' if isinstance(item, AllOf) else 'any of' if isinstance(item, AnyOf) else 'not'}:"
                yield from _trace(item if not isinstance(item, Not) else item.item, ctx, compiler, depth + 1)
            else:
                yield from _trace(item, ctx, compiler, depth)
        return
    if isinstance(cond, Not):
        held = compiler.condition(cond)(ctx) is not None
        yield f"{pad}{YES if held else NO} not:"
        yield from _trace(cond.item, ctx, compiler, depth + 1)
        return
    found = compiler.condition(cond)(ctx)
    mark = YES if found is not None else NO
    yield f"{pad}{mark} {_describe(cond)}{_measured(cond, ctx, found, compiler)}"
    if isinstance(cond, Says) and cond.skip_if:
        raw = compiler.condition(Says(cond.finder, ()))(ctx) or []
        for m in raw:
            dropped = [type(t).__name__ for t in cond.skip_if if compiler.skip_test(t)(m, ctx)]
            if dropped:
                yield f"{pad}    \"{m.text}\" skipped: {', '.join(_snake(d) for d in dropped)}"


def _measured(cond: Condition, ctx: EvalContext, found: list[Match] | None, compiler: Compiler) -> str:
    """What was measured or matched, for the trace line."""
    utt = ctx.feats.au.utterance
    if isinstance(cond, SpeakerIs):
        return f" (said by the {utt.speaker.value})"
    if isinstance(cond, (Says, Reflects, UsesName, Earlier)):
        words = match_texts(found)
        return f" → {', '.join(repr(w) for w in words[:6])}" if words else ""
    if isinstance(cond, ToneIs):
        sig = utt.signals
        if sig is None:
            return " (words only)"
        ev = "; ".join(sig.tone.evidence)
        return f" (estimate {sig.tone.label} {sig.tone.score:.2f}{': ' + ev if ev else ''})"
    if isinstance(cond, SignalTest):
        value = utt.signals.get(cond.name) if utt.signals is not None else None
        return f" (value: {'unknown' if value is None else f'{value:.3g}' if not isinstance(value, bool) else value})"
    if isinstance(cond, MinLength) and cond.per_line and utt.timing_estimated:
        return f" ({plural(ctx.feats.word_count, 'word')}, longest line {ctx.feats.line_words})"
    if isinstance(cond, (MinLength, MaxWords)):
        return f" ({plural(ctx.feats.word_count, 'word')}, {utt.duration_s:.1f} s)"
    return ""


def _describe(cond: Condition) -> str:
    if isinstance(cond, SpeakerIs):
        return f"speaker: {cond.speaker.value}"
    if isinstance(cond, Says):
        f = cond.finder
        if isinstance(f, LexiconFinder):
            text = "says " + ", ".join(f.lexicons)
        elif isinstance(f, FutureActionFinder):
            text = f"says a future action of {f.actions}"
        elif isinstance(f, RegexFinder):
            text = f"matches /{f.pattern}/"
        elif isinstance(f, TokenFinder):
            text = f"matches {len(f.patterns)} token pattern(s)"
        elif isinstance(f, ClaimFinder):
            kinds = [k for k in ("wrongs", "duties", "enables", "fixes", "unasked", "contacts") if getattr(f, k)]
            text = f"claims {f.by} " + "/".join(f"{k} ({getattr(f, k)})" for k in kinds)
        else:
            assert isinstance(f, SubjectFinder)
            text = f"{'/'.join(f.subjects)} is the subject of a verb of {f.verbs}"
        if cond.skip_if:
            # each kind of test once: two 'subordinate' tests (each with its own cues) read as one
            text += " (skip_if: " + ", ".join(dict.fromkeys(_snake(type(t).__name__) for t in cond.skip_if)) + ")"
        return text
    if isinstance(cond, ToneIs):
        return f"tone: {cond.tone}"
    if isinstance(cond, SignalTest):
        if cond.equals is not None:
            return f"{cond.name} is {str(cond.equals).lower()}"
        parts = ([f">= {cond.min:g}"] if cond.min is not None else []) + (
            [f"<= {cond.max:g}"] if cond.max is not None else []
        )
        return f"{cond.name} {' and '.join(parts)}"
    if isinstance(cond, MinLength):
        parts = ([plural(cond.words, 'word')] if cond.words else []) + ([f"{cond.seconds:g} s"] if cond.seconds else [])
        return "at least " + " or ".join(parts) + (" (one line, when untimed)" if cond.per_line else "")
    if isinstance(cond, MaxWords):
        return f"at most {cond.words} words"
    if isinstance(cond, Reflects):
        verbs = (
            f" ({cond.min_verbs}+ of them verbs or adjectives"
            + (f", or beside {cond.problem} words" if cond.problem else "")
            + (f", or {cond.dense_min}+ making {cond.dense_share:.0%} of a sentence" if cond.dense_min else "")
            + ")"
        )
        return (
            f"repeats {cond.min_shared}+ content words of the trigger turns"
            + (f" ({cond.synonyms} words as one)" if cond.synonyms else "")
            + (verbs if cond.min_verbs else "")
        )
    if isinstance(cond, UsesName):
        return "uses the name the customer gave"
    if isinstance(cond, Earlier):
        window = " or ".join(
            ([plural(cond.turns, "utterance")] if cond.turns else [])
            + ([f"{cond.seconds:g} s"] if cond.seconds else [])
        )
        count = "an earlier utterance" if cond.min_count == 1 else f"{cond.min_count}+ earlier utterances"
        return f"{count} within {window}: {_describe(cond.condition)}"
    if isinstance(cond, EventIs):
        bits = [cond.kind] + ([f">= {cond.min_s:g} s"] if cond.min_s is not None else [])
        if cond.hold_announced is not None:
            bits.append("hold announced" if cond.hold_announced else "no hold announced")
        if cond.by is not None:
            bits.append(f"by the {cond.by.value}")
        return " ".join(bits)
    if isinstance(cond, AllOf):
        return " and ".join(_describe(c) for c in cond.items)
    if isinstance(cond, AnyOf):
        return " or ".join(_describe(c) for c in cond.items)
    assert isinstance(cond, Not)
    return f"not ({_describe(cond.item)})"


def _describe_window(rule: Rule) -> str:
    expect = rule.expect
    assert expect is not None
    parts = ([plural(expect.within.turns, f"{expect.speaker.value} turn")] if expect.within.turns else []) + (
        [f"{expect.within.seconds:g} s"] if expect.within.seconds else []
    )
    cond = expect.condition
    if isinstance(cond, AllOf):
        rest = tuple(c for c in cond.items if not isinstance(c, SpeakerIs))
        cond = rest[0] if len(rest) == 1 else AllOf(rest)
    return f"within {' or '.join(parts)}, the {expect.speaker.value}'s words must match: {_describe(cond)}"


def _describe_event(event: SignalEvent) -> str:
    from ..output import format_clock

    data = event.to_json()
    kind = data.get("kind", "event")
    if kind == "dead_air":
        return (
            f"[{format_clock(event.t_s)}] dead air: {data['silence_s']:.1f} s, hold announced: {data['hold_announced']}"
        )
    if kind == "talk_over":
        return f"[{format_clock(event.t_s)}] talk-over by the {data.get('speaker')}: {data.get('overlap_s', 0):.1f} s"
    return f"[{format_clock(event.t_s)}] {kind}"


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return "question" if out == "in_question" else out
