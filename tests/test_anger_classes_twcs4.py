"""The default packs' 'angry' tone on the classes added from twcs batch 4 (rules/common.yaml: a
service cut off for a stated time, paying for nothing, the price paid held against what came of
it, cheating said of the company, sarcastic thanks for a change that broke something, a question
doubting the company tries, distrust and fakes sold, anger in another language, an ogre mask),
each with its near misses; and
angry-no-apology's reading of a turn that comes over to us from another company.

A customer's text alone, through the real annotator and signals stage (no audio: the tone is
read from the words); the rule through the real engine on a two-turn call."""

from __future__ import annotations

import pytest

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine
from rapport_assist.signals import SignalTracker
from rapport_assist.types import Speaker, Utterance


def tone_of(text: str, rules, annotator: Annotator) -> str:
    tracker = SignalTracker(rules)
    utt = Utterance(0, Speaker.CUSTOMER, text, 0.0, 3.0)
    au, _ = tracker.on_utterance(annotator.annotate(utt))
    return au.utterance.signals.tone.label


ANGRY = [
    # a service cut off for a stated time
    "The landline has had no dial tone for nearly a fortnight.",
    "Third day without power at the shop and nobody has come.",
    "wifi been down since Sunday, great",
    # paying for nothing, or for a service that fails
    "I'm basically paying for a router light show rather than internet.",
    "Why are we paying for the premium tier when the app logs us out hourly?",
    # the price paid held up against what came of it
    "I paid enough for the priority lane and still queued an hour.",
    # cheating said of the company
    "Lured us in with free installation and then billed us for it.",
    "Half the price at the till was fees. Is that a mistake or fraud?",
    # sarcastic thanks for a change that broke something
    "Thanks for resetting my modem, now nothing loads at all.",
    # a question doubting the company tries
    "Did you even look at the photo I sent?",
    "How is this helpful, I asked about my refund.",
    # distrust and fakes sold
    "I've lost all trust in your delivery promises.",
    "You sent me a counterfeit watch strap.",
    # anger in another language, an ogre mask
    "Servicio pesimo, llevo un mes esperando.",
    "bekaar app, payment fail hua",
    "refund still not here 👹",
]

CALM = [
    # a stated time with nothing cut off, a gap over, a question about a past gap, a plan's length
    "I've been with you for six years, is there a loyalty offer?",
    "The signal was down for a week in June but it's fixed now.",
    "I was without wifi for three days on the ferry, will I be charged for data?",
    "Can you hold my parcels for two weeks while I'm away?",
    "Put down a deposit for the sofa a week ago, when will it ship?",
    # paying asked about
    "Can I pay for the year instead of monthly?",
    # the price asked about
    "Is it worth paying good money for the premium seats?",
    # fraud by someone else
    "How do I report a fraudulent charge on my card?",
    # thanks for a change that worked, or for a reply
    "Thanks for updating my address, the parcel came to the right door.",
    "Thank you for upgrading my phone, still loving the camera.",
    # a plain request or question
    "Are you able to help me change my seat?",
    "Can I trust this link, it says it's from you?",
    "Is this listing a fake? The logo looks odd.",
    # another language, calm; a Spanish word in English
    "Gracias, ya funciona el router.",
    "Basura day is Thursday, can the driver come Friday?",
]


@pytest.mark.parametrize("text", ANGRY)
def test_twcs4_anger_classes_read_as_angry(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) == "angry"


@pytest.mark.parametrize("text", CALM)
def test_their_near_misses_stay_calm(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) != "angry"


def angry_nudges(rules, annotator: Annotator, customer: str, agent: str) -> list:
    engine = RuleEngine(rules)
    engine.start_call()
    out = []
    for i, (who, text) in enumerate([("customer", customer), ("agent", agent)]):
        utt = Utterance(i, Speaker(who), text, 3.0 * i, 3.0 * i + 2.0, timing_estimated=True)
        out.extend(engine.on_utterance(annotator.annotate(utt)))
    out.extend(engine.finish(6.0))
    return [n for n in out if n.rule == "angry-no-apology"]


@pytest.mark.parametrize(
    "customer, fires",
    [
        # anger at the company the customer leaves, in a turn that comes over to us
        ("You just gained a customer, my old broadband firm was useless for a year.", False),
        ("Switching over to you lot, the other airline lost my bag twice, ridiculous.", False),
        # the same anger aimed at us, and a customer lost rather than gained
        ("Your broadband has been useless for a year.", True),
        ("You just lost a customer, ridiculous service.", True),
    ],
)
def test_anger_at_the_company_left_behind_is_not_at_us(rules, annotator: Annotator, customer: str, fires: bool) -> None:
    nudges = angry_nudges(rules, annotator, customer, "Could you send us a DM with the details?")
    assert bool(nudges) is fires
