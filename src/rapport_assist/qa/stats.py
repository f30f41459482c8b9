"""Call statistics from a call's event log (the JSONL events of ``replay --out``/``qa``).

Everything here reads event dicts, so a report or summary can be rebuilt from ``events.jsonl``
alone, and the summary's counts are the log's counts by construction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..wording import one_side_note

SEVERITY_WEIGHT = {"high": 3, "medium": 2, "low": 1}
TONE_RANK = {"calm": 0, "tense": 1, "angry": 2}


@dataclass(frozen=True)
class CallStats:
    """What a team lead scans first. Times in seconds; ``talk_ratio`` is the agent's share of talk."""

    duration_s: float
    audio_s: float | None
    utterances: int
    agent_talk_s: float
    customer_talk_s: float
    talk_ratio: float | None
    dead_air: int
    dead_air_s: float
    talk_overs: int
    agent_talk_overs: int
    talk_over_s: float
    nudges: int
    nudges_by_rule: dict[str, int] = field(default_factory=dict)
    nudges_by_severity: dict[str, int] = field(default_factory=dict)
    promises: int = 0
    promises_uncommitted: int = 0
    customer_peak_tone: str = "calm"
    listen_score: float = 0.0
    # what may make the counts mislead (``call_warnings``): code -> what was found
    warnings: dict[str, str] = field(default_factory=dict)
    # the only side heard ("agent"/"customer"): a recording of one side (call_end's one_side), or a
    # call whose utterances are all one side's. Talk ratio, dead air and talk-over need both
    # sides: the report and summary say "one side only" instead of them
    one_side: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 3)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "CallStats":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def listen_score(
    nudges_by_severity: dict[str, int], peak_tone: str, dead_air: int, agent_talk_overs: int, uncommitted: int
) -> float:
    """How much a call needs a listen: nudges weighted by severity (high 3, medium 2, low 1),
    +3 when the customer got angry (+1 tense), +1 per dead air, per talk-over by the agent and per
    promise without a time frame."""
    score = sum(SEVERITY_WEIGHT.get(sev, 1) * n for sev, n in nudges_by_severity.items())
    score += {"angry": 3, "tense": 1}.get(peak_tone, 0)
    return float(score + dead_air + agent_talk_overs + uncommitted)


def call_stats(events: Iterable[dict[str, Any]]) -> CallStats:
    """Statistics of one call from its events. Experimental nudges (logged, never shown) are not counted."""
    talk = Counter[str]()
    spoke: Counter[str] = Counter()  # utterances per speaker
    warnings: dict[str, str] = {}
    by_rule: Counter[str] = Counter()
    by_sev: Counter[str] = Counter()
    dead_air = talk_overs = agent_talk_overs = utterances = promises = uncommitted = 0
    dead_air_s = talk_over_s = 0.0
    peak = "calm"
    duration = 0.0
    audio_s = None
    one_side: str | None = None
    for e in events:
        kind = e.get("type")
        if kind == "utterance":
            utterances += 1
            spoke[e["speaker"]] += 1
            talk[e["speaker"]] += max(0.0, e["end"] - e["start"])
            duration = max(duration, e["end"])
            tone = ((e.get("signals") or {}).get("tone_state") or {}).get("label")
            if e["speaker"] == "customer" and tone and TONE_RANK.get(tone, 0) > TONE_RANK[peak]:
                peak = tone
        elif kind == "nudge" and not e.get("experimental"):
            by_rule[e["rule"]] += 1
            by_sev[e["severity"]] += 1
        elif kind == "record":
            promises += 1
            uncommitted += 0 if e.get("committed") else 1
        elif kind == "signal" and e.get("kind") == "dead_air":
            dead_air += 1
            dead_air_s += e["silence_s"]
        elif kind == "signal" and e.get("kind") == "talk_over":
            talk_overs += 1
            talk_over_s += e["overlap_s"]
            agent_talk_overs += e["speaker"] == "agent"
        elif kind == "signal" and e.get("kind") == "tone" and e["speaker"] == "customer":
            if TONE_RANK.get(e["label"], 0) > TONE_RANK[peak]:
                peak = e["label"]
        elif kind == "status" and (e.get("level") in ("warning", "error") or e.get("code") == "no_speech"):
            code = e.get("code") or "warning"
            warnings[code] = f"{warnings[code]}; {e['message']}" if code in warnings else str(e.get("message", ""))
        elif kind == "call_end":
            duration = max(duration, e["duration"])
            audio_s = e.get("audio")
            one_side = e.get("one_side") or one_side
    # one side only, said once: the pipeline knew it (a recording of one side, a channel silent
    # throughout, a transcript of one speaker: call_end's one_side) and left out what lies between
    # the sides; or only one side spoke in a call it took as two-sided (an older log)
    silent = warnings.pop("silent_channel", "")  # (sources.SILENT_CHANNEL) why: part of the one note
    if one_side is not None:
        warnings[f"{one_side}_only"] = one_side_note(one_side) + (f" ({silent})" if silent else "")
    elif len(spoke) == 1:
        (speaker,) = spoke
        other = "customer" if speaker == "agent" else "agent"
        warnings[f"{speaker}_only"] = f"only the {speaker} spoke: no {other} speech in this call"
    elif silent:
        warnings["silent_channel"] = silent
    total = talk["agent"] + talk["customer"]
    heard = [side for side in ("agent", "customer") if side in talk]
    if one_side is None and len(heard) == 1:
        one_side = heard[0]
    if one_side is not None:  # nothing between the sides can be measured
        dead_air = talk_overs = agent_talk_overs = 0
        dead_air_s = talk_over_s = 0.0
    return CallStats(
        duration_s=duration,
        audio_s=audio_s,
        utterances=utterances,
        agent_talk_s=talk["agent"],
        customer_talk_s=talk["customer"],
        talk_ratio=talk["agent"] / total if total > 0 and one_side is None else None,
        dead_air=dead_air,
        dead_air_s=dead_air_s,
        talk_overs=talk_overs,
        agent_talk_overs=agent_talk_overs,
        talk_over_s=talk_over_s,
        nudges=sum(by_rule.values()),
        nudges_by_rule=dict(sorted(by_rule.items())),
        nudges_by_severity=dict(sorted(by_sev.items())),
        promises=promises,
        promises_uncommitted=uncommitted,
        customer_peak_tone=peak,
        listen_score=listen_score(by_sev, peak, dead_air, agent_talk_overs, uncommitted),
        warnings=warnings,
        one_side=one_side,
    )
