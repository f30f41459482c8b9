"""The ``claim`` finder: a grievance the customer's words claim about the company, read from
spaCy's parse (rules/README.md, "Claims"), run through the real pipeline on a small inline pack."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.errors import RuleError
from rapport_assist.pipeline import CallPipeline
from rapport_assist.rules import RuleEngine, RuleSet, load_rules
from rapport_assist.types import Nudge, Speaker, Utterance

PACK = textwrap.dedent("""\
    version: 1
    lexicons:
      negation: [not, never, no, nothing, nobody]
      conditional: [if, unless]
      company: [you, u, yall, your, ur]
      staff: [team, staff, guys, people, office, support]
      wrongs: [refuse, deny, ignore, lie, mislead, overcharge]
      duties: [answer, reply, care, help, let, fix, do]
      enables: [let, allow, help, put, make]
      harms: [gouging, scalpers, fraud, risk, impossible]
      prevents: [avoid, stop, report]
      fixes: [fix, resolve, repair]
      victims: [I, we]
      unasked: [warning, permission, telling, notice]
      contacts: [call, email, write, message]
      repeats: [repeatedly, twice, several, many]
    rules:
      - id: claim
        title: T
        severity: low
        why: W.
        message: M
        when:
          speaker: customer
          says:
            claim:
              by: company
              staff: staff
              wrongs: wrongs
              duties: duties
              enables: enables
              harms: harms
              prevents: prevents
              fixes: fixes
              victims: victims
              unasked: unasked
              contacts: contacts
              repeats: repeats
            skip_if:
              - conditional: {before: 3}
    """)


@pytest.fixture()
def ruleset(tmp_path: Path) -> RuleSet:
    path = tmp_path / "claims.yaml"
    path.write_text(PACK, encoding="utf-8")
    return load_rules([path])


def fired(ruleset: RuleSet, annotator: Annotator, texts: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Each text as one customer utterance (agent lines between them); the texts the rule fired
    on, with the words it quotes."""
    utts = []
    for i, text in enumerate(texts):
        utts.append(Utterance(2 * i, Speaker.CUSTOMER, text, 4.0 * i, 4.0 * i + 1.5))
        utts.append(Utterance(2 * i + 1, Speaker.AGENT, "Okay.", 4.0 * i + 2.0, 4.0 * i + 2.5))
    events = CallPipeline(annotator, RuleEngine(ruleset)).run(utts)
    return [(texts[n.utterance_index // 2], n.evidence[0].matched) for n in events if isinstance(n, Nudge)]


def test_claims_about_the_company_fire(ruleset: RuleSet, annotator: Annotator) -> None:
    texts = [
        "Is there a reason you refuse to refund the deposit?",  # a refusal inside a question that reproaches
        "Why does your team keep ignoring my letters?",  # asked why: still a claim
        "You never answer the phone at the depot.",  # a duty not done
        "Y'all won't even let me talk to a person.",  # negated on the way, "Y'all" as one word
        "It's sad that you allow resellers to get away with gouging.",  # a harm let happen
        "You made it impossible to cancel online.",  # an obstacle put up
        "I wrote to the office twice and got denied.",  # a wrong done to the customer
        "The leak still hasn't been fixed.",  # a fix not made, whoever the subject
        "Your staff changed my plan without my permission.",  # done without asking
        "I have emailed you several times about the boiler.",  # repeated contact to the company
        "Refuses to refund my ticket.",  # a sentence opening on its verb (a dropped @handle)
        "Is doing nothing to help.",  # ...a duty its object negates
        "So you can't do anything about it?",  # no auxiliary before the subject: a claim
        "why do you refuse to refund the deposit",  # asked why, without "?": still a claim
    ]
    out = fired(ruleset, annotator, texts)
    assert [t for t, _ in out] == texts
    assert out[0][1] == ("you refuse",)
    assert out[6][1] == ("I wrote to the office twice and got denied",)


def test_what_is_not_a_claim_stays_quiet(ruleset: RuleSet, annotator: Annotator) -> None:
    texts = [
        "Do you refuse card payments under five pounds?",  # asked about, not claimed
        "do you refuse card payments under five pounds",  # ...by its word order, written without "?"
        "Can your team fix my router today?",
        "You didn't refuse my claim, the broker did.",  # a wrong denied
        "The shop refused my return, what can I do?",  # a third party
        "Someone keeps trying to sign in and they won't stop.",  # an intruder
        "Your app won't let me change my photo.",  # a thing's fault, not the company's conduct
        "Won't let me sign in since the update.",  # ...with the subject dropped
        "You did nothing wrong, the courier lost it.",  # a judgement, not a duty failed
        "Thanks, you didn't have to help me this much.",  # the negation is of "have to"
        "Your team helped me avoid a fraud last year.",  # a harm prevented
        "If you don't answer by noon I'll call the branch.",  # conditional (skip_if)
        "I returned it three weeks ago and still haven't got the refund.",  # a calm wait
        "I called four times and nobody called back.",  # repeated contact, but not to "you"
        "I've watched your show so many times.",  # not a contact
        "Has the outage been fixed yet?",  # asked about
        "I understand you can't do anything about the weather.",  # granted, not claimed
    ]
    out = fired(ruleset, annotator, texts)
    assert out == []


def test_only_customers_claim(ruleset: RuleSet, annotator: Annotator) -> None:
    utts = [Utterance(0, Speaker.AGENT, "You refuse to accept the terms, so I can't proceed.", 0.0, 2.0)]
    events = CallPipeline(annotator, RuleEngine(ruleset)).run(utts)
    assert not [e for e in events if isinstance(e, Nudge)]


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ("{by: company}", "claim needs at least one kind of verb"),
        ("{by: company, enables: enables}", "'enables' and 'harms' go together"),
        ("{by: company, fixes: fixes, victims: victims}", "'victims' reads the 'wrongs' or 'contacts' verbs"),
        (
            "{by: company, wrongs: wrongs, victims: victims, contacts: contacts}",
            "'contacts' needs 'repeats' and 'victims'",
        ),
        ("{by: company, wrongs: wrongz}", "wrongz"),
    ],
)
def test_claim_errors_say_what_to_fix(tmp_path: Path, claim: str, message: str) -> None:
    text = (
        PACK.split("\nrules:")[0]
        + "\n"
        + textwrap.dedent(f"""\
        rules:
          - id: claim
            title: T
            severity: low
            why: W.
            message: M
            when: {{speaker: customer, says: {{claim: {claim}}}}}
        """)
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        load_rules([path])
    assert any(message in p.message for p in exc.value.errors)  # type: ignore[attr-defined]
