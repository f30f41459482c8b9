"""The sidebar's model without Qt: attention budget, card lifetimes, snooze, feedback, promises,
tone, status, and QA playback on a fake clock."""

from __future__ import annotations

import itertools
import json
import math
import threading
from pathlib import Path

import pytest

from rapport_assist.assist import AssistModel, BudgetConfig, FeedbackLog, Rewind, components_of
from rapport_assist.playback import Playback, ReplayCall, pipeline_events, with_speech_marks
from rapport_assist.rules import default_rules_dir, load_rules
from rapport_assist.sources import ReplayInput
from rapport_assist.types import (
    CallSummary,
    Evidence,
    Nudge,
    RecordItem,
    SpeechActivity,
    Speaker,
    Status,
    ToneChange,
    ToneEstimate,
    Utterance,
)

DEMO_TRANSCRIPT = Path(__file__).resolve().parents[1] / "src" / "rapport_assist" / "data" / "demo_call.jsonl"


_OWN_UTTERANCE = itertools.count(1000)


def nudge(rule: str, t: float, severity: str = "medium", index: int | None = None, priority: int = 50, **kw) -> Nudge:
    """A nudge about utterance ``index`` (default: an utterance of its own, so each is a moment)."""
    index = next(_OWN_UTTERANCE) if index is None else index
    ev = (Evidence(index, Speaker.AGENT, f"words of {rule}", t - 1, t, ("words",)),)
    return Nudge(
        rule=rule,
        severity=severity,
        title=rule.title(),
        message=f"msg {rule}",
        t_s=t,  # type: ignore[arg-type]
        utterance_index=index,
        evidence=ev,
        why="because",
        priority=priority,
        **kw,
    )


def utt(index: int, speaker: Speaker, text: str, start: float, end: float) -> Utterance:
    return Utterance(index, speaker, text, start, end)


def model(**budget) -> AssistModel:
    m = AssistModel(BudgetConfig(**budget))
    m.start_call("test", "qa")
    return m


def shown_rules(m: AssistModel) -> list[str]:
    return [c.nudge.rule for c in m.shown]


def test_a_nudge_becomes_a_visible_card_and_fades_into_history():
    m = model(card_lifetime_s=10)
    m.on_event(nudge("you-not-we", 5.0))
    assert shown_rules(m) == ["you-not-we"]
    m.advance(14.9)
    assert shown_rules(m) == ["you-not-we"]
    m.advance(15.0)
    assert shown_rules(m) == []
    assert [(c.nudge.rule, c.end_reason, c.ended_at_s) for c in m.history] == [("you-not-we", "faded", 15.0)]


def test_budget_holds_back_a_flood_and_lets_cards_out_at_the_rate_limit():
    m = model(max_visible=3, min_gap_s=4, max_per_minute=4, card_lifetime_s=100, max_wait_s=1000)
    for i in range(10):
        m.on_event(nudge(f"r{i}", 10.0))
    assert len(m.shown) == 1 and len(m.held) == 9  # the gap between two new cards
    m.advance(14.0)
    assert len(m.shown) == 2
    m.advance(18.0)
    assert len(m.shown) == 3
    m.advance(60.0)
    assert len(m.shown) == 3  # never more than max_visible
    assert len(m.held) == 7


def test_rate_limit_per_minute():
    m = model(max_visible=6, min_gap_s=0, max_per_minute=2, card_lifetime_s=1000, max_wait_s=1000)
    for i in range(4):
        m.on_event(nudge(f"r{i}", 1.0))
    assert len(m.shown) == 2
    m.advance(60.9)
    assert len(m.shown) == 2
    m.advance(61.0)
    assert len(m.shown) == 4


def test_higher_severity_first_and_it_displaces_the_weakest_card():
    m = model(max_visible=2, min_gap_s=0, card_lifetime_s=1000)
    m.on_event(nudge("low-a", 1.0, "low"))
    m.on_event(nudge("med-b", 2.0, "medium"))
    m.on_event(nudge("high-c", 3.0, "high"))
    assert set(shown_rules(m)) == {"med-b", "high-c"}
    assert m.history[0].nudge.rule == "low-a" and m.history[0].end_reason == "displaced"
    # among held cards, the most severe comes out first
    m2 = model(max_visible=3, min_gap_s=5, card_lifetime_s=1000, max_wait_s=1000)
    m2.on_event(nudge("first", 1.0, "low"))
    m2.on_event(nudge("later-low", 1.5, "low"))
    m2.on_event(nudge("later-high", 2.0, "high"))
    m2.advance(6.0)
    assert shown_rules(m2) == ["later-high", "first"]


def test_nothing_new_while_the_agent_is_mid_sentence_unless_urgent():
    m = model(min_gap_s=0)
    m.on_event(SpeechActivity(Speaker.AGENT, 10.0, True))
    m.on_event(nudge("medium-one", 11.0, "medium"))
    m.on_event(nudge("urgent-one", 11.5, "high"))
    assert shown_rules(m) == ["urgent-one"]
    m.on_event(utt(3, Speaker.AGENT, "and that is all", 10.0, 13.0))  # the sentence ended
    assert set(shown_rules(m)) == {"urgent-one", "medium-one"}


def test_hold_while_speaking_can_be_switched_off_and_urgent_can_be_none():
    m = model(min_gap_s=0, hold_while_speaking=False)
    m.on_event(SpeechActivity(Speaker.AGENT, 1.0, True))
    m.on_event(nudge("a", 2.0))
    assert shown_rules(m) == ["a"]
    m = model(min_gap_s=0, urgent_severity=None)
    m.on_event(SpeechActivity(Speaker.AGENT, 1.0, True))
    m.on_event(nudge("h", 2.0, "high"))
    assert shown_rules(m) == []


def test_a_held_card_that_waited_too_long_goes_to_history_unseen():
    m = model(min_gap_s=0, max_wait_s=20)
    m.on_event(SpeechActivity(Speaker.AGENT, 1.0, True))
    m.on_event(nudge("stale", 2.0))
    m.advance(30.0)
    assert shown_rules(m) == [] and m.held == []
    assert (m.history[0].nudge.rule, m.history[0].end_reason) == ("stale", "missed")


def test_snooze_drops_the_rule_for_this_call_only():
    m = model(min_gap_s=0)
    m.on_event(nudge("noisy", 1.0))
    m.snooze("noisy")
    assert shown_rules(m) == []
    m.on_event(nudge("noisy", 5.0))
    m.on_event(nudge("other", 6.0))
    assert shown_rules(m) == ["other"] and m.snoozed_count == 1
    m.start_call("next", "qa")
    m.on_event(nudge("noisy", 1.0))
    assert shown_rules(m) == ["noisy"]


def test_experimental_nudges_are_not_shown():
    m = model()
    m.on_event(nudge("trial", 1.0, experimental=True))
    assert m.shown == [] and m.hidden_experimental == 1


def test_wrong_feedback_is_logged_with_evidence_and_the_turns_as_a_quiet_example(tmp_path: Path):
    log = FeedbackLog(tmp_path / "sub" / "feedback.jsonl")
    m = AssistModel(BudgetConfig(min_gap_s=0), log, wall_clock=lambda: 0.0)
    m.start_call("call7.jsonl", "qa")
    m.on_event(utt(0, Speaker.CUSTOMER, "My router keeps dropping.", 0.0, 2.0))
    m.on_event(utt(1, Speaker.AGENT, "You need to restart the router.", 2.5, 4.0))
    m.on_event(nudge("you-not-we", 4.0, index=1))
    card = m.shown[0]
    m.give_feedback(card.id, "wrong")
    records = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert len(records) == 1
    r = records[0]
    assert r["verdict"] == "wrong" and r["rule"] == "you-not-we" and r["call"] == "call7.jsonl"
    assert r["nudge"]["evidence"][0]["text"] == "words of you-not-we"
    assert r["utterance"] == {"index": 1, "speaker": "agent", "text": "You need to restart the router."}
    assert r["example"] == [{"customer": "My router keeps dropping."}, {"agent": "You need to restart the router."}]
    assert r["at"] == "1970-01-01T00:00:00+00:00"
    assert m.shown == [] and m.history[0].verdict == "wrong"  # a wrong card leaves the screen
    m.on_event(nudge("missed-reflection", 5.0, index=1))
    m.give_feedback(m.shown[0].id, "helpful")
    assert len(log.path.read_text().splitlines()) == 2
    assert m.shown and m.shown[0].verdict == "helpful"  # a helpful card stays


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from rapport_assist.assist import FeedbackLog
from rapport_assist.errors import OutputError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
log = FeedbackLog(Path(sys.argv[1]))
log.write({"n": 1})
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
# room for part of the next line only, as on a disk that fills up in the middle of it
resource.setrlimit(resource.RLIMIT_FSIZE, (log.path.stat().st_size + 40, hard))
try:
    log.write({"n": 2, "words": "x" * 400})
    print("written")
except OutputError as exc:
    print("refused:", exc)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
log.write({"n": 3})
"""


def test_feedback_cut_short_by_a_full_disk_leaves_no_broken_line(tmp_path: Path):
    """A verdict the disk had room for only part of is refused whole: the log keeps only whole
    lines, so the verdicts written after the disk has room again are read back."""
    import os
    import subprocess
    import sys

    path = tmp_path / "feedback.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: cannot write feedback to"), done.stdout
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1, 3]


def test_promises_tone_transcript_status():
    m = model()
    m.on_event(RecordItem("promises", "promise-list", 3.0, 1, Speaker.AGENT, "I'll call you back", None))
    m.on_event(RecordItem("other-list", "x", 3.0, 1, Speaker.AGENT, "not a promise", None))
    m.on_event(RecordItem("promises", "promise-list", 9.0, 2, Speaker.AGENT, "email you", "within the hour"))
    assert [(p.text, p.time) for p in m.promises] == [("I'll call you back", None), ("email you", "within the hour")]
    angry = ToneEstimate("angry", 0.9, ("ridiculous",))
    m.on_event(ToneChange(10.0, Speaker.CUSTOMER, "calm", angry, 3))
    assert m.customer_tone == angry
    m.on_event(ToneChange(11.0, Speaker.AGENT, "calm", ToneEstimate("tense", 0.5), 4))
    assert m.customer_tone == angry  # the meter is the customer's
    m.on_event(utt(5, Speaker.AGENT, "hello", 11.0, 12.0))
    assert [u.text for u in m.transcript] == ["hello"]
    m.on_event(Status("info", "recognizer_ready", "ready", 0.0, "recognizer"))
    m.on_event(Status("error", "mic_lost", "microphone unplugged", 12.0, "microphone"))
    m.on_event(Status("info", "no_speech", "no speech found", 12.0))
    assert m.status["recognizer"].level == "ok" and m.status["microphone"].message == "microphone unplugged"
    assert [n.code for n in m.notices] == ["no_speech"]
    m.on_event(CallSummary(12.0, 1, 0))
    assert m.ended and not m.active


def test_status_rows_come_from_the_fields_not_the_text():
    assert components_of(Status("info", "model_ready", "the customer's model", 0.0, "recognizer")) == ["recognizer"]
    assert components_of(Status("info", "no_speech", "no speech found", 0.0)) == []
    # live capture names the sides of a device's status in ``speakers``; the message is for people
    both = Status("info", "capture_started", "capturing from pulse:x", 0.0, speakers=(Speaker.AGENT, Speaker.CUSTOMER))
    assert components_of(both) == ["microphone", "customer"]
    assert components_of(
        Status("error", "device_unavailable", "the agent's mic?", 0.0, speakers=(Speaker.CUSTOMER,))
    ) == ["customer"]
    # a component wins over the sides (a lost device that carried both sides: its row)
    lost = Status(
        "error",
        "mic_lost",
        "the agent's and customer's audio stopped",
        0.0,
        "microphone",
        (Speaker.AGENT, Speaker.CUSTOMER),
    )
    assert components_of(lost) == ["microphone"]
    assert lost.to_json() == {
        "type": "status",
        "level": "error",
        "code": "mic_lost",
        "t": 0.0,
        "component": "microphone",
        "message": "the agent's and customer's audio stopped",
        "speakers": ["agent", "customer"],
    }
    assert "component" not in Status("info", "no_speech", "none", 0.0).to_json()  # notices: as before


def test_live_falling_behind_shows_in_the_recognizer_row_and_captions_give_way_to_final_lines():
    from rapport_assist.live import STATUS_COMPONENTS
    from rapport_assist.types import Partial

    model = AssistModel()
    model.start_call("live", "live")
    # live capture names the row in ``component`` (live.STATUS_COMPONENTS)
    assert STATUS_COMPONENTS["recognizer_behind"] == STATUS_COMPONENTS["recognizer_busy"] == "recognizer"
    model.on_event(Status("warning", "recognizer_behind", "transcription is 4 s behind the call", 10.0, "recognizer"))
    assert model.status["recognizer"].level == "warning" and "behind" in model.status["recognizer"].message
    model.on_event(
        Status("info", "recognizer_busy", "live captions paused: the recognizer is busy", 11.0, "recognizer")
    )
    assert model.status["recognizer"].message.startswith("live captions paused") and not model.notices
    model.on_event(Partial(Speaker.AGENT, 12.0, 13.0, "I can", "help"))
    model.on_event(Partial(Speaker.CUSTOMER, 12.5, 13.0, "", "My"))
    assert set(model.captions) == {Speaker.AGENT, Speaker.CUSTOMER}
    model.on_event(Utterance(0, Speaker.AGENT, "I can help with that.", 12.4, 14.0))
    assert set(model.captions) == {Speaker.CUSTOMER} and model.transcript[-1].text == "I can help with that."


def test_rewind_rebuilds_the_state_at_the_new_position():
    m = model(min_gap_s=0, card_lifetime_s=10)
    events = [nudge("a", 1.0), RecordItem("promises", "p", 2.0, 0, Speaker.AGENT, "x", None), nudge("b", 20.0)]
    for e in events:
        m.on_event(e)
    assert shown_rules(m) == ["b"]
    topics: list[str] = []
    m.subscribe(topics.append)
    m.on_event(Rewind(5.0, tuple(events[:2])))
    assert shown_rules(m) == ["a"] and len(m.promises) == 1 and m.active and m.now_s == 5.0
    assert sorted(topics) == sorted(
        ["cards", "promises", "tone", "transcript", "status", "call", "coaching"]
    )  # one refresh
    m.on_event(Rewind(0.5))
    assert m.shown == [] and m.promises == [] and m.now_s == 0.5


def test_budget_config_from_saved_strings_keeps_defaults_for_bad_values():
    cfg = BudgetConfig.from_mapping(
        {"max_visible": "2", "hold_while_speaking": "false", "min_gap_s": "x", "urgent_severity": "none", "unknown": 3}
    )
    assert cfg.max_visible == 2 and cfg.hold_while_speaking is False and cfg.min_gap_s == BudgetConfig().min_gap_s
    assert cfg.urgent_severity is None
    assert BudgetConfig.from_mapping({"max_visible": "0"}) == BudgetConfig()
    with pytest.raises(ValueError):
        BudgetConfig(urgent_severity="extreme")


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_playback_paces_events_at_each_speed_pauses_and_seeks():
    clock = FakeClock()
    pb = Playback(clock, speed=1.0)
    events = [nudge("a", 1.0), nudge("b", 5.0), nudge("c", 9.0)]
    pb.extend(events)
    pb.finish()
    assert pb.due() == []  # not playing yet
    pb.play()
    clock.t += 1.0
    assert [e.rule for e in pb.due()] == ["a"]
    pb.set_speed(2.0)
    clock.t += 2.0  # 4 s of call
    assert [e.rule for e in pb.due()] == ["b"] and pb.position_s() == pytest.approx(5.0)
    pb.pause()
    clock.t += 100.0
    assert pb.due() == [] and pb.position_s() == pytest.approx(5.0)
    pb.seek(2.0)
    out = pb.due()
    assert len(out) == 1 and isinstance(out[0], Rewind) and out[0].t_s == 2.0
    assert [e.rule for e in out[0].events] == ["a"]
    assert pb.handed == 3
    pb.set_speed(4.0)
    pb.play()
    clock.t += 1.0  # 4 s of call -> position 6
    assert [e.rule for e in pb.due()] == ["b"]
    assert pb.wait_s() == pytest.approx(3.0 / 4.0)
    pb.set_speed(math.inf)
    assert [e.rule for e in pb.due()] == ["c"]
    assert pb.ended and pb.duration_s == 9.0
    assert [m.rule for m in pb.marks] == ["a", "b", "c"]


def test_playback_waits_for_events_still_being_computed():
    clock = FakeClock()
    pb = Playback(clock, speed=1.0)
    pb.extend([nudge("a", 1.0)])
    pb.play()
    clock.t += 10.0
    assert [e.rule for e in pb.due()] == ["a"] and pb.position_s() == 1.0  # holds at what is known
    pb.extend([nudge("b", 3.0)])
    clock.t += 2.0
    assert [e.rule for e in pb.due()] == ["b"]
    assert not pb.ended


def test_at_max_speed_the_position_runs_ahead_of_what_was_handed_out_and_handed_through_does_not():
    """A view's clock may move only as far as the events it was given (the QA flake of stop 15)."""
    clock = FakeClock()
    pb = Playback(clock, speed=math.inf)
    pb.extend([nudge("a", 5.0), nudge("b", 20.0), CallSummary(60.0, 3, 2)])
    pb.finish()
    pb.play()
    assert pb.position_s() == 60.0  # at "max" the position is at the end as soon as it is known
    assert pb.handed_through() == (0, 0.0)  # but nothing was handed out yet
    out = pb.due()
    assert len(out) == 3 and pb.handed_through() == (3, 60.0)


def test_handed_through_stops_at_the_first_event_still_held_back():
    clock = FakeClock()
    pb = Playback(clock, speed=1.0)
    pb.extend([nudge("a", 1.0), nudge("b", 4.0)])
    pb.play()
    clock.t += 3.0
    assert [e.rule for e in pb.due()] == ["a"] and pb.handed_through() == (1, 3.0)
    clock.t += 2.0  # position 4 only (b is the last known event), b is due
    assert [e.rule for e in pb.due()] == ["b"] and pb.handed_through() == (2, 4.0)
    burst = Playback(clock, speed=math.inf)
    burst.extend([nudge(f"r{i}", float(i)) for i in range(1, 400)])
    burst.play()
    first = burst.due()
    handed, through = burst.handed_through()
    assert 0 < handed == len(first) < 399  # a burst is capped ...
    assert through == float(handed + 1)  # ... and the clock may reach only the next event held back


def test_speech_marks_put_the_start_of_each_turn_on_the_timeline():
    u = utt(0, Speaker.AGENT, "hi", 1.0, 2.0)
    out = list(with_speech_marks([u]))
    assert out == [SpeechActivity(Speaker.AGENT, 1.0, True), u]


def test_replay_of_the_demo_transcript_at_max_speed_gives_the_headline_cards_in_order():
    """The same cards as the fixture's expected moments, whatever the playback speed."""
    ruleset = load_rules([default_rules_dir()])
    m = AssistModel()
    m.start_call("demo", "qa")
    order: list[str] = []

    def on_cards(topic: str) -> None:
        if topic == "cards":
            order.extend(c.nudge.rule for c in m.shown if c.nudge.rule not in order)

    m.subscribe(on_cards)
    done = threading.Event()
    lock = threading.Lock()

    def on_event(event: object) -> None:
        with lock:
            m.on_event(event)  # type: ignore[arg-type]
        if isinstance(event, CallSummary):
            done.set()

    runner = ReplayCall(pipeline_events(ReplayInput(path=DEMO_TRANSCRIPT), ruleset, lambda: None), speed=math.inf)
    runner.start(on_event)
    assert done.wait(60), runner.error
    runner.stop()
    assert order == ["missed-reflection", "you-not-we", "angry-no-apology", "uncommitted-promise"]
    assert len(m.promises) == 3 and [p.committed for p in m.promises] == [False, True, True]
    assert m.customer_tone is not None and len(m.transcript) == 16


def test_nudges_about_one_utterance_share_a_card_led_by_the_highest_severity():
    m = model(min_gap_s=0)
    m.on_event(nudge("blame", 9.0, "medium", index=3, priority=45))
    m.on_event(nudge("angry", 9.0, "high", index=3))
    m.on_event(nudge("you", 9.0, "medium", index=3, rewrite="Let's wait for the refund."))
    m.on_event(nudge("later", 30.0, "low", index=3))  # the same utterance, but not the same moment
    (card, other) = sorted(m.shown, key=lambda c: c.id)
    assert [n.rule for n in card.nudges] == ["angry", "you", "blame"]  # severity, then priority
    assert card.rank[0] == 2 and other.nudges[0].rule == "later"
    assert card.rewrite == "Let's wait for the refund."
    m.snooze("angry")  # the lead's rule: the next nudge leads the card
    assert [n.rule for n in card.nudges] == ["you", "blame"] and card.state == "shown"
    m.snooze("you")
    m.snooze("blame")
    assert card.state == "history" and card.end_reason == "snoozed"
    record = m.give_feedback(other.id, "helpful")
    assert "also" not in record


def test_feedback_on_a_shared_card_names_every_nudge_on_it(tmp_path: Path):
    m = AssistModel(BudgetConfig(min_gap_s=0), FeedbackLog(tmp_path / "feedback.jsonl"))
    m.start_call("test", "qa")
    m.on_event(nudge("angry", 9.0, "high", index=3))
    m.on_event(nudge("blame", 9.0, "medium", index=3))
    record = m.give_feedback(m.shown[0].id, "wrong")
    assert record["rule"] == "angry" and [n["rule"] for n in record["also"]] == ["blame"]
    assert json.loads((tmp_path / "feedback.jsonl").read_text())["also"][0]["rule"] == "blame"


def test_a_card_offers_no_rewrite_that_keeps_words_another_nudge_flags():
    m = model(min_gap_s=0)
    calm = Evidence(2, Speaker.AGENT, "You need to calm down.", 4.0, 5.0, ("calm down",))
    m.on_event(
        Nudge(rule="blame", severity="medium", title="Blame", message="m", t_s=5.0, utterance_index=2, evidence=(calm,))
    )
    m.on_event(nudge("you", 5.0, index=2, rewrite="Let's calm down."))
    assert len(m.shown) == 1 and m.shown[0].rewrite is None
    m.on_event(nudge("a", 20.0, index=7, rewrite="Let's restart it."))
    m.on_event(nudge("b", 20.0, index=7, rewrite="We can restart it."))
    assert m.shown[0].nudges[0].rule == "a" and m.shown[0].rewrite is None  # two rewrites are not combined


def test_cards_still_waiting_when_the_call_ends_go_to_history_as_not_shown():
    m = model(max_visible=1, min_gap_s=0)
    m.on_event(nudge("first", 1.0))
    m.on_event(nudge("second", 2.0))
    m.on_event(nudge("third", 3.0))
    assert len(m.held) == 2
    m.on_event(CallSummary(10.0, 3, 3, {}))
    assert m.held == [] and shown_rules(m) == ["first"]
    assert [(c.nudge.rule, c.end_reason) for c in m.history] == [("second", "call ended"), ("third", "call ended")]
