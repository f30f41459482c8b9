"""Lexicon phrases (``rules.features.PhraseIndex``) against a plain reading of what they mean:
at each word, the longest phrase that starts there, every word of it matching one of the
word's keys (its lowercase, norm, lemma; a number for ``<num>``), within one sentence; matches
taken left to right without overlaps."""

from __future__ import annotations

import functools
import operator

from hypothesis import given, settings
from hypothesis import strategies as st

from rapport_assist.annotate import AnnotatedUtterance
from rapport_assist.rules.features import NUM, Features, KeyBits, PhraseIndex, compile_phrase
from rapport_assist.rules.model import Phrase
from rapport_assist.rules.scan import join_slots, slot
from rapport_assist.rules.source import Loc
from rapport_assist.types import Speaker, Utterance

WORDS = ["you", "need", "to", "have", "we", "can", "not", "call", "back", "the"]
LOC = Loc("test.yaml", 1, 1)

# a phrase: 1-4 tokens, each a word, "a|b" alternatives, or <num>
token = st.one_of(
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3, unique=True).map("|".join),
    st.just("<num>"),
)
phrase = st.lists(token, min_size=1, max_size=4).map(" ".join)
# a content token: 1-3 keys (different norm or lemma), whether it is a number, and whether a
# sentence starts there
word = st.tuples(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True), st.booleans(), st.integers(0, 5)
)


def utterance(words: list) -> Features:
    """``Features`` with the parts phrase matching reads (a real ``Features``: the rule engine may
    be compiled, and then takes nothing else)."""
    from rapport_assist.rules.features import phrase_key

    keys, nums, sent = [], [], []
    sid = 0
    for i, (forms, is_num, new_sentence) in enumerate(words):
        if i and new_sentence == 0:
            sid += 1
        keys.append(tuple(phrase_key(w) for w in forms))
        nums.append(is_num)
        sent.append(sid)
    spans = [(sent.index(s), len(sent) - sent[::-1].index(s)) for s in range(sid + 1)] if sent else []
    au = AnnotatedUtterance(Utterance(0, Speaker.AGENT, "", 0.0, 1.0), None)
    n = len(keys)
    return Features(au, keys, nums, sent, list(range(n)), [], frozenset(), spans, 0, [0] * n, 0, "")


def plain_match_at(phrases: list[str], feats, pos: int) -> int:
    best = -1
    for text in phrases:
        tokens = compile_phrase(text)
        end = pos + len(tokens)
        if not tokens or end > len(feats.keys) or feats.sent[end - 1] != feats.sent[pos]:
            continue
        if all(
            not alts.isdisjoint(feats.keys[pos + k]) or (NUM in alts and feats.is_num[pos + k])
            for k, alts in enumerate(tokens)
        ):
            best = max(best, end)
    return best


@settings(max_examples=400, deadline=None)
@given(st.lists(phrase, min_size=1, max_size=8), st.lists(word, max_size=14))
def test_phrases_match_what_they_say(phrases: list[str], words: list) -> None:
    index = PhraseIndex([Phrase(p, LOC) for p in phrases])
    feats = utterance(words)
    expected, resume = [], 0
    for pos in range(len(feats.keys)):
        assert index.match_at(feats, pos) == plain_match_at(phrases, feats, pos)
        end = plain_match_at(phrases, feats, pos)
        if pos >= resume and end > pos:
            expected.append((pos, end))
            resume = end
    assert index.find(feats) == expected
    # with the pre-filter bit marking the words a phrase can start with, as the features do
    feats.word_bits = [
        1 if not index.first_keys.isdisjoint(keys) or (index.num_first and num) else 0
        for keys, num in zip(feats.keys, feats.is_num)
    ]
    assert index.find(feats, 1) == expected
    # and with the finer test: a start word is tried only when it is a one-word phrase or the next
    # word can be a phrase's second (the bits of each word made as the features make them)
    key_bits = KeyBits()
    first = key_bits.add(index.first_keys | ({NUM} if index.num_first else set()))
    one = key_bits.add(index.one_word_keys())
    second = key_bits.add(index.second_keys())
    feats.word_bits = [
        (key_bits.num_bits if num else 0) | functools.reduce(operator.or_, (key_bits.by_key.get(k, 0) for k in keys), 0)
        for keys, num in zip(feats.keys, feats.is_num)
    ]
    assert index.find(feats, first, one, second) == expected
    # and with the compiled scan (``rules.scan``): the utterance spelled in letters, one regular
    # expression for where a phrase starts
    index.compile_scan(key_bits)
    letters = key_bits.letters.by_key
    feats.spelled = join_slots([slot(k, n, letters) for k, n in zip(feats.keys, feats.is_num)], feats.sent_spans)
    assert index.find(feats, first, one, second) == expected
