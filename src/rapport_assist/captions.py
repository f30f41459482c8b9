"""Live captions: the stable prefix of an utterance still being spoken.

Live capture re-recognizes an open utterance's growing audio now and then (``LiveCall``,
``LiveSettings.caption_every_s``). Whisper's last words on a cut-off recording change from pass
to pass (a word half said, a guess the next second corrects); the words two successive passes
agree on, from the start, rarely do. ``CaptionTracker`` keeps, per speaker, the words committed
so far (the agreed prefix; it only grows, so a caption never takes words back) and the rest of
the latest pass (``pending``), and says when the caption changed. The utterance's final text
replaces it (``finish``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .recognizer import normalize_text
from .types import Partial, Speaker, Word


def agreed_prefix(previous: list[str], latest: list[str]) -> int:
    """How many words, from the start, two passes agree on (compared without case and
    punctuation: "Hello," and "hello" agree)."""
    n = 0
    for a, b in zip(previous, latest):
        if normalize_text(a) != normalize_text(b) or not normalize_text(a):
            break
        n += 1
    return n


@dataclass
class _Open:
    start_s: float
    last_pass: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    shown: tuple[str, str] | None = None


class CaptionTracker:
    """Per speaker, the caption of the utterance in progress (see the module doc)."""

    def __init__(self) -> None:
        self._open: dict[Speaker, _Open] = {}

    def update(
        self, speaker: Speaker, start_s: float, t_s: float, words: list[Word] | tuple[Word, ...]
    ) -> Partial | None:
        """A pass over the utterance that starts at ``start_s``, heard up to ``t_s``, found
        ``words``; the new caption, or None when it did not change."""
        state = self._open.get(speaker)
        if state is None or state.start_s != start_s:
            state = self._open[speaker] = _Open(start_s)
        latest = [w.text for w in words if w.text.strip()]
        agreed = agreed_prefix(state.last_pass, latest)
        if agreed > len(state.committed) and agreed_prefix(state.committed, latest) == len(state.committed):
            state.committed = state.committed + latest[len(state.committed) : agreed]
        state.last_pass = latest
        if agreed_prefix(state.committed, latest) == len(state.committed):
            pending = latest[len(state.committed) :]
        else:  # this pass disagrees with what was committed: keep the caption, show nothing new
            pending = []
        shown = (join_words(state.committed), join_words(pending))
        if shown == state.shown or not any(shown):
            return None
        state.shown = shown
        return Partial(speaker, start_s, t_s, *shown)

    def finish(self, speaker: Speaker) -> None:
        """The speaker's utterance is final: forget its caption."""
        self._open.pop(speaker, None)


def join_words(words: list[str]) -> str:
    """Recognized words as text: a word that starts with punctuation sticks to the one before."""
    out = ""
    for w in words:
        w = w.strip()
        if not w:
            continue
        out += w if not out or w[0] in "-.,?!:;'%" else " " + w
    return out
