"""Live captions: the stable prefix of an utterance still being spoken.

Live capture re-recognizes an open utterance's growing audio now and then (``LiveCall``:
``LiveSettings.caption_first_s`` after the voice began, then as the recognizer has room,
``live_recognition.RecognitionWorker.caption_step_s``). Whisper's last words on a cut-off recording change from pass
to pass (a word half said, a guess the next second corrects); the words two successive passes
agree on, from the start, rarely do. ``CaptionTracker`` keeps, per speaker, the words committed
so far (the agreed prefix; it only grows, so a caption never takes words back) and the rest of
the latest pass (``pending``), and says when the caption changed. A later pass that rewrites a
committed word does not stop the caption: its words after the committed ones (lined up by
``committed_end``) extend it, as agreed by two passes again. The utterance's final text
replaces it (``finish``). A long utterance's passes need not hear it all: ``window_start`` gives
where a pass may begin (the end of a committed word), and the committed words before it stand for
that audio, as in whisper_streaming's trimmed buffer; so passes stay short and captions go on.
``committed`` gives an open utterance's committed words, and ``contradicts`` whether a final text
rewrote or dropped some (``live_recognition`` then gets a second opinion when an early nudge
stands on them).
"""

from __future__ import annotations

import difflib
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
    last_ends: list[float] = field(default_factory=list)  # call time each word of the last pass ends
    committed: list[str] = field(default_factory=list)
    committed_ends: list[float] = field(default_factory=list)
    shown: tuple[str, str] | None = None


class CaptionTracker:
    """Per speaker, the caption of the utterance in progress (see the module doc)."""

    def __init__(self) -> None:
        self._open: dict[Speaker, _Open] = {}

    def update(
        self,
        speaker: Speaker,
        start_s: float,
        t_s: float,
        words: list[Word] | tuple[Word, ...],
        from_s: float | None = None,
    ) -> Partial | None:
        """A pass over the utterance that starts at ``start_s``, heard up to ``t_s``, found
        ``words``; the new caption, or None when it did not change. ``from_s``: the pass heard
        only the audio after that call time (``window_start``), where a committed word ended:
        the committed words up to there stand for the audio before it."""
        state = self._open.get(speaker)
        if state is None or state.start_s != start_s:
            state = self._open[speaker] = _Open(start_s)
        kept = [w for w in words if w.text.strip()]
        latest, ends = [w.text for w in kept], [w.end_s for w in kept]
        if from_s is not None:
            n = sum(end <= from_s + 1e-3 for end in state.committed_ends)
            latest, ends = state.committed[:n] + latest, state.committed_ends[:n] + ends
        after_latest = committed_end(state.committed, latest)
        after_last = committed_end(state.committed, state.last_pass)
        if after_latest is None:  # this pass cannot be lined up with what was committed: keep the caption
            pending: list[str] = []
        else:  # the words after the committed ones, in this pass and the one before: what they agree on is committed
            tail = latest[after_latest:]
            agreed = agreed_prefix(state.last_pass[after_last:], tail) if after_last is not None else 0
            state.committed = state.committed + tail[:agreed]
            state.committed_ends = state.committed_ends + ends[after_latest : after_latest + agreed]
            pending = tail[agreed:]
        state.last_pass, state.last_ends = latest, ends
        shown = (join_words(state.committed), join_words(pending))
        if shown == state.shown or not any(shown):
            return None
        state.shown = shown
        return Partial(speaker, start_s, t_s, *shown)

    def window_start(
        self, speaker: Speaker, start_s: float, t_s: float, window_s: float, tail_s: float
    ) -> float | None:
        """Where a caption pass over the utterance that starts at ``start_s``, heard up to
        ``t_s``, may begin so that it hears at most ``window_s``: the end of a committed word
        between ``window_s`` and ``tail_s`` before ``t_s`` (the last that ends a sentence, else
        the earliest), so a long utterance's passes stay short and its caption goes on; None
        when no committed word ends there (the whole utterance is heard)."""
        state = self._open.get(speaker)
        if state is None or state.start_s != start_s:
            return None
        spans = [
            (text, end)
            for text, end in zip(state.committed, state.committed_ends)
            if t_s - window_s <= end <= t_s - tail_s
        ]
        if not spans:
            return None
        sentence_ends = [end for text, end in spans if text.rstrip().endswith((".", "?", "!"))]
        return sentence_ends[-1] if sentence_ends else spans[0][1]

    def committed(self, speaker: Speaker, start_s: float) -> list[str]:
        """The committed words of ``speaker``'s caption of the utterance that starts at
        ``start_s`` (none when its caption is of another utterance or there is none)."""
        state = self._open.get(speaker)
        if state is None or abs(state.start_s - start_s) > 1e-6:
            return []
        return list(state.committed)

    def finish(self, speaker: Speaker) -> None:
        """The speaker's utterance is final: forget its caption."""
        self._open.pop(speaker, None)


def contradicts(committed: list[str], text: str, words: int | None = None) -> bool:
    """Whether a final ``text`` does not start with the ``committed`` words (case and punctuation
    aside, so "router." and "router, right?" agree; only their first ``words`` when given): it
    rewrote or dropped words two caption passes agreed on."""
    agreed = normalize_text(join_words(committed)).split()[:words]
    return bool(agreed) and normalize_text(text).split()[: len(agreed)] != agreed


def committed_end(committed: list[str], words: list[str]) -> int | None:
    """Where, in a pass's ``words``, the ``committed`` words end: ``len(committed)`` when the pass
    starts with them (case and punctuation aside). When it rewrote some of them ("I do leave my"
    heard again as "I do live my", "I'm so sorry I'm out" as "I'm so sorry about that"), the
    committed and the pass's words are lined up in order: after the run of matched words that
    reaches furthest into the committed ones (the earliest such in the pass), as many of the
    pass's words as committed words are left stand for them (with no match at all, its first
    words stand for all of them, "Hi Julie," heard again as "I do"). None when more than
    ``_REWRITTEN_MAX`` committed words at the end match nothing (the pass went another way: its
    words cannot extend the caption)."""
    if not committed:
        return 0
    if agreed_prefix(committed, words) == len(committed):
        return len(committed)
    a = [normalize_text(w) for w in committed]
    b = [normalize_text(w) for w in words]
    blocks = [m for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size and a[m.a]]
    if not blocks:  # all rewritten ("Hi Julie," heard again as "I do"): the first words stand for them, if few
        return min(len(b), len(a)) if len(a) <= _REWRITTEN_MAX else None
    best = min(blocks, key=lambda m: (-(m.a + m.size), m.b))
    if len(a) - (best.a + best.size) > _REWRITTEN_MAX:
        return None
    return min(len(b), best.b + len(a) - best.a)


_REWRITTEN_MAX = 3  # committed words at the end a later pass may have rewritten (committed_end)


def join_words(words: list[str]) -> str:
    """Recognized words as text: a word that starts with punctuation sticks to the one before."""
    out = ""
    for w in words:
        w = w.strip()
        if not w:
            continue
        out += w if not out or w[0] in "-.,?!:;'%" else " " + w
    return out
