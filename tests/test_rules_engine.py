"""Engine state and nudge fields, with inline rules and real spaCy (loaded once per process)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine, RuleSet, default_rules_dir, load_rules
from rapport_assist.types import Nudge, Speaker, Utterance

LEXICONS = textwrap.dedent("""\
    version: 1
    lexicons:
      gripe: [awful, terrible]
      apology: [sorry]
      thanks: [thank you, thanks]
      ack: [sure]
      echo-ignore: [okay]
      when: {entities: [DATE, TIME], phrases: [right now]}
    rules:
    """)

WAIT_RULE = textwrap.dedent("""\
      - id: gripe-no-sorry
        title: Say sorry
        severity: high
        why: Because.
        message: "Apologize for '{quote}'."
        when: {speaker: customer, says: gripe}
        expect:
          speaker: agent
          says: apology
          within: {turns: 1, seconds: 20}
          ignore: {max_words: 1, says: ack}
        episode:
          ends_when: {speaker: customer, says: thanks}
        cooldown_s: 0
    """)


def ruleset(tmp_path: Path, rules: str) -> RuleSet:
    path = tmp_path / "pack.yaml"
    path.write_text(LEXICONS + rules, encoding="utf-8")
    return load_rules([path])


def call(
    engine: RuleEngine, annotator: Annotator, turns: list[tuple[str, str, float]], end_s: float | None = None
) -> list[Nudge]:
    """Run (speaker, text, start_s) turns, each 2 s long; returns every nudge in order."""
    engine.start_call()
    nudges: list[Nudge] = []
    for i, (who, text, start) in enumerate(turns):
        utt = Utterance(i, Speaker(who), text, start, start + 2.0)
        nudges.extend(engine.on_utterance(annotator.annotate(utt)))
    nudges.extend(engine.finish(end_s if end_s is not None else turns[-1][2] + 2.0))
    return nudges


def test_reply_window_turns_and_seconds(tmp_path: Path, annotator: Annotator) -> None:
    engine = RuleEngine(ruleset(tmp_path, WAIT_RULE))
    quiet = call(engine, annotator, [("customer", "This is awful.", 0), ("agent", "I'm so sorry.", 3)])
    assert quiet == []
    fired = call(
        engine,
        annotator,
        [("customer", "This is awful.", 0), ("agent", "Let me check.", 3), ("agent", "Sorry about that.", 6)],
    )
    assert [n.utterance_index for n in fired] == [1]
    late = call(engine, annotator, [("customer", "This is awful.", 0), ("agent", "I'm so sorry.", 30)])
    assert [n.utterance_index for n in late] == [1], "an apology after the 20 s window is too late"
    backchannel = call(
        engine,
        annotator,
        [("customer", "This is awful.", 0), ("agent", "Sure.", 2.5), ("agent", "Sorry, that's on us.", 5)],
    )
    assert backchannel == [], "ignored turns do not use up the window"
    nobody = call(engine, annotator, [("customer", "This is awful.", 0), ("customer", "Terrible.", 5)], end_s=60)
    assert nobody == [], "if_call_ends defaults to drop: no agent, no nudge"


def test_nudge_fields_and_evidence(tmp_path: Path, annotator: Annotator) -> None:
    rs = ruleset(tmp_path, WAIT_RULE)
    engine = RuleEngine(rs)
    (nudge,) = call(
        engine,
        annotator,
        [
            ("agent", "Hello there.", 0),
            ("customer", "Um, the service was awful.", 3),
            ("agent", "What's your account number?", 6),
        ],
    )
    assert nudge.rule == "gripe-no-sorry" and nudge.severity == "high" and nudge.title == "Say sorry"
    assert nudge.utterance_index == 2 and nudge.t_s == 8.0
    assert nudge.rule_source == f"{tmp_path / 'pack.yaml'}:10" == rs.rule("gripe-no-sorry").source
    reply, trigger = nudge.evidence
    assert reply.utterance_index == 2 and reply.speaker is Speaker.AGENT and reply.matched == ()
    assert trigger.utterance_index == 1 and trigger.matched == ("awful",) and trigger.note == "trigger"
    assert nudge.message == "Apologize for 'awful'." and nudge.why == "Because."


def test_once_per_episode_until_it_ends(tmp_path: Path, annotator: Annotator) -> None:
    engine = RuleEngine(ruleset(tmp_path, WAIT_RULE))
    turns = [
        ("customer", "Awful.", 0),
        ("agent", "Okay.", 3),
        ("customer", "Terrible, really.", 6),
        ("agent", "Hm.", 9),
        ("customer", "Thanks, fine.", 12),
        ("agent", "Right.", 15),
        ("customer", "Still awful.", 18),
        ("agent", "Okay then.", 21),
    ]
    assert [n.utterance_index for n in call(engine, annotator, turns)] == [1, 7]


def test_cooldown(tmp_path: Path, annotator: Annotator) -> None:
    rules = textwrap.dedent("""\
          - id: said-sorry
            title: T
            severity: low
            why: W
            message: M
            when: {speaker: agent, says: apology}
            cooldown_s: 10
        """)
    engine = RuleEngine(ruleset(tmp_path, rules))
    turns = [("agent", "Sorry.", 0), ("agent", "Sorry again.", 4), ("agent", "So sorry.", 13)]
    assert [n.utterance_index for n in call(engine, annotator, turns)] == [0, 2]


def test_expectation_that_fires_when_the_call_ends(tmp_path: Path, annotator: Annotator) -> None:
    rules = textwrap.dedent("""\
          - id: no-time
            title: T
            severity: low
            why: W
            message: "'{quote}' needs a time"
            when: {speaker: agent, says: apology}
            expect: {speaker: agent, says: when, within: {turns: 1}, if_call_ends: fire}
            points_at: trigger
        """)
    engine = RuleEngine(ruleset(tmp_path, rules))
    (nudge,) = call(engine, annotator, [("agent", "Sorry, I'll look.", 0), ("customer", "Ok.", 3)], end_s=9.5)
    assert nudge.utterance_index == 1 and nudge.t_s == 9.5
    assert [e.utterance_index for e in nudge.evidence] == [0]
    assert call(engine, annotator, [("agent", "Sorry.", 0), ("agent", "I'll do it right now.", 3)]) == []


def test_default_packs_on_a_short_call(annotator: Annotator) -> None:
    engine = RuleEngine(load_rules([default_rules_dir()]))
    turns = [
        ("customer", "Third time I'm calling about this bill. It's ridiculous.", 0.0),
        ("agent", "Okay, so what you need to do is, um, reset the password first.", 4.0),
        ("customer", "Fine.", 10.0),
        ("agent", "Someone from billing will call you back.", 12.0),
        ("customer", "Okay.", 16.0),
        ("agent", "Anything else?", 18.0),
    ]
    by_rule = {n.rule: n for n in call(engine, annotator, turns) if isinstance(n, Nudge)}
    assert set(by_rule) == {"angry-no-apology", "you-not-we", "uncommitted-promise"}
    you = by_rule["you-not-we"]
    assert you.utterance_index == 1 and you.rewrite == "Let's reset the password first."
    assert you.message == (
        "Say it as a team: 'Let's reset the password first.' instead of "
        "'what you need to do is reset the password first'"
    )
    promise = by_rule["uncommitted-promise"]
    assert promise.utterance_index == 5 and promise.evidence[0].utterance_index == 3
    assert promise.evidence[0].matched == ("Someone from billing will call",)
    angry = by_rule["angry-no-apology"]
    assert angry.utterance_index == 1
    # the card quotes what made it urgent: the customer's words, not the agent's reply
    assert angry.quoted is not None and angry.quoted.speaker is Speaker.CUSTOMER
    assert angry.quoted.text == "Third time I'm calling about this bill. It's ridiculous."
    assert you.quoted is not None and you.quoted.speaker is Speaker.AGENT


def test_outputs_are_whole_dataclass_values(annotator: Annotator) -> None:
    """The engine's nudges, praise and evidence, and the turn tracker's steps and turns (made
    without their frozen dataclasses' constructors: a setattr per field, once per utterance),
    each hold every field and equal the value their constructor makes from those fields."""
    import dataclasses

    from rapport_assist.types import Evidence, Praise

    engine = RuleEngine(load_rules([default_rules_dir()]))
    turns = [
        ("agent", "Hi, thanks for calling, my name is Sam. How can I help you today?", 0.0),
        ("customer", "Third time I'm calling about this bill. It's ridiculous.", 4.0),
        ("agent", "Okay, so what you need to do is, um, reset the password first.", 8.0),
        ("customer", "Fine.", 12.0),
        ("agent", "Someone from billing will call you back by Friday.", 14.0),
    ]
    outputs = call(engine, annotator, turns)
    kinds = {type(o) for o in outputs}
    assert Nudge in kinds and Praise in kinds
    for out in outputs:
        values = [out] + [e for e in getattr(out, "evidence", ())]
        for value in values:
            if not isinstance(value, (Nudge, Praise, Evidence)):
                continue
            names = [f.name for f in dataclasses.fields(value)]
            assert list(vars(value)) == names, type(value).__name__
            assert type(value)(**{n: getattr(value, n) for n in names}) == value
    # the same for the turn tracker's step and turn (one of each per utterance)
    from rapport_assist.turns import TurnStep, TurnTracker

    step = TurnTracker().on_utterance(Utterance(0, Speaker.AGENT, "Hello there.", 0.0, 1.0))
    assert step.turn is not None
    for value in (step, step.turn):
        names = [f.name for f in dataclasses.fields(value)]
        # (``TurnStep`` compiled by mypyc keeps its fields in slots, not a ``__dict__``: made by its
        # own ``__init__``, it is whole; ``Turn`` is made without one and is checked as above)
        assert not hasattr(value, "__dict__") or list(vars(value)) == names
        assert type(value)(**{n: getattr(value, n) for n in names}) == value
    assert list(vars(step.turn)) == [f.name for f in dataclasses.fields(step.turn)]
    assert isinstance(step, TurnStep)


def test_customer_only_call_never_fires(annotator: Annotator) -> None:
    engine = RuleEngine(load_rules([default_rules_dir()]))
    turns = [
        ("customer", "This is the third time I've called and it's ridiculous, you need to call me back.", 0.0),
        (
            "customer",
            "I'll call again tomorrow, nobody has fixed it and I'm still waiting on the refund "
            "that was promised to me in March, then again in April, and it's now June.",
            30.0,
        ),
    ]
    assert call(engine, annotator, turns, end_s=90.0) == []


SUBORDINATE_RULE = textwrap.dedent("""\
      - id: directive
        title: Directive
        severity: low
        why: Because.
        message: "{quote}"
        when:
          speaker: agent
          says: {lexicon: must-do, skip_if: [subordinate]}
        cooldown_s: 0
    """)


def _agent_says(tmp_path: Path, annotator: Annotator, lexicons: str, rule: str, text: str) -> list:
    """The nudges of ``rule`` (with ``lexicons`` added to the test pack's) on one agent line."""
    path = tmp_path / "pack.yaml"
    path.write_text(LEXICONS.replace("rules:\n", lexicons + "rules:\n") + rule, encoding="utf-8")
    return call(RuleEngine(load_rules([path])), annotator, [("agent", text, 0.0)], end_s=3.0)


_IF = "  must-do: [you need to]\n  conditional: [if, unless, in case]\n"
_WHEN = "  must-do: [you need to]\n  time-clause: [when, whenever]\n"
TIME_CLAUSE_RULE = SUBORDINATE_RULE.replace("skip_if: [subordinate]", "skip_if: [{subordinate: {cues: time-clause}}]")


@pytest.mark.parametrize(
    "lexicons, rule, text, fires",
    [
        (_IF, SUBORDINATE_RULE, "You need to restart the router.", True),
        (_IF, SUBORDINATE_RULE, "So what you need to do is restart the router.", True),
        (_IF, SUBORDINATE_RULE, "If that still fails after the update, you need to restart the router.", True),  # main
        (_IF, SUBORDINATE_RULE, "Let us know if there's anything else on the order you need to change.", False),
        (_IF, SUBORDINATE_RULE, "If you need to restart it, the button is at the back.", False),
        (_IF, SUBORDINATE_RULE, "These are the steps you need to take.", False),  # relative clause
        (_IF, SUBORDINATE_RULE, "In the app you need to open settings first.", True),  # "in" is not "in case"
        # written without commas (a lowercase export, a recognizer): the parse finds the clause's end
        (_IF, SUBORDINATE_RULE, "if that still fails after the update you need to restart the router", True),
        (
            _IF,
            SUBORDINATE_RULE,
            "so the fee is from the new roof age factor you need to send us a roof inspection",
            True,
        ),
        (_IF, SUBORDINATE_RULE, "let us know if there's anything else on the order you need to change", False),
        (
            _IF,
            SUBORDINATE_RULE,
            "If it's the password that you need to recover, check this out: hope these help!",
            False,
        ),
        # a time clause's cue ("when", an adverb, not a mark) holds only its own clause
        (_WHEN, TIME_CLAUSE_RULE, "Here is our number for when you need to reach us.", False),
        (_WHEN, TIME_CLAUSE_RULE, "Keep the code for whenever you need to reset the box.", False),
        (_WHEN, TIME_CLAUSE_RULE, "When you get to the desk, you need to show the code.", True),  # the main clause
        # spoken without a comma: the main clause is the root above the time clause
        (_WHEN, TIME_CLAUSE_RULE, "when you get to the desk you need to show the code", True),
        (_WHEN, TIME_CLAUSE_RULE, "You need to show the code when you get to the desk.", True),
    ],
)
def test_subordinate_skips_matches_inside_conditional_relative_and_time_clauses(
    tmp_path: Path, annotator: Annotator, lexicons: str, rule: str, text: str, fires: bool
) -> None:
    nudges = _agent_says(tmp_path, annotator, lexicons, rule, text)
    assert bool(nudges) is fires, (text, nudges)


QUESTION_RULE = textwrap.dedent("""\
      - id: directive
        title: Directive
        severity: low
        why: Because.
        message: "{quote}"
        when:
          speaker: agent
          says: {lexicon: must-do, skip_if: [question, {negated: {before: 2, after: 1}}]}
        cooldown_s: 0
    """)


@pytest.mark.parametrize(
    "text, fires",
    [
        ("Do you need to restart the router?", False),
        # a question by its word order, with or without the "?"
        ("so do you need to restart the router or just the extender", False),
        ("Do you need to restart the router.", False),
        ("okay when do you need to restart it", False),
        ("Should you need to restart it, the button is at the back.", False),  # conditional inversion
        # statements
        ("what you need to do is restart the router do you see the button", True),  # a pseudo-cleft
        ("Only then do you need to restart it.", True),  # negative inversion: a statement
        ("You need to restart the router, right?", False),  # the "?" as before
        # an answer's "no" negates nothing, with or without its comma; "not" still does
        ("no you need to restart the router first", True),
        ("No, you need to restart the router first.", True),
        ("You need not restart the router.", False),
    ],
)
def test_question_read_from_word_order_and_an_answers_no(
    tmp_path: Path, annotator: Annotator, text: str, fires: bool
) -> None:
    nudges = _agent_says(
        tmp_path, annotator, "  must-do: [you need]\n  negation: [not, no, never]\n", QUESTION_RULE, text
    )
    assert bool(nudges) is fires, (text, nudges)


REWRITE_RULE = textwrap.dedent("""\
      - id: no-problem
        title: T
        severity: low
        why: W
        when: {speaker: agent, says: {regex: "no problem"}}
        rewrites: [{from: "no problem", to: "my pleasure"}]
        message: "Try '{rewrite}'"
        message_if_no_rewrite: "Not '{quote}'"
    """)


def test_a_rewrite_keeps_the_sentences_punctuation_and_case(tmp_path: Path, annotator: Annotator) -> None:
    engine = RuleEngine(ruleset(tmp_path, REWRITE_RULE))
    (nudge,) = call(engine, annotator, [("agent", "No problem, have a good day.", 0)])
    assert nudge.rewrite == "My pleasure, have a good day."
    assert nudge.message == "Try 'My pleasure, have a good day.'"
    (nudge,) = call(engine, annotator, [("agent", "Okay. No problem at all, Mrs. Diaz! Bye.", 0)])
    assert nudge.rewrite == "My pleasure at all, Mrs. Diaz!"
    (nudge,) = call(engine, annotator, [("agent", "Sure, no problem.", 0)])
    assert nudge.rewrite == "My pleasure."


def test_a_rewrite_stops_where_a_question_starts_without_a_stop(tmp_path: Path, annotator: Annotator) -> None:
    engine = RuleEngine(ruleset(tmp_path, REWRITE_RULE))
    # a lowercase export without punctuation: the question after it is not part of the rewrite
    (nudge,) = call(engine, annotator, [("agent", "no problem at all do you have the receipt with you", 0)])
    assert nudge.rewrite == "My pleasure at all"


def test_no_lets_rewrite_of_an_order_about_the_customers_feelings(annotator: Annotator) -> None:
    engine = RuleEngine(load_rules([default_rules_dir()]))
    calm = [
        n for n in call(engine, annotator, [("agent", "You need to calm down, ma'am.", 0)]) if n.rule == "you-not-we"
    ]
    assert len(calm) == 1 and calm[0].rewrite is None and "Let's calm" not in calm[0].message
    router = [
        n
        for n in call(engine, annotator, [("agent", "You need to restart the router, then wait!", 0)])
        if n.rule == "you-not-we"
    ]
    assert router[0].rewrite == "Let's restart the router, then wait!"


def test_quote_picks_the_evidence_the_card_shows(tmp_path: Path, annotator: Annotator) -> None:
    turns = [("customer", "Um, the service was awful.", 0), ("agent", "What's your account number?", 3)]
    for quote, speaker in (("", Speaker.CUSTOMER), ("quote: reply", Speaker.AGENT)):
        engine = RuleEngine(ruleset(tmp_path, WAIT_RULE + (f"  {quote}\n" if quote else "")))
        (nudge,) = call(engine, annotator, turns)
        assert nudge.evidence[0].speaker is Speaker.AGENT  # points_at: reply (the default) orders the evidence
        assert nudge.quoted is not None and nudge.quoted.speaker is speaker
    engine = RuleEngine(ruleset(tmp_path, WAIT_RULE + "  quote: none\n"))
    (nudge,) = call(engine, annotator, turns)
    assert nudge.quoted is None and nudge.to_json()["quote"] is None
    with pytest.raises(Exception, match="'quote: reply' needs a rule with 'expect'"):
        ruleset(tmp_path, REWRITE_RULE + "  quote: reply\n")


def test_a_lexicon_pre_filter_needs_each_phrase_s_rarest_word() -> None:
    from rapport_assist.rules.features import phrase_key, rare_keys
    from rapport_assist.rules.model import Lexicon, Phrase
    from rapport_assist.rules.source import Loc

    at = Loc("test.yaml", 1, 1)
    lexicon = Lexicon("refusals", (Phrase("that's our policy", at), Phrase("I am unable to", at)), (), (), "", at)
    assert rare_keys(lexicon) == frozenset({phrase_key("policy"), phrase_key("unable")})


def test_a_gate_knows_the_tone_its_condition_needs() -> None:
    from rapport_assist.rules.conditions import Compiler
    from rapport_assist.rules.model import AllOf, AnyOf, SpeakerIs, ToneIs

    compiler = Compiler({}, {})
    gate = compiler.gate(AllOf((SpeakerIs(Speaker.CUSTOMER), ToneIs("angry"))))
    assert gate.tones == frozenset({"angry"})
    assert gate.admits_tone("angry") and gate.admits_tone(None)  # no signals: the text cue decides
    assert not gate.admits_tone("tense") and not gate.admits_tone("calm")
    assert compiler.gate(AnyOf((ToneIs("angry"), ToneIs("tense")))).tones == frozenset()  # either: none needed
    assert compiler.gate(AnyOf((ToneIs("tense"), AllOf((ToneIs("tense"), SpeakerIs(Speaker.AGENT)))))).tones == {
        "tense"
    }


def _open_promise_rule(second_test: str) -> str:
    """An open-promise rule skipped when its sentence says the tie and ``second_test`` holds."""
    return textwrap.dedent("""\
      - id: open-promise
        title: Open promise
        severity: low
        why: Because.
        message: "{quote}"
        when:
          speaker: agent
          says:
            lexicon: will-text
            skip_if:
              - all:
                  - sentence_says: tie
                  - SECOND
        cooldown_s: 0
    """).replace("SECOND", second_test)


ALL_SKIP_RULE = _open_promise_rule("before_says: {lexicon: when, sentences: 1}")


@pytest.mark.parametrize(
    "text, fires",
    [
        # both tests hold: the event the promise waits on has its time just before
        ("The parcel reaches the depot right now. You'll get a text once it's there.", False),
        # only one holds: a time before, but no event tie; an event tie, but no time before
        ("The parcel reaches the depot right now. You'll get a text about it.", True),
        ("The parcel is on its way. You'll get a text once it's there.", True),
        # the time two sentences back is out of reach of 'sentences: 1'; a question is no time
        ("The parcel reaches the depot right now. It's a big one. You'll get a text once it's there.", True),
        ("Does it reach the depot right now? You'll get a text once it's there.", True),
    ],
)
def test_an_all_skip_needs_every_test_and_before_says_looks_back(
    tmp_path: Path, annotator: Annotator, text: str, fires: bool
) -> None:
    nudges = _agent_says(
        tmp_path, annotator, "  will-text: [get a text]\n  tie: [once it's there]\n", ALL_SKIP_RULE, text
    )
    assert bool(nudges) is fires, (text, nudges)


LACKS_SKIP_RULE = _open_promise_rule("sentence_lacks: doubt")


@pytest.mark.parametrize(
    "text, fires",
    [
        # the tie is there and no doubt: skipped
        ("You'll get a text once it's there.", False),
        # a doubt in the same sentence keeps the match (sentence_lacks fails)
        ("You'll get a text once it's there, maybe.", True),
        # a doubt in another sentence does not count: the match's sentence lacks it
        ("Maybe it is late. You'll get a text once it's there.", False),
        # no tie: nothing to skip
        ("You'll get a text about it.", True),
    ],
)
def test_sentence_lacks_holds_when_the_match_sentence_has_no_match(
    tmp_path: Path, annotator: Annotator, text: str, fires: bool
) -> None:
    nudges = _agent_says(
        tmp_path,
        annotator,
        "  will-text: [get a text]\n  tie: [once it's there]\n  doubt: [maybe]\n",
        LACKS_SKIP_RULE,
        text,
    )
    assert bool(nudges) is fires, (text, nudges)
