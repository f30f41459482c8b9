"""Early nudges (issue 21 item 2): rules fire on a live caption's stable words, and the final
text confirms them (one card) or withdraws them (the card goes, not to the history)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.assist import AssistModel, BudgetConfig
from rapport_assist.errors import RuleError
from rapport_assist.pipeline import CallPipeline
from rapport_assist.rules import RuleEngine, load_rules
from rapport_assist.rules.early import EarlyNudges, fires_early
from rapport_assist.types import CallSummary, Evidence, Nudge, Partial, SpeechActivity, Speaker, Utterance, Withdrawn

A, C = Speaker.AGENT, Speaker.CUSTOMER


def run(annotator: Annotator, rules, items) -> list:
    return list(CallPipeline(annotator, RuleEngine(rules), masker=None).run(items))


def of(events: list, kind: type, rule: str | None = None) -> list:
    return [e for e in events if isinstance(e, kind) and (rule is None or getattr(e, "rule", None) == rule)]


def test_the_defaults_follow_the_kind_of_condition(rules) -> None:
    early = {r.id for r in rules.rules if fires_early(r)}
    # the trigger is in one utterance's words
    assert {"you-not-we", "blame-wording", "non-apology", "abusive-customer", "jargon", "hedging"} <= early
    # decided later (expect, turns), by the whole utterance's signals or length, or not a card
    assert not early & {
        "uncommitted-promise",
        "negative-phrasing",
        "missed-reflection",
        "angry-no-apology",
        "pace-mismatch",
        "voice-rising",
        "no-confirmation",
        "dead-air",
        "talk-over",
        "promise-list",
        "praise-warm-opening",
    }


def test_an_early_nudge_fires_on_the_stable_prefix_before_the_utterance_and_is_confirmed(annotator, rules) -> None:
    items = [
        Utterance(0, C, "The app keeps logging me out.", 0.0, 2.0),
        SpeechActivity(A, 2.5, True),
        Partial(A, 2.5, 3.4, "You", "need"),
        Partial(A, 2.5, 4.0, "You need to reinstall", "the"),
        Partial(A, 2.5, 5.0, "You need to reinstall the app", "and"),
        Partial(A, 2.5, 5.6, "You need to reinstall the app and sign", "in"),
        Utterance(1, A, "You need to reinstall the app and sign in again.", 2.5, 6.0),
    ]
    events = run(annotator, rules, items)
    early = [e for e in of(events, Nudge, "you-not-we") if e.early]
    assert len(early) == 1  # not before two words follow the match; the next captions fire nothing new
    first = early[0]
    assert first.t_s == 4.0 and first.utterance_index == -1 and first.early_id == 1
    # the stable words and the latest pass's guess at the rest
    assert first.evidence[0].text == "You need to reinstall the" and first.evidence[0].speaker is A
    assert "Let's reinstall the" in first.message
    utt_at = next(i for i, e in enumerate(events) if isinstance(e, Utterance) and e.index == 1)
    assert events.index(first) < utt_at  # while the agent was still speaking
    finals = [e for e in of(events, Nudge, "you-not-we") if not e.early]
    assert len(finals) == 1 and finals[0].confirms == 1 and finals[0].utterance_index == 1
    assert not of(events, Withdrawn)
    summary = of(events, CallSummary)[0]
    assert summary.nudges_by_rule.get("you-not-we") == 1  # the early one is not counted twice
    data = json.loads(json.dumps(first.to_json()))
    assert data["early"] is True and data["early_id"] == 1 and data["utterance_index"] == -1
    assert json.loads(json.dumps(finals[0].to_json()))["confirms"] == 1

    model = AssistModel(BudgetConfig(min_gap_s=0))
    model.start_call("live", "live")
    for e in events:
        model.on_event(e)
    cards = [c for c in [*model.cards.values(), *model.history] if any(n.rule == "you-not-we" for n in c.nudges)]
    assert len(cards) == 1  # confirmed: the final nudge took the early one's place on its card
    assert cards[0].nudge.utterance_index == 1 and cards[0].nudge.confirms == 1


def test_an_early_nudge_is_withdrawn_when_the_final_text_drops_its_trigger(annotator, rules) -> None:
    """The prefix says "you need to restart the router,"; the whole sentence is a question
    (you-not-we skips questions): withdrawn, and no final nudge."""
    items = [
        SpeechActivity(A, 1.0, True),
        Partial(A, 1.0, 2.5, "You need to restart the router,", "is"),
        Utterance(0, A, "You need to restart the router, is that what you were asking?", 1.0, 4.5),
        Utterance(1, A, "You have to unplug it first.", 5.0, 6.5),
    ]
    events = run(annotator, rules, items)
    early = [e for e in of(events, Nudge, "you-not-we") if e.early]
    assert len(early) == 1
    # the early fire changed no state: the rule's 5 s cooldown did not start, the next line fires
    assert [e.utterance_index for e in of(events, Nudge, "you-not-we") if not e.early] == [1]
    withdrawn = of(events, Withdrawn)
    assert [(w.rule, w.early_id, w.early_t_s, w.t_s, w.utterance_index) for w in withdrawn] == [
        ("you-not-we", early[0].early_id, 2.5, 4.5, 0)
    ]
    assert events.index(withdrawn[0]) > next(i for i, e in enumerate(events) if isinstance(e, Utterance))
    data = json.loads(json.dumps(withdrawn[0].to_json()))
    assert data == {
        "type": "withdrawn",
        "rule": "you-not-we",
        "early_id": early[0].early_id,
        "early_t": 2.5,
        "t": 4.5,
        "speaker": "agent",
        "utterance_index": 0,
    }
    assert of(events, CallSummary)[0].nudges_by_rule.get("you-not-we") == 1


def test_a_call_that_ends_before_the_final_text_withdraws_the_open_early_nudges(annotator, rules) -> None:
    events = run(annotator, rules, [Partial(C, 0.5, 2.0, "You people are useless, I want a", "")])
    early = [e for e in of(events, Nudge, "abusive-customer") if e.early]
    assert len(early) == 1 and early[0].severity == "high"
    assert [(w.rule, w.early_id, w.utterance_index) for w in of(events, Withdrawn)] == [
        ("abusive-customer", early[0].early_id, -1)
    ]


def test_rules_that_are_not_early_never_fire_on_a_caption(annotator, rules) -> None:
    """uncommitted-promise (an expect rule) and negative-phrasing fire on the final text only."""
    said = "Someone from billing will call you back. There's nothing I can do about the fee."
    items = [
        Partial(A, 1.0, 3.0, said, ""),
        Utterance(0, A, said, 1.0, 5.0),
        Utterance(1, C, "Really?", 5.5, 6.0),
        Utterance(2, A, "It's in the contract.", 6.5, 8.0),
    ]
    events = run(annotator, rules, items)
    assert not [e for e in of(events, Nudge) if e.early]
    assert {"uncommitted-promise", "negative-phrasing"} <= {e.rule for e in of(events, Nudge)}  # they do fire late


PACK = textwrap.dedent("""\
    version: 1
    lexicons:
      blame: [your fault]
      sorry: [sorry]
    tones:
      cross: {text: {says: blame}}
    rules:
      - id: blame-early
        title: Blame
        severity: medium
        why: Blame.
        message: No blame.
        when: {speaker: agent, says: blame}
      - id: blame-late
        title: Blame late
        severity: medium
        why: Blame.
        message: No blame.
        early: false
        when: {speaker: agent, says: blame}
      - id: cross-tone
        title: Cross
        severity: medium
        why: Tone.
        message: Calm.
        when: {speaker: agent, tone: cross}
      - id: cross-tone-early
        title: Cross early
        severity: medium
        why: Tone.
        message: Calm.
        early: true
        when: {speaker: agent, tone: cross}
    """)


def test_the_early_key_turns_a_rule_on_or_off(tmp_path: Path, annotator) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    ruleset = load_rules([path])
    assert {r.id for r in ruleset.rules if fires_early(r)} == {"blame-early", "cross-tone-early"}
    events = run(
        annotator,
        ruleset,
        [
            Partial(A, 0.0, 1.0, "That was your fault and you know", ""),
            Utterance(0, A, "That was your fault, sorry.", 0.0, 2.0),
        ],
    )
    assert sorted(e.rule for e in of(events, Nudge) if e.early) == ["blame-early", "cross-tone-early"]
    assert sorted(e.rule for e in of(events, Nudge) if not e.early) == [
        "blame-early",
        "blame-late",
        "cross-tone",
        "cross-tone-early",
    ]
    assert all(e.confirms is not None for e in of(events, Nudge) if e.rule.endswith("-early") and not e.early)


def test_early_true_on_a_rule_decided_later_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        version: 1
        lexicons:
          promise: [will call]
          time: [today]
        rules:
          - id: promise
            title: Promise
            severity: medium
            why: Time.
            message: When?
            early: true
            when: {speaker: agent, says: promise}
            expect: {speaker: agent, says: time, within: {turns: 1}}
        """)
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules([path])
    assert f"{path}:11" in info.value.message and "'early: true' cannot apply" in info.value.message
    assert "expect" in info.value.message


def test_a_match_fires_early_once_two_words_follow_it_or_its_sentence_is_closed(annotator, rules) -> None:
    engine = RuleEngine(rules)
    early = EarlyNudges(engine, annotator)
    assert early.on_partial(Partial(A, 0.0, 1.0, "Okay. You need to", "")) == []
    assert early.on_partial(Partial(A, 0.0, 1.5, "Okay. You need to sign", "")) == []
    assert [n.rule for n in early.on_partial(Partial(A, 0.0, 2.0, "Okay. You need to sign in", ""))] == ["you-not-we"]
    early = EarlyNudges(RuleEngine(rules), annotator)
    assert early.on_partial(Partial(A, 0.0, 1.0, "Okay. You need", "to sign in")) == []  # the match is not stable
    fired = early.on_partial(Partial(A, 0.0, 1.5, "Okay. You need to", "sign in"))  # the words after may be pending
    assert [n.rule for n in fired] == ["you-not-we"]
    early = EarlyNudges(RuleEngine(rules), annotator)
    assert early.on_partial(Partial(A, 0.0, 1.5, "You need to", "sign in again?")) == []  # a question, so far
    early = EarlyNudges(RuleEngine(rules), annotator)
    fired = early.on_partial(Partial(A, 0.0, 1.5, "You need to restart it. Then", ""))
    assert [n.rule for n in fired] == ["you-not-we"]  # a next sentence began


def test_captions_are_read_only_when_they_change_and_have_stable_words(annotator, rules) -> None:
    engine = RuleEngine(rules)
    early = EarlyNudges(engine, annotator)
    assert early.on_partial(Partial(A, 0.0, 0.6, "", "Thanks")) == []  # nothing stable yet: not read
    assert early.evaluated == 0
    assert early.on_partial(Partial(A, 0.0, 1.0, "Thanks for", "calling")) == []
    assert early.on_partial(Partial(A, 0.0, 1.0, "Thanks for", "calling")) == []  # the same caption again
    assert early.evaluated == 1
    early.on_partial(Partial(A, 0.0, 1.8, "Thanks for", "calling and"))
    assert early.evaluated == 2
    early.on_utterance(Utterance(0, A, "Thanks for calling.", 0.0, 2.0), [])
    early.on_partial(Partial(A, 0.0, 1.9, "Thanks for calling", ""))  # late: that utterance is final
    assert early.evaluated == 2


# ------------------------------------------------------------------ the sidebar's model


def _early(rule: str, severity: str, early_id: int, t_s: float, start_s: float = 10.0) -> Nudge:
    ev = Evidence(-1, A, "You need to", start_s, t_s, ("You need to",))
    return Nudge(rule, severity, rule, "msg", t_s, -1, (ev,), early=True, early_id=early_id)  # type: ignore[arg-type]


def test_model_shows_a_medium_early_card_mid_sentence_and_holds_a_low_one() -> None:
    m = AssistModel(BudgetConfig(min_gap_s=0))
    m.start_call("live", "live")
    m.on_event(SpeechActivity(A, 10.0, True))
    m.on_event(_early("you-not-we", "medium", 1, 11.0))
    assert [c.nudge.rule for c in m.shown] == ["you-not-we"]
    m.on_event(_early("jargon", "low", 2, 11.5, start_s=10.0))  # same open utterance: joins the card
    assert len(m.cards) == 1 and len(m.shown[0].nudges) == 2
    m2 = AssistModel(BudgetConfig(min_gap_s=0))
    m2.start_call("live", "live")
    m2.on_event(SpeechActivity(A, 10.0, True))
    m2.on_event(_early("jargon", "low", 1, 11.0))
    assert not m2.shown and len(m2.held) == 1  # a tip waits for the end of the sentence
    m3 = AssistModel(BudgetConfig(min_gap_s=0, early_while_speaking=None))
    m3.start_call("live", "live")
    m3.on_event(SpeechActivity(A, 10.0, True))
    m3.on_event(_early("you-not-we", "medium", 1, 11.0))
    assert not m3.shown  # switched off: early cards wait like the others


def test_model_withdrawal_removes_the_card_without_a_history_line() -> None:
    m = AssistModel(BudgetConfig(min_gap_s=0))
    m.start_call("live", "live")
    m.on_event(SpeechActivity(A, 10.0, True))
    m.on_event(_early("you-not-we", "medium", 1, 11.0))
    m.on_event(_early("jargon", "low", 2, 11.5))
    assert len(m.shown) == 1
    m.on_event(Utterance(3, A, "You need to, is it?", 10.0, 12.0))
    m.on_event(Withdrawn("jargon", 2, 11.5, 12.0, A, 3))
    assert [n.rule for n in m.shown[0].nudges] == ["you-not-we"]  # the other nudge of the card stays
    m.on_event(Withdrawn("you-not-we", 1, 11.0, 12.0, A, 3))
    assert not m.cards and not m.history and m.withdrawn == 2
    m.advance(200.0)
    assert not m.history  # it never fades into "earlier" either


def test_two_early_nudges_of_one_utterance_share_a_card_and_both_are_confirmed_on_it(annotator, rules) -> None:
    said = "That's not my department, you'll have to call billing about it."
    events = run(
        annotator,
        rules,
        [
            SpeechActivity(A, 1.0, True),
            Partial(A, 1.0, 3.0, "That's not my department, you'll have to", "call billing"),
            Utterance(0, A, said, 1.0, 5.0),
        ],
    )
    early = {e.rule for e in of(events, Nudge) if e.early}
    assert early == {"blame-wording", "you-not-we"}
    finals = [e for e in of(events, Nudge) if not e.early]
    assert {e.rule for e in finals if e.confirms is not None} == early and not of(events, Withdrawn)
    m = AssistModel(BudgetConfig(min_gap_s=0))
    m.start_call("live", "live")
    m.on_event(SpeechActivity(A, 1.0, True))
    for e in events:
        m.on_event(e)
    cards = [*m.cards.values(), *m.history]
    assert len(cards) == 1 and {n.rule for n in cards[0].nudges} == early  # one card, its nudges the final ones
    assert all(not n.early and n.utterance_index == 0 for n in cards[0].nudges)
