"""Lexicon phrases found by one compiled regular expression per lexicon (Python's ``re``), hand-built
from the lexicon's trie.

Why this module: a lexicon find used to test each word of the utterance for where a phrase can
start (a Python loop over the words' pre-filter bits, integers of about 200 bits and an ``&``
each) and walk the trie from there. Here that scan runs in C, in ``re``'s matcher:

* Every word key that occurs in some phrase (lowercase, norm, lemma or expanded contraction, and
  ``NUM`` for ``<num>``) gets a letter of its own (``Letters``; code points from U+4E00 on, none of
  them a space or a line break).
* Each utterance is spelled once, when its features are read (``FeatureExtractor.extract``, as
  ``slot`` and ``join_slots`` say): per content token a *slot*, the letters of its keys that some
  phrase uses (none for most words), then a space; a line break between sentences. A phrase never
  crosses a sentence, and a slot's letters never include a space or a line break.
* A phrase index becomes one pattern (``phrase_pattern``) built from its trie: a token of a phrase
  is "this slot holds this letter" (``[^ \n]*`` around the letter), so a word matches when any
  of its keys does, as the trie walk reads it. The leftmost match is where the leftmost phrase
  starts. Where each slot of the match holds one letter there is one way through the trie, and
  the greedy pattern ends where the longest phrase does; where a word has several keys in phrases,
  the trie's walk (``PhraseIndex.match_at``) gives the end. So the results are the plain
  reading's exactly (tests: ``test_rules_scan.py``, ``test_rules_phrases.py``).

Weighed and not used: ``pyahocorasick`` (an Aho-Corasick automaton reads one symbol per position,
and a token here is several keys at once: "is" is "is" and "be"; every combination of keys the
vocabulary can bring is not known before the words are heard), and ``google-re2`` (the same
patterns: 2.4 µs a search through its Python wrapper, against 0.44 µs with ``re``).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

NUM = -1  # the key of ``<num>`` (``features.NUM``)
FIRST_LETTER = 0x4E00  # the CJK block: plenty of letters, and no phrase key is spelled with them
_SLOT = "[^ \n]*"  # the other letters of a slot


class Letters:
    """Word key -> its letter, for the keys phrases use. Shared by the extractor (which spells
    utterances) and the lexicons (whose patterns use the letters): one per ``KeyBits``."""

    def __init__(self) -> None:
        self.by_key: dict[int, str] = {}

    def add(self, keys: Iterable[int]) -> bool:
        """Give these keys letters; whether any key was new (utterances spelled before lack it)."""
        by_key = self.by_key
        new = False
        for key in keys:
            if key not in by_key:
                by_key[key] = chr(FIRST_LETTER + len(by_key))
                new = True
        return new


def trie_keys(root: dict[int, Any]) -> set[int]:
    """Every word key of a phrase trie (``PhraseIndex.root``; 0 marks a phrase's end)."""
    out: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        for key, child in node.items():
            if isinstance(child, dict):
                out.add(key)
                stack.append(child)
    return out


def phrase_pattern(root: dict[int, Any], letters: dict[int, str], end: int) -> re.Pattern[str] | None:
    """The pattern of a trie's phrases in a spelled utterance (``end``: the trie's end-of-phrase
    key): it matches from the letter of the leftmost slot where some phrase starts. Each phrase
    token after a phrase's end is optional and greedy, so where every slot of the match holds
    one letter only (one way through the trie) the match ends where the longest phrase does;
    elsewhere the trie decides (``PhraseIndex.find``). None for an empty trie."""

    def branch(node: dict[int, Any], first: bool) -> str:
        options = []
        for key, child in node.items():
            if not isinstance(child, dict):
                continue
            rest = ""
            if any(isinstance(grandchild, dict) for grandchild in child.values()):
                rest = branch(child, False)
                if end in child:  # a phrase ends here: a longer one is tried first
                    rest = f"(?:{rest})?"
            options.append(re.escape(letters[key]) + _SLOT + " " + rest)
        # at the start every option begins with its letter: ``re`` then knows the letters a match
        # can start with, skips in C to where one occurs, and tries only the options of that letter
        body = options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"
        return body if first else _SLOT + body

    if not any(isinstance(child, dict) for child in root.values()):
        return None
    return re.compile(branch(root, True))


def slot(keys: Iterable[int], is_num: bool, letters: dict[int, str]) -> str:
    """One content token's slot letters: its keys' that phrases use, and ``NUM``'s for a number
    (the plain form of what ``FeatureExtractor.extract`` spells from its per-word cache)."""
    out = "".join([letters[k] for k in keys if k in letters])
    return out + letters.get(NUM, "") if is_num else out


def join_slots(slots: list[str], sent_spans: list[tuple[int, int]]) -> str:
    """An utterance spelled from its tokens' slot letters: each slot then a space, a line break
    between sentences (``sent_spans``: each sentence's content positions, ``(0, 0)`` for none)."""
    return "\n".join([" ".join(slots[a:b]) + " " for a, b in sent_spans if b])


def slot_offset(text: str, at: int, slots: int) -> int:
    """The offset just past ``slots`` more slots from offset ``at`` (a spelled utterance)."""
    for _ in range(slots):
        at = text.index(" ", at) + 1
    return at
