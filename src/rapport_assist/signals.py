"""Conversation state: voice, timing and text signals per speaker, as the call goes.

    annotated utterances ──► SignalTracker ──► utterances with signals, signal events

Everything is incremental: ``on_utterance`` sees each utterance once, in timeline order, and
``tick(now_s)`` lets the clock fire dead air when nobody speaks (replay ticks on its simulated
clock, live capture on the wall clock). ``on_activity`` takes the audio sources' "speech
started / segment dropped" marks so a long turn that is still being recognized is not mistaken
for silence.

Voice signals compare a speaker only with their own baseline, so the agent's microphone level
is never compared with the customer's line level. The baseline is the median of the speaker's
last ``baseline_window`` *calm* utterances of *earlier turns*: an utterance whose voice alone
read as raised (or that lay in a turn that did) is left out, so one angry stretch does not
become the yardstick the next is measured with, and a turn is never compared with itself (a
customer who starts the call angry is judged once calm speech of theirs has been heard). If
the level moved for good (``baseline_relearn`` raised utterances in a row), the raised run
becomes the baseline.

The voice of the tone is taken for the utterance alone and for its *turn so far*
(``turns.TurnTracker``: the endpointer cuts one complaint into several utterances), pooled over
the turn's utterances (power-mean loudness, syllables over speaking time), whichever is
higher. Text cues come from the rule packs' lexicons (YAML the team edits); the tone's word cue
is the ``tones:`` definition of the packs, so rules and tone agree; angry words in the speaker's
usual voice count one cue less once their baseline has settled, outside an angry episode.

Every value a rule can test is listed in ``signal_catalogue.SIGNAL_FIELDS`` with its unit; ``rules/README.md``
documents them (a test keeps the two in step).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import deque
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterable

from .annotate import AnnotatedUtterance
from .signal_catalogue import CUE_LEXICONS, SIGNAL_FIELDS, SignalField  # noqa: F401  (re-exported)
from .rules.conditions import Compiler, EvalContext, lexicon_matches, utterance_asks
from .rules.features import Features, Match, match_texts
from .rules.model import EventIs
from .turns import TurnTracker, backchannel_phrases
from .types import (
    DeadAir,
    SignalEvent,
    Speaker,
    SpeechActivity,
    TalkOver,
    ToneChange,
    ToneEstimate,
    ToneLabel,
    Utterance,
    UtteranceSignals,
)

if TYPE_CHECKING:  # pragma: no cover
    from .rules import RuleSet


# measures of the two sides against each other: on a recording of one side only (``sides``: a
# mono file replayed with --speaker) the other side's talk is silence to us, so these would be
# false (the agent "silent" while they talk, a talk share of 0): None there, and no dead air or
# talk-over events
BOTH_SIDES_FIELDS = (
    "rate_vs_other",
    "gap_s",
    "silence_before_s",
    "talk_over_s",
    "monologue_s",
    "talk_share",
    "agent_talk_share",
)


def one_side_only(sides: "Iterable[Speaker] | None") -> Speaker | None:
    """The one side a call's audio holds, or None (both sides, or not known: a transcript)."""
    present = set(sides) if sides is not None else set()
    return next(iter(present)) if len(present) == 1 else None


@dataclass(frozen=True)
class SignalOptions:
    """Thresholds of the signals and of the tone estimate (units in the names)."""

    dead_air_s: float = 8.0
    hold_window_s: float = 10.0  # an agent hold phrase this soon before a silence makes it "announced"
    min_talk_over_s: float = 0.5
    # two turns that start this close together are a simultaneous start (both began at once, as
    # at the call's opening "Hello?" / greeting), which is no one's talk-over; it also covers the
    # recognizer's word times, whose first word can start a few tenths of a second early
    simultaneous_start_s: float = 0.5
    # a pause this short inside one speaker's talk does not end their turn (the endpointer split
    # it): who talked over whom is decided by when each *turn* started
    turn_join_s: float = 0.6
    baseline_window: int = 8
    baseline_min: int = 2  # calm utterances of earlier turns needed before voice is compared with a baseline
    baseline_relearn: int = 8  # this many raised utterances in a row (earlier turns): the level moved, they count
    # a voice score this high (about 6 dB louder alone) keeps an utterance out of the baseline
    raised_voice: float = 0.45
    min_rate_span_s: float = 0.8
    min_rate_syllables: int = 4
    # Tone: voice score = loud_weight * min(1, rise_db / loud_full_db)
    #                   + rate_weight * min(1, rate_rise / rate_full_rise);
    # text score = text_angry (tone 'angry' words) or text_tense (tone 'tense' words);
    # combined = 1 - (1 - text)(1 - voice).
    # 8 dB over the speaker's own calm level scores in full: between ANSI S3.5's "raised" (+6 dB
    # over normal effort) and "loud" (+12 dB). Measured on the spoken dev sets (two seeds, the
    # audio route): calm customer turns never rose more than 3.4 dB (p99 +2.8), turns said 8 dB
    # louder and faster measured +7.9 dB at p10, and their pace, read from word times, only
    # +10% at p25, so at 10 dB full a loud turn with a pace the words under-read stayed 'tense'.
    loud_full_db: float = 8.0
    loud_weight: float = 0.6
    rate_full_rise: float = 0.3
    rate_weight: float = 0.3  # pace alone never reaches "tense"
    text_angry: float = 0.7
    text_angry_extra: float = 0.1  # per further anger cue, up to 0.9
    text_tense: float = 0.4
    # words that sound angry, said in the speaker's usual voice (a settled baseline, and a voice
    # score under calm_voice: under ~3 dB louder or ~25% faster), count one cue less
    text_calm_voice: float = 0.1
    calm_voice: float = 0.25
    tense_at: float = 0.35
    angry_at: float = 0.7
    state_hold_s: float = 30.0  # the running tone keeps its score this long...
    state_half_life_s: float = 60.0  # ...then halves every this many seconds


def label_of(score: float, options: SignalOptions) -> ToneLabel:
    return "angry" if score >= options.angry_at else "tense" if score >= options.tense_at else "calm"


_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_TOKEN = re.compile(r"[a-z']+|\d")


def count_syllables(text: str) -> int:
    """Rough English syllable count: vowel groups per word (silent final 'e' dropped), a digit is one."""
    total = 0
    for token in _TOKEN.findall(text.lower()):
        if token.isdigit():
            total += 1
            continue
        groups = len(_VOWEL_GROUPS.findall(token))
        if token.endswith("e") and not token.endswith(("le", "ee")) and groups > 1:
            groups -= 1
        total += max(1, groups) if token.strip("'") else 0
    return total


def _rate_parts(utt: Utterance, options: SignalOptions) -> tuple[int, float] | None:
    """(syllables, seconds) of an utterance's speech, or None when times are estimated/short."""
    if utt.words:
        span = utt.words[-1].end_s - utt.words[0].start_s
    elif not utt.timing_estimated:
        span = utt.duration_s
    else:
        return None
    syllables = count_syllables(utt.text)
    if span < options.min_rate_span_s or syllables < options.min_rate_syllables:
        return None
    return syllables, span


def speaking_rate(utt: Utterance, options: SignalOptions) -> float | None:
    """Syllables per second over the span of the words, or None when times are estimated/short."""
    parts = _rate_parts(utt, options)
    return None if parts is None else parts[0] / parts[1]


def voice_score(rise_db: float | None, rate_rise: float | None, options: SignalOptions) -> float:
    """How raised a voice is, 0..0.9: loudness and pace against the speaker's baseline."""
    voice = 0.0
    if rise_db is not None and rise_db > 0:
        voice += options.loud_weight * min(1.0, rise_db / options.loud_full_db)
    if rate_rise is not None and rate_rise > 0:
        voice += options.rate_weight * min(1.0, rate_rise / options.rate_full_rise)
    return voice


@dataclass(frozen=True)
class _Heard:
    """One utterance's voice, kept for the speaker's baseline."""

    turn: int | None  # the turn it was in (None: a backchannel in the other side's turn)
    loudness: float | None
    rate: float | None
    raised: bool  # its voice alone read as tense or more: not part of the calm baseline
    judged: bool  # it was measured against a baseline (False: the speaker's first utterances)


@dataclass
class _TurnSoFar:
    """The voice of a speaker's current turn, pooled over its utterances."""

    index: int
    power_s: float = 0.0  # sum of voiced seconds x linear power
    voiced_s: float = 0.0
    syllables: int = 0
    span_s: float = 0.0
    utterances: int = 0

    @property
    def loudness(self) -> float | None:
        return 10.0 * math.log10(self.power_s / self.voiced_s) if self.voiced_s > 0 and self.power_s > 0 else None


@dataclass
class _SpeakerState:
    rate: deque  # the last rates (the other side's pace, rate_vs_other)
    recent: deque  # the last few utterances (for talk-over)
    heard: deque = field(default_factory=lambda: deque(maxlen=64))
    raised_turns: set = field(default_factory=set)
    turn: _TurnSoFar | None = None
    talk_s: float = 0.0
    run_start_s: float | None = None
    state: ToneEstimate = ToneEstimate("calm", 0.0)
    state_t_s: float = 0.0
    turns: int = 0


class SignalTracker:
    """Computes the signals of one call at a time (``start_call`` resets it)."""

    def __init__(
        self,
        vocabulary: "RuleSet",
        options: SignalOptions = SignalOptions(),
        call_length_s: float | None = None,
        compiler: Compiler | None = None,
    ) -> None:
        """``compiler``: the rule engine's (``RuleEngine.compiler``), so both read each
        utterance once between them; by default one of its own."""
        waits = [
            r.when.min_s
            for r in vocabulary.rules
            if isinstance(r.when, EventIs) and r.when.kind == "dead_air" and r.when.min_s is not None
        ]
        if waits:  # report dead air as soon as the most eager dead-air rule wants it
            options = replace(options, dead_air_s=min(waits))
        self.options = options
        if compiler is None:
            compiler = Compiler(vocabulary.lexicons, vocabulary.tones, vocabulary.fillers)
        # the tone text read through the compiler's own cue when its tones are these (the rule
        # engine's compiler): a tone read here is kept on the utterance for the rules' ``tone:``
        cue = compiler.text_tones
        self._tone_text: dict[str, Callable[[EvalContext], list[Match] | None]] = {
            name: (partial(cue, name) if compiler.tones.get(name) is t else compiler.condition(t.text))
            for name, t in vocabulary.tones.items()
            if name in ("angry", "tense")
        }
        # per cue family, its compiled lexicon: matched as a ``says: LEXICON`` condition would
        # (pre-filter bits, matches cached on the utterance for the rules), without a condition call
        self._cues = [
            (family, compiler.lexicons[lexicon])
            for family, lexicon in CUE_LEXICONS.items()
            if lexicon in vocabulary.lexicons
        ]
        self._extractor = compiler.extractor
        self._turns = TurnTracker(backchannels=backchannel_phrases(vocabulary.lexicons), asks=self._asks)
        self._last_feats: Features | None = None
        self.start_call(call_length_s)

    def _asks(self, utt: Utterance) -> bool:
        """The turns' question reading of the utterance before (``rules.conditions.ends_asking``
        on its features, as the rule engine reads it)."""
        return utterance_asks(self._last_feats, utt)

    def start_call(self, call_length_s: float | None = None, sides: Iterable[Speaker] | None = None) -> None:
        """``sides``: whose audio the call has, when known; one side only turns off what needs
        both (``BOTH_SIDES_FIELDS``, dead air, talk-over)."""
        w = self.options.baseline_window
        self.call_length_s = call_length_s
        self.one_side = one_side_only(sides)
        self._speakers = {s: _SpeakerState(deque(maxlen=w), deque(maxlen=4)) for s in Speaker}
        self._speaking: dict[Speaker, float] = {}  # speaker -> start of their earliest open segment
        self._open: dict[Speaker, list[float]] = {}  # every open segment's start, per speaker
        self._last_end_s: float | None = None
        self._last_speaker: Speaker | None = None
        self._dead_air_reported_for: float | None = None
        self._last_hold_s: float | None = None
        self._talk_over_reported: set[int] = set()  # indices of interrupting utterances
        self._last_feats = None
        self._turns.start_call()

    # ------------------------------------------------------------ the clock and activity

    @property
    def speaking(self) -> frozenset[Speaker]:
        """Channels whose speech started and has not yet become an utterance (or been dropped)."""
        return frozenset(self._speaking)

    def on_activity(self, mark: SpeechActivity) -> list[SignalEvent]:
        events = self.tick(mark.t_s)
        if mark.speaking:
            self._open.setdefault(mark.speaker, []).append(mark.t_s)
            self._speaking.setdefault(mark.speaker, mark.t_s)
        elif self._close_open(mark.speaker, lambda start: start < mark.t_s):
            self._last_end_s = max(self._last_end_s or 0.0, mark.t_s)
        return events

    def _close_open(self, speaker: Speaker, closes: Callable[[float], bool]) -> bool:
        """Forget the open segments of ``speaker`` whose start passes ``closes``. Live capture
        may already have marked the next segment open when this one's words land (recognition
        takes time), so only this one's mark goes; the next keeps the channel busy."""
        starts = self._open.get(speaker)
        if not starts:
            return self._speaking.pop(speaker, None) is not None
        kept = [t for t in starts if not closes(t)]
        closed = len(kept) < len(starts)
        self._open[speaker] = kept
        if kept:
            self._speaking[speaker] = min(kept)
        else:
            self._speaking.pop(speaker, None)
        return closed

    def tick(self, now_s: float) -> list[SignalEvent]:
        """The clock reached ``now_s``: report dead air once per silence."""
        since = self._last_end_s
        if self._speaking or since is None or self._dead_air_reported_for == since or self.one_side is not None:
            return []  # (one side only: the other side may be talking)
        silence = now_s - since
        if silence < self.options.dead_air_s:
            return []
        self._dead_air_reported_for = since
        hold = bool(self._last_hold_s is not None and since - self._last_hold_s <= self.options.hold_window_s)
        return [DeadAir(since + self.options.dead_air_s, since, silence, hold, self._last_speaker)]

    # ------------------------------------------------------------ utterances

    def on_utterance(self, au: AnnotatedUtterance) -> tuple[AnnotatedUtterance, list[SignalEvent]]:
        """Signals of ``au``; returns it with ``utterance.signals`` set, and any events."""
        opts = self.options
        utt = au.utterance
        events: list[SignalEvent] = self.tick(utt.start_s)
        me, other = self._speakers[utt.speaker], self._speakers[utt.speaker.other()]
        feats = self._extractor.features(au)
        ctx = EvalContext(feats)
        cues: dict[str, tuple[str, ...]] = {}
        bits = feats.bits
        for family, lex in self._cues:
            found = lexicon_matches(lex, feats) if lex.entities or lex.could_match(bits) else None
            cues[family] = match_texts(found) if found else ()
        words = feats.word_count  # kept on the features: the rules and turns count them too
        # the turns' reading: listening sounds, not an answer to the other side's question
        backchannel = self._turns.is_listening(utt)

        values: dict[str, float | bool | None] = {"duration_s": utt.duration_s, "words": float(words)}
        # voice vs own baseline (calm utterances of earlier turns), alone and pooled over the turn
        turn = self._turn_so_far(me, au, words, backchannel)
        loud = utt.voice.loudness_dbfs if utt.voice else None
        rate_parts = _rate_parts(utt, opts)
        rate = None if rate_parts is None else rate_parts[0] / rate_parts[1]
        if utt.voice is not None and utt.voice.voiced_s > 0:
            turn.power_s += utt.voice.voiced_s * 10.0 ** (utt.voice.loudness_dbfs / 10.0)
            turn.voiced_s += utt.voice.voiced_s
        if rate_parts is not None:
            turn.syllables += rate_parts[0]
            turn.span_s += rate_parts[1]
        turn_rate = turn.syllables / turn.span_s if turn.span_s > 0 else None
        base_loud, base_rate, settled = self._baseline(me, turn.index)
        values["loudness_dbfs"] = loud
        values["loudness_rise_db"] = _rise(loud, base_loud, 1, ratio=False)
        values["turn_loudness_rise_db"] = _rise(turn.loudness if loud is not None else None, base_loud, 1, ratio=False)
        values["rate_sps"] = rate
        values["rate_rise"] = _rise(rate, base_rate, 1, ratio=True)
        values["turn_rate_rise"] = _rise(
            turn_rate if rate is not None or turn.utterances > 1 else None, base_rate, 1, ratio=True
        )
        values["rate_vs_other"] = _rise(rate, other.rate, 1, ratio=True)
        # timing
        other_last = other.recent[-1] if other.recent else None
        values["gap_s"] = utt.start_s - other_last.end_s if other_last else None
        values["silence_before_s"] = max(0.0, utt.start_s - self._last_end_s) if self._last_end_s is not None else None
        talk_over, over_events = self._talk_over(utt, backchannel, other)
        if self.one_side is None:
            events += over_events
        values["talk_over_s"] = talk_over
        if me.run_start_s is None:
            me.run_start_s = utt.start_s
        values["monologue_s"] = utt.end_s - me.run_start_s
        me.talk_s += utt.duration_s
        total = me.talk_s + other.talk_s
        values["talk_share"] = me.talk_s / total if total > 0 else None
        agent = self._speakers[Speaker.AGENT].talk_s
        values["agent_talk_share"] = agent / total if total > 0 else None
        values["call_elapsed_s"] = utt.end_s
        values["remaining_s"] = max(0.0, self.call_length_s - utt.end_s) if self.call_length_s is not None else None
        values["backchannel"] = backchannel
        if self.one_side is not None:
            values.update(dict.fromkeys(BOTH_SIDES_FIELDS))

        # calm words-only anger is discounted only outside an angry episode (a customer who was
        # angry a moment ago and threatens to leave in an even voice is still angry)
        upset = label_of(self._decayed(me, utt.start_s), opts) == "angry"
        tone = self._tone(utt, ctx, values, turn, settled and loud is not None and not upset)
        values["tone_score"] = tone.score
        previous = me.state
        decayed = self._decayed(me, utt.end_s)
        if tone.score >= decayed:
            state = tone
            me.state_t_s = utt.end_s
        else:
            label = label_of(decayed, opts)
            peak_note = f"easing: peak {utt.end_s - me.state_t_s:.0f} s ago"
            kept = tuple(e for e in previous.evidence if not e.startswith("easing:"))
            state = ToneEstimate(label, decayed, (peak_note, *kept) if label != "calm" else ())
        me.state = state
        values["tone_state_score"] = state.score
        values["other_tone_state_score"] = self._decayed(other, utt.end_s)
        me.turns += 1
        values["speaker_turn"] = float(me.turns)
        if state.label != previous.label:
            events.append(ToneChange(utt.end_s, utt.speaker, previous.label, state, utt.index))

        # update the running state after measuring against it
        if rate is not None:
            me.rate.append(rate)
        if loud is not None or rate is not None:
            raised = voice_score(values["loudness_rise_db"], values["rate_rise"], opts) >= opts.raised_voice
            me.heard.append(
                _Heard(
                    turn.index if turn.index >= 0 else None,
                    loud,
                    rate,
                    raised,
                    judged=values["loudness_rise_db"] is not None,
                )
            )
        if voice_score(values["turn_loudness_rise_db"], values["turn_rate_rise"], opts) >= opts.raised_voice:
            me.raised_turns.add(turn.index)
        me.recent.append(utt)
        if not backchannel:
            other.run_start_s = None
        self._close_open(utt.speaker, lambda start: start <= utt.start_s)
        self._last_end_s = max(self._last_end_s or 0.0, utt.end_s)
        self._last_speaker = utt.speaker
        if utt.speaker is Speaker.AGENT and cues.get("hold"):
            self._last_hold_s = utt.end_s

        signals = UtteranceSignals(values=values, cues=cues, tone=tone, tone_state=state)
        out = AnnotatedUtterance(_with_signals(utt, signals), au.doc, feats)
        feats.au = out  # the rules read the signals through the features
        self._last_feats = feats
        return out, events

    def _turn_so_far(
        self, me: _SpeakerState, au: AnnotatedUtterance, words: int | None = None, backchannel: bool | None = None
    ) -> _TurnSoFar:
        """The speaker's turn that ``au`` belongs to, counting ``au`` in (a backchannel in the
        other side's turn stands alone: index -1). ``words``: its word count, ``backchannel``
        its ``TurnTracker.is_listening``, when known."""
        step = self._turns.on_utterance(au.utterance, words, backchannel)
        if step.turn is None:
            turn = _TurnSoFar(-1)
        else:
            turn = me.turn if me.turn is not None and me.turn.index == step.turn.index else _TurnSoFar(step.turn.index)
            me.turn = turn
        turn.utterances += 1
        return turn

    def _baseline(self, me: _SpeakerState, turn: int) -> tuple[list[float], list[float], bool]:
        """The speaker's calm loudness and pace, and whether that baseline is settled.

        Their last ``baseline_window`` utterances of earlier turns, leaving out the raised ones
        (unless the last ``baseline_relearn`` were all raised: the level moved, and that is the
        speaker's usual now). The first utterances had nothing to be compared with (a customer
        may open the call angry): once later ones have been measured and found calm, those
        first ones are judged against them in turn (on loudness), and the raised ones drop out.
        Settled: at least ``baseline_min`` measured calm utterances."""
        opts = self.options
        earlier = [h for h in me.heard if h.turn is None or h.turn != turn]

        def raised(h: _Heard) -> bool:
            return h.raised or (h.turn is not None and h.turn in me.raised_turns)

        recent = earlier[-opts.baseline_relearn :]
        if len(recent) >= opts.baseline_relearn and all(raised(h) for h in recent):
            # the level moved for good: the raised run is the speaker's usual now, the rest is past
            me.heard = deque((replace(h, raised=False, judged=True) for h in recent), maxlen=me.heard.maxlen)
            me.raised_turns.clear()
            earlier = list(me.heard)
        earlier = [h for h in earlier if not raised(h)]
        judged = [h for h in earlier if h.judged]
        ref = _median([h.loudness for h in judged])
        if ref is not None:  # judged on loudness alone: a pace from a few words is too rough for this
            earlier = [
                h
                for h in earlier
                if h.judged or h.loudness is None or voice_score(h.loudness - ref, None, opts) < opts.raised_voice
            ]
        loud = [h.loudness for h in earlier if h.loudness is not None][-opts.baseline_window :]
        rate = [h.rate for h in earlier if h.rate is not None][-opts.baseline_window :]
        if not judged:  # the first utterances stand in once there are baseline_min of them
            loud = loud if len(loud) >= opts.baseline_min else []
            rate = rate if len(rate) >= opts.baseline_min else []
        settled = sum(h.loudness is not None for h in judged) >= opts.baseline_min
        return loud, rate, settled

    def _decayed(self, who: _SpeakerState, t_s: float) -> float:
        """A speaker's running tone score at ``t_s``: the peak holds, then halves per half-life."""
        opts = self.options
        held = max(0.0, t_s - who.state_t_s - opts.state_hold_s)
        return who.state.score * 0.5 ** (held / opts.state_half_life_s)

    def _turn_start(self, speaker: Speaker, start_s: float) -> float:
        """When the turn that a segment of ``speaker`` starting at ``start_s`` belongs to began:
        their earlier utterances joined by pauses of at most ``turn_join_s``."""
        join = self.options.turn_join_s
        for prev in reversed(self._speakers[speaker].recent):
            if prev.start_s >= start_s:
                continue
            if start_s - prev.end_s > join:
                break
            start_s = prev.start_s
        return start_s

    def _talk_over(self, utt: Utterance, backchannel: bool, other: _SpeakerState) -> tuple[float, list[SignalEvent]]:
        """Overlaps of ``utt`` with the other side: finished utterances, and a turn still open.
        The talk-over is put on whoever started speaking over the other: the one whose turn
        began later (a customer who cuts in is not blamed on the agent who paused for breath
        and went on). Turns that began within ``simultaneous_start_s`` of each other started
        together: no one's talk-over."""
        opts = self.options
        own = 0.0
        events: list[SignalEvent] = []
        candidates: list[tuple[float, float, Utterance | None]] = [(o.start_s, o.end_s, o) for o in other.recent]
        open_since = self._speaking.get(utt.speaker.other())
        if open_since is not None and open_since < utt.start_s:
            candidates.append((open_since, utt.end_s, None))  # still talking when utt ended
        my_turn = self._turn_start(utt.speaker, utt.start_s)
        for o_start, o_end, o_utt in candidates:
            overlap = min(utt.end_s, o_end) - max(utt.start_s, o_start)
            if overlap < opts.min_talk_over_s:
                continue
            their_turn = self._turn_start(utt.speaker.other(), o_start)
            if abs(my_turn - their_turn) < opts.simultaneous_start_s:
                continue  # both started at once: neither talked over the other
            if (my_turn, utt.start_s) > (their_turn, o_start):
                if backchannel:
                    continue
                own = max(own, overlap)
                interrupter = utt
            else:
                if o_utt is None:  # their open turn: reported when its words arrive
                    continue
                if o_utt.signals is not None and o_utt.signals.get("backchannel"):
                    continue
                interrupter = o_utt
            if interrupter.index in self._talk_over_reported:
                continue
            self._talk_over_reported.add(interrupter.index)
            events.append(
                TalkOver(
                    utt.end_s,
                    interrupter.speaker,
                    interrupter.speaker.other(),
                    interrupter.start_s,
                    overlap,
                    interrupter.index,
                )
            )
        return own, events

    def _text_tone(self, ctx: EvalContext) -> tuple[float, list[str], int]:
        """The words' score, their evidence and how many anger cues they hold (0: tense words)."""
        opts = self.options
        angry = self._tone_text.get("angry")
        found = angry(ctx) if angry else None
        if found is not None:
            said = match_texts(found)
            score = min(0.9, opts.text_angry + opts.text_angry_extra * max(0, len(said) - 1))
            return score, ["said " + ", ".join(f'"{w}"' for w in said) if said else "angry words"], max(1, len(said))
        tense = self._tone_text.get("tense")
        found = tense(ctx) if tense else None
        if found is not None:
            return opts.text_tense, ["said " + ", ".join(f'"{w}"' for w in match_texts(found))], 0
        return 0.0, [], 0

    def _tone(
        self, utt: Utterance, ctx: EvalContext, values: dict[str, float | bool | None], turn: _TurnSoFar, settled: bool
    ) -> ToneEstimate:
        opts = self.options
        text, evidence, cues = self._text_tone(ctx)
        rise, rate_rise = values["loudness_rise_db"], values["rate_rise"]
        turn_rise, turn_rate_rise = values["turn_loudness_rise_db"], values["turn_rate_rise"]
        if utt.voice is None:
            evidence.append("text only (no audio)" if rate_rise is None else "no audio: words and pace only")
        elif rise is None:
            evidence.append("no voice baseline yet")
        alone = voice_score(rise, rate_rise, opts)
        pooled = voice_score(turn_rise, turn_rate_rise, opts) if turn.utterances > 1 else 0.0
        voice = max(alone, pooled)
        if pooled > alone:
            rise, rate_rise, where = turn_rise, turn_rate_rise, " (this turn)"
        else:
            where = ""
        if isinstance(rise, float) and rise >= 3.0:
            evidence.append(f"{rise:.1f} dB louder than usual{where}")
        if isinstance(rate_rise, float) and rate_rise >= 0.1:
            evidence.append(f"{rate_rise:.0%} faster than usual{where}")
        if cues and settled and voice < opts.calm_voice:
            text = max(0.0, text - opts.text_calm_voice)
            evidence.append("at their usual level and pace")
        score = 1.0 - (1.0 - text) * (1.0 - min(1.0, voice))
        label = label_of(score, opts)
        return ToneEstimate(label, score, tuple(evidence) if label != "calm" else ())


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _rise(value: float | None, history: Iterable[float], minimum: int, ratio: bool) -> float | None:
    past = list(history)
    if value is None or len(past) < minimum:
        return None
    base = statistics.median(past)
    if ratio:
        return value / base - 1.0 if base > 0 else None
    return value - base


_new = object.__new__


def _with_signals(utt: Utterance, signals: UtteranceSignals) -> Utterance:
    """``replace(utt, signals=signals)``, made as that makes it (every field the same but
    ``signals``) without the frozen dataclass's setattr per field (one per utterance)."""
    out = _new(type(utt))
    fields = out.__dict__
    fields.update(utt.__dict__)
    fields["signals"] = signals
    return out
