"""The rule lemmatizer's word index held as ``models.JoinedWords`` (one string per part of speech
instead of 91,000 string objects) answers every membership test as the package's lists do."""

from __future__ import annotations

import importlib

import pytest

from rapport_assist.models import SPACY_MODELS, JoinedWords, load_spacy


def _stock_index() -> dict[int, list[str]]:
    for name in SPACY_MODELS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        nlp = module.load(exclude=["ner", "senter", "parser", "tagger", "tok2vec", "attribute_ruler"])
        table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
        return {key: list(words) for key, words in table.items()}
    pytest.skip("no spaCy English model installed")


def test_joined_words_answers_in_as_the_list_does():
    words = ["run", "running", "a", "ox", "oxen", "co-op", "naïve", "x.y"]
    joined = JoinedWords(words)
    near = ["", "ru", "un", "runn", "Run", "run\nrunning", "\n", "a\n", "o", "oxe", "co", "op", "naive", "x", "y"]
    probes = [*words, *near]
    assert [p in joined for p in probes] == [p in words for p in probes]
    assert 3 not in joined and None not in joined
    assert len(joined) == len(words) and list(joined) == words and bool(joined)
    assert not JoinedWords([]) and list(JoinedWords([])) == [] and "" not in JoinedWords([])
    with pytest.raises(ValueError):
        JoinedWords(["a", "b\nc"])
    with pytest.raises(ValueError):
        JoinedWords(["a", ""])


def test_the_loaded_pipelines_lemma_index_holds_the_packages_words_and_no_others():
    stock = _stock_index()
    table = load_spacy().get_pipe("lemmatizer").lookups.get_table("lemma_index")
    assert sorted(table.keys()) == sorted(stock.keys()) and sum(map(len, stock.values())) > 80_000
    for key, words in stock.items():
        joined = table[key]
        assert isinstance(joined, JoinedWords) and list(joined) == words
        assert all(word in joined for word in words[::23])  # (list(joined) == words: the same words)
        # forms the lemmatizer's suffix rules make that are not words: none is found
        others = {w + s for w in words[::97] for s in ("s", "e", "ing")} | {w[:-1] for w in words[::97]}
        others -= set(words)
        assert others and not any(form in joined for form in others)


def test_lemmas_are_the_stock_pipelines():
    nlp = load_spacy()
    stock = {"ner", "senter"}
    for name in SPACY_MODELS:
        try:
            ref = importlib.import_module(name).load(exclude=sorted(stock))
            break
        except ImportError:
            continue
    else:
        pytest.skip("no spaCy English model installed")
    text = (
        "The managers were running late, and the oxen grazed; she'd fixed the radiators' leaks by 3 pm. "
        "We apologize for the inconveniences: refunds are processed within studies of the geese and mice. "
        "He wrote, is writing, and has written better worded replies than the boxes' labels showed."
    )
    ours, theirs = nlp(text), ref(text)
    assert [t.text for t in ours] == [t.text for t in theirs]
    assert [t.lemma_ for t in ours] == [t.lemma_ for t in theirs]
