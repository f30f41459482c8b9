"""Readings fixed on terse written brand replies (Kaggle twcs 2017 threads, issue 20): an answer
repeating a question's words is no restatement (``reflects_other`` reads what the other side
told, not asked); "you still have to" is an order; "glad you got to" is no order; "didn't know
where to ask" leads into a request, not a complaint; "Get started here:" waits on the customer.
A small pack for the engine reading, the default packs for the rest; spaCy's parse is real."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine, RuleSet, default_rules_dir, load_rules
from rapport_assist.types import Nudge, Speaker, Utterance

ECHO = textwrap.dedent("""\
    version: 1
    lexicons:
      order: [you need to, you have to]
      echo-ignore: [get, have, go, do, make, need, please, thanks]
    rules:
      - id: order
        title: An order
        severity: low
        why: test
        when:
          speaker: agent
          says: {lexicon: order, skip_if: [{reflects_other: {min_shared: 2}}]}
        cooldown_s: 0
        message: "{quote}"
    """)


@pytest.fixture(scope="module")
def defaults() -> RuleSet:
    return load_rules([default_rules_dir()])


def run(ruleset: RuleSet, annotator: Annotator, turns: list[tuple[str, str]]) -> list[Nudge]:
    engine = RuleEngine(ruleset)
    engine.start_call()
    out: list[Nudge] = []
    for i, (who, text) in enumerate(turns):
        utt = Utterance(i, Speaker(who), text, 3.0 * i, 3.0 * i + 2.0, timing_estimated=True)
        out.extend(engine.on_utterance(annotator.annotate(utt)))
    out.extend(engine.finish(3.0 * len(turns)))
    return out


def rules_fired(ruleset: RuleSet, annotator: Annotator, turns: list[tuple[str, str]], rule: str) -> list[Nudge]:
    return [n for n in run(ruleset, annotator, turns) if n.rule == rule]


@pytest.mark.parametrize(
    "customer, fires",
    [
        # they told it: said back, it restates their situation
        ("My cousin's wedding is in Denver on Wednesday morning.", False),
        # they asked it: the same words in the reply answer the question
        ("Can I still reach Denver before the wedding on Wednesday?", True),
        # a statement and a question: the statement's words count
        ("The wedding is in Denver on Wednesday. Can I still make it?", False),
        # asked by its word order, typed without the "?": still a question, its words answered
        ("can I still reach Denver before the wedding on Wednesday", True),
        ("do I have to fly into Denver for the wedding on Wednesday", True),
        # a statement typed in lower case stays a statement
        ("my cousin's wedding is in Denver on Wednesday morning", False),
    ],
)
def test_reflects_other_counts_what_the_other_side_told_not_asked(
    tmp_path: Path, annotator: Annotator, customer: str, fires: bool
) -> None:
    path = tmp_path / "echo.yaml"
    path.write_text(ECHO, encoding="utf-8")
    turns = [("customer", customer), ("agent", "So you need to be in Denver on Wednesday for the wedding.")]
    assert bool(run(load_rules([path]), annotator, turns)) is fires


@pytest.mark.parametrize(
    "turns, rewrite",
    [
        ([("agent", "Your claim is logged, but you still have to upload the photos of the damage.")], "Let's upload"),
        ([("agent", "Okay. You'll first need to unlock the phone with your old code.")], "Let's unlock"),
        (
            [
                ("customer", "Does the booking site let me split the deposit into two payments?"),
                ("agent", "It does! You need to split the deposit on the payment page."),
            ],
            "Let's split",
        ),
    ],
)
def test_you_not_we_orders_with_an_adverb_and_answers_to_questions(
    annotator: Annotator, defaults: RuleSet, turns: list[tuple[str, str]], rewrite: str
) -> None:
    nudges = rules_fired(defaults, annotator, turns, "you-not-we")
    assert len(nudges) == 1
    assert rewrite in nudges[0].message


@pytest.mark.parametrize(
    "text",
    [
        "We're thrilled you got to try the pumpkin bread before it sold out!",
        "Hope you got to relax a little on the ride home.",
        "It looks like the shuttle had left when you got to the terminal.",
    ],
)
def test_got_to_as_a_past_chance_or_an_arrival_is_no_order(annotator: Annotator, defaults: RuleSet, text: str) -> None:
    assert rules_fired(defaults, annotator, [("agent", text)], "you-not-we") == []


def test_a_link_to_start_from_makes_what_follows_wait_on_the_customer(annotator: Annotator, defaults: RuleSet) -> None:
    waits = "Get started here: your request will be processed in the secure portal."
    assert rules_fired(defaults, annotator, [("agent", waits)], "uncommitted-promise") == []
    own = "Thanks! We'll get started on the return and send you the label."
    assert rules_fired(defaults, annotator, [("agent", own)], "uncommitted-promise")


def test_not_knowing_where_to_ask_is_no_complaint(annotator: Annotator, defaults: RuleSet) -> None:
    ask = (
        "Good morning, I'm travelling with my elderly father next Tuesday and he uses a walker, and I "
        "didn't know where to ask about this, so could someone meet us at the front entrance and take "
        "him through security to the gate please?"
    )
    fault = (
        "Good morning, I booked assistance for my elderly father last Tuesday and nobody met us at the "
        "entrance, we waited forty minutes, I didn't know where to ask, and he missed the flight because "
        "security would not let him through with his walker."
    )
    reply = ("agent", "We'd be glad to help. What's the booking reference?")
    assert rules_fired(defaults, annotator, [("customer", ask), reply], "missed-reflection") == []
    assert rules_fired(defaults, annotator, [("customer", fault), reply], "missed-reflection")


@pytest.mark.parametrize(
    "text, fires",
    [
        # checking and finding out, said as the company's next action (twcs batch 2)
        ("We can't reproduce it here. I'll still be checking with the lab to find out more.", True),
        ("Thanks for the heads-up, we'll check on the delivery route for your street.", True),
        ("Thanks, we'll find out what happened to the voucher.", True),
        # ...with a time, or after an order to report it first: no open promise
        ("I'll check with the lab and let you know by noon tomorrow.", False),
        ("Please report the fault through our help page: and we'll look into it.", False),
        ("Please restart the box and we'll run a line test from our side.", False),
        # "you can confirm" tells how; the promise after it is still the company's own
        ("You can confirm the order is cancelled in your account. The hold will be released by your bank.", True),
    ],
)
def test_promises_of_checking_and_reports_the_customer_makes_first(
    annotator: Annotator, defaults: RuleSet, text: str, fires: bool
) -> None:
    assert bool(rules_fired(defaults, annotator, [("agent", text)], "uncommitted-promise")) is fires


@pytest.mark.parametrize(
    "text, fires",
    [
        # a move of the talk to another channel, or meeting us there first (twcs batch 3)
        ("Thanks, your message came through and we'll continue in DM.", False),
        ("Join us in a private chat and we'll sort it out together.", False),
        ("We got your DM and will continue from there.", False),
        # continuing the work itself is still a promise
        ("We'll continue to look into the refund for you.", True),
    ],
)
def test_a_move_to_another_channel_is_no_promise(
    annotator: Annotator, defaults: RuleSet, text: str, fires: bool
) -> None:
    assert bool(rules_fired(defaults, annotator, [("agent", text)], "uncommitted-promise")) is fires
