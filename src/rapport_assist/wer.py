"""Word error rate for ``rapport-assist eval`` on a spoken set and the WER scripts.

``normalize`` writes a reference and a recognizer's text one way (case, punctuation, numbers,
times, hesitations), ``word_errors`` counts the substitutions, deletions and insertions that turn
one word list into the other (a word-level Levenshtein distance), so WER = errors / reference
words. It is written here rather than taken from jiwer (a test dependency) so that ``eval`` needs
no extra package at run time: the whole of it is the dynamic program below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth"}
# hesitations and bare backchannel hums: Whisper mostly leaves them out, a script writes them in
_HESITATIONS = frozenset("um umm uh uhh er erm ah hmm hm mm mhm mmhm mm hmm uhhuh".split())


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return " ".join(_ONES[int(d)] for d in str(n))  # account numbers and the like: digit by digit


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and hesitations, and write numbers and times one way:
    '10 a.m.' = '10am' = 'ten am'; '447-291' = 'four four seven two nine one'."""
    t = text.lower().replace("\u2019", "'").replace("-", " ")
    t = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", t)  # a.m. / a. m. -> am
    t = re.sub(r"(\d)([ap]m)\b", r"\1 \2", t)  # 10am -> 10 am
    t = re.sub(r"\b(\d{1,2}):00\b", r"\1", t)  # 10:00 -> 10
    t = re.sub(r"\b(\d{1,2}):(\d{2})\b", r"\1 \2", t)
    for digits, word in _ORDINALS.items():
        t = re.sub(rf"\b{digits}\b", word, t)
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 1,000 -> 1000
    t = re.sub(r"\d+", lambda m: " " + _number_words(int(m.group())) + " ", t)
    t = re.sub(r"[^a-z' ]+", " ", t)
    t = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", t)  # quotes, not apostrophes
    t = t.replace("okay", "ok")
    return " ".join(w for w in t.split() if w not in _HESITATIONS)


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """The fewest substitutions + deletions + insertions turning ``reference`` into ``hypothesis``.

    Classic Levenshtein dynamic program over words, one row at a time: ``row[j]`` is the distance
    between the reference words read so far and the first ``j`` hypothesis words.
    """
    row = list(range(len(hypothesis) + 1))  # empty reference: j insertions
    for i, ref_word in enumerate(reference, 1):
        diagonal, row[0] = row[0], i  # i deletions against an empty hypothesis
        for j, hyp_word in enumerate(hypothesis, 1):
            above = row[j]
            row[j] = min(
                above + 1,  # delete ref_word
                row[j - 1] + 1,  # insert hyp_word
                diagonal + (ref_word != hyp_word),
            )  # match or substitute
            diagonal = above
    return row[-1]


@dataclass(frozen=True)
class WordErrors:
    """Errors and reference words over one or more texts; ``wer`` = errors / words."""

    errors: int = 0
    words: int = 0

    @property
    def wer(self) -> float | None:
        return self.errors / self.words if self.words else None

    def __add__(self, other: "WordErrors") -> "WordErrors":
        return WordErrors(self.errors + other.errors, self.words + other.words)


def measure(reference: str, hypothesis: str) -> WordErrors:
    """WordErrors of ``hypothesis`` against ``reference``, both normalized first."""
    ref, hyp = normalize(reference).split(), normalize(hypothesis).split()
    return WordErrors(word_errors(ref, hyp), len(ref))
