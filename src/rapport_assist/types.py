"""Typed values that cross module boundaries.

Every stage of the pipeline takes and returns these frozen dataclasses; no loose
dicts or tuples travel between modules. Times are seconds from the start of the
call, as floats, and their names end in ``_s``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union, get_args

import numpy as np


class Speaker(str, enum.Enum):
    """Who said something. Speakers are channels, never guessed."""

    AGENT = "agent"
    CUSTOMER = "customer"

    @classmethod
    def parse(cls, value: str) -> "Speaker":
        """Parse a speaker label; raises ValueError naming the accepted labels."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown speaker {value!r}: use 'agent' or 'customer'") from None

    def other(self) -> "Speaker":
        return Speaker.CUSTOMER if self is Speaker.AGENT else Speaker.AGENT


@dataclass(frozen=True)
class Word:
    """One recognized word with its time span (call time) and probability."""

    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True, eq=False)
class SpeechSegment:
    """A stretch of one channel's audio that the endpointer judged to be speech.

    ``audio`` is mono float32 at 16 kHz; ``start_s``/``end_s`` are call times. ``context``,
    when the endpointer keeps it (``EndpointerOptions.context_s``), is the channel's audio just
    before ``start_s`` (up to that many seconds, less at the start of the call).
    """

    speaker: Speaker
    start_s: float
    end_s: float
    audio: np.ndarray
    context: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Recognition:
    """What the recognizer made of one speech segment (times relative to call start)."""

    text: str
    words: tuple[Word, ...]
    confidence: float  # mean word probability, 0..1
    no_speech_prob: float
    avg_logprob: float


@dataclass(frozen=True)
class VoiceMeasure:
    """How an utterance sounded, measured on its own audio (absolute, not yet vs a baseline).

    ``loudness_dbfs`` is the active speech level: mean power of the voiced 20 ms frames (those
    within 20 dB of the loudest), in dB relative to full scale. ``voiced_s`` is their total.
    """

    loudness_dbfs: float
    voiced_s: float

    def to_json(self) -> dict[str, Any]:
        return {"loudness_dbfs": round(self.loudness_dbfs, 1), "voiced_s": round(self.voiced_s, 2)}


ToneLabel = Literal["calm", "tense", "angry"]
TONE_ORDER: tuple[str, ...] = ("calm", "tense", "angry")


@dataclass(frozen=True)
class ToneEstimate:
    """A tone estimate with its score (0..1) and the evidence it rests on, in words."""

    label: ToneLabel
    score: float
    evidence: tuple[str, ...] = ()

    def at_least(self, label: str) -> bool:
        return TONE_ORDER.index(self.label) >= TONE_ORDER.index(label)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 2), "evidence": list(self.evidence)}


@dataclass(frozen=True)
class UtteranceSignals:
    """Conversation signals at the end of one utterance (see ``signals.SIGNAL_FIELDS``).

    ``values`` maps each numeric or boolean signal name to its value, or None when it cannot
    be known (no audio, no baseline yet, estimated times). ``cues`` maps each text cue family
    ("anger", "apology", ...) to the words that matched it.
    """

    values: dict[str, float | bool | None]
    cues: dict[str, tuple[str, ...]]
    tone: ToneEstimate
    tone_state: ToneEstimate

    def get(self, name: str) -> float | bool | None:
        return self.values.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.values.items()},
            "cues": {k: list(v) for k, v in self.cues.items() if v},
            "tone": self.tone.to_json(),
            "tone_state": self.tone_state.to_json(),
        }


@dataclass(frozen=True)
class SpeechActivity:
    """Speech started (``speaking``) or a speech segment ended without an utterance.

    Audio sources put these on the timeline so the conversation state knows a channel is
    busy before its words are recognized (no false dead air during a long turn).
    """

    speaker: Speaker
    t_s: float
    speaking: bool


@dataclass(frozen=True)
class Tick:
    """The call clock reached ``t_s`` (live capture puts these on the timeline while nobody
    speaks, so timers such as dead air and expectation windows fire on time)."""

    t_s: float


@dataclass(frozen=True)
class Partial:
    """A live caption: what an utterance still being spoken says so far (live capture only).

    ``text`` is the stable prefix (words two successive recognition passes over the growing
    audio agreed on; it only grows), ``pending`` the rest of the latest pass (may still change).
    ``start_s`` is where the open utterance starts (its final ``Utterance`` replaces every
    partial of the same speaker that started there or later), ``t_s`` the call time of the
    audio the pass heard up to. Masked like utterances, and more: every digit, and number words
    in a run or at the end, are masked (a number may still be being said).
    """

    speaker: Speaker
    start_s: float
    t_s: float
    text: str
    pending: str = ""

    EVENT_TYPE: ClassVar[str] = "partial"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "speaker": self.speaker.value,
            "start": round(self.start_s, 3),
            "t": round(self.t_s, 3),
            "text": self.text,
            "pending": self.pending,
        }


@dataclass(frozen=True)
class RecognitionTiming:
    """Call times (s) of a live utterance's way to the pipeline: the endpointer closed its
    segment (the hangover ran out, or the other side cut it), the recognizer started and ended on
    it (an early final: before the close, its hangover running)."""

    segment_closed_s: float
    recognizer_start_s: float
    recognizer_end_s: float


@dataclass(frozen=True)
class Utterance:
    """One turn of one speaker on the call timeline."""

    index: int
    speaker: Speaker
    text: str
    start_s: float
    end_s: float
    confidence: float | None = None
    words: tuple[Word, ...] = ()
    timing_estimated: bool = False
    voice: VoiceMeasure | None = None
    signals: UtteranceSignals | None = None
    # who wrote it, when one side holds several people (a written thread: several customers
    # reply to one brand); lines of one side by different authors are different turns
    # (``turns.TurnTracker``). Read from a transcript's optional ``author``; not written to the
    # event log (it may name a person)
    author: str | None = None
    # live capture: when its segment closed and was recognized (bench/live_latency.py); not in the
    # JSON, not compared (the same words at the same times are the same utterance)
    timing: RecognitionTiming | None = field(default=None, compare=False, repr=False)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    EVENT_TYPE: ClassVar[str] = "utterance"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.EVENT_TYPE,
            "index": self.index,
            "speaker": self.speaker.value,
            "text": self.text,
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "confidence": None if self.confidence is None else round(self.confidence, 3),
        }
        if self.timing_estimated:
            d["timing_estimated"] = True
        if self.words:
            d["words"] = [
                {"w": w.text, "start": round(w.start_s, 3), "end": round(w.end_s, 3), "p": round(w.probability, 3)}
                for w in self.words
            ]
        if self.voice is not None:
            d["voice"] = self.voice.to_json()
        if self.signals is not None:
            d["signals"] = self.signals.to_json()
        return d


@dataclass(frozen=True)
class Turn:
    """A speaker's run of utterances until the other side takes the floor (``turns.TurnTracker``).

    A short backchannel of the other side ("mm-hm", "okay") does not end it; a silence longer
    than the tracker's gap does (unless the times are estimated: consecutive lines of one speaker
    in a transcript are one turn). ``utterances`` are the indices of its utterances, in order;
    ``text`` joins their texts (so far, while ``closed`` is False); ``words`` counts its words as
    the rules do. ``t_s`` is when the pipeline learned its state: the end of its last utterance
    while open, the moment it closed once closed (the other side's utterance landed, the gap
    passed, or the call ended).
    """

    index: int
    speaker: Speaker
    utterances: tuple[int, ...]
    text: str
    words: int
    start_s: float
    end_s: float
    closed: bool
    t_s: float
    timing_estimated: bool = False

    @property
    def last_utterance(self) -> int:
        return self.utterances[-1]

    EVENT_TYPE: ClassVar[str] = "turn"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.EVENT_TYPE,
            "index": self.index,
            "speaker": self.speaker.value,
            "utterances": list(self.utterances),
            "text": self.text,
            "words": self.words,
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "closed": self.closed,
            "t": round(self.t_s, 3),
        }
        if self.timing_estimated:
            d["timing_estimated"] = True
        return d


@dataclass(frozen=True)
class TurnRevision:
    """A second recognition pass over a closed turn (``turn_pass.TurnPass``): the turn's
    utterances heard again together in one window, which gives a decoded utterance the
    context of the rest of its turn. ``utterances`` are the revised utterances (the same index,
    speaker and times as the first pass; new ``text``, ``words`` and ``confidence``), ``before``
    their first-pass texts, in the same order. ``turn`` is the turn's index (``Turn.index``;
    -1 until the pipeline has placed it), ``t_s`` when the revision was known (the turn's close).

    On the timeline it comes right before the item that closes the turn, so the turn rules decide
    that turn on the revised text; the pipeline hands it on as an event (the event log's
    ``revision``, the sidebar's transcript) only when it applied it.

    ``redo``: one utterance of a live call decoded again in Whisper's 30 s window after it went
    out (``LiveSettings.redo_later``: its short-window decoding had a doubtful word). Its turn may
    have closed by then: the pipeline still hands it on (``turn`` -1) so the transcript and the
    event log take the better text; the rules decided that turn on the first text."""

    speaker: Speaker
    utterances: tuple[Utterance, ...]
    before: tuple[str, ...]
    t_s: float
    turn: int = -1
    redo: bool = False

    EVENT_TYPE: ClassVar[str] = "revision"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            **({"redo": True} if self.redo else {}),
            "turn": self.turn,
            "speaker": self.speaker.value,
            "t": round(self.t_s, 3),
            "utterances": [
                {
                    "index": u.index,
                    "text": u.text,
                    "before": before,
                    "confidence": None if u.confidence is None else round(u.confidence, 3),
                    "words": [
                        {
                            "w": w.text,
                            "start": round(w.start_s, 3),
                            "end": round(w.end_s, 3),
                            "p": round(w.probability, 3),
                        }
                        for w in u.words
                    ],
                }
                for u, before in zip(self.utterances, self.before)
            ],
        }


Severity = Literal["low", "medium", "high"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)  # lowest first: the one list of levels
# a severity's shape wherever a nudge is marked (the QA report's timeline, the sidebar's timeline,
# card badges and earlier nudges), so that colour is never the only sign of it
SEVERITY_SHAPE: dict[str, str] = {"high": "triangle", "medium": "diamond", "low": "square"}


@dataclass(frozen=True)
class Evidence:
    """Why a nudge fired: the words it rests on, where they were said, and what matched."""

    utterance_index: int
    speaker: Speaker
    text: str
    start_s: float
    end_s: float
    matched: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "utterance_index": self.utterance_index,
            "speaker": self.speaker.value,
            "text": self.text,
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "matched": list(self.matched),
            "note": self.note,
        }


@dataclass(frozen=True)
class Nudge:
    """A coaching prompt for the agent, with the evidence that triggered it."""

    rule: str
    severity: Severity
    title: str
    message: str
    t_s: float
    utterance_index: int
    evidence: tuple[Evidence, ...] = ()
    why: str = ""
    rewrite: str | None = None
    rule_source: str = ""  # file:line of the rule that fired
    priority: int = 50  # 1..100: which nudge the sidebar shows first when several compete
    experimental: bool = False  # from a rule with status "experimental": logged, not shown to agents
    tags: tuple[str, ...] = ()
    quote: int | None = 0  # which evidence the card quotes (the rule's ``quote``); None: no words
    # live calls (``rules.early``): an *early* nudge fired on a caption's stable prefix while the
    # utterance was still being spoken (``early_id`` numbers it in the call; its ``utterance_index``
    # is -1: the utterance has no index yet); the final nudge that confirms one says so (``confirms``)
    early: bool = False
    early_id: int | None = None
    confirms: int | None = None

    @property
    def quoted(self) -> Evidence | None:
        """The evidence the card quotes: the customer's words for angry-no-apology, the agent's
        for you-not-we (the rule's ``quote``)."""
        if self.quote is None or not 0 <= self.quote < len(self.evidence):
            return None
        return self.evidence[self.quote]

    EVENT_TYPE: ClassVar[str] = "nudge"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.EVENT_TYPE,
            "rule": self.rule,
            "severity": self.severity,
            "priority": self.priority,
            "title": self.title,
            "message": self.message,
            "t": round(self.t_s, 3),
            "utterance_index": self.utterance_index,
            "evidence": [e.to_json() for e in self.evidence],
            "why": self.why,
            "rule_source": self.rule_source,
        }
        if self.rewrite:
            d["rewrite"] = self.rewrite
        if self.experimental:
            d["experimental"] = True
        if self.tags:
            d["tags"] = list(self.tags)
        if self.quote != 0:  # evidence[0] unless said (None: the card quotes nothing)
            d["quote"] = self.quote
        if self.early:
            d["early"] = True
            d["early_id"] = self.early_id
        if self.confirms is not None:
            d["confirms"] = self.confirms
        return d


@dataclass(frozen=True)
class Withdrawn:
    """An early nudge (``Nudge.early``) the final text of its utterance no longer supports: its
    card goes. ``early_id`` and ``early_t_s`` are the early nudge's id and time; ``t_s`` is when it
    was withdrawn (the end of the final utterance, or of the call), ``utterance_index`` that
    utterance's index (-1 when the call ended first)."""

    rule: str
    early_id: int
    early_t_s: float
    t_s: float
    speaker: Speaker
    utterance_index: int = -1

    EVENT_TYPE: ClassVar[str] = "withdrawn"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "rule": self.rule,
            "early_id": self.early_id,
            "early_t": round(self.early_t_s, 3),
            "t": round(self.t_s, 3),
            "speaker": self.speaker.value,
            "utterance_index": self.utterance_index,
        }


@dataclass(frozen=True)
class RecordItem:
    """An item a ``record`` rule put on a list, e.g. a promise on the call's promise list.

    ``time`` is the time frame said with it ("by Friday"), or None: then it is not committed.
    """

    list: str
    rule: str
    t_s: float
    utterance_index: int
    speaker: Speaker
    text: str
    time: str | None
    rule_source: str = ""

    @property
    def committed(self) -> bool:
        return self.time is not None

    EVENT_TYPE: ClassVar[str] = "record"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "list": self.list,
            "rule": self.rule,
            "t": round(self.t_s, 3),
            "utterance_index": self.utterance_index,
            "speaker": self.speaker.value,
            "text": self.text,
            "time": self.time,
            "committed": self.committed,
            "rule_source": self.rule_source,
        }


@dataclass(frozen=True)
class Praise:
    """Something the agent did well, from a ``praise`` rule: an expectation that was met (an
    apology right after the customer got upset, a reflection of a long complaint, the name the
    customer gave) or a good moment (a promise with a time frame). Never a card during the call;
    the call's coaching summary (``CallCoaching``) lists the strongest ones at its end.

    ``evidence[quote]`` is the turn the line is about (the agent's words), as for a ``Nudge``.
    """

    rule: str
    title: str
    message: str
    t_s: float
    utterance_index: int
    evidence: tuple[Evidence, ...] = ()
    rule_source: str = ""
    priority: int = 50
    tags: tuple[str, ...] = ()
    quote: int | None = 0
    experimental: bool = False
    said: str = ""  # the sentence of evidence[quote] the praised words are in ("" when none matched)

    @property
    def quoted(self) -> Evidence | None:
        if self.quote is None or not 0 <= self.quote < len(self.evidence):
            return None
        return self.evidence[self.quote]

    EVENT_TYPE: ClassVar[str] = "praise"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.EVENT_TYPE,
            "rule": self.rule,
            "title": self.title,
            "message": self.message,
            "priority": self.priority,
            "t": round(self.t_s, 3),
            "utterance_index": self.utterance_index,
            "evidence": [e.to_json() for e in self.evidence],
            "rule_source": self.rule_source,
        }
        if self.said:
            d["said"] = self.said
        if self.quote != 0:
            d["quote"] = self.quote
        if self.experimental:
            d["experimental"] = True
        if self.tags:
            d["tags"] = list(self.tags)
        return d


@dataclass(frozen=True)
class CoachingLine:
    """One line of the call's coaching summary: a short title, a kind sentence, and the words
    it rests on (the agent's own, as said; empty when there are none).

    ``at_s`` is when the moment it is about began (the customer's turn that called for it, else
    the quoted words), and ``cue`` the customer's words that set it up (a praised reply's upset
    customer, in a few words): a call can be praised for one moment and coached on another of
    the same kind, and these tell the two apart."""

    rule: str
    title: str
    text: str
    quote: str = ""
    t_s: float | None = None
    at_s: float | None = None
    cue: str = ""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule, "title": self.title, "text": self.text}
        if self.quote:
            d["quote"] = self.quote
        if self.t_s is not None:
            d["t"] = round(self.t_s, 3)
        if self.at_s is not None:
            d["at"] = round(self.at_s, 3)
        if self.cue:
            d["cue"] = self.cue
        return d


@dataclass(frozen=True)
class CallCoaching:
    """The agent's summary of one call (``coaching.build_coaching``), emitted just before the
    ``CallSummary``: what went well (from ``praise`` rules), the one thing to try next time (the
    most important nudge of the call), and the promises to log. Kind and short; never a score.
    """

    went_well: tuple[CoachingLine, ...]
    try_next: CoachingLine | None
    promises: tuple[RecordItem, ...]
    closing: str  # one kind sentence that fits the call (shown last)
    t_s: float

    @property
    def open_promises(self) -> tuple[RecordItem, ...]:
        """Promises said without a time frame (to give one a time when logging it)."""
        return tuple(p for p in self.promises if not p.committed)

    EVENT_TYPE: ClassVar[str] = "coaching"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "t": round(self.t_s, 3),
            "went_well": [line.to_json() for line in self.went_well],
            "try_next": None if self.try_next is None else self.try_next.to_json(),
            "promises": [
                {
                    "text": p.text,
                    "time": p.time,
                    "committed": p.committed,
                    "t": round(p.t_s, 3),
                    "utterance_index": p.utterance_index,
                }
                for p in self.promises
            ],
            "closing": self.closing,
        }


StatusLevel = Literal["info", "warning", "error"]
Component = Literal["microphone", "customer", "recognizer", "rules"]  # the sidebar's status rows


@dataclass(frozen=True)
class Status:
    """Something the user should know that is not a nudge (no speech found, model loaded...)."""

    level: StatusLevel
    code: str
    message: str
    t_s: float  # seconds into the call it concerns (0.0 for what is known before it starts); always in the JSON
    component: Component | None = None  # the part it reports on; None: a notice about the call
    speakers: tuple[Speaker, ...] = ()  # live capture: whose side(s) a device's status concerns

    EVENT_TYPE: ClassVar[str] = "status"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.EVENT_TYPE,
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "t": round(self.t_s, 3),
        }
        if self.component:
            d["component"] = self.component
        if self.speakers:
            d["speakers"] = [s.value for s in self.speakers]
        return d


@dataclass(frozen=True)
class CallSummary:
    """Emitted once when a call (live or replayed) ends."""

    duration_s: float
    utterances: int
    nudges: int
    nudges_by_rule: dict[str, int] = field(default_factory=dict)
    audio_s: float | None = None
    processing_s: float | None = None
    masking: bool | None = None  # whether personal data was masked (None: not said)
    masked_utterances: int = 0  # utterances holding masked data
    # the one side the call's audio had (a mono recording replayed with --speaker); None: both or not known
    one_side: Speaker | None = None

    EVENT_TYPE: ClassVar[str] = "call_end"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.EVENT_TYPE,
            "duration": round(self.duration_s, 3),
            "utterances": self.utterances,
            "nudges": self.nudges,
            "nudges_by_rule": dict(sorted(self.nudges_by_rule.items())),
        }
        if self.audio_s is not None:
            d["audio"] = round(self.audio_s, 3)
        if self.processing_s is not None:
            d["processing"] = round(self.processing_s, 3)
        if self.masking is not None:
            d["masking"] = "on" if self.masking else "off"
            if self.masking:
                d["masked_utterances"] = self.masked_utterances
        if self.one_side is not None:
            d["one_side"] = self.one_side.value
        return d


@dataclass(frozen=True)
class DeadAir:
    """Nobody has spoken for ``silence_s`` (so far) since ``since_s``; fires once per silence,
    at ``t_s`` = ``since_s`` + the dead-air threshold."""

    t_s: float
    since_s: float
    silence_s: float
    hold_announced: bool
    last_speaker: Speaker | None

    EVENT_TYPE: ClassVar[str] = "signal"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "kind": "dead_air",
            "t": round(self.t_s, 3),
            "since": round(self.since_s, 3),
            "silence_s": round(self.silence_s, 2),
            "hold_announced": self.hold_announced,
            "last_speaker": self.last_speaker.value if self.last_speaker else None,
        }


@dataclass(frozen=True)
class TalkOver:
    """``speaker`` started while ``over`` was still speaking; they overlapped ``overlap_s``."""

    t_s: float
    speaker: Speaker
    over: Speaker
    start_s: float
    overlap_s: float
    utterance_index: int

    EVENT_TYPE: ClassVar[str] = "signal"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "kind": "talk_over",
            "t": round(self.t_s, 3),
            "speaker": self.speaker.value,
            "over": self.over.value,
            "start": round(self.start_s, 3),
            "overlap_s": round(self.overlap_s, 2),
            "utterance_index": self.utterance_index,
        }


@dataclass(frozen=True)
class ToneChange:
    """A speaker's running tone state changed (e.g. the customer went from calm to angry)."""

    t_s: float
    speaker: Speaker
    previous: str
    tone: ToneEstimate
    utterance_index: int

    EVENT_TYPE: ClassVar[str] = "signal"  # the event's "type" in the event log

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.EVENT_TYPE,
            "kind": "tone",
            "t": round(self.t_s, 3),
            "speaker": self.speaker.value,
            "previous": self.previous,
            **self.tone.to_json(),
            "utterance_index": self.utterance_index,
        }


SignalEvent = Union[DeadAir, TalkOver, ToneChange]
Event = Union[
    Utterance,
    Turn,
    Nudge,
    RecordItem,
    Praise,
    CallCoaching,
    Status,
    CallSummary,
    DeadAir,
    TalkOver,
    ToneChange,
    Partial,
    Withdrawn,
    TurnRevision,
]
# the ``type`` of each event in an event log (README, "Event log"), from the events' own
# ``EVENT_TYPE`` (what their ``to_json`` writes): a JSONL file that starts with one is
# rapport-assist's own output (``transcript`` reads it so)
EVENT_TYPES: frozenset[str] = frozenset(event.EVENT_TYPE for event in get_args(Event))
