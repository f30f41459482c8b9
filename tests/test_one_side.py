"""A recording of one side only (a mono file replayed with --speaker, or only --customer): the
other side's talk is silence to us, so nothing that needs both sides fires or is measured (dead
air, talk-over, the talk ratio, a rule waiting for the other side's reply); "one side only" is
said where a figure would be. Two-sided calls and transcripts are unchanged."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from rapport_assist.annotate import Annotator
from rapport_assist.cli import main
from rapport_assist.pipeline import CallPipeline
from rapport_assist.qa.report import ONE_SIDE, stats_html
from rapport_assist.qa.stats import call_stats
from rapport_assist.qa.summary import summary_rows
from rapport_assist.rules import RuleEngine, RuleSet
from rapport_assist.signals import BOTH_SIDES_FIELDS
from rapport_assist.sources import ReplayInput, Timeline
from rapport_assist.types import CallSummary, DeadAir, Nudge, Speaker, Utterance
from rapport_assist.wording import one_side_note

# the customer alone on the line: an angry turn, a long silence (the agent talking on the other
# channel), then more from the customer
CUSTOMER_ONLY = [
    Utterance(0, Speaker.CUSTOMER, "This is the third time I'm calling about my refund and it's ridiculous.", 1.0, 5.0),
    Utterance(1, Speaker.CUSTOMER, "My card number is on the account.", 17.0, 19.5),
    Utterance(2, Speaker.CUSTOMER, "Okay, thank you so much.", 32.0, 34.0),
]


def run(annotator: Annotator, rules: RuleSet, sides: tuple[Speaker, ...] | None) -> list:
    pipeline = CallPipeline(annotator, RuleEngine(rules), masker=None)
    return list(pipeline.run(Timeline(iter(CUSTOMER_ONLY), 1, sides), audio_s=35.0))


def test_one_side_has_no_dead_air_no_reply_rules_and_no_measures_between_sides(
    annotator: Annotator, rules: RuleSet
) -> None:
    both = run(annotator, rules, None)  # not known (as a transcript): as before
    fired = {e.rule for e in both if isinstance(e, Nudge)}
    assert any(isinstance(e, DeadAir) for e in both) and {"dead-air", "angry-no-apology"} <= fired
    assert [u.signals.get("agent_talk_share") for u in both if isinstance(u, Utterance)] == [0.0, 0.0, 0.0]

    one = run(annotator, rules, (Speaker.CUSTOMER,))
    assert not any(isinstance(e, DeadAir) for e in one)
    assert {
        e.rule for e in one if isinstance(e, Nudge)
    } == set()  # no silence nudge, no "apologize" for a reply unheard
    utts = [e for e in one if isinstance(e, Utterance)]
    assert len(utts) == 3
    for u in utts:
        assert u.signals is not None and all(u.signals.get(name) is None for name in BOTH_SIDES_FIELDS)
    end = one[-1]
    assert isinstance(end, CallSummary) and end.one_side is Speaker.CUSTOMER
    assert end.to_json()["one_side"] == "customer" and "one_side" not in both[-1].to_json()


def test_the_qa_figures_say_one_side_only() -> None:
    utterance = {"type": "utterance", "speaker": "customer", "start": 0.0, "end": 4.0}
    dead_air = {"type": "signal", "kind": "dead_air", "silence_s": 9.0}
    s = call_stats([utterance, dead_air, {"type": "call_end", "duration": 20.0, "one_side": "customer"}])
    assert s.one_side == "customer" and s.talk_ratio is None and s.dead_air == 0 and s.listen_score == 0
    # a call whose utterances are all one side's (a transcript, an older log) reads the same
    assert call_stats([utterance, dead_air, {"type": "call_end", "duration": 20.0}]).one_side == "customer"
    html = str(stats_html(s))
    assert html.count(ONE_SIDE) == 3 and "0%" not in html  # talk ratio, dead air, talk-over
    two = call_stats([utterance, {**utterance, "speaker": "agent"}, dead_air])
    assert two.one_side is None and two.talk_ratio == 0.5 and two.dead_air == 1 and ONE_SIDE not in stats_html(two)

    from rapport_assist.qa.inputs import CallInput
    from rapport_assist.qa.outcome import CallOutcome

    call = CallInput("c", ReplayInput(path=Path("c.wav"), speaker=Speaker.CUSTOMER), (Path("c.wav"),))
    _, rows = summary_rows([call], [CallOutcome("c", "done", stats=s)])
    assert rows[0]["talk_ratio_agent"] == rows[0]["dead_air"] == rows[0]["agent_talk_overs"] == ONE_SIDE


def test_the_input_says_which_sides_it_has() -> None:
    assert ReplayInput(path=Path("a.wav"), speaker=Speaker.CUSTOMER).sides == (Speaker.CUSTOMER,)
    assert ReplayInput(customer_path=Path("c.wav")).sides == (Speaker.CUSTOMER,)
    assert ReplayInput(path=Path("call.wav")).sides == (Speaker.AGENT, Speaker.CUSTOMER)
    assert ReplayInput(agent_path=Path("a.wav"), customer_path=Path("c.wav")).sides == (Speaker.AGENT, Speaker.CUSTOMER)
    assert ReplayInput(path=Path("call.jsonl")).sides is None


def test_replay_of_a_mono_recording_with_speaker_says_one_side_only(tmp_path: Path, speak, write_audio) -> None:
    rate = 16000
    gap = np.zeros(int(12.0 * rate), dtype=np.float32)  # the agent, on a channel we do not have
    voice = np.concatenate(
        [speak("Hi, I lost my credit card. Can you send me a new one?"), gap, speak("Thank you so much.")]
    )
    path = write_audio(tmp_path / "caller.wav", voice[None, :], rate)
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", str(path), "--speaker", "customer", "--format", "jsonl"], stdout=out, stderr=err) == 0, err
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e for e in events if e["type"] == "utterance"]
    assert not [e for e in events if e["type"] == "signal" and e["kind"] == "dead_air"]
    assert not [e for e in events if e["type"] == "nudge" and e["rule"] == "dead-air"]
    assert events[-1]["type"] == "call_end" and events[-1]["one_side"] == "customer"
    text = io.StringIO()
    assert main(["replay", str(path), "--speaker", "customer"], stdout=text, stderr=io.StringIO()) == 0
    assert one_side_note("customer") in text.getvalue()
    assert "dead air" not in text.getvalue().split("only the customer was heard")[0]


def _shown(html: str) -> str:
    """A page's text as shown (its scripts and their data left out)."""
    import re

    return re.sub(r"<script.*?</script>", "", html, flags=re.S)


def _transcript_of_one_speaker(path: Path) -> Path:
    path.write_text("".join(json.dumps(u.to_json()) + "\n" for u in CUSTOMER_ONLY))
    return path


def test_a_transcript_of_one_speaker_is_one_sided_in_replay_qa_and_eval(tmp_path: Path) -> None:
    """A transcript holding only the customer's lines was read as a two-sided call: the agent's
    'silence' raised dead air and a 'no apology' nudge for a reply nobody could hear, and only
    qa's figures said one side. Replay, qa and eval now leave out what lies between the sides,
    and say so once."""
    import csv

    calls = tmp_path / "calls"
    calls.mkdir()
    path = _transcript_of_one_speaker(calls / "caller.jsonl")
    out = io.StringIO()
    assert main(["replay", str(path), "--format", "jsonl"], stdout=out, stderr=io.StringIO()) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert not [e for e in events if e["type"] == "nudge"], [e["rule"] for e in events if e["type"] == "nudge"]
    assert not [e for e in events if e["type"] == "signal" and e["kind"] in ("dead_air", "talk_over")]
    assert events[-1]["one_side"] == "customer"
    text = io.StringIO()
    assert main(["replay", str(path)], stdout=text, stderr=io.StringIO()) == 0
    assert text.getvalue().count(one_side_note("customer")) == 1 and "was heard" in text.getvalue().splitlines()[-1]

    qa = tmp_path / "qa"
    err = io.StringIO()
    code = main(
        ["qa", str(calls), "--out", str(qa), "--cache", str(tmp_path / "cache"), "--workers", "1"], io.StringIO(), err
    )
    assert code == 0, err.getvalue()
    (row,) = csv.DictReader((qa / "summary.csv").open(encoding="utf-8"))
    assert row["nudges"] == "0" and row["warnings"] == "customer only" and row["dead_air"] == ONE_SIDE
    done = json.loads((qa / "calls" / "caller" / "call.json").read_text())
    assert done["stats"]["warnings"] == {"customer_only": one_side_note("customer")}
    html = (qa / "summary.html").read_text(encoding="utf-8")
    assert html.count(one_side_note("customer")) == 1
    report = _shown((qa / "calls" / "caller" / "report.html").read_text(encoding="utf-8"))
    assert report.count(one_side_note("customer")) == 1  # under the figures, once

    dialogues = tmp_path / "dialogues.jsonl"
    turns = [{"speaker": "customer", "text": u.text, "start": u.start_s, "end": u.end_s} for u in CUSTOMER_ONLY]
    dialogues.write_text(json.dumps({"id": "caller", "turns": turns, "labels": {"dead-air": []}}) + "\n")
    report = io.StringIO()
    assert main(["eval", str(dialogues), "--format", "json"], stdout=report, stderr=io.StringIO()) == 0
    (dead_air,) = [r for r in json.loads(report.getvalue())["rules"] if r["rule"] == "dead-air"]
    assert dead_air["nudges"] == 0 and dead_air["false_alarms"] == []  # was 1: the agent's "silence"


def test_a_stereo_recording_with_one_silent_channel_is_one_sided(tmp_path: Path, speak, write_audio) -> None:
    """A stereo call whose customer channel was recorded dead (all zeros): the agent's pauses
    while the customer talked on the lost channel were dead air, nudged as such. The silent
    channel is now found when the file is measured, said once as a warning, and the call runs
    as the agent's side alone, in replay and in qa (from the transcript cache too)."""
    import csv

    rate = 16000
    gap = np.zeros(int(14.0 * rate), dtype=np.float32)  # the customer talks here, on the dead channel
    agent = np.concatenate([speak("Thanks for calling, let me pull up your account."), gap, speak("Okay, I see it.")])
    calls = tmp_path / "calls"
    calls.mkdir()
    path = write_audio(calls / "call.wav", np.stack([agent, np.zeros_like(agent)]), rate)
    out = io.StringIO()
    assert main(["replay", str(path), "--format", "jsonl"], stdout=out, stderr=io.StringIO()) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["speaker"] for e in events if e["type"] == "utterance"] == ["agent", "agent"]
    assert not [e for e in events if e["type"] == "signal" and e["kind"] == "dead_air"]
    assert not [e for e in events if e["type"] == "nudge" and e["rule"] in ("dead-air", "gratitude-missing")]
    (note,) = [e for e in events if e["type"] == "status" and e["code"] == "silent_channel"]
    assert note["speakers"] == ["customer"] and "customer's channel of call.wav (right) is silent" in note["message"]
    assert events[-1]["one_side"] == "agent"

    qa = tmp_path / "qa"
    args = ["--out", str(qa), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    for _ in range(2):  # recognized, then from the transcript cache with --force
        err = io.StringIO()
        assert main(["qa", str(calls), *args, "--force"], io.StringIO(), err) == 0, err.getvalue()
        (row,) = csv.DictReader((qa / "summary.csv").open(encoding="utf-8"))
        assert row["warnings"] == "agent only" and row["dead_air"] == ONE_SIDE, row
        warnings = json.loads((qa / "calls" / "call" / "call.json").read_text())["stats"]["warnings"]
        assert list(warnings) == ["agent_only"] and warnings["agent_only"].startswith(one_side_note("agent"))
        assert "(the customer's channel of call.wav (right) is silent throughout" in warnings["agent_only"]
        report = _shown((qa / "calls" / "call" / "report.html").read_text(encoding="utf-8"))
        assert report.count("is silent throughout") == 1 and report.count(one_side_note("agent")) == 1
        events = [json.loads(line) for line in (qa / "calls" / "call" / "events.jsonl").open()]
        assert not [e for e in events if e["type"] == "nudge" and e["rule"] == "dead-air"]
        assert events[-1]["one_side"] == "agent"

    # both channels heard: a two-sided call, as before (the silence is dead air)
    both = write_audio(tmp_path / "both.wav", np.stack([agent, 0.5 * agent[::-1].copy()]), rate)
    out = io.StringIO()
    assert main(["replay", str(both), "--format", "jsonl"], stdout=out, stderr=io.StringIO()) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "one_side" not in events[-1] and not [
        e for e in events if e["type"] == "status" and e["code"] == "silent_channel"
    ]
