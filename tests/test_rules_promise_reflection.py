"""What the promise and reflection moments read (issue 20): future actions in the company's voice,
offers that wait on the customer (``after_request``), paraphrase (``reflects`` with ``min_verbs``,
``problem``, ``dense_min``), measured-only seconds in ``min_length``, and the thresholds a team
overrides. Small packs written here; spaCy's parse is real."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator, count_words
from rapport_assist.errors import RuleError
from rapport_assist.rules import RuleEngine, RuleSet, default_rules_dir, load_rules
from rapport_assist.types import Nudge, Speaker, Utterance

PROMISES = textwrap.dedent("""\
    version: 1
    lexicons:
      acts: [call back, post an update, get back, send, add, forward, escalate]
      asks: [send us, let us know, if you, share, submit, send]
    rules:
      - id: promise
        title: A promise
        severity: low
        why: test
        when:
          speaker: agent
          says:
            future_action: acts
            skip_if: [{after_request: {cues: asks, sentences: 1}}]
        cooldown_s: 0
        message: "{quote}"
    """)

REFLECT = textwrap.dedent("""\
    version: 1
    lexicons:
      wrong: [unable, still, again]
      echo-ignore: [get, have, go, do, make, let, know, help, please, thanks, sorry]
    rules:
      - id: reflect
        title: Reflect
        severity: low
        why: test
        params: {words: 12, shared: 2, verbs: 1, dense: 3, share: 0.5}
        when: {speaker: customer, min_length: {words: $words, seconds: 2}}
        expect:
          speaker: agent
          reflects: {min_shared: $shared, min_verbs: $verbs, problem: wrong, dense_min: $dense, dense_share: $share}
          within: {turns: 1}
        cooldown_s: 0
        message: reflect
    """)

COMPLAINT = (
    "The heater in the back bedroom shuts off every night around two and the room gets freezing "
    "even after I changed the batteries in the thermostat."
)


def pack(tmp_path: Path, text: str, name: str = "pack.yaml") -> RuleSet:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_rules([path])


def run(ruleset: RuleSet, annotator: Annotator, turns: list[tuple[str, str]], measured: bool = False) -> list[Nudge]:
    """Turns 2 s each (their times estimated unless ``measured``); every nudge in order."""
    engine = RuleEngine(ruleset)
    engine.start_call()
    out: list[Nudge] = []
    for i, (who, text) in enumerate(turns):
        utt = Utterance(i, Speaker(who), text, 3.0 * i, 3.0 * i + 2.0, timing_estimated=not measured)
        out.extend(engine.on_utterance(annotator.annotate(utt)))
    out.extend(engine.finish(3.0 * len(turns)))
    return out


@pytest.mark.parametrize(
    "text, quote",
    [
        ("We're checking the servers and will post an update once we know more.", "post an update"),
        ("I've asked a specialist to get back to you when she's in.", "get back"),
        ("Our team plans to add offline mode to the app.", "add"),
        ("Your case will be escalated to the billing team.", "escalated"),
        ("We'll forward this as a suggestion to the design team.", "forward"),
        ("If anything changes on our side, we'll send you the new form.", "send"),
    ],
)
def test_promises_in_the_company_voice(tmp_path: Path, annotator: Annotator, text: str, quote: str) -> None:
    nudges = run(pack(tmp_path, PROMISES), annotator, [("agent", text)])
    assert len(nudges) == 1, text
    assert quote in nudges[0].message


@pytest.mark.parametrize(
    "text",
    [
        "Please send us the receipt and we'll get back to you.",  # an order before, same sentence
        "Could you share a screenshot? We'll forward it to the team.",  # a question just before
        "could you share a screenshot we'll forward it to the team",  # ...asked by its word order, no "?"
        "If you submit the form, someone will call you back.",  # "if you": the customer acts first
        "You can share the details here and our team will get back to you.",  # "you can" + a request verb
        "We planned to add it, but the vendor pulled out.",  # a plan in the past
        "We don't plan to add that feature.",  # a plan negated
        "We asked about it to send less mail.",  # no one asked to act
    ],
)
def test_offers_that_wait_on_the_customer_and_non_promises_are_quiet(
    tmp_path: Path, annotator: Annotator, text: str
) -> None:
    assert run(pack(tmp_path, PROMISES), annotator, [("agent", text)]) == [], text


def test_after_request_looks_only_at_the_sentences_it_is_given(tmp_path: Path, annotator: Annotator) -> None:
    text = "Could you share a screenshot? Thanks. We'll forward it to the team."
    assert run(pack(tmp_path, PROMISES), annotator, [("agent", text)])  # the question is 2 sentences back
    wider = pack(tmp_path, PROMISES.replace("sentences: 1", "sentences: 2"), "wider.yaml")
    assert run(wider, annotator, [("agent", text)]) == []


def test_after_request_needs_a_lexicon(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="unknown lexicon 'nope'"):
        pack(tmp_path, PROMISES.replace("cues: asks", "cues: nope"))


@pytest.mark.parametrize(
    "reply, fires",
    [
        ("Sorry about the heater in the bedroom. Here is our guide.", True),  # topic nouns only
        ("Okay, so it shuts off every night. Let's book an engineer.", False),  # a verb of what went wrong
        ("So the heater is still going off in the bedroom. Let's book an engineer.", False),  # beside a problem word
        ("Heater, bedroom, night, room, batteries, thermostat: noted.", False),  # mostly their words
        # the problem word in the sentence after the repeated nouns (a pause written as a full
        # stop) counts; two sentences off it belongs to something else
        ("So the heater in the bedroom, with new parts. And it's still going off.", False),
        ("So the heater in the bedroom, with new parts. Thanks for waiting. It's still early.", True),
        ("What is your postcode?", True),
    ],
)
def test_reflection_is_a_restatement_of_what_went_wrong(
    tmp_path: Path, annotator: Annotator, reply: str, fires: bool
) -> None:
    nudges = run(pack(tmp_path, REFLECT), annotator, [("customer", COMPLAINT), ("agent", reply)])
    assert bool(nudges) is fires, reply


def test_min_length_seconds_count_only_when_measured(tmp_path: Path, annotator: Annotator) -> None:
    short = "My heater keeps shutting off at night."  # 7 words in 2 s: long only by the clock
    ruleset = pack(tmp_path, REFLECT)
    assert run(ruleset, annotator, [("customer", short), ("agent", "What is your postcode?")]) == []
    assert run(ruleset, annotator, [("customer", short), ("agent", "What is your postcode?")], measured=True)


def test_per_line_length_reads_written_lines_one_at_a_time(tmp_path: Path, annotator: Annotator) -> None:
    """Two 8-word lines of one customer are one 16-word turn. Written (untimed), neither line is
    long; spoken (measured, 1 s apart), they are pieces of one long speech."""
    turn_rule = REFLECT.replace("    severity: low\n", "    severity: low\n    unit: turn\n", 1)
    assert "unit: turn" in turn_rule
    ruleset = pack(tmp_path, turn_rule.replace("seconds: 2}", "per_line: true}"))
    halves = [
        ("customer", "The heater shuts off every night around two."),
        ("customer", "The room gets freezing even with new batteries."),
    ]
    reply = ("agent", "What is your postcode?")
    assert run(ruleset, annotator, [*halves, reply]) == []
    assert [n.rule for n in run(ruleset, annotator, [*halves, reply], measured=True)] == ["reflect"]
    assert [n.rule for n in run(ruleset, annotator, [("customer", COMPLAINT), reply])] == ["reflect"]
    joined = pack(tmp_path, turn_rule.replace("seconds: 2}", "per_line: false}"), "joined.yaml")
    assert [n.rule for n in run(joined, annotator, [*halves, reply])] == ["reflect"]


def test_words_are_counted_as_the_labelling_guide_does() -> None:
    assert count_words("good afternoon,I have waited - 4 weeks!! 😡 #fail") == 7
    assert count_words("can't log-in … at 3:30") == 4


def test_the_readme_team_override_sets_the_long_complaint_threshold(tmp_path: Path, annotator: Annotator) -> None:
    complaint = (
        "My phone keeps dropping calls at home, every single call after about two minutes, I have reset "
        "the network settings and swapped the SIM card and it still happens, so I cannot take work calls "
        "from home any more."
    )  # 39 words
    turns = [("customer", complaint), ("agent", "What's the phone number on the account?")]
    defaults = load_rules([default_rules_dir()])
    assert [n.rule for n in run(defaults, annotator, turns) if n.rule == "missed-reflection"]
    team = tmp_path / "team.yaml"
    team.write_text(
        "version: 1\noverrides:\n  - {rule: missed-reflection, params: {long_turn_words: 50}}\n", encoding="utf-8"
    )
    overridden = load_rules([default_rules_dir(), team])
    assert not [n.rule for n in run(overridden, annotator, turns) if n.rule == "missed-reflection"]


@pytest.fixture(scope="module")
def headline() -> RuleSet:
    return load_rules([default_rules_dir()])


@pytest.mark.parametrize(
    "text, fires",
    [
        # "it'll be" as a small recognizer writes it: "all be", "it'll" as "to all"
        ("The parts are in stock, so it all be repaired.", True),
        ("The depot has the parcel and they're on it to all be delivered.", True),
        ("Okay, that all be refunded to the card.", True),
        # "all be" completing a verb of need or wish, said with its time, or asked
        ("The two cheques have to all be endorsed on the back.", False),
        ("I'd like the statements to all be mailed together.", False),
        ("So it all be refunded within five working days.", False),
        ("Would they all be refunded to the same card?", False),
    ],
)
def test_ll_heard_as_all_before_a_passive(headline: RuleSet, annotator: Annotator, text: str, fires: bool) -> None:
    nudges = [n for n in run(headline, annotator, [("agent", text)]) if n.rule == "uncommitted-promise"]
    assert bool(nudges) is fires, text


@pytest.mark.parametrize(
    "pieces, fires",
    [
        # one sentence cut at a pause: "and|but" + a verb shares the agent's "I'll|I can"
        (["I'll open a ticket with the courier", "and send the photos of the box", "They'll call you."], True),
        (["We can log it as a fault", "but tell the engineers it's urgent", "Someone will text you."], True),
        # a stop before "And…", no modal of the agent's, or an order in the same piece: a request
        (["I'll open a ticket with the courier.", "And send the photos of the box.", "They'll call you."], False),
        (["The form is on the website", "and send it back to us", "We'll process it."], False),
        (["I'll open a ticket", "so send the photos of the box", "They'll call you."], False),
    ],
)
def test_a_verb_continuing_the_agents_cut_sentence_is_no_request(
    headline: RuleSet, annotator: Annotator, pieces: list[str], fires: bool
) -> None:
    turns = [("agent", p) for p in pieces] + [("customer", "Okay.")]
    nudges = [n for n in run(headline, annotator, turns) if n.rule == "uncommitted-promise"]
    assert bool(nudges) is fires, pieces


def test_an_action_lexicons_except_phrases_veto_a_future_action(tmp_path: Path, annotator: Annotator) -> None:
    """``except`` under a lexicon read by ``future_action`` vetoes an action it overlaps, as it
    does every other find of the lexicon (it was read by no future action before)."""
    text = PROMISES.replace(
        "  acts: [call back, post an update, get back, send, add, forward, escalate]\n",
        "  acts: {phrases: [call back, send, bring up], except: [bring up the menu]}\n",
    )
    ruleset = pack(tmp_path, text)
    assert run(ruleset, annotator, [("agent", "The link will bring up the menu.")]) == []
    fired = run(ruleset, annotator, [("agent", "Our supervisor will bring up your case with billing.")])
    assert len(fired) == 1 and "bring up" in fired[0].message
    # the veto is the except phrase's, not the action's: the same action elsewhere still fires
    assert len(run(ruleset, annotator, [("agent", "We will send the label and bring up the menu issue.")])) == 1
