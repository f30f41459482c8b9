"""How the rules read an utterance (``rules.features``): the words a match covers, as text."""

from __future__ import annotations

import pytest

from rapport_assist.annotate import AnnotatedUtterance, Annotator
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.rules.features import _FILLER_PUNCT, doc_text
from rapport_assist.types import Speaker, Utterance

TEXTS = [
    "So, um, you need to, uh, restart the router.",
    "I  can't   log in.\n\nThe page says error 404 , then it freezes .  ",
    "Um... okay — uh, yeah, I'll call you back by five.",
    "uh",
    "  Thanks, Mark! Let's get this sorted, er, today.",
]


def tokens_text(doc, fillers, start: int, end: int) -> str:
    """The words of doc[start:end] read token by token, fillers and their commas left out."""
    parts: list[str] = []
    skip_punct = False
    for tok in doc[start:end]:
        if tok.lower in fillers:
            if parts and parts[-1].strip() in _FILLER_PUNCT:
                parts.pop()
            if parts:
                parts[-1] = parts[-1].rstrip() + " "
            skip_punct = True
            continue
        if skip_punct and tok.text in _FILLER_PUNCT:
            continue
        skip_punct = False
        parts.append(tok.text_with_ws)
    return "".join(parts).strip()


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine(load_rules([default_rules_dir()]))


def test_span_text_is_cut_from_the_text_as_the_tokens_read(engine: RuleEngine) -> None:
    annotator = Annotator()
    extractor = engine.compiler.extractor
    for i, text in enumerate(TEXTS):
        au = annotator.annotate(Utterance(i, Speaker.AGENT, text, 0.0, 1.0))
        feats = extractor.features(au)
        n = len(au.doc)
        for start in range(n + 1):
            for end in range(start, n + 1):
                assert doc_text(feats, start, end) == tokens_text(au.doc, extractor.fillers, start, end), (
                    text,
                    start,
                    end,
                )
    feats = extractor.features(annotator.annotate(Utterance(0, Speaker.AGENT, TEXTS[0], 0.0, 1.0)))
    assert feats.span_text(0, len(feats.keys)) == "So you need to restart the router"


def test_a_doc_of_other_text_is_read_from_the_doc(engine: RuleEngine) -> None:
    """An utterance whose Doc was made from different text (a caller's mistake) still quotes the Doc."""
    annotator = Annotator()
    doc = annotator.annotate(Utterance(0, Speaker.AGENT, "We will fix it today.", 0.0, 1.0)).doc
    au = AnnotatedUtterance(Utterance(0, Speaker.AGENT, "Something else entirely, longer.", 0.0, 1.0), doc)
    feats = engine.compiler.extractor.features(au)
    assert feats.span_text(0, len(feats.keys)) == "We will fix it today"


def test_content_words_are_read_once_per_ignore_set_and_as_before(engine: RuleEngine) -> None:
    """``content_words`` / ``content_lemmas`` are cached per ignore set on the utterance: each set
    gets the words a plain reading gives (nouns, verbs, adjectives; no stop words, none of the set)."""
    from spacy.symbols import ADJ, NOUN, PROPN, VERB

    from rapport_assist.rules.features import phrase_key

    annotator = Annotator()
    extractor = engine.compiler.extractor
    text = "My router keeps dropping the connection and the billing page crashes, so I called twice."
    feats = extractor.features(annotator.annotate(Utterance(0, Speaker.CUSTOMER, text, 0.0, 1.0)))
    none: frozenset[int] = frozenset()
    router = frozenset({phrase_key("router"), phrase_key("call")})

    def plain(ignore: frozenset[int]) -> list[tuple[int, int]]:
        doc = feats.doc
        out = []
        for k, i in enumerate(feats.doc_i):
            tok = doc[i]
            if tok.pos in (NOUN, PROPN, VERB, ADJ) and not tok.is_stop and ignore.isdisjoint(feats.keys[k]):
                out.append((k, tok.lemma))
        return out

    for ignore in (none, router, none, router):
        assert feats.content_words(ignore) == plain(ignore)
        assert feats.content_lemmas(ignore) == frozenset(lemma for _, lemma in plain(ignore))
    assert feats.content_words(none) is feats.content_words(none)  # read once
    assert phrase_key("router") in feats.content_lemmas(none) and phrase_key("router") not in feats.content_lemmas(
        router
    )
    first = plain(none)[0][0]
    assert feats.content_lemmas(none, [first]) == frozenset({plain(none)[0][1]})


def test_phrase_keys_are_the_keys_a_doc_holds_for_symbol_words(annotator: Annotator) -> None:
    # "agent", "number", "mark" and "root" are spaCy symbols: a Doc holds their symbol id, not
    # their hash, and a phrase key must be the same or phrases with them never match
    from rapport_assist.rules.features import phrase_key

    doc = annotator.annotate(Utterance(0, Speaker.CUSTOMER, "the agent wrote a number mark root", 0.0, 2.0)).doc
    for token in doc:
        assert phrase_key(token.lower_) == token.lower, token.text


def test_a_staff_word_that_is_a_spacy_symbol_makes_a_claim(annotator: Annotator, rules) -> None:
    # claim-staff lists "agent": "your agent refused…" is a claim against the company like "your rep…"
    from rapport_assist.signals import SignalTracker

    for text in ("Your agent refused to refund me.", "Your rep refused to refund me."):
        tracker = SignalTracker(rules)
        au, _ = tracker.on_utterance(annotator.annotate(Utterance(0, Speaker.CUSTOMER, text, 0.0, 3.0)))
        assert au.utterance.signals.tone.label == "angry", text


RUN_ON = (
    "so um my power went out last night around ten and i was gonna call but it came back on at like eleven"
    " thirty on its own so everything's fine now i just wanted to know what happened for my own curiosity"
)


def test_a_phrase_runs_over_a_sentence_start_the_parser_guessed(engine: RuleEngine) -> None:
    """Unpunctuated speech: spaCy's parser starts a sentence at "now" in the run-on above, with
    nothing said to end one. A phrase ("everything's fine now") still matches there, as it does
    said alone; a "." said before "now" still ends it. Both ways of finding phrases (the compiled
    scan and the trie walk from each word) agree; and in a turn, over a pause with no stop."""
    annotator = Annotator()
    extractor = engine.compiler.extractor
    resolved = engine.compiler.lexicons["resolved-now"]

    def read(text: str):
        return extractor.features(annotator.annotate(Utterance(0, Speaker.CUSTOMER, text, 0.0, 6.0)))

    feats = read(RUN_ON)
    now = feats.doc_i[[feats.span_text(k, k + 1) for k in range(len(feats.keys))].index("now")]
    assert feats.doc[now].is_sent_start  # the parser's guess this test is about
    said = [feats.span_text(m.start, m.end) for m in resolved.find(feats)]
    assert said == ["everything's fine now"]
    assert resolved.phrases.find(feats) == [(m.start, m.end) for m in resolved.find(feats)]  # the trie walk
    assert len(feats.sent_spans) > 1  # the sentences stay the parser's for everything else
    alone = read("everything's fine now")
    assert [alone.span_text(m.start, m.end) for m in resolved.find(alone)] == said
    assert resolved.find(read(RUN_ON.replace("fine now", "fine. now"))) == []
    # a turn joined from utterances split at a recognizer's pause with no stop said: the phrase
    # runs over the pause, in the reading joined from the parts' as in the joined Doc read whole
    from spacy.tokens import Doc

    from rapport_assist.annotate import JoinedUtterance
    from rapport_assist.rules.features import joined_text

    parts = [read("so everything's fine"), read("um"), read("now i just wanted to know what happened")]
    text, offsets = joined_text(parts)
    turn = JoinedUtterance(Utterance(0, Speaker.CUSTOMER, text, 0.0, 6.0), [p.doc for p in parts])
    joined = extractor.join(parts, turn, offsets)
    whole = extractor.extract(AnnotatedUtterance(turn.utterance, Doc.from_docs([p.doc for p in parts])))
    assert joined is not None and joined.spelled == whole.spelled and joined.phrase_spans == whole.phrase_spans
    assert [joined.span_text(m.start, m.end) for m in resolved.find(joined)] == ["everything's fine now"]
    stopped = [read("so everything's fine."), read("now i just wanted to know what happened")]
    text, offsets = joined_text(stopped)
    turn = JoinedUtterance(Utterance(0, Speaker.CUSTOMER, text, 0.0, 6.0), [p.doc for p in stopped])
    assert resolved.find(extractor.join(stopped, turn, offsets)) == []
