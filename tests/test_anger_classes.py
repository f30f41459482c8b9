"""The default packs' 'angry' tone on classes of anger read from how a sentence is built
(rules/common.yaml: a verdict on the service or its people, a vow not to come back, a question
that blames, sarcasm framed as praise, heat on a weak grievance), each with its near misses.

A customer's text alone, through the real annotator and signals stage (no audio: the tone is
read from the words); and angry-no-apology's reading of a turn that comes over to us from another
company, through the real engine on a two-turn call."""

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
    # a verdict on the people who serve, or on the service
    "The lady at the desk was arrogant and dismissive with me.",
    "Lousy support again from your billing line.",
    "Honestly the whole booking process was a total fail.",
    # a vow not to come back, said as the outcome
    "Never going back to that branch, not after today.",
    "Fine, I'll bank elsewhere then.",
    # a question that blames
    "How do you expect people to read a bill this small?",
    "Why is my broadband still dropping after three engineer visits?",
    "Is it too much to ask for a working lift in the station?",
    "Gonna refund me this week or nah",
    # sarcasm: praise framed around a failure
    "Love how the app crashed right as I paid.",
    "Well done, the tram is late for the fourth morning.",
    # a verdict on what the company says, "BS" as a verdict, its word quoted back, "shame!"
    "Contradictory information from your billing team, twice.",
    "that's bs, my line was down all night",
    "So you call this 'express' shipping?",
    "Late again. Shame on you!",
    # heat on a weak grievance
    "Emailed the landlord office for weeks!!! Nobody ever replies.",
    "Still no dial tone!!",
    # a hashtag that carries the anger, whole, opening or closing a tag, or a run saying nothing came
    "Charged the cancellation fee anyway #theft",
    "Third bag lost this year #NeverAgainAirline",
    "Router down all weekend #BroadbandFail",
    "Asked for a callback a week ago #still #nothing",
    # one word in capitals as a verdict or a demanded outcome
    "The engineer gave us UNTRUE dates, twice.",
    "I want the direct debit TERMINATED.",
    # the company said not to care, in the third person
    "The landlord portal obviously does not care about tenants.",
    "Two months of this and the bank doesn't care.",
    "Nobody at the depot even seems to care where my parcel went.",
    # a feeling stated with an unsoftened demand
    "Arrived smashed. I'm gutted. I want a full refund.",
]

CALM = [
    # near misses: a verdict negated or about a thing, plain questions, praise with thanks, a
    # calm report of a delay, an eager "??"
    "The staff weren't rude at all, just rushed.",
    "Poor reception upstairs, does the booster help?",
    "I'm going back to the shop on Monday to collect it.",
    "Do you expect the price to drop after the holidays?",
    "Why is the old logo still on the receipt?",
    "Well done to the driver, he was early and very kind, thanks!",
    "Love how easy the new app is.",
    "I called twice last week and nobody called back, could you look at my claim?",
    "Will it be in stock again next week??",
    "My order has been delayed for two days, any news?",
    "What a shame, I missed the sale.",
    "I have a BS in chemistry, do you hire lab staff?",
    "Can I pay by 'bank transfer' on the site?",
    # near misses of the hashtag, capitals, indifference and feeling-with-demand classes
    "Booked the lake trip for June #travel #family",
    "Beware of fake delivery texts going round #FraudAlert",
    "Fantastic crew on the night flight #no #complaints",
    "Not a #BroadbandFail this time, the engineer sorted it in ten minutes.",
    "Which HDMI port does the PS4 need for 4K?",
    "HELP I'm FREAKING OUT, my passport is in the taxi",
    "Was my order CANCELLED by mistake?",
    "My daughter doesn't care what colour the phone case is.",
    "I'm a little disappointed it's sold out, could you refund the preorder please?",
]


# Classes added from the hand-written red-team set (bench/data/anger_redteam.jsonl, half A;
# rules/common.yaml anger-repeats … anger-disapproval): new sentences, not the set's own.
RED_TEAM_ANGRY = [
    "The modem dropped out for the fifth time tonight.",
    "Second time this month the bin collection skipped our street.",
    "Honestly I keep getting cut off halfway through the call.",
    "Is anybody even reading the complaints inbox?",
    "What am I paying for when the app never loads",
    "Those booking fees are ripping everyone off.",
    "You moved my appointment on purpose, admit it.",
    "Pay it back by Friday or I'm cancelling the card.",
    "Congrats on the redesign, the checkout is broken now.",
    "Waited TWO hours at the depot for nothing.",
    "90 minutes in the queue!!! for a form",
    "smh, another price rise on the same plan",
]

RED_TEAM_CALM = [
    "I tried the reset button three times, any other idea?",
    "Second time this month I've ordered your coffee, love it, thanks!",
    "Is anybody working at the counter on bank holidays?",
    "Do you have a branch or do I have to post it?",
    "The armed robbery near the branch was on the news, are you open today?",
    "I didn't change the setting on purpose, can you reset it?",
    "Congrats on the new store, looks great!",
    "OUR NEW SOFA ARRIVED TWO DAYS EARLY, thank you!!",
    "PLEASE HELP, my card is stuck in the machine",
    "Some moron hacked my account and sent garbage to my friends, how do I lock it?",
    "I'm furious with myself for missing the deadline, can I still apply?",
    "40 minutes later it arrived!! thanks so much",
]


# Classes added from twcs batch 4 (rules/common.yaml: a service cut off for a stated time, paying
# for nothing, the price paid held against what came of it, cheating said of the company,
# sarcastic thanks for a change that broke something, a question doubting the company tries,
# distrust and fakes sold, anger in another language, an ogre mask), each with its near misses.
TWCS4_ANGRY = [
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

TWCS4_CALM = [
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


@pytest.mark.parametrize("text", ANGRY + RED_TEAM_ANGRY + TWCS4_ANGRY)
def test_anger_classes_read_as_angry(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) == "angry"


@pytest.mark.parametrize("text", CALM + RED_TEAM_CALM + TWCS4_CALM)
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
