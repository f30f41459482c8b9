"""The default packs' 'angry' tone on classes of anger read from how a sentence is built
(rules/common.yaml: a verdict on the service or its people, a vow not to come back, a question
that blames, sarcasm framed as praise, heat on a weak grievance), each with its near misses.

A customer's text alone, through the real annotator and signals stage (no audio: the tone is
read from the words)."""

from __future__ import annotations

import pytest

from rapport_assist.annotate import Annotator
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


@pytest.mark.parametrize("text", ANGRY)
def test_structural_anger_classes_read_as_angry(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) == "angry"


@pytest.mark.parametrize("text", CALM)
def test_their_near_misses_stay_calm(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) != "angry"


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


@pytest.mark.parametrize("text", RED_TEAM_ANGRY)
def test_red_team_classes_read_as_angry(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) == "angry"


@pytest.mark.parametrize("text", RED_TEAM_CALM)
def test_red_team_near_misses_stay_calm(text: str, rules, annotator: Annotator) -> None:
    assert tone_of(text, rules, annotator) != "angry"
