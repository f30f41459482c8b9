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
    assert "one side only (customer): no dead air, talk ratio or talk-over" in text.getvalue()
    assert "dead air" not in text.getvalue().split("one side only")[0]
