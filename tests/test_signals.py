"""Conversation signals on hand-made timelines: dead air, talk-over, baselines and tone.

These are logic tests with exact times and loudness values; tests/test_signals_audio.py runs
the same signals on generated speech through the real recognizer.
"""

from __future__ import annotations

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.rules import default_rules_dir, load_rules
from rapport_assist.signals import SIGNAL_FIELDS, SignalTracker, count_syllables
from rapport_assist.types import (
    DeadAir,
    Speaker,
    SpeechActivity,
    TalkOver,
    ToneChange,
    Utterance,
    VoiceMeasure,
    Word,
)

A, C = Speaker.AGENT, Speaker.CUSTOMER


@pytest.fixture()
def tracker() -> SignalTracker:
    return SignalTracker(load_rules([default_rules_dir()]))


class Call:
    """Feeds hand-made utterances to a tracker; keeps the signals and events."""

    def __init__(self, tracker: SignalTracker, annotator: Annotator) -> None:
        self.tracker, self.annotator = tracker, annotator
        self.events: list = []
        self.utts: list[Utterance] = []

    def say(
        self,
        speaker: Speaker,
        text: str,
        start: float,
        end: float,
        loud: float | None = None,
        rate_sps: float | None = None,
    ) -> Utterance:
        words: tuple[Word, ...] = ()
        if rate_sps is not None:  # spread the words so the syllable rate is exactly rate_sps
            span = count_syllables(text) / rate_sps
            end = start + span
            parts = text.split()
            step = span / len(parts)
            words = tuple(Word(w, start + i * step, start + (i + 1) * step, 0.9) for i, w in enumerate(parts))
        voice = VoiceMeasure(loud, 1.0) if loud is not None else None
        utt = Utterance(len(self.utts), speaker, text, start, end, words=words, voice=voice)
        au, events = self.tracker.on_utterance(self.annotator.annotate(utt))
        self.events += events
        self.utts.append(au.utterance)
        return au.utterance

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_a_ten_second_gap_is_dead_air(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    call.say(A, "Let me pull up your account details.", 0.0, 2.0)
    reply = call.say(C, "Okay, are you still there?", 12.0, 14.0)
    [dead] = call.of(DeadAir)
    assert dead.since_s == 2.0 and dead.silence_s == pytest.approx(10.0)
    assert dead.t_s == pytest.approx(2.0 + tracker.options.dead_air_s)
    assert dead.hold_announced is False and dead.last_speaker is A
    assert reply.signals.get("silence_before_s") == pytest.approx(10.0)
    assert reply.signals.get("gap_s") == pytest.approx(10.0)


def test_dead_air_after_an_announced_hold(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    call.say(A, "Please bear with me while I check that.", 0.0, 2.5)
    call.say(A, "Thanks for waiting.", 14.0, 15.0)
    [dead] = call.of(DeadAir)
    assert dead.hold_announced is True


def test_short_gaps_are_not_dead_air(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    call.say(A, "How can I help?", 0.0, 1.0)
    call.say(C, "My card was declined.", 4.0, 6.0)
    call.say(A, "Let me see.", 9.0, 10.0)
    assert call.of(DeadAir) == []


def test_the_clock_fires_dead_air_once_and_speech_in_progress_holds_it(
    tracker: SignalTracker, annotator: Annotator
) -> None:
    call = Call(tracker, annotator)
    call.say(A, "Is there anything else?", 0.0, 2.0)
    assert tracker.tick(8.0) == []
    [dead] = tracker.tick(11.0)
    assert dead.t_s == pytest.approx(10.0) and dead.silence_s == pytest.approx(9.0)
    assert tracker.tick(20.0) == []  # once per silence
    # a long customer turn is under way (not yet recognized): no dead air however long it runs
    tracker.start_call()
    call = Call(tracker, annotator)
    call.say(A, "Go ahead.", 0.0, 1.0)
    assert tracker.on_activity(SpeechActivity(C, 1.5, True)) == []
    assert tracker.tick(30.0) == []


def test_agent_starting_before_the_customer_ends_is_talk_over(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    call.say(C, "I have been waiting for the refund for three weeks now and", 0.0, 5.0)
    agent = call.say(A, "Right, so the refund takes ten days.", 3.8, 7.0)
    [over] = call.of(TalkOver)
    assert (over.speaker, over.over) == (A, C)
    assert over.overlap_s == pytest.approx(1.2) and over.utterance_index == agent.index
    assert agent.signals.get("gap_s") == pytest.approx(-1.2)
    assert agent.signals.get("talk_over_s") == pytest.approx(1.2)


def test_backchannels_and_tiny_overlaps_are_not_talk_over(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    call.say(C, "So the router was replaced last month and since then", 0.0, 6.0)
    call.say(A, "Mm-hmm.", 3.0, 3.5)
    call.say(A, "Okay, and since then it drops?", 5.8, 8.0)  # 0.2 s overlap
    assert call.of(TalkOver) == []


def test_a_simultaneous_start_is_no_ones_talk_over(tracker: SignalTracker, annotator: Annotator) -> None:
    """The call opens with both talking at once (the customer's "Hello?" over the greeting):
    the turns start 0.4 s apart, so neither cut in; 0.6 s apart, the later one did."""
    call = Call(tracker, annotator)
    call.say(A, "Thank you for calling support, this is Julie.", 0.8, 2.4)
    call.say(C, "Hi, I need help with my account please.", 0.4, 3.3)
    assert call.of(TalkOver) == []
    call = Call(SignalTracker(load_rules([default_rules_dir()])), annotator)
    agent = call.say(A, "Thank you for calling support, this is Julie.", 1.0, 2.6)
    call.say(C, "Hi, I need help with my account please.", 0.4, 3.3)
    [over] = call.of(TalkOver)
    assert (over.speaker, over.utterance_index) == (A, agent.index)


def test_a_customer_who_cuts_in_is_the_one_talking_over(tracker: SignalTracker, annotator: Annotator) -> None:
    """The agent pauses for a breath (the endpointer splits their turn), the customer cuts in and
    the agent goes on: the agent's second piece starts after the customer, but the customer
    started speaking over the agent's turn."""
    call = Call(tracker, annotator)
    call.say(A, "Let me explain the plan, it covers the router and", 0.0, 4.8)
    customer = call.say(C, "No, no, I already did all of that twice, listen to me.", 5.0, 8.0)
    call.say(A, "the modem, and then we run the line check.", 5.3, 9.0)
    [over] = call.of(TalkOver)
    assert (over.speaker, over.over, over.utterance_index) == (C, A, customer.index)
    assert over.overlap_s == pytest.approx(2.7)
    # a real pause ends the turn: then the agent who starts over the customer is the one
    call = Call(SignalTracker(load_rules([default_rules_dir()])), annotator)
    call.say(A, "Let me explain the plan, it covers the router.", 0.0, 4.0)
    call.say(C, "No, no, I already did all of that twice, listen to me.", 5.0, 8.0)
    agent = call.say(A, "Right, the modem, and then we run the line check.", 6.0, 9.0)
    [over] = call.of(TalkOver)
    assert (over.speaker, over.utterance_index) == (A, agent.index)


def test_talk_over_found_when_the_interrupted_turn_is_still_open(tracker: SignalTracker, annotator: Annotator) -> None:
    """Audio order: the agent's interruption ends (and is recognized) before the customer's turn."""
    call = Call(tracker, annotator)
    tracker.on_activity(SpeechActivity(C, 0.0, True))
    tracker.on_activity(SpeechActivity(A, 4.0, True))
    call.say(A, "Sorry, can I stop you there?", 4.0, 6.0)
    call.say(C, "I was saying the bill is wrong every single month.", 0.0, 9.0)
    [over] = call.of(TalkOver)
    assert (over.speaker, over.over, over.overlap_s) == (A, C, pytest.approx(2.0))


def test_monologue_talk_share_and_call_position(annotator: Annotator) -> None:
    tracker = SignalTracker(load_rules([default_rules_dir()]), call_length_s=100.0)
    call = Call(tracker, annotator)
    call.say(A, "Let me explain how the plan works.", 0.0, 10.0)
    call.say(C, "Okay.", 10.5, 11.0)  # a backchannel does not end the agent's turn
    last = call.say(A, "And then the second part of the plan covers roaming.", 11.5, 30.0)
    assert last.signals.get("monologue_s") == pytest.approx(30.0)
    assert last.signals.get("agent_talk_share") == pytest.approx(28.5 / 29.0)
    assert last.signals.get("remaining_s") == pytest.approx(70.0)
    reply = call.say(C, "That is a lot of information.", 31.0, 33.0)
    after = call.say(A, "Sure.", 34.0, 34.5)
    assert reply.signals.get("monologue_s") == pytest.approx(2.0)  # the agent's turn ended the customer's run
    assert after.signals.get("monologue_s") == pytest.approx(0.5)


def test_an_answer_ends_the_monologue_a_backchannel_does_not(annotator: Annotator) -> None:
    """The ``backchannel`` signal is the turns' reading: "Yes." right after the agent's question
    and "Thank you." take the floor (the agent's run starts again), "Mm-hm." into an explanation
    does not; an agent's "I see." after its own words is still a listening sound."""
    call = Call(SignalTracker(load_rules([default_rules_dir()])), annotator)
    call.say(A, "Would you like me to set up the autopay for you?", 0.0, 4.0)
    yes = call.say(C, "Yes.", 4.3, 4.7)
    explain = call.say(A, "Okay, so the autopay takes the payment on the first of each month.", 5.0, 12.0)
    mm = call.say(C, "Mm-hm.", 12.2, 12.5)
    more = call.say(A, "And it starts with the next statement.", 12.8, 16.0)
    thanks = call.say(C, "Thank you.", 16.3, 16.8)
    after = call.say(A, "You're welcome, and the first payment is on the first of June.", 17.0, 21.0)
    see = call.say(A, "I see.", 21.2, 21.6)
    assert [u.signals.get("backchannel") for u in (yes, mm, thanks, see)] == [False, True, False, True]
    assert explain.signals.get("monologue_s") == pytest.approx(7.0)
    assert more.signals.get("monologue_s") == pytest.approx(11.0)
    assert after.signals.get("monologue_s") == pytest.approx(4.0)


def test_louder_and_faster_than_own_baseline_is_angry_by_voice(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    neutral = "I would like to check the balance on my account please."
    for i in range(3):
        u = call.say(C, neutral, 10.0 * i, 0, loud=-26.0, rate_sps=4.0)
        assert u.signals.tone.label == "calm"
    u = call.say(C, neutral, 40.0, 0, loud=-16.0, rate_sps=5.2)
    assert u.signals.get("loudness_rise_db") == pytest.approx(10.0)
    assert u.signals.get("rate_rise") == pytest.approx(0.3)
    assert u.signals.tone.label == "angry"
    assert any("louder" in e for e in u.signals.tone.evidence)
    assert any("faster" in e for e in u.signals.tone.evidence)
    assert [e.tone.label for e in call.of(ToneChange)] == ["angry"]


def test_only_louder_is_tense_not_angry(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for i in range(3):
        call.say(C, "I would like to check my balance please.", 10.0 * i, 0, loud=-26.0, rate_sps=4.0)
    u = call.say(C, "I would like to check my balance please.", 40.0, 0, loud=-18.0, rate_sps=4.0)
    assert u.signals.tone.label == "tense"


def test_angry_words_at_calm_volume_are_angry_by_text(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    for i in range(3):
        call.say(C, "I would like to check my balance please.", 10.0 * i, 0, loud=-26.0, rate_sps=4.0)
    u = call.say(C, "This is ridiculous, it is the third time I'm calling.", 40.0, 0, loud=-26.0, rate_sps=4.0)
    assert u.signals.tone.label == "angry"
    assert any("ridiculous" in e for e in u.signals.tone.evidence)
    assert "ridiculous" in " ".join(u.signals.cues["anger"])
    negated = call.say(C, "It's not ridiculous, I just want it fixed.", 50.0, 0, loud=-26.0, rate_sps=4.0)
    assert negated.signals.tone.label == "calm"


def test_baselines_are_per_speaker(tracker: SignalTracker, annotator: Annotator) -> None:
    """A loud agent headset next to a quiet phone line: nobody is 'louder than usual'."""
    call = Call(tracker, annotator)
    for i in range(4):
        a = call.say(A, "Let me check that for you right now.", 10.0 * i, 0, loud=-12.0, rate_sps=4.0)
        c = call.say(C, "Thank you, I will wait here for you.", 10.0 * i + 5, 0, loud=-32.0, rate_sps=4.0)
    assert a.signals.get("loudness_rise_db") == pytest.approx(0.0)
    assert c.signals.get("loudness_rise_db") == pytest.approx(0.0)
    assert c.signals.tone.label == "calm" and a.signals.tone.label == "calm"


def test_transcript_without_audio_says_so(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    u = call.say(C, "Are you kidding me? This is unacceptable.", 0.0, 3.0)
    assert u.signals.get("loudness_dbfs") is None and u.signals.get("loudness_rise_db") is None
    assert u.signals.tone.label == "angry"
    assert any("no audio" in e for e in u.signals.tone.evidence)


def test_tone_state_decays_and_reports_changes(tracker: SignalTracker, annotator: Annotator) -> None:
    call = Call(tracker, annotator)
    angry = call.say(C, "This is unacceptable.", 0.0, 2.0)
    assert angry.signals.tone_state.label == "angry"
    soon = call.say(C, "What is the next step?", 10.0, 12.0)
    assert soon.signals.tone.label == "calm" and soon.signals.tone_state.label == "angry"
    later = call.say(C, "What is the next step?", 200.0, 202.0)
    assert later.signals.tone_state.label == "calm"
    assert [(e.previous, e.tone.label) for e in call.of(ToneChange)] == [("calm", "angry"), ("angry", "calm")]


@pytest.mark.parametrize(
    "text, label",
    [
        ("I'm going to put you on hold for a moment.", "calm"),  # the agent's hold: not a long wait
        ("Let me place you on hold for a second while I check.", "calm"),
        ("I was on hold for two hours and nobody answered.", "angry"),
        ("We've been on hold for ages with your billing team.", "angry"),
    ],
)
def test_a_hold_is_a_grievance_only_when_it_was_long(
    tracker: SignalTracker, annotator: Annotator, text: str, label: str
) -> None:
    assert Call(tracker, annotator).say(C, text, 0.0, 3.0).signals.tone.label == label


def test_every_value_is_a_documented_field(tracker: SignalTracker, annotator: Annotator) -> None:
    u = Call(tracker, annotator).say(C, "Hello there.", 0.0, 1.0)
    assert set(u.signals.values) == set(SIGNAL_FIELDS)


def test_syllable_counts() -> None:
    assert count_syllables("hello") == 2
    assert count_syllables("I restarted the router") == 7
    assert count_syllables("one two three 4 5") == 5


def test_every_signal_is_documented_with_its_unit() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "rules" / "README.md").read_text()
    for name, field in SIGNAL_FIELDS.items():
        assert f"| `{name}` | {field.unit} |" in readme, f"rules/README.md does not document {name} ({field.unit})"


def test_rules_can_test_signals(tmp_path, annotator: Annotator) -> None:
    from rapport_assist.errors import RuleError
    from rapport_assist.rules import RuleEngine

    pack = tmp_path / "loud.yaml"
    pack.write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: customer-shouting\n"
        "    title: Lower your voice\n"
        "    severity: medium\n"
        "    why: Match calm to loud.\n"
        "    message: Speak slowly and calmly.\n"
        "    when:\n"
        "      speaker: customer\n"
        "      signals: {loudness_rise_db: {min: 8}, backchannel: false}\n"
    )
    ruleset = load_rules([pack])
    engine, tracker = RuleEngine(ruleset), SignalTracker(ruleset)
    fired = []
    for i, loud in enumerate([-26.0, -26.0, -25.0, -16.0]):
        utt = Utterance(
            i, C, "I would like to check the balance please.", 10.0 * i, 10.0 * i + 3, voice=VoiceMeasure(loud, 2.0)
        )
        au, _ = tracker.on_utterance(annotator.annotate(utt))
        fired += [n.utterance_index for n in engine.on_utterance(au)]
    assert fired == [3]
    pack.write_text(pack.read_text().replace("loudness_rise_db", "loudness_rise"))
    with pytest.raises(RuleError) as info:
        load_rules([pack])
    assert "loud.yaml:10" in info.value.message and "loudness_rise_db" in info.value.message
