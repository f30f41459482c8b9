"""Token patterns matched by ``rules.tokens`` give exactly what spaCy's ``Matcher`` gives."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport_assist.annotate import Annotator
from rapport_assist.rules.features import FeatureExtractor, KeyBits
from rapport_assist.rules.tokens import compile_patterns, supported
from rapport_assist.types import Speaker, Utterance

TEXTS = [
    "You're an idiot, you people are useless!",
    "My name is Dana Whitfield and I've called three times since Tuesday.",
    "Log into the portal, go to returns, choose update, enter the number and upload a check.",
    "I'll send it by 5 pm tomorrow, okay? It's under my name, Mark Wilson.",
    "um so the the router keeps dropping, it's really really slow",
    "See http://help.example.org NOW, it's at HTTP://X.ORG for 42 USD.",
    "",
]
WORDS = ["you", "are", "be", "idiot", "name", "is", "i", "the", "router", "send", "dana", "'s", ",", "it", "really"]
POS = ["PRON", "VERB", "AUX", "NOUN", "PROPN", "ADJ", "ADV", "PUNCT", "DET", "ADP", "CCONJ"]
TAGS = ["PRP", "VB", "VBZ", "NN", "NNP", "JJ", "DT", ","]
DEPS = ["nsubj", "ROOT", "dobj", "conj", "det", "punct", "aux", "compound"]

value_words = st.sampled_from(WORDS)
string_attr = st.one_of(
    st.tuples(
        st.sampled_from(["LOWER", "ORTH", "TEXT", "NORM", "LEMMA", "lower"]),
        st.one_of(
            value_words,
            st.fixed_dictionaries({"IN": st.lists(value_words, min_size=1, max_size=3)}),
            st.fixed_dictionaries({"NOT_IN": st.lists(value_words, min_size=1, max_size=3)}),
            st.fixed_dictionaries({"REGEX": st.sampled_from(["^r", "y$", "[aeiou]{2}", "^.$"])}),
        ),
    ),
    st.tuples(st.just("POS"), st.sampled_from(POS)),
    st.tuples(st.just("TAG"), st.sampled_from(TAGS)),
    st.tuples(st.just("DEP"), st.sampled_from(DEPS)),
    st.tuples(st.sampled_from(["ENT_TYPE"]), st.sampled_from(["PERSON", "DATE", "TIME", ""])),
    st.tuples(st.just("SHAPE"), st.sampled_from(["Xxxxx", "xxxx", "XXX", "dd", "X"])),
    st.tuples(
        st.sampled_from(
            [
                "IS_ALPHA",
                "IS_PUNCT",
                "IS_STOP",
                "IS_TITLE",
                "LIKE_NUM",
                "is_digit",
                "IS_UPPER",
                "IS_LOWER",
                "LIKE_URL",
                "IS_ASCII",
                "IS_CURRENCY",
            ]
        ),
        st.booleans(),
    ),
    st.tuples(
        st.just("LENGTH"),
        st.one_of(
            st.integers(1, 6),
            st.dictionaries(
                st.sampled_from([">=", "<=", ">", "<", "==", "!="]), st.integers(1, 6), min_size=1, max_size=2
            ),
        ),
    ),
)
spec = st.builds(
    lambda attrs, op: {**dict(attrs), **({"OP": op} if op else {})},
    st.lists(string_attr, max_size=2, unique_by=lambda kv: kv[0].upper()),
    st.sampled_from([None, None, "?", "*", "+", "!"]),
)
pattern = st.lists(spec, min_size=1, max_size=4)


@pytest.fixture(scope="module")
def utterances():
    annotator = Annotator()
    extractor = FeatureExtractor((), KeyBits())
    out = []
    for i, text in enumerate(TEXTS):
        au = annotator.annotate(Utterance(i, Speaker.CUSTOMER, text, 0.0, 1.0))
        out.append((au.doc, extractor.features(au)))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patterns=st.lists(pattern, min_size=1, max_size=2))
def test_compiled_patterns_match_what_spacys_matcher_matches(utterances, patterns) -> None:
    from spacy.matcher import Matcher

    assert all(supported(s) for p in patterns for s in p)
    vocab = utterances[0][0].vocab
    compiled = compile_patterns(patterns, vocab)
    assert compiled is not None
    matcher = Matcher(vocab)
    matcher.add("p", patterns)
    for doc, feats in utterances:
        expected = {(s, e) for _, s, e in matcher(doc)}
        assert compiled.matches(feats.token_keys(compiled.columns)) == expected, (doc.text, patterns)
        assert compiled.find(feats) == expected, (doc.text, patterns)  # from the tokens a pattern can start at


@pytest.mark.parametrize(
    "patterns",
    [
        [[{"LIKE_URL": True}]],
        [[{"LIKE_URL": False, "IS_ASCII": True}]],
        [[{"IS_UPPER": True}]],
        [[{"IS_TITLE": True}, {"IS_ALPHA": True}]],
        [[{"IS_LOWER": False, "IS_STOP": True}]],
        [[{"SHAPE": "XXX", "IS_ALPHA": True}]],
        [[{"LIKE_NUM": True}, {"IS_CURRENCY": False}]],
    ],
)
def test_flags_that_depend_on_case_are_read_from_the_word_as_written(utterances, patterns) -> None:
    """Most flags are read from the lowercase form; "HTTP://X.ORG" is no URL to spaCy while its
    lowercase form is, "NOW" is upper case, "See" title case."""
    from spacy.matcher import Matcher

    vocab = utterances[0][0].vocab
    compiled = compile_patterns(patterns, vocab)
    assert compiled is not None
    matcher = Matcher(vocab)
    matcher.add("p", patterns)
    found = 0
    for doc, feats in utterances:
        expected = {(s, e) for _, s, e in matcher(doc)}
        assert compiled.matches(feats.token_keys(compiled.columns)) == expected, (doc.text, patterns)
        assert compiled.find(feats) == expected, (doc.text, patterns)
        found += len(expected)
    assert found  # the texts have such words


def test_what_is_left_to_spacy(utterances) -> None:
    vocab = utterances[0][0].vocab
    assert compile_patterns([[{"LOWER": "you", "OP": "{2}"}]], vocab) is None  # other operators
    assert compile_patterns([[{"_": {"ok": True}}]], vocab) is None  # extension attributes
    assert compile_patterns([[{"LOWER": {"FUZZY": "idiot"}}]], vocab) is None
    assert compile_patterns([[{"MORPH": {"IS_SUPERSET": ["Number=Sing"]}}]], vocab) is None
    assert not supported({"LOWER": {"REGEX": "("}})  # a bad regex: spaCy's validation reports it
    assert compile_patterns([[{"lower": "you"}, {"LEMMA": "be"}]], vocab) is not None


def _words_of(utterances) -> list[list[dict[str, str]]]:
    """Each utterance's tokens as (LOWER, LEMMA, POS) strings."""
    return [[{"LOWER": t.lower_, "LEMMA": t.lemma_, "POS": t.pos_} for t in doc] for doc, _ in utterances]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_patterns_made_from_the_texts_match_as_spacys_matcher(utterances, data) -> None:
    """Patterns written from real runs of tokens (so they do match somewhere), each spec one of
    its token's word form, lemma or part of speech (sometimes with another word allowed), with
    an operator now and then: the compiled patterns find, from the tokens the first and second
    specs allow, what spaCy's ``Matcher`` finds."""
    from spacy.matcher import Matcher

    texts = [words for words in _words_of(utterances) if len(words) >= 3]
    patterns = []
    for _ in range(data.draw(st.integers(1, 2))):
        words = data.draw(st.sampled_from(texts))
        start = data.draw(st.integers(0, len(words) - 2))
        length = data.draw(st.integers(1, min(4, len(words) - start)))
        pattern = []
        for word in words[start : start + length]:
            attr = data.draw(st.sampled_from(["LOWER", "LEMMA", "POS"]))
            value: object = word[attr]
            if attr != "POS" and data.draw(st.booleans()):
                value = {"IN": [word[attr], data.draw(st.sampled_from(WORDS))]}
            spec = {attr: value}
            op = data.draw(st.sampled_from([None, None, None, "+", "?", "*"]))
            if op:
                spec["OP"] = op
            pattern.append(spec)
        patterns.append(pattern)
    vocab = utterances[0][0].vocab
    compiled = compile_patterns(patterns, vocab)
    assert compiled is not None
    matcher = Matcher(vocab)
    matcher.add("p", patterns)
    for doc, feats in utterances:
        expected = {(s, e) for _, s, e in matcher(doc)}
        assert compiled.find(feats) == expected, (doc.text, patterns)


@pytest.mark.parametrize(
    "patterns",
    [
        [[{"LOWER": {"IN": ["this", "it", "i"]}}, {"LEMMA": "be"}, {"POS": "PROPN", "LENGTH": {">=": 2}}]],
        [[{"LOWER": "my"}, {"LOWER": "name"}, {"LEMMA": "be"}], [{"LOWER": "it"}, {"LOWER": "'s"}]],
        [[{"LOWER": "the"}, {"LOWER": "router"}], [{"LOWER": "the"}, {"LEMMA": "the"}, {"LOWER": "router"}]],
        [[{"LOWER": "really", "OP": "+"}, {"LOWER": "slow"}], [{"LOWER": "really"}, {"LOWER": "really", "OP": "+"}]],
        [[{"LOWER": "i"}, {"LEMMA": "have", "OP": "?"}, {"LEMMA": "call"}]],
        [[{"LOWER": "slow"}, {"LOWER": "slow"}]],  # the last token: no second token
        # any length: a walk stops after the last token its last spec passes (unless optional)
        [[{"POS": "VERB"}, {"OP": "*"}, {"POS": "VERB"}]],
        [[{"LOWER": "log"}, {"OP": "*"}, {"LOWER": "check"}], [{"LOWER": "go"}, {"OP": "*"}, {"LOWER": "to"}]],
        [[{"LOWER": "go"}, {"OP": "*"}, {"LOWER": "check", "OP": "?"}]],
        [[{"LOWER": "really", "OP": "+"}], [{"POS": "PRON"}, {"POS": "AUX", "OP": "+"}]],
    ],
)
def test_the_second_token_is_checked_before_a_pattern_is_tried(utterances, patterns) -> None:
    """The shortcuts of ``TokenPatterns.find`` (the second token checked first; a walk cut at the
    last token that can end a match) give what spaCy's ``Matcher`` gives."""
    from spacy.matcher import Matcher

    vocab = utterances[0][0].vocab
    compiled = compile_patterns(patterns, vocab)
    assert compiled is not None
    matcher = Matcher(vocab)
    matcher.add("p", patterns)
    for doc, feats in utterances:
        assert compiled.find(feats) == {(s, e) for _, s, e in matcher(doc)}, (doc.text, patterns)
