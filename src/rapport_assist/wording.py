"""Small wording helpers for messages people read (counts with the right plural)."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 call", "2 calls", "1 rule(s)" never."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def clause(text: str) -> str:
    """``text`` as the start of a longer sentence: capitalized, without its closing full stop
    ("No audio input device found." -> "No audio input device found", so ", so …" can follow)."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def one_side_note(side: str) -> str:
    """What a call of one side says once, in replay's last line and qa's warnings: nothing
    between the sides was measured or nudged (``side``: "agent" or "customer";
    ``signals.BOTH_SIDES_FIELDS``, ``CallPipeline.run``)."""
    return f"only the {side} was heard: dead air, talk ratio, talk-over and the nudges between the sides were left out"
