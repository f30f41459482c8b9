"""Masking long digit strings (card, account and phone numbers) in what is shown and logged.

    "my card is 4111 1111 1111 1234"  ->  "my card is #### #### #### 1234"

A run of digits, possibly split by single spaces, dashes, dots or commas, that holds at least
``MIN_DIGITS`` digits keeps only its last ``KEEP_LAST`` digits; the others become ``#``.
Masking keeps the length of the text, so word timestamps still line up. Times, prices and
years ("5 pm", "$200", "2026") are shorter and stay as they are.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TypeVar

from .types import Evidence, Nudge, RecordItem, Utterance, Word

MIN_DIGITS = 6
KEEP_LAST = 4
MASK_CHAR = "#"

_RUN = re.compile(r"\d(?:(?:[ .\-]|, ?)?\d)+")  # Whisper writes "4111 1111", "4111-1111", "4,111,111"

E = TypeVar("E")


def mask_digits(text: str) -> str:
    """``text`` with every long digit run masked (see the module doc)."""

    def mask(m: re.Match[str]) -> str:
        run = m.group(0)
        n = sum(ch.isdigit() for ch in run)
        if n < MIN_DIGITS:
            return run
        out = []
        seen = 0
        for ch in run:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen > n - KEEP_LAST else MASK_CHAR)
            else:
                out.append(ch)
        return "".join(out)

    return _RUN.sub(mask, text)


def _mask_words(words: tuple[Word, ...]) -> tuple[Word, ...]:
    """Mask digit runs that span several words ("4111" "1111" ...) as one run."""
    if not words:
        return words
    joined = " ".join(w.text for w in words)
    masked = mask_digits(joined)
    if masked == joined:
        return words
    out = []
    pos = 0
    for w in words:
        text = masked[pos: pos + len(w.text)]
        out.append(w if text == w.text else replace(w, text=text))
        pos += len(w.text) + 1
    return tuple(out)


def _mask_evidence(ev: Evidence) -> Evidence:
    return replace(ev, text=mask_digits(ev.text), matched=tuple(mask_digits(m) for m in ev.matched))


def mask_event(event: E) -> E:
    """A copy of ``event`` with digit runs masked in every text it carries (others unchanged)."""
    if isinstance(event, Utterance):
        return replace(event, text=mask_digits(event.text), words=_mask_words(event.words))  # type: ignore[return-value]
    if isinstance(event, Nudge):
        return replace(event, message=mask_digits(event.message),  # type: ignore[return-value]
                       rewrite=mask_digits(event.rewrite) if event.rewrite else event.rewrite,
                       evidence=tuple(_mask_evidence(ev) for ev in event.evidence))
    if isinstance(event, RecordItem):
        return replace(event, text=mask_digits(event.text))  # type: ignore[return-value]
    return event
