"""The second recognition pass over each closed turn (``turn_pass.py``): its guards, where the
revision lands on the timeline, the ``revision`` event, and the turn rules reading the revised
text (pipeline with the real rules and spaCy; the recognizer faked for the logic, the real tiny.en
model on espeak-ng speech for the whole path)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.assist import AssistModel
from rapport_assist.pipeline import CallPipeline
from rapport_assist.qa.cache import item_from_json, item_to_json
from rapport_assist.recognizer import RecognizerOptions
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.sources import walk_timeline
from rapport_assist.turn_pass import TurnPass, apply_revisions, judge_revision
from rapport_assist.types import (
    Nudge,
    Recognition,
    SpeechSegment,
    Speaker,
    Turn,
    TurnRevision,
    Utterance,
    Word,
)

from live_support import timeline_items

OPTIONS = RecognizerOptions(turn_pass=True)


def rec(text: str, start_s: float = 0.0, end_s: float = 1.0, p: float = 0.9, logprob: float = -0.3) -> Recognition:
    words = text.split()
    step = (end_s - start_s) / max(1, len(words))
    return Recognition(
        text=text,
        words=tuple(Word(w, start_s + k * step, start_s + (k + 1) * step, p) for k, w in enumerate(words)),
        confidence=p,
        no_speech_prob=0.05,
        avg_logprob=logprob,
    )


# ---------------------------------------------------------------------------- the guards


def test_a_plausible_revision_is_accepted() -> None:
    first = [rec("I'm so, Sarah."), rec("about this")]
    assert judge_revision(first, [rec("I'm so sorry"), rec("about this")], OPTIONS) is None


@pytest.mark.parametrize(
    ("revised", "why"),
    [
        ([rec("I'm so sorry about this"), None], "no words kept for utterance 2"),
        ([rec("yes yes yes yes"), rec("yes yes yes yes yes")], "repetition loop"),
        ([rec("I'm so sorry about this and everything else you ever"), rec("needed")], "words against"),
        ([rec("I'm"), rec("this")], "words against"),
        ([rec("I'm so sorry", logprob=-0.9), rec("about this", logprob=-0.9)], "avg logprob"),
        ([rec("I'm so sorry", p=0.3, logprob=-1.2), rec("about this", p=0.3, logprob=-1.2)], "the turn: unreliable"),
    ],
)
def test_an_implausible_revision_is_rejected(revised: list[Recognition | None], why: str) -> None:
    first = [rec("I'm so, Sarah."), rec("about this")]
    reason = judge_revision(first, revised, OPTIONS)
    assert reason is not None and why in reason


# ---------------------------------------------------------------------------- where it lands


class FakeRecognizer:
    """The turn pass's view of a recognizer: options, and a second pass read from a table."""

    def __init__(self, second: dict[str, str], options: RecognizerOptions = OPTIONS) -> None:
        self.options = options
        self.second = second
        self.windows: list[list[str]] = []

    def recognize_window(
        self, segments: Sequence[SpeechSegment], gap_s: float = 0.0, window_s: float = 0.0
    ) -> list[Recognition | None]:
        self.windows.append([self.first[s.start_s] for s in segments])
        return [
            rec(self.second.get(self.first[s.start_s], self.first[s.start_s]), s.start_s, s.end_s) for s in segments
        ]

    first: dict[float, str] = {}


CALL = [  # speaker, start, end, first-pass text
    ("customer", 0.0, 5.0, "This is ridiculous, I have waited three weeks and nobody ever calls me back!"),
    ("agent", 6.0, 8.0, "Let me pull up your account."),
    ("agent", 9.0, 10.5, "I'm so, Sarah."),
    ("customer", 12.0, 13.5, "Fine, thank you for that."),
]
SECOND = {"I'm so, Sarah.": "I'm so sorry.", "Let me pull up your account.": "Let me pull up the account."}


def segment(speaker: str, start_s: float, end_s: float) -> SpeechSegment:
    return SpeechSegment(Speaker(speaker), start_s, end_s, np.zeros(int((end_s - start_s) * 16000), np.float32))


def timeline(second: dict[str, str] | None) -> list[Any]:
    """The fake call's timeline as a replay walks it (speech marks, utterances, revisions)."""
    fake = FakeRecognizer(second or {})
    fake.first = {start: text for _, start, _, text in CALL}
    entries = []
    for speaker, start, end, _ in CALL:
        seg = segment(speaker, start, end)
        entries += [(start, False, seg, None), (end, True, seg, None)]
    first = {start: rec(text, start, end) for _, start, end, text in CALL}
    turns = TurnPass(fake) if second is not None else None  # type: ignore[arg-type]
    return list(walk_timeline(entries, lambda _, s: first[s.start_s], turns))


def test_the_revision_comes_before_the_utterance_that_closes_the_turn() -> None:
    items = timeline(SECOND)
    kinds = [type(i).__name__ for i in items if not type(i).__name__ == "SpeechActivity"]
    assert kinds == ["Utterance", "Utterance", "Utterance", "TurnRevision", "Utterance"]
    revision = next(i for i in items if isinstance(i, TurnRevision))
    assert revision.speaker is Speaker.AGENT
    # only the short piece is revised: the longer one was heard with its own sentence around it
    assert [u.index for u in revision.utterances] == [2]
    assert [u.text for u in revision.utterances] == ["I'm so sorry."]
    assert revision.before == ("I'm so, Sarah.",)
    assert [u.text for u in apply_revisions(items)][1:3] == ["Let me pull up your account.", "I'm so sorry."]


def test_a_turn_of_one_utterance_and_an_unchanged_turn_publish_nothing() -> None:
    assert not [i for i in timeline({}) if isinstance(i, TurnRevision)]  # the second pass hears the same words
    # numbers written another way, punctuation, case: the same words
    assert not [i for i in timeline({"I'm so, Sarah.": "i'm so sarah"}) if isinstance(i, TurnRevision)]


def test_the_revision_event_and_its_cache_line() -> None:
    revision = next(i for i in timeline(SECOND) if isinstance(i, TurnRevision))
    event = replace(revision, turn=1).to_json()
    assert event["type"] == "revision" and event["turn"] == 1 and event["speaker"] == "agent"
    assert [(u["index"], u["text"], u["before"]) for u in event["utterances"]] == [
        (2, "I'm so sorry.", "I'm so, Sarah."),
    ]
    assert [w["w"] for w in event["utterances"][0]["words"]] == ["I'm", "so", "sorry."]
    assert all(9.0 <= w["start"] <= w["end"] <= 10.5 for w in event["utterances"][0]["words"])
    json.dumps(event)
    assert item_from_json(json.loads(json.dumps(item_to_json(revision)))) == revision


# ---------------------------------------------------------------------------- the turn rules read it


def run_call(items: list[Any], annotator: Annotator) -> list[Any]:
    engine = RuleEngine(load_rules([default_rules_dir()]))
    return list(CallPipeline(annotator, engine, masker=None).run(items, audio_s=14.0))


def test_turn_rules_decide_the_turn_on_the_revised_text(annotator: Annotator) -> None:
    before = run_call(timeline(None), annotator)
    after = run_call(timeline(SECOND), annotator)
    # first pass: the agent's reply turn has no apology ("I'm so, Sarah")
    assert [n.rule for n in before if isinstance(n, Nudge)].count("angry-no-apology") == 1
    # second pass: the reply turn apologizes, and the rule decides on that
    assert "angry-no-apology" not in [n.rule for n in after if isinstance(n, Nudge)]
    revised = [e for e in after if isinstance(e, TurnRevision)]
    turns = [e for e in after if isinstance(e, Turn)]
    assert len(revised) == 1 and revised[0].turn == 1
    assert revised[0].utterances[0].signals is not None  # the utterance keeps its signals
    agent_turn = next(t for t in turns if t.index == 1)
    assert agent_turn.text == "Let me pull up your account. I'm so sorry."
    # the revision is yielded before the turn closes, and the utterances themselves stay as they came
    kinds = [type(e).__name__ for e in after]
    assert kinds.index("TurnRevision") < kinds.index("Turn", kinds.index("TurnRevision"))
    assert [e.text for e in after if isinstance(e, Utterance)][2] == "I'm so, Sarah."


def test_a_revision_for_a_turn_that_already_closed_changes_nothing(annotator: Annotator) -> None:
    items = timeline(SECOND)
    at = next(k for k, i in enumerate(items) if isinstance(i, TurnRevision))
    late = items[:at] + items[at + 1 :]
    late.insert(len(late) - 1, items[at])  # after the customer's line closed the agent's turn
    late[-2], late[-1] = late[-1], late[-2]
    events = run_call(late, annotator)
    assert not [e for e in events if isinstance(e, TurnRevision)]
    assert [n.rule for n in events if isinstance(n, Nudge)].count("angry-no-apology") == 1


def test_the_sidebar_transcript_shows_the_revision(annotator: Annotator) -> None:
    model = AssistModel()
    model.start_call("test", "replay")
    for event in run_call(timeline(SECOND), annotator):
        model.on_event(event)
    texts = {u.index: u.text for u in model.transcript}
    assert texts[2] == "I'm so sorry."
    assert model.revised == {2}


# ---------------------------------------------------------------------------- the real model


NAME_RULE = """\
version: 1
lexicons:
  gave-name: [patricia williams]
rules:
  - id: name-given
    title: The customer gave their name
    severity: low
    why: test
    unit: turn
    when: {speaker: customer, says: gave-name}
    cooldown_s: 0
    message: "{quote}"
"""


def test_a_turn_said_in_pieces_is_heard_again_through_the_real_model(
    speak: Any, write_audio: Any, tmp_path: Path, recognizer: Any, annotator: Annotator
) -> None:
    """A customer turn said (espeak-ng) in four short pieces with 1-second pauses, then the
    agent's question. Decoded alone, the pieces lose the name and the account ("That's really
    good", "my count"); replayed with the turn pass, the turn is decoded again in one window,
    the ``revision`` comes before the agent's line closes the turn, and a turn rule that looks
    for the name fires on the revised turn only."""
    from rapport_assist.sources import ReplayInput, open_replay

    parts = ["my name is", "Patricia Williams", "and I want to close", "my account"]
    rate = 16000
    pause = np.zeros(rate, np.float32)
    customer = np.concatenate([pause, *(x for p in parts for x in (speak(p), pause))])
    answer = speak("What is the account number please")
    agent = np.concatenate([np.zeros(len(customer), np.float32), answer, pause])
    customer = np.concatenate([customer, np.zeros(len(agent) - len(customer), np.float32)])
    path = write_audio(tmp_path / "call.wav", np.stack([agent, customer]) * 0.5, rate)
    pack = tmp_path / "name.yaml"
    pack.write_text(NAME_RULE, encoding="utf-8")

    def replay(turn_pass: bool) -> list[Any]:
        options = replace(recognizer.options, turn_pass=turn_pass)
        source = open_replay(ReplayInput(path=path), lambda: recognizer.with_options(options))
        engine = RuleEngine(load_rules([pack]))
        return list(CallPipeline(annotator, engine, masker=None).run(source.items(), audio_s=source.audio_s))

    first, second = replay(False), replay(True)
    utts = [e for e in first if isinstance(e, Utterance) and e.speaker is Speaker.CUSTOMER]
    assert len(utts) >= 3  # the endpointer cut the turn at its pauses
    assert "patricia" not in " ".join(u.text for u in utts).lower()  # decoded alone, the name is lost
    assert not [e for e in first if isinstance(e, Nudge)]

    (revision,) = [e for e in second if isinstance(e, TurnRevision)]
    (turn,) = [t for t in second if isinstance(t, Turn) and t.speaker is Speaker.CUSTOMER]
    assert revision.turn == turn.index == 0 and revision.speaker is Speaker.CUSTOMER
    assert list(turn.utterances) == [u.index for u in utts]
    first = {u.index: u for u in utts}
    assert set(first) >= {u.index for u in revision.utterances}
    assert revision.before == tuple(first[u.index].text for u in revision.utterances)
    final = dict((i, u.text) for i, u in first.items())
    for u in revision.utterances:  # the short pieces, the same utterances, word times inside each
        was = first[u.index]
        assert len(was.text.split()) <= 4
        assert (u.start_s, u.end_s) == (was.start_s, was.end_s)
        assert all(was.start_s - 0.5 <= w.start_s <= w.end_s <= was.end_s + 0.5 for w in u.words)
        final[u.index] = u.text
    heard = turn.text.lower()
    assert turn.text == " ".join(final[i] for i in turn.utterances)  # the turn rules read the revised turn
    assert "patricia williams" in heard and "account" in heard, heard
    kinds = [type(e).__name__ for e in second]
    assert kinds.index("TurnRevision") < kinds.index("Turn")
    (nudge,) = [e for e in second if isinstance(e, Nudge)]
    assert nudge.rule == "name-given" and "patricia williams" in nudge.evidence[0].text.lower()


# ---------------------------------------------------------------------------- live: the open turn


def test_live_the_open_turn_so_far_is_heard_again_and_a_closed_turn_is_left_alone() -> None:
    from rapport_assist.turn_pass import OpenTurnPass

    fake = FakeRecognizer(SECOND)
    fake.first = {start: text for _, start, _, text in CALL}
    live = OpenTurnPass(fake)  # type: ignore[arg-type]
    utts = []
    for k, (speaker, start, end, text) in enumerate(CALL):
        r = rec(text, start, end)
        utts.append(
            (Utterance(k, Speaker(speaker), text, start, end, r.confidence, r.words), segment(speaker, start, end), r)
        )
    live.add(*utts[0])
    assert live.pending_s() is None  # one utterance: nothing to hear again
    live.add(*utts[1])
    live.add(*utts[2])
    assert live.pending_s() == pytest.approx(3.5)  # the agent's turn so far: two segments
    revision = live.run(11.0)
    assert revision is not None and revision.t_s == 11.0
    assert [u.text for u in revision.utterances] == ["I'm so sorry."]
    assert live.pending_s() is None  # done until the turn gains an utterance
    live.add(*utts[3])  # the customer takes the floor: the agent's turn is closed
    assert live.pending_s() is None and fake.windows == [[CALL[1][3], CALL[2][3]]]


def test_live_the_recognition_worker_hears_the_open_turn_again_through_the_real_model(
    speak: Any, recognizer: Any
) -> None:
    """The live recognizer thread with the real model: the customer's pieces close one by one
    (each final first), and while the turn is open and the recognizer idle, the turn so far is
    decoded again; the revisions go on the timeline before the agent's line that closes the turn,
    and the name lost in the first pass is in the revised text."""
    import threading
    import time

    from rapport_assist.endpoint import EndpointerOptions
    from rapport_assist.live_recognition import RecognitionWorker
    from rapport_assist.live_shared import CallTimeline, ClosedSegment, LiveSettings, SpeechFeed
    from rapport_assist.sources import endpoint_channel

    rate = 16000
    pause = np.zeros(rate, np.float32)
    parts = ["my name is", "Patricia Williams", "and I want to close", "my account"]
    customer = 0.5 * np.concatenate([pause, *(x for p in parts for x in (speak(p), pause))])
    pieces = endpoint_channel(Speaker.CUSTOMER, customer, EndpointerOptions())
    assert len(pieces) >= 3
    answer = endpoint_channel(
        Speaker.AGENT, np.concatenate([pause, speak("What is the account number please")]), EndpointerOptions()
    )
    end = pieces[-1].end_s + 0.5
    answer = [replace(s, start_s=s.start_s + end, end_s=s.end_s + end) for s in answer]

    timeline, feed = CallTimeline(), SpeechFeed()
    model = recognizer.with_options(replace(recognizer.options, turn_pass=True))
    settings = LiveSettings(early_max_pass_s=60.0, turn_pass_max_pass_s=60.0, redo_later=False)  # (the turn pass alone)
    worker = RecognitionWorker(settings, timeline, feed, model)
    timeline.start_clock()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()

    def wait(condition: Any, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert condition(), str(worker.stats)

    for n, segment in enumerate(pieces, 1):
        feed.closed.put(ClosedSegment(segment, timeline.now()))
        wait(lambda n=n: worker.stats["utterances"] + worker.stats["guard_dropped"] >= n)  # its final is out
        if worker.stats["utterances"] >= 2:  # the idle recognizer hears the turn so far again first
            wait(lambda: worker.stats["turn_passes"] + worker.stats["turn_skipped"] >= worker.stats["utterances"] - 1)
    for segment in answer:
        feed.closed.put(ClosedSegment(segment, timeline.now()))
    feed.done.set()
    thread.join(120)
    assert not thread.is_alive()
    items = timeline_items(timeline)
    assert worker.stats["turn_passes"] == worker.stats["utterances"] - 2 >= 2  # (the agent's line: none)
    assert worker.stats["turn_skipped"] == 0
    revisions = [i for i in items if isinstance(i, TurnRevision)]
    assert revisions and worker.stats["turn_revisions"] == len(revisions)
    agent_at = next(k for k, i in enumerate(items) if isinstance(i, Utterance) and i.speaker is Speaker.AGENT)
    assert all(items.index(r) < agent_at for r in revisions)  # before the line that closes the turn
    first = " ".join(i.text for i in items if isinstance(i, Utterance) and i.speaker is Speaker.CUSTOMER)
    final = " ".join(u.text for u in apply_revisions(items) if u.speaker is Speaker.CUSTOMER)
    assert "patricia" not in first.lower() and "patricia williams" in final.lower(), (first, final)


def test_the_turn_pass_is_on_for_replay_and_off_for_qa_unless_asked() -> None:
    from rapport_assist.cli import build_parser
    from rapport_assist.cli.common import REPLAY_TURN_PASS, _turn_pass, _with_turn_pass

    parser = build_parser()
    replay = parser.parse_args(["replay", "call.wav"])
    assert REPLAY_TURN_PASS and _with_turn_pass(replay, RecognizerOptions(), REPLAY_TURN_PASS).turn_pass
    off = parser.parse_args(["replay", "call.wav", "--turn-pass", "off"])
    assert not _with_turn_pass(off, RecognizerOptions(), REPLAY_TURN_PASS).turn_pass
    assert _turn_pass(parser.parse_args(["qa", "calls", "--out", "o"])) is None  # qa: RecognizerOptions' default (off)
    assert not RecognizerOptions().turn_pass
    assert _turn_pass(parser.parse_args(["qa", "calls", "--out", "o", "--turn-pass", "on"])) is True
