"""The rule path's shortcuts give what the long way gives (issue 20, speed): a regex's required
literals (``rules.literals``: a text without them is not searched), the backchannel test by
phrase length, and quotes of utterances without fillers."""

from __future__ import annotations

import re

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from rapport_assist.annotate import Annotator
from rapport_assist.rules import RuleEngine, default_rules_dir, load_rules
from rapport_assist.rules.features import doc_text
from rapport_assist.rules.literals import required_literals
from rapport_assist.safe_regex import compile_regex
from rapport_assist.turns import DEFAULT_BACKCHANNELS, TurnTracker, _sound
from rapport_assist.types import Speaker, Utterance

# the rule packs' own patterns and others that exercise each piece of the reader
PATTERNS = [
    (r"\w\s*\?", False),
    (
        r"\b(fuck|f[*#@$!]+k?|fk|fck|screw|piss)\s*(you|u|off|yourself|yourselves)\b|\bgo to hell\b|\bshut up\b"
        r"|\bstfu\b",
        True,
    ),
    (r"\b(?:NOT|NEVER|STILL)\b|\b[A-Z]{2,} +[A-Z]{2,}\b|\b(?:[Tt]his|[Yy]our) +[\"“][a-z]+[\"”]|[🤬😡]", False),
    (r"(ab)+c", False),
    (r"x(a|)y", False),
    (r"call(ed|ing)? (you|u) back", True),
    (r"re(fund|imburse)", True),
    (r"[^a]b{2,3}", False),
    (r"a.c|d", False),
    (r"KELVIN|straße", True),
]
ALPHABET = "abcdefkoprsuyxyzABCKNOSTV ?!*#@$\"“”-' \u212a\u017f"


def literal_fragments() -> list[str]:
    return [s for pattern, ignore_case in PATTERNS for s in (required_literals(pattern, ignore_case) or ())]


@pytest.mark.parametrize(
    ("pattern", "ignore_case", "expected"),
    [
        (r"\w\s*\?", False, {"?"}),
        (r"\bgo to hell\b|\bstfu\b", True, {"go to hell", "stfu"}),
        (r"f[*#]+k?", False, {"f*", "f#"}),
        (r"x(a|)y", False, {"xy", "xay"}),
        (r"SHOUT", True, {"shout"}),
        (r"a*", False, None),  # can match nothing
        (r"a|b*", False, None),  # one option needs nothing
        (r"\d+", False, None),  # classes of many characters: no literals
        (r"(?i)abc", False, None),  # inline flags: left to RE2
        (r"[[:alpha:]]x", False, None),  # a POSIX class Python's parser would misread
        (r"\pL+", False, None),  # RE2 syntax Python's parser refuses
    ],
)
def test_required_literals(pattern: str, ignore_case: bool, expected: set[str] | None) -> None:
    assert required_literals(pattern, ignore_case) == (frozenset(expected) if expected is not None else None)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(st.text(ALPHABET, max_size=6), st.sampled_from(literal_fragments())), max_size=6),
    st.sampled_from(PATTERNS),
)
def test_a_text_the_regex_matches_holds_a_required_literal(chunks: list[str], case: tuple[str, bool]) -> None:
    """Never a false skip: whenever RE2 finds a match, the prefilter lets the text through."""
    pattern, ignore_case = case
    text = "".join(chunks)
    needed = required_literals(pattern, ignore_case)
    if needed is None:
        return
    seen = text.casefold() if ignore_case else text
    if compile_regex(pattern, ignore_case).search(text) is not None:
        assert any(literal in seen for literal in needed), (pattern, text, needed)


def test_the_casefold_covers_re2s_case_folding() -> None:
    """RE2 folds the Kelvin sign to "k" and the long s to "s"; the prefilter reads the text casefolded."""
    for pattern, text in ((r"kelvin", "\u212aelvin"), (r"stfu", "\u017ftfu")):
        assert re2.search(pattern, text, options=_ignore_case()) is not None
        needed = required_literals(pattern, True)
        assert needed is not None and any(s in text.casefold() for s in needed)


def _ignore_case() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    return options


def _backchannel_the_long_way(tracker: TurnTracker, text: str) -> bool:
    """The backchannel test as it was: every phrase tried, longest first, at each word (after
    the hum spelled in letters, which is one whatever its number of words)."""
    if len(text) > 12 * tracker.backchannel_words:
        return False
    words = [_sound(w) for w in re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.lower())]  # phrases are kept so
    letters = "".join(words)
    if letters and set(letters) <= set("mhn") and "m" in letters:
        return True
    if not words or len(words) > tracker.backchannel_words:
        return False
    pos = 0
    while pos < len(words):
        for phrase in sorted(tracker._phrase_set, key=len, reverse=True):
            if tuple(words[pos : pos + len(phrase)]) == phrase:
                pos += len(phrase)
                break
        else:
            return False
    return True


BACKCHANNEL_WORDS = sorted({w for p in DEFAULT_BACKCHANNELS for w in p.split()} | {"no", "sure thing", "what"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(BACKCHANNEL_WORDS), min_size=0, max_size=4), st.integers(1, 4))
def test_the_backchannel_test_by_length_agrees_with_the_long_way(words: list[str], limit: int) -> None:
    tracker = TurnTracker(backchannels=("sure thing", "got it thanks"), backchannel_words=limit)
    text = " ".join(words)
    assert tracker.is_backchannel(text) == _backchannel_the_long_way(tracker, text)


def test_quotes_read_the_same_with_and_without_the_no_filler_shortcut(annotator: Annotator) -> None:
    engine = RuleEngine(load_rules([default_rules_dir()]))
    extractor = engine.compiler.extractor
    for text in ("So, um, I can call you back, uh, tomorrow.", "I can call you back tomorrow, okay?"):
        feats = extractor.extract(annotator.annotate(Utterance(0, Speaker.AGENT, text, 0.0, 2.0)))
        has_filler = "um" in text
        assert bool(feats.cache["#fillers"]) == has_filler
        n = len(feats.rows)
        for a in range(n):
            for b in range(a + 1, n + 1):
                shortcut = doc_text(feats, a, b)
                feats.cache["#fillers"] = extractor.fillers  # the long way: every token looked up
                assert doc_text(feats, a, b) == shortcut
                feats.cache["#fillers"] = extractor.fillers if has_filler else frozenset()
