"""Turns: the tracker on its own (plain values), and rules that read turns (real spaCy)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.errors import RuleError
from rapport_assist.turns import TurnTracker
from rapport_assist.types import Nudge, Speaker, Turn, Utterance, Word

A, C = Speaker.AGENT, Speaker.CUSTOMER


def utt(i: int, who: Speaker, text: str, start: float, end: float, estimated: bool = False) -> Utterance:
    return Utterance(i, who, text, start, end, timing_estimated=estimated)


# ---------------------------------------------------------------- the tracker


def test_other_side_takes_the_floor_and_closes_the_turn() -> None:
    tr = TurnTracker(gap_s=2.5)
    s0 = tr.on_utterance(utt(0, C, "My internet keeps dropping.", 0.0, 2.0))
    s1 = tr.on_utterance(utt(1, C, "Every single evening.", 3.2, 4.5))  # a 1.2 s pause: same turn
    assert s0.closed == () and s1.closed == ()
    assert s1.turn is not None and s1.turn.index == 0 and s1.turn.utterances == (0, 1)
    assert s1.turn.text == "My internet keeps dropping. Every single evening." and s1.turn.words == 7
    assert (s1.turn.start_s, s1.turn.end_s, s1.turn.closed) == (0.0, 4.5, False)
    s2 = tr.on_utterance(utt(2, A, "Can I have your account number?", 5.0, 7.0))
    (closed,) = s2.closed
    assert closed.utterances == (0, 1) and closed.closed and closed.t_s == 7.0  # known when the reply landed
    assert s2.turn is not None and s2.turn.index == 1 and s2.turn.speaker is A


def test_a_backchannel_does_not_end_the_other_sides_turn() -> None:
    tr = TurnTracker(gap_s=2.5, backchannels=["I hear you"])
    tr.on_utterance(utt(0, C, "It's been a bad week, the washer leaked,", 0.0, 3.0))
    for i, text in enumerate(["Mm-hm.", "Okay, right.", "Yeah yeah yeah", "I hear you."], start=1):
        step = tr.on_utterance(utt(i, A, text, 3.2, 3.6))
        assert step.closed == () and step.turn is None, text
    step = tr.on_utterance(utt(5, C, "and now the dryer is broken too.", 3.8, 6.0))
    assert step.turn is not None and step.turn.utterances == (0, 5)
    # four words, or a word that is not a backchannel, take the floor
    assert not tr.is_backchannel("yeah okay right sure") and not tr.is_backchannel("Sorry.")
    assert not tr.is_backchannel("") and tr.is_backchannel("Uh-huh!")
    step = tr.on_utterance(utt(6, A, "Okay, I'm sorry.", 6.5, 7.5))
    assert [t.utterances for t in step.closed] == [(0, 5)] and step.turn is not None


def test_a_short_answer_to_the_other_sides_question_takes_the_floor() -> None:
    """The same "Yes." is an answer after a question (a turn) and a listening sound in the
    middle of an explanation (no turn); "Thank you." is no listening sound at all."""
    tr = TurnTracker()
    tr.on_utterance(utt(0, A, "Would you like me to email the statement too?", 0.0, 3.0))
    yes = utt(1, C, "Yes.", 3.3, 3.7)
    assert tr.is_backchannel(yes.text) and tr.answers(yes) and not tr.is_listening(yes)
    step = tr.on_utterance(yes)
    assert [t.utterances for t in step.closed] == [(0,)]
    assert step.turn is not None and step.turn.speaker is C and step.turn.utterances == (1,)
    tr.on_utterance(utt(2, A, "Okay, I'll send it now, and the statement lists every fee.", 4.0, 8.0))
    mid = utt(3, C, "Yes.", 8.2, 8.5)
    assert not tr.answers(mid) and tr.is_listening(mid)
    assert tr.on_utterance(mid).turn is None
    step = tr.on_utterance(utt(4, A, "It should arrive within the hour.", 8.6, 10.0))
    assert step.closed == () and step.turn is not None and step.turn.utterances == (2, 4)
    thanks = utt(5, C, "Thank you.", 10.2, 10.8)
    assert not tr.is_listening(thanks) and tr.on_utterance(thanks).turn is not None
    # a hum after a question says "go on", not "yes": the asker keeps the floor
    tr.on_utterance(utt(6, A, "Can I have your account number?", 11.0, 12.5))
    for text in ("Mm-hm.", "Uh-huh.", "M-H-N-M."):
        hum = utt(7, C, text, 12.7, 13.0)
        assert tr.answers(hum) and tr.is_hum(text) and tr.is_listening(hum), text
    assert not tr.is_hum("Yeah, mm-hm.") and not tr.is_listening(utt(7, C, "Yeah, mm-hm.", 12.7, 13.0))
    # the question is read by ``asks``: a tracker told how takes an unmarked one too
    tr = TurnTracker(asks=lambda u: u.text.startswith("would you"))
    tr.on_utterance(utt(0, A, "would you like me to email it", 0.0, 2.0))
    assert tr.on_utterance(utt(1, C, "yes", 2.2, 2.5)).turn is not None


def test_the_engine_reads_a_question_without_its_mark_from_the_parse(engine: RuleEngine, annotator: Annotator) -> None:
    """The rule engine's turns read the question as the rules do (``ends_asking``: a "?" or
    the word order), so a recognizer's unpunctuated question is answered too."""
    for first, answered in (
        ("would you like me to email the statement as well", True),
        ("so can we go ahead and set that up for you today", True),
        ("i will email the statement as well", False),
        ("Is that the card ending in four two?", True),
    ):
        engine.start_call()
        engine.on_utterance(annotator.annotate(Utterance(0, A, first, 0.0, 3.0)))
        engine.on_utterance(annotator.annotate(Utterance(1, C, "yes", 3.3, 3.7)))
        closed = [t.utterances for t in engine.take_turns()]
        assert closed == ([(0,)] if answered else []), first


def test_a_listening_sound_is_a_backchannel_however_it_is_spelled() -> None:
    """Hyphens and repeated letters do not make a hum a word ("M-M-H-M." as Whisper writes an
    agent's "mm-hm" under a complaint); words that only look alike stay words."""
    tr = TurnTracker()
    for text in ("M-M-H-M.", "Mmhmm.", "Mm-mm.", "Hmmm.", "Uh-huh.", "Yeeah.", "Okay, mm-hmm."):
        assert tr.is_backchannel(text), text
    for text in ("Mom.", "See.", "Too.", "Off.", "Hmm, sorry.", "M-M-H-M, what?"):
        assert not tr.is_backchannel(text), text
    tr.on_utterance(utt(0, C, "The shower is just a trickle in the mornings,", 0.0, 3.0))
    assert tr.on_utterance(utt(1, A, "M-M-H-M.", 3.1, 3.5)).turn is None
    step = tr.on_utterance(utt(2, C, "and the washing machine takes forever to fill.", 3.8, 6.0))
    assert step.turn is not None and step.turn.utterances == (0, 2)


def test_a_hum_spelled_out_in_letters_is_a_backchannel() -> None:
    """Whisper spells a hum in its letters, with the nasal "n" too and sometimes one word a
    letter ("M-H-N-M.", "M, M, H, N,"): only m, h and n, at least one "m", is a listening sound
    however many letters; a word with any other letter, or a hum with a word, is not."""
    tr = TurnTracker()
    for text in ("M-H-N-M.", "M-N-H-N-N.", "M, M, H, N,", "Mhnm?"):
        assert tr.is_backchannel(text), text
    for text in ("Him.", "Man.", "Nh.", "M-H-N-M, hold on.", "H."):
        assert not tr.is_backchannel(text), text
    tr.on_utterance(utt(0, C, "The outage map has said assessing since midnight,", 0.0, 3.0))
    assert tr.on_utterance(utt(1, A, "M, M, H, N,", 3.1, 3.6)).turn is None
    step = tr.on_utterance(utt(2, C, "and nobody has told us anything at all.", 3.8, 6.0))
    assert step.turn is not None and step.turn.utterances == (0, 2)


def heard(i: int, who: Speaker, words: list[tuple[str, float]], start: float, end: float) -> Utterance:
    """A recognized utterance: its words with the recognizer's probabilities."""
    step = (end - start) / len(words)
    ws = tuple(Word(w, start + k * step, start + (k + 1) * step, p) for k, (w, p) in enumerate(words))
    return Utterance(i, who, " ".join(w for w, _ in words), start, end, words=ws, confidence=min(p for _, p in words))


def test_i_see_heard_as_two_letters_is_a_backchannel() -> None:
    """An agent's "I see" under an angry customer written "IP?" (probability 0.40): a doubted lone
    "I" + a letter whose name rhymes with "see" is that backchannel; the same letters said
    clearly, or other letters, or lower case, are words."""
    tr = TurnTracker()
    for words in ([("IP?", 0.40)], [("ID.", 0.36)], [("IV", 0.5)]):
        assert tr.is_misheard_backchannel(heard(1, A, words, 3.1, 3.6)), words
    for words in ([("IP?", 0.9)], [("IQ.", 0.3)], [("ip", 0.3)], [("IP", 0.3), ("address.", 0.9)], [("AP.", 0.3)]):
        assert not tr.is_misheard_backchannel(heard(1, A, words, 3.1, 3.6)), words
    tr.on_utterance(utt(0, C, "My bill went up twenty dollars again,", 0.0, 3.0))
    assert tr.on_utterance(heard(1, A, [("IP?", 0.40)], 3.1, 3.6)).turn is None
    step = tr.on_utterance(utt(2, C, "that's the third increase this year.", 3.8, 6.0))
    assert step.turn is not None and step.turn.utterances == (0, 2)


def test_a_misheard_backchannel_does_not_take_the_floor() -> None:
    """An agent's "Right." heard as "bright." (probability 0.33), "mm-hm" as "MMA GMM": a doubted
    word one letter from a listening sound is that sound, and the complaint goes on as one turn."""
    tr = TurnTracker(gap_s=2.5)
    tr.on_utterance(utt(0, C, "Well, I went to get my flu shot last week,", 0.0, 3.0))
    for i, words in enumerate(
        [[("bright.", 0.33)], [("MMA", 0.37), ("GMM", 0.52)], [("Okay,", 0.9), ("yeh.", 0.4)]], 1
    ):
        step = tr.on_utterance(heard(i, A, words, 3.1, 3.5))
        assert step.closed == () and step.turn is None, words
    step = tr.on_utterance(utt(4, C, "and now I have a bill for ninety dollars.", 3.8, 6.0))
    assert step.turn is not None and step.turn.utterances == (0, 4)
    # heard clearly, it is what was said; a two-letter word ("he" is one letter from "hm") and a
    # real word that is no listening sound take the floor; so does a transcript line (no words)
    for words in ([("bright.", 0.9)], [("He.", 0.2)], [("Hi,", 0.3), ("Omar.", 0.3)], [("Okay,", 0.9), ("what?", 0.3)]):
        assert not tr.is_misheard_backchannel(heard(9, A, words, 6.5, 7.0)), words
    assert not tr.is_misheard_backchannel(utt(9, A, "bright.", 6.5, 7.0))
    assert not tr.is_misheard_backchannel(
        heard(9, A, [("mm", 0.2), ("bright", 0.2), ("rite", 0.2), ("ok", 0.2)], 6.5, 7)
    )
    step = tr.on_utterance(heard(5, A, [("bright.", 0.9)], 6.5, 7.0))
    assert [t.utterances for t in step.closed] == [(0, 4)] and step.turn is not None


def test_a_complaint_a_misheard_backchannel_cut_still_fires_missed_reflection(
    engine: RuleEngine, annotator: Annotator
) -> None:
    """The agent's "Right." heard as a doubted "bright." between the complaint's parts: the
    complaint is still one long turn, so the reply without a reflection is nudged."""
    engine.start_call()
    out = []
    items = [
        utt(0, C, COMPLAINT[0], 0.0, 7.0),
        heard(1, A, [("bright.", 0.33)], 7.2, 7.6),
        utt(2, C, COMPLAINT[1], 8.0, 12.5),
        utt(3, C, COMPLAINT[2], 13.5, 17.0),
        utt(4, A, "Can I have your account number please?", 17.6, 19.5),
        utt(5, C, "It's 4471.", 20.0, 21.0),
    ]
    for u in items:
        out += engine.on_utterance(annotator.annotate(u))
    out += engine.finish(22.0)
    assert [(n.rule, n.utterance_index) for n in out if isinstance(n, Nudge) and n.rule == "missed-reflection"] == [
        ("missed-reflection", 4)
    ]


def test_a_long_silence_ends_a_turn_even_for_the_same_speaker() -> None:
    tr = TurnTracker(gap_s=2.5)
    tr.on_utterance(utt(0, A, "Let me check that for you.", 0.0, 2.0))
    step = tr.on_utterance(utt(1, A, "Okay, I found it.", 5.0, 6.0))  # 3 s of silence
    (closed,) = step.closed
    assert closed.utterances == (0,) and closed.t_s == 4.5  # the gap ran out at 2.0 + 2.5
    assert step.turn is not None and step.turn.index == 1
    # and a backchannel after a long silence is a turn of its own
    step = tr.on_utterance(utt(2, C, "Okay.", 10.0, 10.5))
    assert step.turn is not None and step.turn.speaker is C and len(step.closed) == 1


def test_estimated_times_ignore_the_gap() -> None:
    tr = TurnTracker(gap_s=2.5)
    tr.on_utterance(utt(0, C, "First tweet of a thread.", 0.0, 2.0, estimated=True))
    step = tr.on_utterance(utt(1, C, "Second tweet, much later.", 60.0, 62.0, estimated=True))
    assert step.closed == () and step.turn is not None and step.turn.utterances == (0, 1)
    assert step.turn.timing_estimated
    assert tr.tick(1000.0) == [], "no clock closes a turn whose times are estimated"


def test_another_author_on_the_same_side_starts_a_turn() -> None:
    """A written thread: two users on the customer side are two turns; one user's run of lines is
    one turn; lines without an author (a call's channel) never split this way."""
    tr = TurnTracker(gap_s=2.5)

    def line(i: int, who: Speaker, text: str, author: str | None) -> Utterance:
        return Utterance(i, who, text, 2.0 * i, 2.0 * i + 1.5, timing_estimated=True, author=author)

    tr.on_utterance(line(0, C, "Our shop opens a new branch downtown this spring.", "shop"))
    step = tr.on_utterance(line(1, C, "Will the new branch take returns?", "ana"))
    (closed,) = step.closed
    assert closed.utterances == (0,) and closed.speaker is C and closed.t_s == 3.5
    assert step.turn is not None and step.turn.index == 1 and step.turn.utterances == (1,)
    step = tr.on_utterance(line(2, C, "And do they open on Sundays?", "ana"))  # the same user goes on
    assert step.closed == () and step.turn is not None and step.turn.utterances == (1, 2)
    step = tr.on_utterance(line(3, C, "Also, is parking free?", None))  # unknown author: no split
    assert step.closed == () and step.turn is not None and step.turn.utterances == (1, 2, 3)
    step = tr.on_utterance(line(4, A, "Yes to both!", "brand"))  # the other side: as before
    assert [t.utterances for t in step.closed] == [(1, 2, 3)]
    tr.start_call()
    tr.on_utterance(line(0, C, "First part of my message.", None))
    step = tr.on_utterance(line(1, C, "Second part.", "ana"))  # an author joins an unnamed turn
    assert step.closed == () and step.turn is not None and step.turn.utterances == (0, 1)


def test_tick_closes_after_the_gap_unless_the_speaker_is_talking() -> None:
    tr = TurnTracker(gap_s=2.5)
    tr.on_utterance(utt(0, A, "Can I have your account number?", 0.0, 2.0))
    assert tr.tick(4.0) == []  # 2 s: within the gap
    assert tr.tick(5.0, speaking=[A]) == []  # the agent has started again (not yet an utterance)
    (closed,) = tr.tick(5.0)
    assert closed.closed and closed.t_s == 4.5 and tr.open_turn is None
    assert tr.tick(9.0) == []


def test_finish_closes_the_open_turn() -> None:
    tr = TurnTracker()
    assert tr.finish(1.0) == []
    tr.on_utterance(utt(0, C, "Hello?", 0.0, 1.0))
    (closed,) = tr.finish(3.0)
    assert closed.closed and closed.t_s == 3.0 and closed.utterances == (0,)
    assert isinstance(closed, Turn) and closed.to_json()["type"] == "turn"
    assert tr.finish(4.0) == []
    tr.start_call()
    assert tr.on_utterance(utt(0, A, "Hi.", 0.0, 1.0)).turn.index == 0  # type: ignore[union-attr]


# ---------------------------------------------------------------- rules that read turns

COMPLAINT = (  # 45 words in three parts; no part has 35
    "I have been trying to get my internet fixed for two weeks now and it keeps dropping every single evening.",
    "I restarted the router five times and replaced the cable and nothing changed.",
    "Now I cannot work from home at all, it's a real problem.",
)


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine(load_rules([default_rules_dir()]))


def run(
    engine: RuleEngine,
    annotator: Annotator,
    lines: list[tuple[Speaker, str, float, float]],
    ticks: dict[int, float] | None = None,
    end_s: float | None = None,
) -> list[tuple[str, int, float]]:
    """(speaker, text, start, end) lines with measured times; ``ticks``: after line i, the clock
    reaches t. Returns (rule, utterance_index, t) of every nudge."""
    engine.start_call()
    out = []
    for i, (who, text, start, end) in enumerate(lines):
        out += engine.on_utterance(annotator.annotate(Utterance(i, who, text, start, end)))
        if ticks and i in ticks:
            out += engine.tick(ticks[i])
    out += engine.finish(end_s if end_s is not None else lines[-1][3] + 1.0)
    return [(n.rule, n.utterance_index, n.t_s) for n in out if isinstance(n, Nudge)]


def split_complaint() -> list[tuple[Speaker, str, float, float]]:
    return [(C, COMPLAINT[0], 0.0, 7.0), (C, COMPLAINT[1], 8.0, 12.5), (C, COMPLAINT[2], 13.5, 17.0)]


def test_a_complaint_split_in_three_fires_missed_reflection(engine: RuleEngine, annotator: Annotator) -> None:
    lines = split_complaint() + [
        (A, "Can I have your account number please?", 17.6, 19.5),
        (C, "It's 4471.", 20.0, 21.0),
    ]
    nudges = [n for n in run(engine, annotator, lines) if n[0] == "missed-reflection"]
    assert nudges == [("missed-reflection", 3, 21.0)], "decided when the customer took the floor back"
    # each part alone is short: the same words as separate turns (long pauses) stay quiet
    apart = [
        (C, COMPLAINT[0], 0.0, 7.0),
        (C, COMPLAINT[1], 11.0, 15.5),
        (C, COMPLAINT[2], 19.0, 22.5),
        (A, "Can I have your account number please?", 23.0, 25.0),
    ]
    assert [n for n in run(engine, annotator, apart) if n[0] == "missed-reflection"] == []


def test_a_reflection_in_the_second_part_of_the_reply_turn_satisfies_it(
    engine: RuleEngine, annotator: Annotator
) -> None:
    lines = split_complaint() + [
        (A, "Okay, can I have your account number please?", 17.6, 19.5),
        (A, "So your internet keeps dropping every evening, even after you restarted the router.", 20.3, 24.0),
        (C, "Yes, exactly.", 24.5, 25.5),
    ]
    assert [n for n in run(engine, annotator, lines) if n[0] == "missed-reflection"] == []
    # a customer backchannel between the agent's two parts does not end the agent's turn
    lines.insert(4, (C, "Mm-hm.", 19.6, 20.0))
    assert [n for n in run(engine, annotator, lines) if n[0] == "missed-reflection"] == []


def test_written_short_messages_are_not_one_long_complaint(engine: RuleEngine, annotator: Annotator) -> None:
    """A written thread (estimated times): the complaint's 45 words as one message fire
    missed-reflection. As three short messages they do not, whether one user wrote them (one
    turn, but missed-reflection reads a written turn's lines one at a time: ``per_line``) or two
    users did (two turns)."""

    def thread(messages: list[tuple[str, str]]) -> list[str]:
        engine.start_call()
        lines = [(C, text, who) for text, who in messages]
        lines.append((A, "Please check our help page for router settings.", "brand"))
        out: list = []
        prev = 0.0
        for i, (side, text, who) in enumerate(lines):
            u = Utterance(i, side, text, prev + 0.5, prev + 3.0, timing_estimated=True, author=who)
            prev = u.end_s
            out += engine.on_utterance(annotator.annotate(u))
        out += engine.finish(prev + 1.0)
        return [n.rule for n in out if isinstance(n, Nudge)]

    assert "missed-reflection" in thread([(" ".join(COMPLAINT), "ana")])
    assert "missed-reflection" not in thread(list(zip(COMPLAINT, ("ana", "ana", "ana"))))
    assert "missed-reflection" not in thread(list(zip(COMPLAINT, ("ana", "ben", "ben"))))
    assert [t.utterances for t in engine.take_turns()] == [(0,), (1, 2), (3,)]


def test_the_reply_turn_closes_on_the_clock(engine: RuleEngine, annotator: Annotator) -> None:
    lines = split_complaint() + [(A, "Can I have your account number please?", 17.6, 19.5)]
    engine.start_call()
    for i, (who, text, start, end) in enumerate(lines):
        assert engine.on_utterance(annotator.annotate(Utterance(i, who, text, start, end))) == []
    assert engine.tick(21.0) == []  # 1.5 s of silence: the agent may go on
    assert engine.tick(22.5, speaking=[A]) == []  # the agent is speaking again
    (nudge,) = engine.tick(22.5)  # the gap (2.5 s) passed at 22.0: the agent's turn closed
    assert (nudge.rule, nudge.utterance_index, nudge.t_s) == ("missed-reflection", 3, 22.0)
    assert [t.utterances for t in engine.take_turns()] == [(0, 1, 2), (3,)]


def test_an_apology_later_in_the_agents_turn_counts(engine: RuleEngine, annotator: Annotator) -> None:
    angry = (C, "This is the third time I'm calling about this bill, it's ridiculous.", 0.0, 4.0)
    late_apology = [
        angry,
        (A, "Let me pull up the account.", 4.5, 6.0),
        (A, "I'm so sorry about this.", 7.0, 8.5),
        (C, "Thank you.", 9.0, 10.0),
    ]
    assert [n for n in run(engine, annotator, late_apology) if n[0] == "angry-no-apology"] == []
    no_apology = [
        angry,
        (A, "Let me pull up the account.", 4.5, 6.0),
        (A, "What's the account number?", 7.0, 8.5),
        (C, "It's 4471.", 9.0, 10.0),
    ]
    assert [n for n in run(engine, annotator, no_apology) if n[0] == "angry-no-apology"] == [
        ("angry-no-apology", 2, 10.0)
    ]


def promises(engine: RuleEngine, annotator: Annotator, lines) -> list[tuple[str, int, float]]:
    return [n for n in run(engine, annotator, lines) if n[0] == "uncommitted-promise"]


def test_a_promise_timed_later_in_the_same_turn_is_kept(engine: RuleEngine, annotator: Annotator) -> None:
    # the endpointer cuts the agent's turn at a pause: the time comes in its second utterance
    timed = [
        (A, "Someone from billing will call you back.", 0.0, 2.5),
        (A, "That'll be before five today.", 3.3, 5.0),
        (C, "Great, thanks.", 5.5, 6.5),
        (A, "Anything else?", 7.0, 8.0),
    ]
    assert promises(engine, annotator, timed) == []
    untimed = [
        (A, "Someone from billing will call you back.", 0.0, 2.5),
        (A, "Can you confirm your email address?", 3.3, 5.0),
        (C, "Sure, it's on file.", 5.5, 6.5),
        (A, "Thanks. Anything else today?", 7.0, 8.5),
        (C, "No.", 9.0, 9.5),
    ]
    # "today" in a question is no time for the promise: decided when the agent's next turn closes
    assert promises(engine, annotator, untimed) == [("uncommitted-promise", 3, 9.5)]


def test_a_new_promise_in_the_reply_turn_gets_its_own_wait(engine: RuleEngine, annotator: Annotator) -> None:
    lines = [
        (A, "I'll mail you a printed label.", 0.0, 2.0),
        (C, "And the jacket?", 2.5, 3.5),
        (A, "I'll hold it for you, and the team will ship it.", 4.0, 7.0),
        (C, "How long will that take?", 7.5, 9.0),
        (A, "Should be quick, I think.", 9.5, 11.0),
        (C, "Okay.", 11.5, 12.0),
        (C, "Bye then.", 12.5, 13.0),
    ]
    # the first promise's wait fails in turn 2, which makes a promise of its own: two nudges
    assert promises(engine, annotator, lines) == [("uncommitted-promise", 2, 9.0), ("uncommitted-promise", 4, 13.0)]


PACK = textwrap.dedent("""\
    version: 1
    lexicons:
      gripe: [awful]
    rules:
      - id: gripe-turn
        title: Gripe
        severity: low
        why: Because.
        message: "Gripe: '{quote}'"
        unit: turn
        when: {speaker: customer, says: gripe}
    """)


def test_a_turn_rule_fires_at_most_once_per_turn(tmp_path: Path, annotator: Annotator) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    engine = RuleEngine(load_rules([path]))
    lines = [
        (C, "This is awful.", 0.0, 1.0),
        (C, "Really awful.", 1.5, 2.5),
        (A, "I see why.", 3.0, 4.0),
        (C, "Still awful.", 4.5, 5.5),
    ]
    assert run(engine, annotator, lines) == [("gripe-turn", 0, 1.0), ("gripe-turn", 3, 5.5)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("    unit: turns\n", "unit"),
        ("    unit: turn\n    when: {event: {kind: dead_air}}\n", "not on a turn"),
    ],
)
def test_the_loader_checks_unit(tmp_path: Path, line: str, message: str) -> None:
    text = PACK.replace("    unit: turn\n", line)
    if "event" in line:
        text = text.replace("    when: {speaker: customer, says: gripe}\n", "")
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as err:
        load_rules([path])
    problem = str(err.value)
    assert f"{path}:10" in problem and message in problem, problem


def test_a_turn_read_from_its_parts_reads_as_its_joined_doc(engine: RuleEngine, annotator: Annotator) -> None:
    """The turn so far is read by joining its parts' features (no joined Doc unless a condition
    reads the Doc): the same reading as the parts' Docs joined by ``Doc.from_docs`` and read
    whole (fillers, a stutter at a part's start, a question, a part of punctuation only, a part
    ending in a space)."""
    from spacy.tokens import Doc

    from rapport_assist.annotate import AnnotatedUtterance, JoinedUtterance
    from rapport_assist.rules.features import joined_text
    from rapport_assist.turns import merge_turn_utterance

    texts = [
        "Um, so my bill went up again.",
        "I, I mean, why is that? Nobody told me.",
        "...",
        "It's 45 dollars more ",
        "and I want it back!",
    ]
    parts = [annotator.annotate(Utterance(i, C, t, 2.0 * i, 2.0 * i + 1.5)) for i, t in enumerate(texts)]
    extractor = engine.compiler.extractor
    tracker = TurnTracker()
    for au in parts:
        turn = tracker.on_utterance(au.utterance).turn
    assert turn is not None and turn.utterances == (0, 1, 2, 3, 4)
    feats = [extractor.features(au) for au in parts]
    text, offsets = joined_text(feats)
    joined = JoinedUtterance(merge_turn_utterance(turn, [au.utterance for au in parts], text), [au.doc for au in parts])
    got = extractor.join(feats, joined, offsets)
    assert got is not None and joined.features is got and joined._doc is None  # no Doc built
    doc = Doc.from_docs([au.doc for au in parts])
    want = extractor.extract(AnnotatedUtterance(joined.utterance, doc))
    assert text == doc.text and got.text == want.text
    for name in (
        "keys",
        "is_num",
        "sent",
        "doc_i",
        "rows",
        "questions",
        "sent_spans",
        "bits",
        "word_bits",
        "spelled",
        "tags",
        "word_count",
    ):
        assert getattr(got, name) == getattr(want, name), name
    assert got.cache["#content"] == want.cache["#content"]
    assert got.span_text(0, len(got.keys)) == want.span_text(0, len(want.keys))
    # what token patterns read beyond the rows (word form, tag, dependency), and the vocabulary,
    # come from the parts: still no Doc built
    for columns in (("ORTH",), ("TAG", "DEP"), ("LOWER", "TAG", "DEP", "ORTH")):
        assert got.token_keys(columns) == want.token_keys(columns), columns
    assert joined.vocab is doc.vocab and joined._doc is None
    from rapport_assist.rules.conditions import regex_finder
    from rapport_assist.rules.model import RegexFinder

    assert regex_finder(RegexFinder("refund", True))(got) == [] and joined._doc is None  # no hit, no Doc
    assert [m.text for m in regex_finder(RegexFinder(r"\bbill went\b", True))(got)] == ["bill went"]
    assert [t.text for t in joined.doc] == [t.text for t in doc]  # built when read
    assert joined.vocab is joined.doc.vocab


@pytest.mark.parametrize(
    "texts",
    [
        # promises in every part: will + verb, a subject shared across "and", a plan, a delegation
        ["Thanks for waiting.", "We're checking and will post an update soon.", "Our team plans to send a fix."],
        ["I have asked a specialist to call you back.", "Someone will email you tomorrow, it will be fixed."],
        # a marker at a part's end reads the next part in the joined Doc: that one is read whole
        ["We will", "call you back tomorrow.", "I'm going", "to send it."],
        ["We'll forward this", "to the team."],  # (two tokens after the marker: within its part)
        ["We'll forward", "this to the team."],
        # a hand-over reads only its parse: near a part's end it needs no joined Doc
        ["I've passed this", "to the web team to fix."],
        ["Nothing promised here.", "Just a question?"],
    ],
)
def test_a_turns_future_frames_come_from_its_parts(engine: RuleEngine, annotator: Annotator, texts: list[str]) -> None:
    """A turn's future-action frames (markers, subjects, candidate verbs) read from its parts'
    Docs, without the joined Doc, are the frames read from the joined Doc."""
    from spacy.tokens import Doc

    from rapport_assist.annotate import AnnotatedUtterance, JoinedUtterance
    from rapport_assist.rules.conditions import future_frames
    from rapport_assist.rules.features import joined_text
    from rapport_assist.turns import merge_turn_utterance

    A = Speaker.AGENT
    parts = [annotator.annotate(Utterance(i, A, t, 2.0 * i, 2.0 * i + 1.5)) for i, t in enumerate(texts)]
    extractor = engine.compiler.extractor
    tracker = TurnTracker()
    for au in parts:
        turn = tracker.on_utterance(au.utterance).turn
    assert turn is not None
    feats = [extractor.features(au) for au in parts]
    text, offsets = joined_text(feats)
    joined = JoinedUtterance(merge_turn_utterance(turn, [au.utterance for au in parts], text), [au.doc for au in parts])
    got = extractor.join(feats, joined, offsets)
    assert got is not None
    want = extractor.extract(AnnotatedUtterance(joined.utterance, Doc.from_docs([au.doc for au in parts])))
    bit = engine.compiler._future_bit
    assert future_frames(bit, got) == future_frames(bit, want)
    boundary = texts[0] in ("We will", "We'll forward")
    assert (joined._doc is not None) is boundary  # the joined Doc only where a marker ends a part


def test_step_gives_the_open_turn_whose_value_on_utterance_gives() -> None:
    lines = [
        utt(0, Speaker.CUSTOMER, "My bill is wrong.", 0.0, 1.0),
        utt(1, Speaker.CUSTOMER, "It doubled.", 1.2, 2.0),
        utt(2, Speaker.AGENT, "Mm-hm.", 2.1, 2.4),
        utt(3, Speaker.AGENT, "Let me look at it.", 2.6, 3.5),
    ]
    public, engine_side = TurnTracker(), TurnTracker()
    for u in lines:
        step = public.on_utterance(u)
        closed, cur = engine_side.step(u)
        assert closed == step.closed
        assert (cur.value(False, u.end_s) if cur is not None else None) == step.turn
