"""Conversation state: voice, timing and text signals per speaker, as the call goes.

    annotated utterances ──► SignalTracker ──► utterances with signals, signal events

Everything is incremental: ``on_utterance`` sees each utterance once, in timeline order, and
``tick(now_s)`` lets the clock fire dead air when nobody speaks (replay ticks on its simulated
clock, live capture on the wall clock). ``on_activity`` takes the audio sources' "speech
started / segment dropped" marks so a long turn that is still being recognized is not mistaken
for silence.

Voice signals compare a speaker only with their own running baseline (the median of their last
``baseline_window`` utterances), so the agent's microphone level is never compared with the
customer's line level. Text cues come from the rule packs' lexicons (YAML the team edits); the
tone's word cue is the ``tones:`` definition of the packs, so rules and tone agree.

Every value a rule can test is listed in ``signal_catalogue.SIGNAL_FIELDS`` with its unit; ``rules/README.md``
documents them (a test keeps the two in step).
"""

from __future__ import annotations

import re
import statistics
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterable

from .annotate import AnnotatedUtterance
from .signal_catalogue import CUE_LEXICONS, SIGNAL_FIELDS, SignalField  # noqa: F401  (re-exported)
from .rules.conditions import Compiler, EvalContext
from .rules.features import match_texts
from .rules.model import EventIs, LexiconFinder, Says
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


@dataclass(frozen=True)
class SignalOptions:
    """Thresholds of the signals and of the tone estimate (units in the names)."""

    dead_air_s: float = 8.0
    hold_window_s: float = 10.0  # an agent hold phrase this soon before a silence makes it "announced"
    min_talk_over_s: float = 0.5
    # a pause this short inside one speaker's talk does not end their turn (the endpointer split
    # it): who talked over whom is decided by when each *turn* started
    turn_join_s: float = 0.6
    backchannel_max_words: int = 2
    baseline_window: int = 8
    baseline_min: int = 2  # earlier utterances needed before voice is compared with a baseline
    min_rate_span_s: float = 0.8
    min_rate_syllables: int = 4
    # Tone: voice score = loud_weight * min(1, rise_db / loud_full_db)
    #                   + rate_weight * min(1, rate_rise / rate_full_rise);
    # text score = text_angry (tone 'angry' words) or text_tense (tone 'tense' words);
    # combined = 1 - (1 - text)(1 - voice).
    loud_full_db: float = 10.0
    loud_weight: float = 0.6
    rate_full_rise: float = 0.3
    rate_weight: float = 0.3  # pace alone never reaches "tense"
    text_angry: float = 0.7
    text_angry_extra: float = 0.1  # per further anger cue, up to 0.9
    text_tense: float = 0.4
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


def speaking_rate(utt: Utterance, options: SignalOptions) -> float | None:
    """Syllables per second over the span of the words, or None when times are estimated/short."""
    if utt.words:
        span = utt.words[-1].end_s - utt.words[0].start_s
    elif not utt.timing_estimated:
        span = utt.duration_s
    else:
        return None
    syllables = count_syllables(utt.text)
    if span < options.min_rate_span_s or syllables < options.min_rate_syllables:
        return None
    return syllables / span


@dataclass
class _SpeakerState:
    loudness: deque
    rate: deque
    recent: deque  # the last few utterances (for talk-over)
    talk_s: float = 0.0
    run_start_s: float | None = None
    state: ToneEstimate = ToneEstimate("calm", 0.0)
    state_t_s: float = 0.0
    turns: int = 0


class SignalTracker:
    """Computes the signals of one call at a time (``start_call`` resets it)."""

    def __init__(self, vocabulary: "RuleSet", options: SignalOptions = SignalOptions(),
                 call_length_s: float | None = None, compiler: Compiler | None = None) -> None:
        """``compiler``: the rule engine's (``RuleEngine.compiler``), so both read each
        utterance once between them; by default one of its own."""
        waits = [r.when.min_s for r in vocabulary.rules
                 if isinstance(r.when, EventIs) and r.when.kind == "dead_air" and r.when.min_s is not None]
        if waits:  # report dead air as soon as the most eager dead-air rule wants it
            options = replace(options, dead_air_s=min(waits))
        self.options = options
        if compiler is None:
            compiler = Compiler(vocabulary.lexicons, vocabulary.tones, vocabulary.fillers)
        self._tone_text = {name: compiler.condition(t.text) for name, t in vocabulary.tones.items()
                           if name in ("angry", "tense")}
        self._cues = {family: compiler.condition(Says(LexiconFinder((lexicon,)), ()))
                      for family, lexicon in CUE_LEXICONS.items() if lexicon in vocabulary.lexicons}
        self._extractor = compiler.extractor
        self.start_call(call_length_s)

    def start_call(self, call_length_s: float | None = None) -> None:
        w = self.options.baseline_window
        self.call_length_s = call_length_s
        self._speakers = {s: _SpeakerState(deque(maxlen=w), deque(maxlen=w), deque(maxlen=4)) for s in Speaker}
        self._speaking: dict[Speaker, float] = {}  # speaker -> start of their earliest open segment
        self._open: dict[Speaker, list[float]] = {}  # every open segment's start, per speaker
        self._last_end_s: float | None = None
        self._last_speaker: Speaker | None = None
        self._dead_air_reported_for: float | None = None
        self._last_hold_s: float | None = None
        self._talk_over_reported: set[int] = set()  # indices of interrupting utterances

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
        if self._speaking or since is None or self._dead_air_reported_for == since:
            return []
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
        cues = {family: match_texts(ev(ctx))
                for family, ev in self._cues.items()}
        words = au.word_count
        backchannel = words <= opts.backchannel_max_words

        values: dict[str, float | bool | None] = {"duration_s": utt.duration_s, "words": float(words)}
        # voice vs own baseline
        loud = utt.voice.loudness_dbfs if utt.voice else None
        rate = speaking_rate(utt, opts)
        values["loudness_dbfs"] = loud
        values["loudness_rise_db"] = _rise(loud, me.loudness, opts.baseline_min, ratio=False)
        values["rate_sps"] = rate
        values["rate_rise"] = _rise(rate, me.rate, opts.baseline_min, ratio=True)
        values["rate_vs_other"] = _rise(rate, other.rate, 1, ratio=True)
        # timing
        other_last = other.recent[-1] if other.recent else None
        values["gap_s"] = utt.start_s - other_last.end_s if other_last else None
        values["silence_before_s"] = (max(0.0, utt.start_s - self._last_end_s)
                                      if self._last_end_s is not None else None)
        talk_over, over_events = self._talk_over(utt, backchannel, other)
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
        values["remaining_s"] = (max(0.0, self.call_length_s - utt.end_s)
                                 if self.call_length_s is not None else None)
        values["backchannel"] = backchannel

        tone = self._tone(utt, ctx, values)
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
        if loud is not None:
            me.loudness.append(loud)
        if rate is not None:
            me.rate.append(rate)
        me.recent.append(utt)
        if not backchannel:
            other.run_start_s = None
        self._close_open(utt.speaker, lambda start: start <= utt.start_s)
        self._last_end_s = max(self._last_end_s or 0.0, utt.end_s)
        self._last_speaker = utt.speaker
        if utt.speaker is Speaker.AGENT and cues.get("hold"):
            self._last_hold_s = utt.end_s

        signals = UtteranceSignals(values=values, cues=cues, tone=tone, tone_state=state)
        out = AnnotatedUtterance(replace(utt, signals=signals), au.doc, feats)
        feats.au = out  # the rules read the signals through the features
        return out, events

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
        and went on)."""
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
            events.append(TalkOver(utt.end_s, interrupter.speaker, interrupter.speaker.other(),
                                   interrupter.start_s, overlap, interrupter.index))
        return own, events

    def _tone(self, utt: Utterance, ctx: EvalContext, values: dict[str, float | bool | None]) -> ToneEstimate:
        opts = self.options
        evidence: list[str] = []
        text = 0.0
        angry = self._tone_text.get("angry")
        found = angry(ctx) if angry else None
        if found is not None:
            said = match_texts(found)
            text = min(0.9, opts.text_angry + opts.text_angry_extra * max(0, len(said) - 1))
            evidence.append("said " + ", ".join(f'"{w}"' for w in said) if said else "angry words")
        else:
            tense = self._tone_text.get("tense")
            found = tense(ctx) if tense else None
            if found is not None:
                text = opts.text_tense
                said = match_texts(found)
                evidence.append("said " + ", ".join(f'"{w}"' for w in said))
        voice = 0.0
        rise, rate_rise = values["loudness_rise_db"], values["rate_rise"]
        if utt.voice is None:
            evidence.append("text only (no audio)" if rate_rise is None else "no audio: words and pace only")
        elif rise is None:
            evidence.append("no voice baseline yet")
        if isinstance(rise, float) and rise > 0:
            voice += opts.loud_weight * min(1.0, rise / opts.loud_full_db)
            if rise >= 3.0:
                evidence.append(f"{rise:.1f} dB louder than usual")
        if isinstance(rate_rise, float) and rate_rise > 0:
            voice += opts.rate_weight * min(1.0, rate_rise / opts.rate_full_rise)
            if rate_rise >= 0.1:
                evidence.append(f"{rate_rise:.0%} faster than usual")
        score = 1.0 - (1.0 - text) * (1.0 - min(1.0, voice))
        label = label_of(score, opts)
        return ToneEstimate(label, score, tuple(evidence) if label != "calm" else ())


def _rise(value: float | None, history: Iterable[float], minimum: int, ratio: bool) -> float | None:
    past = list(history)
    if value is None or len(past) < minimum:
        return None
    base = statistics.median(past)
    if ratio:
        return value / base - 1.0 if base > 0 else None
    return value - base

