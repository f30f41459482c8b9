"""The signal catalogue: every conversation signal a rule can test, with its unit, and the
text cue families reported on every utterance.

A leaf module (only the standard library): ``signals`` computes these values, the rule loader
checks rule files against them, the rule lint and the schema generator read them, and
``rules/README.md`` documents them (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalField:
    unit: str
    description: str


SIGNAL_FIELDS: dict[str, SignalField] = {
    "duration_s": SignalField("s", "length of the utterance"),
    "words": SignalField("words", "number of words"),
    "loudness_dbfs": SignalField("dBFS", "active speech level of the utterance (audio only)"),
    "loudness_rise_db": SignalField("dB", "loudness minus the speaker's own running baseline"),
    "turn_loudness_rise_db": SignalField("dB", "loudness of the speaker's turn so far minus their baseline"),
    "rate_sps": SignalField("syllables/s", "speaking rate, from word timestamps or real start/end times"),
    "rate_rise": SignalField("fraction", "rate vs the speaker's baseline: 0.25 = 25% faster, -0.2 = 20% slower"),
    "turn_rate_rise": SignalField("fraction", "rate of the speaker's turn so far vs their baseline"),
    "rate_vs_other": SignalField("fraction", "rate vs the other speaker's usual rate: 0.4 = 40% faster than them"),
    "gap_s": SignalField("s", "start minus the end of the other speaker's last utterance (negative: overlap)"),
    "silence_before_s": SignalField("s", "silence on both sides just before this utterance"),
    "talk_over_s": SignalField("s", "how long this utterance overlapped the other speaker, when it started second"),
    "monologue_s": SignalField("s", "how long this speaker has held the floor (the other side only backchanneled)"),
    "talk_share": SignalField("fraction", "this speaker's share of all talk time so far"),
    "agent_talk_share": SignalField("fraction", "the agent's share of all talk time so far"),
    "call_elapsed_s": SignalField("s", "time from call start to the end of this utterance"),
    "remaining_s": SignalField("s", "time left until the call ends (known in replay only)"),
    "backchannel": SignalField(
        "true/false",
        "a listening sound or acknowledgement that leaves the floor to the other side ('mm-hmm', 'okay'), not an answer to their question (the turns' reading)",
    ),
    "tone_score": SignalField("0..1", "tone estimate of this utterance (calm < 0.35 <= tense < 0.7 <= angry)"),
    "tone_state_score": SignalField("0..1", "the speaker's running tone: the peak holds 30 s, then halves every 60 s"),
    "other_tone_state_score": SignalField("0..1", "the other speaker's running tone, at the end of this utterance"),
    "speaker_turn": SignalField("turns", "this speaker's utterance count in the call: 1 for their first"),
}

# Text cue families reported on every utterance -> the lexicon (in the rule packs) that defines
# them. A family whose lexicon is not loaded is simply never reported.
CUE_LEXICONS: dict[str, str] = {
    "anger": "anger-cues",
    "frustration": "frustration-cues",
    "apology": "apology",
    "non_apology": "non-apology",
    "empathy": "empathy",
    "reflection": "reflection",
    "gratitude": "gratitude",
    "hedging": "hedging",
    "time": "time-frame",
    "hold": "hold",
}
