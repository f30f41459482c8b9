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
