"""The voice baseline and the turn-level tone estimate, on hand-made timelines.

A speaker's baseline is their calm utterances of earlier turns: an angry stretch does not become
the yardstick for the next one, a turn is never compared with itself, a call that opens angry is
judged once calm speech has been heard, and a level that moved for good is learnt again. Words
that sound angry in the speaker's usual voice (a settled baseline, no angry episode going on)
count one cue less. Exact loudness values; tests/test_signals_audio.py runs the signals on
generated speech through the real recognizer.
"""

from __future__ import annotations

import math
import statistics

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.signals import SignalOptions, SignalTracker, count_syllables
from rapport_assist.types import Speaker, Utterance, VoiceMeasure, Word

A, C = Speaker.AGENT, Speaker.CUSTOMER
CALM, LOUD = -26.0, -18.0
NEUTRAL = "I would like to check the balance on my account please."


@pytest.fixture()
def tracker(rules) -> SignalTracker:
    return SignalTracker(rules)


class Call:
    """Feeds utterances one after another; ``gap`` seconds of silence before each (over the
    turn gap of 2.5 s, the same speaker's next utterance starts a new turn)."""

    def __init__(self, tracker: SignalTracker, annotator: Annotator) -> None:
        self.tracker, self.annotator = tracker, annotator
        self.t = 0.0
        self.n = 0

    def say(
        self,
        speaker: Speaker,
        text: str,
        loud: float | None,
        gap: float = 4.0,
        rate_sps: float = 4.0,
        voiced_s: float = 1.0,
    ) -> Utterance:
        start = self.t + gap
        span = count_syllables(text) / rate_sps
        parts = text.split()
        step = span / len(parts)
        words = tuple(Word(w, start + i * step, start + (i + 1) * step, 0.9) for i, w in enumerate(parts))
        voice = VoiceMeasure(loud, voiced_s) if loud is not None else None
        utt = Utterance(self.n, speaker, text, start, start + span, words=words, voice=voice)
        self.n += 1
        self.t = start + span
        au, _ = self.tracker.on_utterance(self.annotator.annotate(utt))
        return au.utterance


def test_an_angry_turn_does_not_become_the_baseline(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for _ in range(3):
        call.say(C, NEUTRAL, CALM)
    for _ in range(4):  # one loud turn, cut by the endpointer into four utterances
        u = call.say(C, NEUTRAL, LOUD, gap=0.8, rate_sps=5.2)
    assert u.signals.tone.label == "angry"
    calm = call.say(C, NEUTRAL, CALM)
    assert calm.signals.get("loudness_rise_db") == pytest.approx(0.0)
    assert calm.signals.tone.label == "calm"
    again = call.say(C, NEUTRAL, LOUD, rate_sps=5.2)  # measured against the calm ones, not the loud turn
    assert again.signals.get("loudness_rise_db") == pytest.approx(8.0)
    assert again.signals.tone.label == "angry"


def test_a_turn_is_never_its_own_baseline(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    first = [call.say(C, NEUTRAL, CALM, gap=0.8) for _ in range(4)]  # one turn
    assert all(u.signals.get("loudness_rise_db") is None for u in first)
    agent = call.say(A, "Let me check that for you.", -12.0)
    assert agent.signals.get("loudness_rise_db") is None  # the agent's own baseline, not the customer's
    later = call.say(C, NEUTRAL, CALM + 1.0)
    assert later.signals.get("loudness_rise_db") == pytest.approx(1.0)


def test_a_call_that_opens_angry_is_judged_once_calm_speech_is_heard(
    tracker: SignalTracker, annotator: Annotator
) -> None:
    call = Call(tracker, annotator)
    for _ in range(3):  # the opening complaint: loud, nothing to compare it with
        call.say(C, NEUTRAL, LOUD, gap=0.8, rate_sps=5.2)
    call.say(A, "I'm sorry to hear that, let me look.", -12.0)
    quieter = call.say(C, "Yes, it is the account ending in four two.", CALM)
    assert quieter.signals.get("loudness_rise_db") == pytest.approx(-8.0)
    call.say(A, "Thank you, one moment.", -12.0)
    # the loud opening is now judged against the calm answer and drops out of the baseline
    loud_again = call.say(C, NEUTRAL, LOUD, rate_sps=5.2)
    assert loud_again.signals.get("loudness_rise_db") == pytest.approx(8.0)
    assert loud_again.signals.tone.label == "angry"


def test_an_opening_a_few_db_louder_stays_in_the_baseline(tracker: SignalTracker, annotator: Annotator) -> None:
    """A greeting a little louder than a short 'okay' later is not 'raised': both stay in."""
    call = Call(tracker, annotator)
    call.say(A, "Hello, this is the bank, how can I help you today?", -17.7)
    call.say(A, "What is your address?", -17.2)
    call.say(A, "Okay, thank you.", -22.2)
    u = call.say(A, "A new checkbook has been sent to your address.", -17.8)
    assert u.signals.get("loudness_rise_db") == pytest.approx(-17.8 - statistics.median([-17.7, -17.2, -22.2]))
    assert u.signals.tone.label == "calm"


def test_a_level_that_moved_for_good_is_learnt_again(rules, annotator: Annotator) -> None:
    opts = SignalOptions(baseline_relearn=4)
    call = Call(SignalTracker(rules, opts), annotator)
    for _ in range(3):
        call.say(C, NEUTRAL, CALM)
    rises = [call.say(C, NEUTRAL, LOUD).signals.get("loudness_rise_db") for _ in range(7)]
    assert rises[:4] == pytest.approx([8.0] * 4)  # raised: kept out of the baseline
    assert rises[4:] == pytest.approx([0.0] * 3)  # four raised in a row: that is their level now


def test_the_turn_so_far_pools_the_voice_of_its_utterances(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for _ in range(3):
        call.say(C, NEUTRAL, CALM)
    call.say(C, "No.", LOUD + 2.0, voiced_s=0.3)
    u = call.say(C, NEUTRAL, CALM + 4.0, gap=0.8, voiced_s=1.5)
    power = 0.3 * 10 ** ((LOUD + 2.0) / 10) + 1.5 * 10 ** ((CALM + 4.0) / 10)
    pooled = 10 * math.log10(power / 1.8)
    assert u.signals.get("turn_loudness_rise_db") == pytest.approx(pooled - CALM)
    assert u.signals.get("loudness_rise_db") == pytest.approx(4.0)


def test_the_louder_turn_counts_when_an_utterance_alone_is_short(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for _ in range(3):
        call.say(C, NEUTRAL, CALM)
    call.say(C, NEUTRAL, CALM + 10.0, rate_sps=5.2)
    short = call.say(C, "Twice.", CALM, gap=0.6)  # same turn, no pace of its own, at the usual level
    assert short.signals.get("turn_loudness_rise_db") > 6.0
    assert short.signals.tone.label != "calm"
    assert any("(this turn)" in e for e in short.signals.tone.evidence)


def test_angry_words_in_a_usual_voice_count_one_cue_less(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for _ in range(4):  # the first two stand in; two measured calm ones settle the baseline
        call.say(C, NEUTRAL, CALM)
    even = call.say(C, "Honestly this is ridiculous.", CALM)
    assert even.signals.tone.label == "tense"
    assert any("usual level and pace" in e for e in even.signals.tone.evidence)
    loud = call.say(C, "Honestly this is ridiculous.", LOUD)
    assert loud.signals.tone.label == "angry"


def test_angry_words_keep_their_weight_in_an_angry_episode(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for _ in range(3):
        call.say(C, NEUTRAL, CALM)
    call.say(C, NEUTRAL, LOUD, rate_sps=5.2)
    call.say(A, "I see, let me check.", -12.0)
    threat = call.say(C, "Then I'm going to cancel my contract.", CALM, gap=5.0)
    assert threat.signals.tone.label == "angry"


def test_angry_words_before_the_baseline_settles_are_angry(tracker: SignalTracker, annotator: Annotator) -> None:
    """A customer who opens with angry words: nothing says their voice is calm for them."""
    call = Call(tracker, annotator)
    call.say(C, "Hi there.", CALM, gap=0.5)
    call.say(C, "I'm calling about my bill.", CALM, gap=0.6)
    u = call.say(C, "Honestly this is ridiculous.", CALM, gap=0.7)
    assert u.signals.tone.label == "angry"


def test_a_turn_8_db_louder_is_angry_with_a_pace_the_words_barely_show(
    tracker: SignalTracker, annotator: Annotator
) -> None:
    """Loudness carries a raised voice: 8 dB over the speaker's calm level with a pace only 10%
    up (word times under-read a fast pace) is angry; 3 dB louder at the same pace stays calm."""
    call = Call(tracker, annotator)
    for _ in range(3):
        call.say(C, NEUTRAL, CALM)
        call.say(A, "Thank you, one moment.", -12.0)
    a_bit = call.say(C, NEUTRAL, CALM + 3.0, rate_sps=4.4)
    assert a_bit.signals.get("loudness_rise_db") == pytest.approx(3.0)
    assert a_bit.signals.tone.label == "calm"
    call.say(A, "Thank you, one moment.", -12.0)
    raised = call.say(C, NEUTRAL, LOUD, rate_sps=4.4)
    assert raised.signals.get("loudness_rise_db") == pytest.approx(8.0)
    assert raised.signals.get("rate_rise") == pytest.approx(0.1)
    assert raised.signals.tone.label == "angry"
    assert any("8.0 dB louder" in e for e in raised.signals.tone.evidence)
