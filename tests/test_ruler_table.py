"""The attribute ruler through a lookup table (``ruler_table``) annotates exactly as spaCy's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapport_assist.models import load_spacy
from rapport_assist.ruler_table import TableRuler
from spacy_support import stock_pipeline

DEMO_TRANSCRIPT = Path(__file__).resolve().parents[1] / "src" / "rapport_assist" / "data" / "demo_call.jsonl"

# Words the English ruler has exceptions for: pronoun-like nouns, modals, "'d", "ai n't",
# "gon na", "got ta", "let 's", "c'm on", "y' all", expletive "there is", "gets"/"got",
# auxiliaries, determiners used as pronouns, spaces.
TEXTS = [
    "Something is wrong and nobody, not anyone, has told me anything about it.",
    "I'd say you could, and we might, but they must and she should.",
    "Ain't nobody gonna call me back, y'all gotta be kidding. Let's go, c'mon.",
    "There is a fee and there's a second one; there are two, there were three.",
    "He gets it, she got it, that one is mine, those are yours, this costs more.",
    "I  can't   log in.\n\nThe page  says error 404 , then it   freezes .",
    "Whether or not it works, I'll call since it's late, though it's fine tho.",
    "Um, uh, so, my my card was charged twice on March 3rd, for $49.99!",
]


def readings(docs) -> list[list[tuple]]:
    return [[(t.text, t.pos_, t.tag_, t.lemma_, str(t.morph), t.dep_) for t in doc] for doc in docs]


@pytest.fixture(scope="module")
def pipelines():
    return load_spacy(), stock_pipeline()


def test_the_table_annotates_like_spacys_matcher(pipelines) -> None:
    ours, stock = pipelines
    texts = TEXTS + [json.loads(line)["text"] for line in DEMO_TRANSCRIPT.read_text(encoding="utf-8").splitlines()]
    assert readings(ours.pipe(texts)) == readings(stock.pipe(texts))
    table = ours.get_pipe("attribute_ruler").match.__self__
    assert isinstance(table, TableRuler)
    # every pattern of the English ruler goes through the table (the fast path is the one used)
    assert table.matcher_rules == 0 and table.table_patterns >= 170
    # and the exceptions were exercised: "something" is a pronoun, "gon" is lemmatized as "go"
    words = {t.lower_: t for doc in ours.pipe(TEXTS) for t in doc}
    assert words["something"].pos_ == "PRON" and words["gon"].lemma_ == "go" and words["'d"].lemma_ == "would"


def test_the_table_matches_whatever_the_matcher_matches_on_a_custom_ruler() -> None:
    """Patterns the table cannot hold (operators, other attributes) stay on spaCy's Matcher,
    and the two kinds together apply in rule order, later rules winning."""
    import spacy

    def build():
        nlp = spacy.blank("en")
        ruler = nlp.add_pipe("attribute_ruler")
        ruler.add([[{"LOWER": "refund"}]], {"LEMMA": "money-back"})
        ruler.add([[{"LOWER": {"IN": ["refund", "credit"]}}]], {"LEMMA": "credit-ish"})  # later: wins on "refund"
        ruler.add([[{"LOWER": "call"}, {"LOWER": "back"}]], {"LEMMA": "callback"}, index=1)
        ruler.add([[{"LOWER": "very", "OP": "+"}, {"LOWER": "late"}]], {"LEMMA": "LATE"}, index=-1)  # an operator
        ruler.add([[{"LENGTH": {">=": 12}}]], {"LEMMA": "long-word"})  # another attribute
        ruler.add([[{"LOWER": {"REGEX": "^\\d+$"}}]], {"LEMMA": "<number>"})
        ruler.add([[{"LOWER": {"NOT_IN": ["the", "a"]}, "IS_SPACE": False}]], {"NORM": "not-article"})
        return nlp

    plain, fast = build(), build()
    table = TableRuler(fast.get_pipe("attribute_ruler"))
    fast.get_pipe("attribute_ruler").match = table.match
    assert table.matcher_rules == 2 and table.table_patterns == 5
    text = "Please call back about the refund and the credit, it is very very late, 12 days, extraordinarily."
    doc_plain, doc_fast = plain(text), fast(text)
    assert [(t.lemma_, t.norm_) for t in doc_fast] == [(t.lemma_, t.norm_) for t in doc_plain]
    lemmas = {t.text: t.lemma_ for t in doc_fast}
    assert lemmas["refund"] == "credit-ish" and lemmas["back"] == "callback" and lemmas["late"] == "LATE"
    assert lemmas["12"] == "<number>" and lemmas["extraordinarily"] == "long-word"


def test_annotations_without_spans_apply_like_spacys_and_keep_its_error() -> None:
    """The ruler's matches applied without a Span each: negative indexes count from the match's
    end, later rules win, and an index outside the match raises spaCy's ValueError."""
    import spacy

    from rapport_assist.ruler_table import _Annotations

    def build():
        nlp = spacy.blank("en")
        ruler = nlp.add_pipe("attribute_ruler")
        ruler.add([[{"LOWER": "call"}, {"LOWER": "back"}]], {"LEMMA": "callback"}, index=-1)
        ruler.add([[{"LOWER": "call"}, {"LOWER": "back"}]], {"LEMMA": "ring"}, index=0)
        ruler.add([[{"LOWER": "back"}]], {"LEMMA": "later-wins"})
        ruler.add([[{"LOWER": "the"}, {"LOWER": "refund"}]], {"NORM": "refund!"}, index=1)
        return nlp

    plain, fast = build(), build()
    ruler = fast.get_pipe("attribute_ruler")
    ruler.set_annotations = _Annotations(ruler)
    text = "Please call back about the refund, call back today."
    assert [(t.lemma_, t.norm_) for t in fast(text)] == [(t.lemma_, t.norm_) for t in plain(text)]
    lemmas = [t.lemma_ for t in fast(text)]
    assert lemmas[1:3] == ["ring", "later-wins"] and fast(text)[5].norm_ == "refund!"

    bad = build()
    bad_ruler = bad.get_pipe("attribute_ruler")
    bad_ruler.add([[{"LOWER": "today"}]], {"LEMMA": "x"}, index=3)  # outside a one-token match
    bad_ruler.set_annotations = _Annotations(bad_ruler)
    stock = build()
    stock.get_pipe("attribute_ruler").add([[{"LOWER": "today"}]], {"LEMMA": "x"}, index=3)
    with pytest.raises(ValueError) as ours_error:
        bad(text)
    with pytest.raises(ValueError) as stock_error:
        stock(text)
    assert str(ours_error.value) == str(stock_error.value)


def test_the_lemma_cache_is_used_and_gives_spacys_lemmas(pipelines) -> None:
    """Each (word, part of speech, morphology) is lemmatized once; a word seen again (a base form
    spaCy's own cache leaves out, an inflected one it keeps) gets the lemma spaCy gives it."""
    from rapport_assist.ruler_table import LemmaCache

    ours, stock = pipelines
    cache = ours.get_pipe("lemmatizer").lemmatize
    assert isinstance(cache, LemmaCache)
    texts = ["The agents were calling and the agent calls back.", "Calls, agents, calling: the agent called."] * 2
    assert readings(ours.pipe(texts)) == readings(stock.pipe(texts))
    assert readings(ours(t) for t in texts) == readings(stock(t) for t in texts)  # one at a time (live)
    agent = next(t for t in ours(texts[0]) if t.text == "agent")
    assert cache.known[(agent.orth, agent.pos, agent.morph.key)] == ["agent"]
