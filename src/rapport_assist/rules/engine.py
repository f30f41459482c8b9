"""The rule engine: runs a ``RuleSet`` over one call's utterances, in timeline order.

Per rule it keeps a little state machine:

* a rule with only ``when`` fires at the end of the utterance that matches it;
* a rule with ``expect`` opens an *expectation* when ``when`` matches, and waits for the
  expected speaker. The expectation is met when one of their turns matches ``expect``;
  it fails (and the rule fires, at the end of that turn) when ``within.turns`` of their
  turns pass without it, or when their next turn starts more than ``within.seconds`` after
  the last trigger. Turns matching ``expect.ignore`` (backchannels) do not count. Further
  triggers before it closes join the same expectation;
* ``episode``: after a fire the rule stays quiet until ``episode.ends_when`` matches;
* ``unless``: an exception: no nudge when the utterance it would fire at, or (with ``expect``)
  any utterance since the trigger, matches it;
* ``cooldown_s``: a rule never fires twice within this many seconds; ``max_per_call`` caps it;
* ``event`` rules fire on the conversation signals' timing events (dead air, talk-over),
  fed through ``on_event``;
* ``record`` rules do not nudge: each match becomes a ``RecordItem`` (the promise list);
* ``praise`` rules never nudge: a match (without ``expect``), or an expectation met in time
  (with it), becomes a ``Praise`` for the call's coaching summary; a failed one is silent.
* ``unit: turn`` rules read turns instead of utterances (the engine groups the utterances it is
  fed with a ``turns.TurnTracker``; ``take_turns`` hands the closed ones on): ``when`` is tested
  on the turn so far and triggers at most once per turn; while the trigger turn goes on, its
  latest reading replaces the trigger; the expected speaker's reply turn meets ``expect`` as soon
  as the turn so far does, and counts towards ``within.turns`` only when it closes without it (a
  turn that matches ``ignore`` as a whole does not count), so such a rule decides when the reply
  turn closes. ``other_last`` and ``earlier`` read turns too.

Every nudge carries evidence; ``evidence[0]`` is the turn the nudge is about (the trigger or
the reply, per ``points_at``), the rest show the other turns it rests on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Sequence, Union

from ..annotate import AnnotatedUtterance, JoinedUtterance
from ..turns import TurnTracker, backchannel_phrases, made, merge_turn_utterance
from ..types import (
    TONE_ORDER,
    DeadAir,
    Evidence,
    Nudge,
    Praise,
    RecordItem,
    SignalEvent,
    Speaker,
    TalkOver,
    Turn,
    Utterance,
)
from .conditions import (
    Compiler,
    EvalContext,
    Evaluator,
    Gate,
    ToneCue,
    asked_clause_start,
    lexicon_matches,
    utterance_asks,
)
from .features import ROW_COLUMNS, Features, Match, PhraseIndex, doc_text, joined_text, match_texts
from .model import EventIs, Rule, RuleSet

QUOTE_MAX_WORDS = 14
HISTORY = 64  # utterances kept for 'earlier' and for event evidence
TURN_PARTS = 40  # a turn rule reads at most this many last utterances of a turn (a long monologue)

Output = Union[Nudge, RecordItem, Praise]
_OTHER = {speaker: speaker.other() for speaker in Speaker}


class _Pending:
    """An open expectation: the turns that opened it and what matched in each. A plain class,
    not a dataclass: compiled (mypyc), a dataclass's ``__init__`` is the generated Python one,
    run by the interpreter for every expectation opened (several times this one's cost)."""

    def __init__(
        self, triggers: list[tuple[Features, list[Match]]], context: list[Features], last_trigger_end_s: float
    ) -> None:
        self.triggers = triggers
        self.context = context
        self.last_trigger_end_s = last_trigger_end_s
        self.turns_seen = 0
        self.excepted = False  # an utterance in the window matched 'unless'
        self.trigger_turn = -1  # turn rules: the turn that triggered last (it may go on)
        self.reply_turn = -1  # turn rules: the expected speaker's open turn that has not met it yet
        self.context_turn = -1  # turn rules: the turn read last into ``context``
        # turn rules: a trigger-side turn that began after the reply turn did (the reply is decided
        # when it closes): its reading, context, matches and turn; it opens its own expectation then
        self.deferred: tuple[Features, EvalContext, list[Match], Turn] | None = None


def _join_wait(pending: _Pending, state: "_State", feats: Features, found: list[Match] | None, turn: Turn) -> None:
    """A turn of the trigger's side while a turn rule waits: read into the wait's context (in
    place of its own earlier reading when the turn goes on), and one more trigger when it holds
    one (``found``)."""
    if found is not None:
        pending.triggers.append((feats, [m for m in found if m.feats is feats]))
        pending.last_trigger_end_s = turn.end_s
        pending.trigger_turn = state.turn = turn.index
    if pending.context_turn == turn.index:
        pending.context[-1] = feats
    else:
        pending.context.append(feats)
        pending.context_turn = turn.index


class _State:
    """A rule's state in the current call."""

    __slots__ = ("pending", "latched", "last_fire_s", "fired", "turn")

    def __init__(self) -> None:
        self.pending: _Pending | None = None
        self.latched = False  # in an episode (quiet until ``episode.ends_when``)
        self.last_fire_s: float | None = None
        self.fired = 0
        self.turn = -1  # turn rules: the last turn that triggered it (once per turn)


@dataclass(eq=False)
class _CompiledRule:
    rule: Rule
    when: Evaluator
    expect: Evaluator | None
    ignore: Evaluator | None
    episode_ends: Evaluator | None
    unless: Evaluator | None = None
    event: EventIs | None = None
    record_time: object | None = None  # the compiled time lexicon of a record rule
    rewrites: list[tuple[PhraseIndex, str]] = field(default_factory=list)
    rewrite_veto: object | None = None  # the compiled ``rewrite_unless_next`` lexicon
    gate: Gate | None = None  # when set and it does not admit an utterance, ``when`` cannot hold on it
    max_fires: float = float("inf")  # ``max_per_call``, or no limit
    reply_note: str = ""  # the evidence note on the reply that closed an expectation without it


class RuleEngine:
    """Evaluates rules on annotated utterances and returns nudges; one call at a time.

    ``tone_cues`` adds tone readers (e.g. a voice-based one) beside the text cue. ``turns``
    groups the utterances into turns (default: a ``TurnTracker`` with the packs' ``backchannel``
    lexicon added to its backchannels, reading a question from the parse: ``asks``).
    """

    def __init__(self, ruleset: RuleSet, tone_cues: Sequence[ToneCue] = (), turns: TurnTracker | None = None) -> None:
        self.ruleset = ruleset
        self.turns = turns or TurnTracker(backchannels=backchannel_phrases(ruleset.lexicons), asks=self.asks)
        self._closed_turns: list[Turn] = []
        self._turn_parts: list[AnnotatedUtterance] = []
        self._turn_bits = 0  # the open turn's utterances' feature bits, or'ed
        compiler = Compiler(ruleset.lexicons, ruleset.tones, ruleset.fillers)
        compiler.tone_cues.extend(tone_cues)
        self._extractor = compiler.extractor
        self._compiler = compiler
        compiled = [self._compile(rule, compiler) for rule in ruleset.rules]
        self._rules = [c for c in compiled if c.event is None and c.rule.unit != "turn"]
        self._turn_rules = [c for c in compiled if c.event is None and c.rule.unit == "turn"]
        self._event_rules = [c for c in compiled if c.event is not None]
        # per speaker and tone of the utterance's signals (None: none), the rules whose trigger
        # that speaker can say in that tone: (position, two pre-filter masks the utterance's bits
        # must both meet; 0, 0 for none). Two masks are enough to skip most rules (a gate is a
        # necessary condition: leaving masks out only lets more rules through)
        self._triggers = _triggers(self._rules)
        self._turn_triggers = _triggers(self._turn_rules)  # the same per turn rule, for a turn's reading
        # the same per turn rule: (speaker or None, the two pre-filter masks)
        self._turn_gates = [(c.gate.speaker, *_two_masks(c.gate.masks)) for c in self._turn_rules]  # type: ignore[union-attr]
        self._busy: set[int] = set()  # rules with an open expectation or in an episode: step on every turn
        self._states: list[_State] = []
        self._touched: set[int] = set()  # rules whose state may have changed since the call started
        self._event_states: list[_State] = []
        self._event_touched: set[int] = set()
        self._turn_states: list[_State] = []
        self._turn_touched: set[int] = set()  # turn rules whose state may have changed since the call started
        self._turn_busy: set[int] = set()
        self._turn_last: dict[Speaker, Features] = {}  # each speaker's last turn (so far)
        self._turn_open: tuple[int, Features] | None = None  # the open turn's index and latest reading
        self._turn_history: deque[EvalContext] = deque(maxlen=HISTORY)  # closed turns
        self._turn_ctx: EvalContext | None = None  # the last turn so far, as the turn rules read it
        self._turn_stand_in: Features | None = None  # ... or, when no rule read it, its reading (ctx made on demand)
        self._last: dict[Speaker, Features] = {}
        self._last_utterance: Utterance | None = None
        self._history: deque[EvalContext] = deque(maxlen=HISTORY)
        self.start_call()

    @staticmethod
    def _compile(rule: Rule, compiler: Compiler) -> _CompiledRule:
        expect = rule.expect
        event = rule.when if isinstance(rule.when, EventIs) else None
        return _CompiledRule(
            rule=rule,
            when=compiler.condition(rule.when),
            expect=compiler.condition(expect.condition) if expect else None,
            ignore=compiler.condition(expect.ignore) if expect and expect.ignore else None,
            episode_ends=compiler.condition(rule.episode.ends_when) if rule.episode else None,
            unless=compiler.condition(rule.unless) if rule.unless is not None else None,
            event=event,
            record_time=compiler.lexicons[rule.record.time] if rule.record and rule.record.time else None,
            rewrites=[(PhraseIndex([rw.phrase]), rw.replacement) for rw in rule.rewrites],
            rewrite_veto=compiler.lexicons[rule.rewrite_unless_next] if rule.rewrite_unless_next else None,
            gate=compiler.gate(rule.when) if event is None else None,
            max_fires=rule.max_per_call if rule.max_per_call is not None else float("inf"),
            reply_note="reply: " + _window_text(rule) if expect else "",
        )

    @property
    def compiler(self) -> Compiler:
        """The compiled lexicons and the feature extractor (``SignalTracker`` shares them)."""
        return self._compiler

    def start_call(self) -> None:
        """Forget everything about the previous call."""
        if len(self._states) != len(self._rules) or len(self._event_states) != len(self._event_rules):
            self._states = [_State() for _ in self._rules]
            self._event_states = [_State() for _ in self._event_rules]
        else:  # only the rules that did something in the last call have anything to forget
            for i in self._touched:
                self._states[i] = _State()
            for i in self._event_touched:
                self._event_states[i] = _State()
        self._touched = set()
        self._event_touched = set()
        self._busy = set()
        self.turns.start_call()
        self._closed_turns = []
        self._turn_parts = []
        if len(self._turn_states) != len(self._turn_rules):
            self._turn_states = [_State() for _ in self._turn_rules]
        else:
            for i in self._turn_touched | self._turn_busy:
                self._turn_states[i] = _State()
        self._turn_touched = set()
        self._turn_busy = set()
        self._turn_last = {}
        self._turn_open = None
        self._turn_history = deque(maxlen=HISTORY)
        self._turn_ctx = None
        self._turn_stand_in = None
        self._last = {}
        self._last_utterance = None
        self._history = deque(maxlen=HISTORY)

    def on_utterance(self, au: AnnotatedUtterance) -> list[Output]:
        """Feed the next utterance (timeline order); returns the nudges (and records) at its end:
        first those of turn rules decided by a turn it closed, then the utterance rules', then the
        turn rules' on its turn so far."""
        feats = self._extractor.features(au)
        closed, cur = self.turns.step(au.utterance, feats.word_count)
        out: list[Output] = []
        for turn in closed:
            out += self._turn_closed(turn)
        utt = au.utterance
        speaker = utt.speaker
        ctx = EvalContext(feats, self._last.get(_OTHER[speaker]), (), None, self._history)
        bits, busy = feats.bits, self._busy
        signals = utt.signals
        label = None if signals is None else signals.tone.label
        # idle rules whose trigger cannot match here have nothing to do: step the others, in order
        triggers = self._triggers.get((speaker, label)) or self._triggers[speaker, None]
        todo = triggers.memo.get(bits & triggers.mask) or triggers.todo(bits)
        if busy:
            todo = sorted(busy.union(todo))
        rules, states, touched = self._rules, self._states, self._touched
        for i in todo:
            compiled, state = rules[i], states[i]
            if i in busy:  # an open expectation or an episode: every turn counts
                nudge = self._step(compiled, state, feats, ctx)
            else:  # idle: only its trigger matters, and most turns do not match it
                if state.fired >= compiled.max_fires:
                    continue
                found = compiled.when(ctx)
                if found is None:
                    continue
                nudge = self._triggered(compiled, state, feats, ctx, found)
            touched.add(i)
            if nudge is not None:
                out.append(nudge)
            _keep_busy(busy, i, state)
        self._last[speaker] = feats
        self._last_utterance = utt
        # the context goes into the history as a past one: no history of its own, and no memo (what
        # 'earlier' found from it as the current one is not what it holds as a past one)
        ctx.history = ()
        ctx.memo = None
        self._history.append(ctx)
        if cur is not None:  # (the turn's value is made only for the turn rules that read it)
            if len(cur.utterances) == 1:
                self._turn_parts = []
                self._turn_bits = 0
            self._turn_parts.append(au)
            self._turn_bits |= bits
            del self._turn_parts[:-TURN_PARTS]
            if self._turn_rules:
                if len(self._turn_parts) == 1:  # the utterance is the turn's reading
                    todo = self._turn_todo(speaker, label, bits)
                    if todo or self._turn_busy:
                        out += self._on_turn(cur.value(False, utt.end_s), au, todo)
                    else:  # no turn rule can trigger on it
                        self._stand_in(cur.index, speaker, feats)
                elif self._reading_needed(speaker, self._turn_bits):
                    turn = cur.value(False, utt.end_s)
                    out += self._on_turn(turn, self._turn_reading(turn))
                else:  # no turn rule can use the joined reading: the last utterance stands in for
                    # the turn in the turn history ('earlier' still sees whose turn it was)
                    self._stand_in(cur.index, speaker, feats)
        return out

    def asks(self, utt: Utterance) -> bool:
        """The turns' question reading (``TurnTracker.asks``) of an utterance already fed:
        ``conditions.ends_asking`` on its features (a final "?", or a question by word order)."""
        return utterance_asks(self._last.get(utt.speaker), utt)

    def _stand_in(self, index: int, speaker: Speaker, feats: Features) -> None:
        """The turn so far is not read by any turn rule now: ``feats`` stands in for it (as the
        speaker's last turn, the turn that closes, the context ``inspect`` shows)."""
        self._turn_last[speaker] = feats
        self._turn_open = (index, feats)
        self._turn_ctx = None
        self._turn_stand_in = feats

    def _turn_todo(self, speaker: Speaker, label: str | None, bits: int) -> list[int]:
        """The idle turn rules whose trigger may match a turn reading of this speaker, tone
        (its signals', None: none) and pre-filter bits, in order."""
        triggers = self._turn_triggers.get((speaker, label)) or self._turn_triggers[speaker, None]
        return triggers.memo.get(bits & triggers.mask) or triggers.todo(bits)

    def _reading_needed(self, speaker: Speaker, bits: int) -> bool:
        """Whether a turn rule can use the reading of a turn whose utterances' features have
        these ``bits``: one is waiting (an expectation, an episode), or an idle one's trigger may
        match (its speaker, its pre-filter masks: the joined reading has its parts' bits)."""
        if self._turn_busy:
            return True
        for compiled, state, (gate_speaker, first, second) in zip(
            self._turn_rules, self._turn_states, self._turn_gates
        ):
            if (gate_speaker is not None and gate_speaker is not speaker) or state.fired >= compiled.max_fires:
                continue
            if not first or (bits & first and bits & second):
                return True
        return False

    def take_turns(self) -> list[Turn]:
        """The turns closed since the last call (by ``on_utterance``, ``tick`` or ``finish``)."""
        turns, self._closed_turns = self._closed_turns, []
        return turns

    def open_turn_utterances(self) -> dict[int, Utterance]:
        """The open turn's utterances as the rules read them (its last ``TURN_PARTS``), by index."""
        turn = self.turns.open_turn
        if turn is None:
            return {}
        held = set(turn.utterances)
        return {p.utterance.index: p.utterance for p in self._turn_parts if p.utterance.index in held}

    def revise_turn(self, revised: Sequence[AnnotatedUtterance]) -> tuple[Turn, list[Output]] | None:
        """A second recognition pass heard some of the open turn's utterances again (``revised``:
        the same indices, new texts; ``turn_pass.py``). The turn rules read the turn so far again
        with them, as after an utterance it gained (a trigger the new text no longer holds is
        dropped, a reply that now meets an expectation meets it; a rule that already fired on the
        turn does not fire again), and the turn's close decides on them. Nudges already given stay;
        the utterance rules are not run again (they only see a revised utterance as the other
        side's last). Returns the turn so far and the turn rules' outputs; None, with nothing
        changed, when the open turn does not hold all of ``revised``."""
        by_index = {au.utterance.index: au for au in revised}
        turn = self.turns.revise({i: au.utterance.text for i, au in by_index.items()})
        if turn is None:
            return None
        self._turn_parts = [by_index.get(p.utterance.index, p) for p in self._turn_parts]
        speaker = turn.speaker
        last = self._last.get(speaker)
        if last is not None and last.au.utterance.index in by_index:
            self._last[speaker] = self._extractor.features(by_index[last.au.utterance.index])
        if not self._turn_rules or not self._turn_parts:
            return turn, []
        feats = [self._extractor.features(p) for p in self._turn_parts]
        bits = 0
        for f in feats:
            bits |= f.bits
        self._turn_bits = bits
        if len(self._turn_parts) == 1 or self._reading_needed(speaker, bits):
            return turn, self._on_turn(turn, self._turn_reading(turn))
        self._stand_in(turn.index, speaker, feats[-1])
        return turn, []

    def _turn_reading(self, turn: Turn) -> AnnotatedUtterance:
        """One annotated utterance standing for the turn so far: its only utterance, or the
        utterances joined: their texts, and their Docs as ``Doc.from_docs`` joins them (each part
        keeps the reading it was given alone, as the utterance rules saw it; no second parse).
        Its features are the parts' features joined (``FeatureExtractor.join``); the joined Doc
        is built only if a condition reads the Doc itself."""
        parts = self._turn_parts
        if len(parts) == 1:
            return parts[0]
        extractor = self._extractor
        feats = [extractor.features(p) for p in parts]
        text, offsets = joined_text(feats)
        utt = merge_turn_utterance(turn, [p.utterance for p in parts], text)
        au = JoinedUtterance(utt, [p.doc for p in parts], line_words=max(f.word_count for f in feats))
        extractor.join(feats, au, offsets)
        return au

    def _turn_closed(self, turn: Turn) -> list[Output]:
        self._closed_turns.append(turn)
        return self._close_turn(turn) if self._turn_rules else []

    def on_event(self, event: SignalEvent) -> list[Nudge]:
        """Feed a timing event from the conversation signals (dead air, talk-over)."""
        out: list[Nudge] = []
        for i, (compiled, state) in enumerate(zip(self._event_rules, self._event_states)):
            if compiled.event is not None and event_matches(compiled.event, event):
                self._event_touched.add(i)
                nudge = self._fire_event(compiled, state, event)
                if nudge is not None:
                    out.append(nudge)
        return out

    def tick(self, now_s: float, speaking: "Iterable[Speaker]" = ()) -> list[Output]:
        """The clock reached ``now_s``: an expectation whose ``within.seconds`` has run out
        fails now, unless the expected speaker is mid-turn (``speaking``: channels whose speech
        started and is not yet an utterance; that turn decides it when it lands).

        Live capture ticks on the wall clock (``types.Tick``); replay ticks at the end of each
        utterance with measured times, its speaker speaking (``CallPipeline``), so there a
        deadline that passed while the other side spoke fails then. A nudge from the clock
        fires at the deadline, with the trigger turns as evidence.
        """
        busy = set(speaking)
        nudges: list[Output] = []
        for turn in self.turns.tick(now_s, busy):  # a turn whose gap passed closes first
            nudges += self._turn_closed(turn)  # nudges, praise and record items alike
        waiting = [(self._rules[i], self._states[i]) for i in sorted(self._busy)]  # open expectations are busy
        waiting += [(self._turn_rules[i], self._turn_states[i]) for i in sorted(self._turn_busy)]
        for compiled, state in waiting:
            pending = state.pending
            expect = compiled.rule.expect
            if (
                pending is None
                or expect is None
                or expect.within.seconds is None
                or expect.speaker in busy
                or pending.reply_turn >= 0
            ):  # a reply turn that started in time decides when it closes
                continue
            deadline = pending.last_trigger_end_s + expect.within.seconds
            if now_s <= deadline:
                continue
            state.pending = None
            if pending.excepted:
                continue
            index = pending.context[-1].au.utterance.index
            nudge = self._fire(compiled, state, deadline, index, pending, None, [])
            if nudge is not None:
                nudges.append(nudge)
        return nudges

    def close_open_turn(self, t_s: float) -> list[Output]:
        """Close the open turn at ``t_s`` (the call was cut short); returns what that decided."""
        return [n for turn in self.turns.finish(t_s) for n in self._turn_closed(turn)]

    def finish(self, t_s: float) -> list[Output]:
        """The call ended at ``t_s``: the open turn closes, then open expectations close
        (``if_call_ends: fire`` fires)."""
        nudges: list[Output] = []
        for turn in self.turns.finish(t_s):
            nudges += self._turn_closed(turn)
        waiting = [(self._rules[i], self._states[i]) for i in sorted(self._busy)]  # open expectations are busy
        waiting += [(self._turn_rules[i], self._turn_states[i]) for i in sorted(self._turn_busy)]
        for compiled, state in waiting:
            pending, state.pending = state.pending, None
            expect = compiled.rule.expect
            if (
                pending is None
                or expect is None
                or expect.if_call_ends != "fire"
                or self._last_utterance is None
                or pending.excepted
            ):
                continue
            nudge = self._fire(compiled, state, t_s, self._last_utterance.index, pending, None, [])
            if nudge is not None:
                nudges.append(nudge)
        return nudges

    @property
    def reads_turns(self) -> bool:
        """Whether any rule reads turns (``unit: turn``)."""
        return bool(self._turn_rules)

    def _on_turn(self, turn: Turn, au: AnnotatedUtterance, todo: list[int] | None = None) -> list[Output]:
        """Feed the open turn so far (``au``: one utterance standing for it, its joined text
        annotated), after each utterance it gains; returns the turn rules' nudges and records.
        ``todo``: the idle rules whose gate admits it (``_turn_todo``), if known."""
        feats = self._extractor.features(au)
        speaker = turn.speaker
        ctx = EvalContext(feats, self._turn_last.get(_OTHER[speaker]), (), None, self._turn_history)
        out: list[Output] = []
        busy, rules, states, touched = self._turn_busy, self._turn_rules, self._turn_states, self._turn_touched
        if todo is None:
            signals = au.utterance.signals
            todo = self._turn_todo(speaker, None if signals is None else signals.tone.label, feats.bits)
        if busy:
            todo = sorted(busy.union(todo))
        for i in todo:
            compiled, state = rules[i], states[i]
            if i in busy:
                nudge = self._turn_step(compiled, state, feats, ctx, turn)
            else:
                if state.fired >= compiled.max_fires or state.turn == turn.index:
                    continue
                found = compiled.when(ctx)
                if found is None:
                    continue
                touched.add(i)
                nudge = self._turn_triggered(compiled, state, feats, ctx, found, turn)
            if nudge is not None:
                out.append(nudge)
            _keep_busy(busy, i, state)
        self._turn_last[speaker] = feats
        self._turn_open = (turn.index, feats)
        self._turn_ctx = ctx
        self._turn_stand_in = None
        return out

    def _close_turn(self, turn: Turn) -> list[Output]:
        """The turn closed (at ``turn.t_s``): an expected speaker's reply turn that has not met
        the expectation counts towards ``within.turns`` now (and fires when it is the last)."""
        if self._turn_open is None or self._turn_open[0] != turn.index:
            return []
        feats = self._turn_open[1]
        self._turn_open = None
        other_last = self._turn_last.get(_OTHER[turn.speaker])
        # the turn rules' context of its last reading, when it was read (the same turn, the same
        # other side's last turn, the same history: what it found there holds), else one made
        # when a rule reads the closed turn
        ctx = self._turn_ctx
        if ctx is not None and (ctx.feats is not feats or ctx.other_last is not other_last):
            ctx = None
        out: list[Output] = []
        for i in sorted(self._turn_busy) if self._turn_busy else ():
            compiled, state = self._turn_rules[i], self._turn_states[i]
            pending, expect = state.pending, compiled.rule.expect
            if pending is None or expect is None or pending.reply_turn != turn.index:
                continue
            pending.reply_turn = -1
            if ctx is None:
                ctx = EvalContext(feats, other_last, (), None, self._turn_history)
            deferred, pending.deferred = pending.deferred, None
            if compiled.ignore is not None and compiled.ignore(ctx) is not None:
                if deferred is not None:  # a backchannel is no reply: the later turn joins the wait
                    d_feats, _, d_found, d_turn = deferred
                    _join_wait(pending, state, d_feats, d_found, d_turn)
                continue  # a backchannel turn is not a reply
            pending.turns_seen += 1
            if expect.within.turns is not None and pending.turns_seen >= expect.within.turns:
                state.pending = None
                if not pending.excepted:
                    nudge = self._fire(compiled, state, turn.t_s, turn.last_utterance, pending, feats, [])
                    if nudge is not None:
                        out.append(nudge)
                # a rule that expects its own trigger's speaker (a promise, then a time): the
                # reply turn that failed the old expectation may hold a new trigger, which opens
                # its own expectation instead of being lost with the old one
                if state.fired < compiled.max_fires and state.turn != turn.index:
                    found = compiled.when(ctx)
                    if found is not None:
                        opened = self._turn_triggered(compiled, state, feats, ctx, found, turn)
                        if opened is not None:
                            out.append(opened)
                if deferred is not None and state.pending is None and state.fired < compiled.max_fires:
                    d_feats, d_ctx, d_found, d_turn = deferred
                    opened = self._turn_triggered(compiled, state, d_feats, d_ctx, d_found, d_turn)
                    if opened is not None:
                        out.append(opened)
                if _idle(state):  # (read again: ``_turn_triggered`` may have opened one)
                    self._turn_busy.discard(i)
        if ctx is None:
            self._turn_history.append(EvalContext(feats, other_last))
        else:  # into the history as a past context: no history of its own, no memo
            ctx.history = ()
            ctx.memo = None
            self._turn_history.append(ctx)
        return out

    def _turn_triggered(
        self, compiled: _CompiledRule, state: _State, feats: Features, ctx: EvalContext, found: list[Match], turn: Turn
    ) -> Output | None:
        state.turn = turn.index
        out = self._triggered(compiled, state, feats, ctx, found)
        if state.pending is not None:
            state.pending.trigger_turn = state.pending.context_turn = turn.index
        return out

    def _turn_step(
        self, compiled: _CompiledRule, state: _State, feats: Features, ctx: EvalContext, turn: Turn
    ) -> Output | None:
        """A turn rule with an open expectation or in an episode, and the turn so far."""
        rule = compiled.rule
        _busy_step(compiled, state, ctx)
        pending = state.pending
        if pending is not None and rule.expect is not None:
            expect = rule.expect
            if turn.index == pending.trigger_turn:  # the trigger turn goes on: its latest reading is the trigger
                found = compiled.when(ctx)
                if found is not None:
                    pending.triggers[-1] = (feats, [m for m in found if m.feats is feats])
                else:  # the rest of the turn took the trigger back ("… That'll be before five.")
                    del pending.triggers[-1]
                    if not pending.triggers:
                        state.pending = None
                        state.turn = -1  # a later part of this turn may trigger it again
                        return None
                if pending.context_turn == turn.index:
                    pending.context[-1] = feats
                pending.last_trigger_end_s = turn.end_s
                return None
            if turn.speaker is expect.speaker:
                seconds = expect.within.seconds
                if (
                    pending.reply_turn != turn.index
                    and seconds is not None
                    and turn.start_s - pending.last_trigger_end_s > seconds
                ):  # a late reply
                    state.pending = None
                    if pending.excepted:
                        return None
                    return self._fire(
                        compiled, state, feats.au.utterance.end_s, turn.last_utterance, pending, feats, []
                    )
                assert compiled.expect is not None
                met = compiled.expect(EvalContext(feats, ctx.other_last, pending.context, ctx.tones))
                if met is not None:
                    state.pending = None
                    if rule.praise and not pending.excepted:
                        return self._praise_met(compiled, state, pending, feats, met)
                    return None
                pending.reply_turn = turn.index  # decided when it closes
                return None
            found = compiled.when(ctx)  # the trigger side again, in a new turn
            if pending.reply_turn >= 0:
                # a reply turn began before this one and is decided when it closes: this turn
                # did not come before that reply, so it waits to open an expectation of its own
                # (a second long complaint after a reply that did not reflect the first)
                pending.deferred = None if found is None else (feats, ctx, found, turn)
                return None
            _join_wait(pending, state, feats, found, turn)
            return None
        if (
            state.pending is None
            and not state.latched
            and state.fired < compiled.max_fires
            and state.turn != turn.index
        ):
            found = compiled.when(ctx)
            if found is not None:
                return self._turn_triggered(compiled, state, feats, ctx, found, turn)
        return None

    def inspect(self, rule_id: str) -> tuple[Rule, "_State", EvalContext | None, Compiler]:
        """For ``rules explain``: a rule, its live state, the last utterance's context (a turn
        rule's: the last turn so far), the compiler."""
        for compiled, state in zip(
            self._rules + self._turn_rules + self._event_rules, self._states + self._turn_states + self._event_states
        ):
            if compiled.rule.id == rule_id:
                if compiled.rule.unit == "turn":
                    if self._turn_ctx is None and self._turn_stand_in is not None:
                        feats = self._turn_stand_in
                        other = self._turn_last.get(_OTHER[feats.au.utterance.speaker])
                        self._turn_ctx = EvalContext(feats, other, (), None, self._turn_history)
                    return compiled.rule, state, self._turn_ctx, self._compiler
                return compiled.rule, state, self._history[-1] if self._history else None, self._compiler
        raise KeyError(rule_id)

    # ------------------------------------------------------------ one rule, one utterance

    def _step(self, compiled: _CompiledRule, state: _State, feats: Features, ctx: EvalContext) -> Output | None:
        rule = compiled.rule
        utt = feats.au.utterance
        nudge = None
        _busy_step(compiled, state, ctx)
        pending = state.pending
        if pending is not None and rule.expect is not None:
            expect = rule.expect
            if utt.speaker is expect.speaker:
                if compiled.ignore is None or compiled.ignore(ctx) is None:
                    nudge = self._close_window(compiled, state, pending, feats, ctx)
            else:
                found = compiled.when(ctx)
                if found is not None:
                    pending.triggers.append((feats, [m for m in found if m.feats is feats]))
                    pending.last_trigger_end_s = utt.end_s
                pending.context.append(feats)
                return None
        if state.pending is None and not state.latched and state.fired < compiled.max_fires:
            found = compiled.when(ctx)
            if found is not None:
                return self._triggered(compiled, state, feats, ctx, found) or nudge
        return nudge

    def _triggered(
        self, compiled: _CompiledRule, state: _State, feats: Features, ctx: EvalContext, found: list[Match]
    ) -> Output | None:
        """An idle rule's ``when`` matched this utterance (``found``): record it, fire, or open
        an expectation."""
        rule = compiled.rule
        utt = feats.au.utterance
        found = [m for m in found if m.feats is feats]  # 'earlier' matches belong to past turns
        if rule.record is not None:
            return self._record(compiled, feats, found)
        if rule.expect is None:
            if compiled.unless is not None and compiled.unless(ctx) is not None:
                return None
            if rule.praise:
                return self._praise(compiled, state, [_evidence(feats, found, "")], 0, feats, found)
            return self._fire(compiled, state, utt.end_s, utt.index, None, feats, found)
        pending = _Pending([(feats, found)], [feats], utt.end_s)
        pending.excepted = compiled.unless is not None and compiled.unless(ctx) is not None
        state.pending = pending
        return None

    def _record(self, compiled: _CompiledRule, feats: Features, found: list[Match]) -> RecordItem:
        rule = compiled.rule
        assert rule.record is not None
        utt = feats.au.utterance
        quote, _ = _quote_and_rewrite(feats, found, [])
        time = None
        if compiled.record_time is not None:
            times = lexicon_matches(compiled.record_time, feats)  # type: ignore[arg-type]
            # one time said twice in other case ("Tomorrow. … tomorrow at 9") is listed once
            said: dict[str, str] = {}
            for text in match_texts(times):
                said.setdefault(text.casefold(), text)
            time = ", ".join(said.values()) or None
        return RecordItem(
            rule.record.list, rule.id, utt.end_s, utt.index, utt.speaker, quote or utt.text, time, rule.source
        )

    def _close_window(
        self, compiled: _CompiledRule, state: _State, pending: _Pending, feats: Features, ctx: EvalContext
    ) -> Output | None:
        expect = compiled.rule.expect
        assert expect is not None and compiled.expect is not None
        utt = feats.au.utterance
        window = expect.within
        late = window.seconds is not None and utt.start_s - pending.last_trigger_end_s > window.seconds
        if not late:
            reply_ctx = EvalContext(feats, ctx.other_last, pending.context, ctx.tones)
            met = compiled.expect(reply_ctx)
            if met is not None:
                state.pending = None
                if compiled.rule.praise and not pending.excepted:
                    return self._praise_met(compiled, state, pending, feats, met)
                return None
        pending.turns_seen += 1
        if late or (window.turns is not None and pending.turns_seen >= window.turns):
            state.pending = None
            if pending.excepted:
                return None
            return self._fire(compiled, state, utt.end_s, utt.index, pending, feats, [])
        return None

    # ------------------------------------------------------------ nudges

    def _fire(
        self,
        compiled: _CompiledRule,
        state: _State,
        t_s: float,
        index: int,
        pending: _Pending | None,
        closing: Features | None,
        found: list[Match],
    ) -> Nudge | None:
        """Build the nudge (unless in cooldown). ``closing`` is the utterance at whose end it
        fires (None when the call ended); ``found`` what matched in it for a ``when``-only rule."""
        rule = compiled.rule
        if rule.episode is not None:
            state.latched = True
        if rule.praise:  # a praise rule whose expectation failed says nothing
            return None
        if not self._may_fire(rule, state, t_s):
            return None
        quoted: int | None = 0
        if pending is None:
            assert closing is not None
            evidence = [_evidence(closing, found, "")]
            quote_from = (closing, found)
        else:
            quote_from = pending.triggers[0]
            triggers = [_evidence(f, m, "trigger") for f, m in pending.triggers]
            if closing is None:
                reply = []
            else:
                reply = [_evidence(closing, [], compiled.reply_note)]
            evidence = triggers + reply if rule.points_at == "trigger" else reply + triggers
            trigger_at = 0 if rule.points_at == "trigger" else len(reply)
            reply_at = (len(triggers) if rule.points_at == "trigger" else 0) if reply else None
            quoted = reply_at if rule.quote == "reply" else trigger_at
        if rule.quote == "none":
            quoted = None
        quote, rewrite = _quote_and_rewrite(*quote_from, compiled.rewrites, compiled.rewrite_veto)
        if rewrite is not None:
            message = rule.message.format(quote=quote, rewrite=rewrite)
        else:
            message = rule.message_if_no_rewrite.format(quote=quote, rewrite="")
        return _nudge(rule, message, t_s, index, evidence, rewrite, quoted)

    def _praise_met(
        self, compiled: _CompiledRule, state: _State, pending: _Pending, feats: Features, met: list[Match]
    ) -> Praise | None:
        """A praise rule's expectation was met by ``feats`` (``met``: what matched in it)."""
        mine = [m for m in met if m.feats is feats]
        triggers = [_evidence(f, m, "trigger") for f, m in pending.triggers]
        evidence = triggers + [_evidence(feats, mine, "")]
        quoted = len(triggers) if compiled.rule.quote == "reply" else 0
        quote_from = (feats, mine) if compiled.rule.quote == "reply" else pending.triggers[0]
        return self._praise(compiled, state, evidence, quoted, *quote_from)

    def _praise(
        self,
        compiled: _CompiledRule,
        state: _State,
        evidence: list[Evidence],
        quoted: int,
        quote_feats: Features,
        found: list[Match],
    ) -> Praise | None:
        rule = compiled.rule
        utt = evidence[-1]
        if not self._may_fire(rule, state, utt.end_s):
            return None
        quote, _ = _quote_and_rewrite(quote_feats, found, [])
        if not quote and 0 <= quoted < len(evidence):
            quote = evidence[quoted].text
        spans = [m for m in found if m.end > m.start and m.feats is quote_feats]
        said = ""
        if spans:  # the whole sentence the praised words are in
            s_start, s_end = quote_feats.sent_spans[quote_feats.sent[spans[0].start]]
            said = _clip(quote_feats, s_start, s_end)
        return made(  # as ``Praise(...)`` makes it, without the frozen dataclass's setattr per field
            Praise,
            {
                "rule": rule.id,
                "title": rule.title,
                "message": rule.message.format(quote=quote, rewrite=""),
                "t_s": utt.end_s,
                "utterance_index": utt.utterance_index,
                "evidence": tuple(evidence),
                "rule_source": rule.source,
                "priority": rule.priority,
                "tags": rule.tags,
                "quote": None if rule.quote == "none" else quoted,
                "experimental": rule.status == "experimental",
                "said": said,
            },
        )

    @staticmethod
    def _may_fire(rule: Rule, state: _State, t_s: float) -> bool:
        """Cooldown and the per-call cap; counts the fire when allowed."""
        if state.last_fire_s is not None and t_s - state.last_fire_s < rule.cooldown_s:
            return False
        if rule.max_per_call is not None and state.fired >= rule.max_per_call:
            return False
        state.last_fire_s = t_s
        state.fired += 1
        return True

    def _fire_event(self, compiled: _CompiledRule, state: _State, event: SignalEvent) -> Nudge | None:
        rule = compiled.rule
        if not self._may_fire(rule, state, event.t_s):
            return None
        evidence: list[Evidence] = []
        index = self._last_utterance.index if self._last_utterance is not None else -1
        if isinstance(event, DeadAir):
            if self._history:
                last = self._history[-1].feats
                hold = "hold announced" if event.hold_announced else "no hold announced"
                evidence.append(_evidence(last, [], f"then {event.silence_s:.0f} s of silence ({hold})"))
        elif isinstance(event, TalkOver):
            index = event.utterance_index
            for past in reversed(self._history):
                if past.feats.au.utterance.index == event.utterance_index:
                    evidence.append(
                        _evidence(
                            past.feats, [], f"started {event.overlap_s:.1f} s before the {event.over.value} finished"
                        )
                    )
                    break
        message = rule.message.format(quote=evidence[0].text if evidence else "", rewrite="")
        return _nudge(rule, message, event.t_s, index, evidence, None, 0 if evidence and rule.quote != "none" else None)

    # ------------------------------------------------------------ early nudges (rules.early)

    def can_say(self, speaker: Speaker, rule_ids: frozenset[str]) -> bool:
        """Whether ``speaker`` can say the trigger of one of these utterance rules."""
        return any(
            c.rule.id in rule_ids and c.gate.speaker in (None, speaker)  # type: ignore[union-attr]
            for c in self._rules
        )

    def probe(
        self, au: AnnotatedUtterance, rule_ids: frozenset[str], settle_words: int = 0, stable_chars: int | None = None
    ) -> list[Nudge]:
        """The nudges the ``when``-only utterance rules in ``rule_ids`` would fire if ``au`` (the
        words so far of an utterance still being spoken) ended now, after the utterances fed so
        far; no state changes (cooldowns, caps and episodes are read, not counted).

        ``stable_chars``: only the text's first this many characters are sure (a live caption's
        agreed words; the rest is the latest pass's guess): a match must lie within them, while
        the tests that skip a match (a question, a negation) read the whole text.
        ``settle_words``: a match counts only when its sentence is followed by another, or at
        least this many words follow it (what comes right after a match can still undo it:
        "you need to" + "… is that right?", "not", "if")."""
        feats = self._extractor.features(au)
        speaker = au.utterance.speaker
        ctx = EvalContext(feats, self._last.get(_OTHER[speaker]), (), None, self._history)
        bits = feats.bits
        out: list[Nudge] = []
        for i, first, second in self._triggers[speaker, None].items:
            compiled, state = self._rules[i], self._states[i]
            rule = compiled.rule
            if (
                rule.id not in rule_ids
                or rule.expect is not None
                or rule.record is not None
                or rule.praise
                or state.pending is not None
                or state.latched
                or state.fired >= compiled.max_fires
                or (first and not (bits & first and bits & second))
            ):
                continue
            found = compiled.when(ctx)
            if found is None:
                continue
            found = [m for m in found if m.feats is feats]
            if (settle_words or stable_chars is not None) and not _settled(feats, found, settle_words, stable_chars):
                continue
            if compiled.unless is not None and compiled.unless(ctx) is not None:
                continue
            trial = _State()  # a copy: the cooldown and the cap are checked, not counted
            trial.last_fire_s, trial.fired = state.last_fire_s, state.fired
            utt = au.utterance
            nudge = self._fire(compiled, trial, utt.end_s, utt.index, None, feats, found)
            if nudge is not None:
                out.append(nudge)
        return out


def _settled(feats: Features, found: list[Match], words: int, stable_chars: int | None = None) -> bool:
    """Whether a match with words in it ends within the first ``stable_chars`` characters and has
    its sentence closed by a later one, or ``words`` content tokens after it (a match of no
    words, e.g. ``speaker:`` alone: yes)."""
    spans = [m for m in found if m.end > m.start]
    if not spans:
        return True
    last = len(feats.sent_spans) - 1
    n = len(feats.sent)
    rows, doc_i = feats.rows, feats.doc_i
    for m in spans:
        row = rows[doc_i[m.end - 1]]
        if stable_chars is not None and row[_IDX] + row[_LEN] > stable_chars:
            continue
        if feats.sent[m.start] < last or n - m.end >= words:
            return True
    return False


class _Triggers:
    """The rules one speaker's utterance in one tone can trigger, each as (position, two
    pre-filter masks), and the idle ones to try for an utterance's bits (``todo``), kept by the
    bits the masks read: the same few combinations recur, and one lookup replaces a test of
    every rule's masks (two ``&`` on integers of about 200 bits each)."""

    __slots__ = ("items", "mask", "memo")

    def __init__(self, items: list[tuple[int, int, int]]) -> None:
        self.items = items
        self.mask = 0  # every bit some mask reads
        for _, first, second in items:
            self.mask |= first | second
        # bits & mask -> the rules to try, in order (never empty: an empty list is not kept)
        self.memo: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def todo(self, bits: int) -> list[int]:
        """The rules whose masks ``bits`` both meet (or that have none), in order; kept."""
        todo = [i for i, a, b in self.items if not a or (bits & a and bits & b)]
        if todo:
            if len(self.memo) >= 4096:  # (a bound; a few hundred combinations in practice)
                self.memo.clear()
            self.memo[bits & self.mask] = todo
        return todo


def _triggers(rules: list[_CompiledRule]) -> dict[tuple[Speaker, str | None], _Triggers]:
    """Per speaker and tone label (None: no signals), the rules whose gate admits them."""
    return {
        (speaker, label): _Triggers(
            [
                (i, *_two_masks(c.gate.masks))  # type: ignore[union-attr]
                for i, c in enumerate(rules)
                if c.gate.speaker in (None, speaker) and c.gate.admits_tone(label)  # type: ignore[union-attr]
            ]
        )
        for speaker in Speaker
        for label in (None, *TONE_ORDER)
    }


def _idle(state: _State) -> bool:
    """No open expectation and not in an episode. (A function, so a compiled engine reads
    ``state.pending`` afresh after a call that may have set it: mypy keeps an attribute it saw
    set to None narrowed across calls, and mypyc would check it as None.)"""
    return state.pending is None and not state.latched


def _keep_busy(busy: set[int], i: int, state: _State) -> None:
    """Rule ``i`` stays in ``busy`` (stepped at every utterance or turn) while it has an open
    expectation or is in an episode, and leaves it when idle."""
    if _idle(state):
        busy.discard(i)
    else:
        busy.add(i)


def _busy_step(compiled: _CompiledRule, state: _State, ctx: EvalContext) -> None:
    """What comes first when a busy rule meets an utterance or turn (``ctx``): ``episode.ends_when``
    matching it ends the episode, and ``unless`` matching it excepts the open expectation."""
    if state.latched and compiled.episode_ends is not None and compiled.episode_ends(ctx) is not None:
        state.latched = False
    pending = state.pending
    if pending is not None and compiled.rule.expect is not None:
        if compiled.unless is not None and compiled.unless(ctx) is not None:
            pending.excepted = True


def _two_masks(masks: tuple[int, ...]) -> tuple[int, int]:
    if not masks:
        return 0, 0
    return masks[0], masks[1] if len(masks) > 1 else masks[0]


def event_matches(test: EventIs, event: SignalEvent) -> bool:
    """Does a dead-air / talk-over event pass an ``event:`` test?"""
    if test.kind == "dead_air":
        if not isinstance(event, DeadAir):
            return False
        length = event.silence_s
        if test.hold_announced is not None and event.hold_announced is not test.hold_announced:
            return False
    else:
        if not isinstance(event, TalkOver):
            return False
        length = event.overlap_s
        if test.by is not None and event.speaker is not test.by:
            return False
    if test.min_s is not None and length < test.min_s:
        return False
    return not (test.max_s is not None and length > test.max_s)


def _nudge(
    rule: Rule,
    message: str,
    t_s: float,
    index: int,
    evidence: list[Evidence],
    rewrite: str | None,
    quote: int | None = 0,
) -> Nudge:
    return made(  # as ``Nudge(...)`` makes it, without the frozen dataclass's setattr per field
        Nudge,
        {
            "rule": rule.id,
            "severity": rule.severity,
            "title": rule.title,
            "message": message,
            "t_s": t_s,
            "utterance_index": index,
            "evidence": tuple(evidence),
            "why": rule.why,
            "rewrite": rewrite,
            "rule_source": rule.source,
            "priority": rule.priority,
            "experimental": rule.status == "experimental",
            "tags": rule.tags,
            "quote": quote,
            "early": False,
            "early_id": None,
            "confirms": None,
        },
    )


def _window_text(rule: Rule) -> str:
    expect = rule.expect
    assert expect is not None
    parts = []
    if expect.within.turns is not None:
        parts.append(f"{expect.within.turns} {expect.speaker.value} turn{'s' if expect.within.turns != 1 else ''}")
    if expect.within.seconds is not None:
        parts.append(f"{expect.within.seconds:g} s")
    return "the expected words did not come within " + " or ".join(parts)


def _evidence(feats: Features, found: list[Match], note: str) -> Evidence:
    utt = feats.au.utterance
    return made(  # as ``Evidence(...)`` makes it, without the frozen dataclass's setattr per field
        Evidence,
        {
            "utterance_index": utt.index,
            "speaker": utt.speaker,
            "text": utt.text,
            "start_s": utt.start_s,
            "end_s": utt.end_s,
            "matched": match_texts(found) if found else (),
            "note": note,
        },
    )


def _quote_and_rewrite(
    feats: Features, found: list[Match], rewrites: list[tuple[PhraseIndex, str]], veto: object | None = None
) -> tuple[str, str | None]:
    """The speaker's own words from the first match to the end of its sentence, and, when a
    rewrite phrase overlaps a match, the same words with that phrase replaced: the rest of the
    sentence as said, with its punctuation and case ("No problem, have a good day." -> "My
    pleasure, have a good day."). No rewrite when a ``veto`` lexicon phrase starts within two
    words after the replaced phrase ("you need to calm down" is not "Let's calm down")."""
    spans = [m for m in found if m.end > m.start]
    if not spans:
        return "", None
    if not rewrites:  # the first match's quote (the loop below reads each span's sentence end for a rewrite)
        m = spans[0]
        return _clip(feats, m.start, asked_clause_start(feats, m.end, feats.sent_spans[feats.sent[m.start]][1])), None
    for m in spans:
        # a sentence's end, or a question said after the match without a stop ("…go to settings
        # do you have the app open"): the quote and the rewrite stop there
        s_end = asked_clause_start(feats, m.end, feats.sent_spans[feats.sent[m.start]][1])
        s_start = feats.sent_spans[feats.sent[m.start]][0]
        for index, replacement in rewrites:
            for pos in range(s_start, m.end):
                if not index.could_start(feats, pos):
                    continue
                end = index.match_at(feats, pos)
                if end > m.start:
                    quote = _clip(feats, min(pos, m.start), s_end)
                    if veto is not None and any(
                        end <= v.start <= end + 2 and v.start < s_end
                        for v in lexicon_matches(veto, feats)  # type: ignore[arg-type]
                    ):
                        return quote, None
                    rest = _rest_of_sentence(feats, end, s_end)
                    joint = "" if not rest or rest[0] in _TIGHT_PUNCT else " "
                    rewrite = replacement + joint + rest
                    return quote, rewrite[:1].upper() + rewrite[1:]
    m = spans[0]
    return _clip(feats, m.start, asked_clause_start(feats, m.end, feats.sent_spans[feats.sent[m.start]][1])), None


_TIGHT_PUNCT = ",;:.!?…)"
_IDX, _LEN = ROW_COLUMNS.index("IDX"), ROW_COLUMNS.index("LENGTH")


def _rest_of_sentence(feats: Features, end: int, s_end: int) -> str:
    """The words said after content position ``end - 1`` to the end of its sentence, with the
    punctuation between and after them, as said (fillers removed; long tails cut with "…")."""
    doc_start = feats.doc_i[end - 1] + 1
    if s_end - end > QUOTE_MAX_WORDS:
        return doc_text(feats, doc_start, feats.doc_i[end + QUOTE_MAX_WORDS - 1] + 1).rstrip(",;:") + "…"
    doc_end = feats.doc_i[s_end - 1] + 1
    rows, text = feats.rows, feats.text
    while doc_end < len(rows):  # the sentence's closing punctuation
        word = text[rows[doc_end][_IDX] : rows[doc_end][_IDX] + rows[doc_end][_LEN]]
        if not word or any(ch.isalnum() for ch in word):
            break
        doc_end += 1
    return doc_text(feats, doc_start, doc_end) if doc_end > doc_start else ""


def _clip(feats: Features, start: int, end: int) -> str:
    """Text of content tokens [start, end), cut to ``QUOTE_MAX_WORDS`` words with an ellipsis."""
    if end - start > QUOTE_MAX_WORDS:
        return feats.span_text(start, start + QUOTE_MAX_WORDS).rstrip(",;:") + "…"
    return feats.span_text(start, end)
