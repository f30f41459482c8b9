"""Typed values that cross module boundaries.

Every stage of the pipeline takes and returns these frozen dataclasses; no loose
dicts or tuples travel between modules. Times are seconds from the start of the
call, as floats, and their names end in ``_s``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal, Union

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
            raise ValueError(
                f"unknown speaker {value!r}: use 'agent' or 'customer'"
            ) from None

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

    ``audio`` is mono float32 at 16 kHz; ``start_s``/``end_s`` are call times.
    """

    speaker: Speaker
    start_s: float
    end_s: float
    audio: np.ndarray

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

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "utterance",
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
        return d


Severity = Literal["low", "medium", "high"]


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

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "nudge",
            "rule": self.rule,
            "severity": self.severity,
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
        return d


StatusLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Status:
    """Something the user should know that is not a nudge (no speech found, model loaded...)."""

    level: StatusLevel
    code: str
    message: str
    t_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "status", "level": self.level, "code": self.code, "message": self.message}
        if self.t_s is not None:
            d["t"] = round(self.t_s, 3)
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

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "call_end",
            "duration": round(self.duration_s, 3),
            "utterances": self.utterances,
            "nudges": self.nudges,
            "nudges_by_rule": dict(sorted(self.nudges_by_rule.items())),
        }
        if self.audio_s is not None:
            d["audio"] = round(self.audio_s, 3)
        if self.processing_s is not None:
            d["processing"] = round(self.processing_s, 3)
        return d


Event = Union[Utterance, Nudge, Status, CallSummary]
