"""Turn tracking: groups utterances into turns, the unit a listener hears.

    utterances (timeline order) ──► TurnTracker ──► open / closed ``Turn`` values

The endpointer cuts speech at its pauses, so one customer complaint said with two short
pauses comes out as two or three utterances. A *turn* is a speaker's run of utterances until
the other side takes the floor:

* the other side says something that is not a backchannel (a short listening sound, at most
  ``backchannel_words`` words, all of them from the backchannel phrases: "mm-hm", "okay",
  "yeah, right"); a backchannel does not end the turn it answers (it belongs to no turn).
  Said right after the other side's question, words of acknowledgement are an answer and take
  the floor ("Would you like the email too?" "Yes."; ``is_listening``); a hum ("mm-hm",
  "uh-huh": ``HUMS``) and a misheard listening sound still listen. Whether an utterance asks is
  read by ``asks`` (the rule engine and the signals read it from the parse,
  ``rules.conditions.ends_asking``; by default a final "?").
  From audio, a listening sound is often misheard, quiet and under the other side's speech
  ("Right." as "bright.", "mm-hm" as "MMA GMM"), so a word the recognizer itself doubted
  (probability below ``MISHEARD_MAX_PROB``) one letter away from a one-word backchannel of three
  or more letters counts as that backchannel (``is_misheard_backchannel``);
  A hum Whisper spells out in its letters ("M-H-N-M.", "M, M, H, N,": only m, h and n) is a
  listening sound however many letters it writes;
* or nobody has added to the turn for longer than ``gap_s`` (a pause that long hands the floor
  over even if the same speaker goes on after it). Utterances whose times are estimated
  (transcripts without times) ignore the gap: consecutive lines of one speaker are one turn,
  so transcripts and audio give the same structure;
* or the same side's next line has another ``author`` (a written thread, where several
  customers may reply to one brand: one person's words are a turn, two people's are not).
  Lines without an author (calls: a channel is one person) never split this way.

Live, the pipeline closes a turn as soon as it can know: when the other side's utterance lands,
on a clock tick past the gap (``tick``), or at the end of the call (``finish``). The tracker
only groups; it reads no Doc (the rule engine drives it, and reads a turn so far for the rules
that read turns by joining its utterances' readings, ``rules/README.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from .annotate import count_words
from .types import Speaker, Turn, Utterance

# a pause longer than this ends a turn. Within-turn pauses of real speech run to 1-1.5 s (the
# endpointer cuts there); a hand-over is usually well under 1 s, and a speaker who goes on after
# 2.5 s of silence has usually started something new.
DEFAULT_GAP_S = 2.5
DEFAULT_BACKCHANNEL_WORDS = 3
# a recognized word below this probability, one edit from a one-word backchannel ("bright." 0.33,
# "MMA" 0.37, "GMM" 0.52 on the spoken dev set), is read as that backchannel misheard; words and
# backchannels of fewer than MISHEARD_MIN_LETTERS letters are left alone ("he", "on" are one edit
# from "hm", "oh")
MISHEARD_MAX_PROB = 0.6
MISHEARD_MIN_LETTERS = 3
# listening sounds and acknowledgements; a rule pack's ``backchannel`` lexicon adds to these
DEFAULT_BACKCHANNELS = (
    "mm-hm",
    "mhm",
    "mm",
    "mmm",
    "hm",
    "hmm",
    "uh-huh",
    "uh huh",
    "mm hm",
    "yeah",
    "yes",
    "yep",
    "yup",
    "okay",
    "ok",
    "right",
    "sure",
    "i see",
    "go on",
    "got it",
    "alright",
    "all right",
    "oh",
    "ah",
    "uh",
    "um",
    "huh",
    "wow",
    "oh no",
    "oh dear",
    "really",
    "exactly",
    "of course",
    "true",
    "indeed",
    "gotcha",
    "understood",
    "ok ok",
)
# the listening sounds that are no word (as ``_sound`` spells them): a hum says "go on" even
# right after a question, where "yes", "okay" or "sure" answer it (``TurnTracker.is_listening``)
HUMS = frozenset({"mhm", "m", "hm", "uhuh", "uh", "huh", "oh", "ah", "um"})
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


_REPEATS = re.compile(r"([a-z])\1+")


def _sound(word: str) -> str:
    """A word as a listening sound is spelled many ways: without its hyphens and with each run
    of one letter as one ("M-M-H-M", "Mmhmm", "mm-hm" are all "mhm"; "Hmmm" is "hm", "Yeeah"
    "yeah"), so backchannels are compared in this form. The default one-word backchannels' forms
    are sounds and acknowledgements no other English word is spelled as ("ah", "m", "hm", "oh",
    "realy", "yes", ...). Remembered per word (``re.sub`` with a group reference runs Python
    code per match; short utterances are read this way at every change of speaker)."""
    sound = _SOUNDS.get(word)
    if sound is None:
        sound = _REPEATS.sub(r"\1", word.replace("-", ""))
        if len(_SOUNDS) >= _SOUNDS_KEPT:
            _SOUNDS.clear()
        _SOUNDS[word] = sound
    return sound


# "I see" heard as two letter names: "I" and a letter whose name ends in "ee" ("IP?", "ID.")
_I_SEE_AS_LETTERS = re.compile(r"I[BCDEGPTVZ]")
# a hum as Whisper spells it out: only the letters of "mm-hm" and its nasal "n" ("M-H-N-M.",
# "M-N-H-N.", "NHM"), at least one "m"; no English word is spelled with these letters alone
_HUM = re.compile(r"[hn]*m[mhn]*")

_SOUNDS: dict[str, str] = {}
_SOUNDS_KEPT = 4096  # words remembered before the memo starts over (a bound for long runs)


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by exactly one letter inserted, deleted or replaced."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


class _Open:
    """The turn being built. A plain class, not a dataclass: compiled (mypyc), a dataclass's
    ``__init__`` is the generated Python one, run by the interpreter for every turn (about ten
    times the instructions of this one); nothing compares, copies or prints these."""

    def __init__(
        self,
        index: int,
        speaker: Speaker,
        utterances: list[int],
        texts: list[str],
        words: int,
        start_s: float,
        end_s: float,
        timing_estimated: bool,
        author: str | None = None,
    ) -> None:
        self.index = index
        self.speaker = speaker
        self.utterances = utterances
        self.texts = texts
        self.words = words
        self.start_s = start_s
        self.end_s = end_s
        self.timing_estimated = timing_estimated
        self.author = author

    def value(self, closed: bool, t_s: float) -> Turn:
        # made as ``Turn(...)`` makes it (one value per utterance; ``made``)
        return made(
            Turn,
            {
                "index": self.index,
                "speaker": self.speaker,
                "utterances": tuple(self.utterances),
                "text": " ".join(self.texts),
                "words": self.words,
                "start_s": self.start_s,
                "end_s": self.end_s,
                "closed": closed,
                "t_s": t_s,
                "timing_estimated": self.timing_estimated,
            },
        )


_new = object.__new__
_T = TypeVar("_T")


def made(cls: type[_T], fields: dict[str, Any]) -> _T:
    """A frozen dataclass's instance with these fields (every one, as ``cls(**fields)`` sets them),
    without its ``__init__``'s setattr per field (several times cheaper), the fields handed over as
    one dict (keyword arguments to ``__dict__.update`` cost about twice as much). Copied into the
    instance's own ``__dict__`` with one ``dict.update``: replacing the ``__dict__`` through
    ``object.__setattr__`` (a slot wrapper called with an argument tuple, then the ``__dict__``
    descriptor) cost about half again as much."""
    obj = _new(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True)
class TurnStep:
    """What one utterance did to the turns: the turns it closed (the other side's, or the same
    speaker's after a long gap), and the turn it belongs to now (None: a backchannel inside the
    other side's turn, which belongs to no turn)."""

    closed: tuple[Turn, ...]
    turn: Turn | None


_NO_TURN = TurnStep((), None)


def text_asks(utt: Utterance) -> bool:
    """The utterance's text ends with a question mark (closing quotes and spaces aside): the
    reading of a question a tracker without the parse has (``TurnTracker.asks``)."""
    return utt.text.rstrip(" \t\n\"'”’)").endswith("?")


class TurnTracker:
    """Groups one call's utterances into turns (``start_call`` before each call)."""

    def __init__(
        self,
        gap_s: float = DEFAULT_GAP_S,
        backchannels: Iterable[str] = (),
        backchannel_words: int = DEFAULT_BACKCHANNEL_WORDS,
        asks: Callable[[Utterance], bool] | None = None,
    ) -> None:
        """``asks``: whether an utterance hands the floor over with a question (``text_asks``
        unless given): a backchannel's words said right after it are an answer."""
        self.gap_s = gap_s
        self.backchannel_words = backchannel_words
        self.asks: Callable[[Utterance], bool] = text_asks if asks is None else asks
        phrases = {tuple(_words(p)) for p in (*DEFAULT_BACKCHANNELS, *backchannels)}
        self._phrase_set = frozenset(tuple(_sound(w) for w in p) for p in phrases if p)
        self._lengths = sorted({len(p) for p in self._phrase_set}, reverse=True)  # longest first
        self._single = frozenset(p[0] for p in self._phrase_set if len(p) == 1)
        # as written, for the one-letter test of a misheard word ("MMA" is one from "mmm")
        self._fuzzy = tuple(p[0] for p in phrases if len(p) == 1 and len(p[0]) >= MISHEARD_MIN_LETTERS)
        self._open: _Open | None = None
        self._count = 0
        self._prev: Utterance | None = None  # the utterance before (timeline order), any speaker

    def start_call(self) -> None:
        self._open = None
        self._count = 0
        self._prev = None

    @property
    def open_turn(self) -> Turn | None:
        return None if self._open is None else self._open.value(False, self._open.end_s)

    def is_backchannel(self, text: str) -> bool:
        """At most ``backchannel_words`` words, every one of them in a backchannel phrase."""
        if len(text) > 12 * self.backchannel_words:  # longer than any few listening sounds
            return False
        words = [_sound(w) for w in _words(text)]
        if words and _HUM.fullmatch("".join(words)):
            return True  # a hum spelled out in letters, however many ("M-H-N-M.", "M, M, H, N,")
        if not words or len(words) > self.backchannel_words:
            return False
        pos = 0
        phrases = self._phrase_set
        while pos < len(words):
            for n in self._lengths:  # the longest phrase said here, as a set lookup per length
                if tuple(words[pos : pos + n]) in phrases:
                    pos += n
                    break
            else:
                return False
        return True

    def is_misheard_backchannel(self, utt: Utterance) -> bool:
        """A listening sound the recognizer misheard: at most ``backchannel_words`` words, each a
        one-word backchannel or a word it doubted (probability below ``MISHEARD_MAX_PROB``) one
        letter away from one ("bright." for "Right."), at least one of them the latter; or
        "I see" written as two letters ("IP?", "ID.": a doubted lone word, "I" and a letter whose
        name rhymes with "see"). Needs the recognizer's words (a transcript line has none)."""
        if not utt.words or len(utt.words) > self.backchannel_words:
            return False
        if len(utt.words) == 1 and utt.words[0].probability < MISHEARD_MAX_PROB:
            if _I_SEE_AS_LETTERS.fullmatch(utt.words[0].text.strip(" .?!,")):
                return True
        misheard = False
        for word in utt.words:
            tokens = _words(word.text)
            if len(tokens) != 1:
                return False
            token = tokens[0]
            if _sound(token) in self._single:
                continue
            if (
                word.probability >= MISHEARD_MAX_PROB
                or len(token) < MISHEARD_MIN_LETTERS
                or not any(_one_edit(token, b) for b in self._fuzzy)
            ):
                return False
            misheard = True
        return misheard

    def answers(self, utt: Utterance) -> bool:
        """``utt`` comes right after the other side's question (the utterance before it, in
        timeline order, is the other side's and ``asks``): a reply to it, however short."""
        prev = self._prev
        return prev is not None and prev.speaker is not utt.speaker and self.asks(prev)

    def is_listening(self, utt: Utterance) -> bool:
        """``utt`` is a backchannel: a listening sound or acknowledgement (``is_backchannel``,
        ``is_misheard_backchannel``) that is not an answer to the other side's question
        (``answers``: "Yes." after "Shall I email it?" takes the floor; "Yes." in the middle of
        an explanation does not; a hum, ``is_hum``, and a misheard sound never answer). The one
        reading of a backchannel: the turns and the ``backchannel`` signal (``signals.py``) both
        use it. Read before ``step``."""
        if self.is_backchannel(utt.text):
            return self.is_hum(utt.text) or not self.answers(utt)
        return self.is_misheard_backchannel(utt)  # a doubted word: too little to answer with

    def is_hum(self, text: str) -> bool:
        """Every word of ``text`` is a listening sound that is no word (``HUMS``: "mm-hm",
        "uh-huh", "hmm", "oh"), or a hum spelled out in letters."""
        words = [_sound(w) for w in _words(text)]
        return bool(words) and (all(w in HUMS for w in words) or _HUM.fullmatch("".join(words)) is not None)

    def on_utterance(self, utt: Utterance, words: int | None = None, backchannel: bool | None = None) -> TurnStep:
        """The next utterance (timeline order). ``words``: its word count if known
        (``annotate.count_words`` of its text), else it is counted here; ``backchannel``: its
        ``is_listening``, if already read."""
        closed, cur = self.step(utt, words, backchannel)
        if cur is None:
            return _NO_TURN
        return TurnStep(closed, cur.value(False, utt.end_s))

    def step(
        self, utt: Utterance, words: int | None = None, backchannel: bool | None = None
    ) -> tuple[tuple[Turn, ...], "_Open | None"]:
        """``on_utterance`` without making the open turn's value: the turns it closed, and the
        open turn it belongs to as the tracker keeps it (None: a backchannel), to be read at
        once (its ``value(False, utt.end_s)`` is ``on_utterance``'s turn; the next utterance
        changes it)."""
        # the utterance's fields read once each (compiled, ``Utterance`` is a plain Python class:
        # every read is a generic attribute lookup, and this read most of them two or three times)
        speaker, start_s, end_s, estimated, author = (
            utt.speaker,
            utt.start_s,
            utt.end_s,
            utt.timing_estimated,
            utt.author,
        )
        cur = self._open
        closed: tuple[Turn, ...] = ()
        if cur is not None:
            if start_s - cur.end_s > self.gap_s and not (cur.timing_estimated or estimated):
                closed = (cur.value(True, cur.end_s + self.gap_s),)
                cur = self._open = None
            elif speaker is not cur.speaker:
                if self.is_listening(utt) if backchannel is None else backchannel:
                    self._prev = utt
                    return (), None
                closed = (cur.value(True, end_s),)
                cur = self._open = None
            elif author is not None and cur.author is not None and author != cur.author:
                # the same side, another person (a written thread): that person's own turn
                closed = (cur.value(True, end_s),)
                cur = self._open = None
        if cur is None:
            cur = self._open = _Open(self._count, speaker, [], [], 0, start_s, end_s, estimated, author)
            self._count += 1
        elif cur.author is None:
            cur.author = author
        cur.utterances.append(utt.index)
        text = utt.text
        if text:
            cur.texts.append(text)
        cur.words += count_words(text) if words is None else words
        if end_s > cur.end_s:
            cur.end_s = end_s
        if estimated:
            cur.timing_estimated = True
        self._prev = utt
        return closed, cur

    def revise(self, texts: Mapping[int, str]) -> Turn | None:
        """The open turn with the texts of some of its utterances replaced (utterance index ->
        text: a second recognition pass, ``turn_pass.py``); None, and nothing changed, when the
        open turn does not hold them all."""
        cur = self._open
        if cur is None or not texts or not set(texts) <= set(cur.utterances):
            return None
        if len(cur.texts) == len(cur.utterances):  # (an utterance without text adds none)
            for k, index in enumerate(cur.utterances):
                if index in texts:
                    cur.words += count_words(texts[index]) - count_words(cur.texts[k])
                    cur.texts[k] = texts[index]
        return cur.value(False, cur.end_s)

    def tick(self, now_s: float, speaking: Iterable[Speaker] = ()) -> list[Turn]:
        """The clock reached ``now_s``: the open turn closes when the gap has passed since its
        last utterance and its speaker is not speaking (speech started, not yet an utterance)."""
        cur = self._open
        if cur is None or cur.timing_estimated or cur.speaker in set(speaking) or now_s - cur.end_s <= self.gap_s:
            return []
        self._open = None
        return [cur.value(True, cur.end_s + self.gap_s)]

    def finish(self, t_s: float) -> list[Turn]:
        """The call ended at ``t_s``: the open turn closes."""
        cur, self._open = self._open, None
        return [] if cur is None else [cur.value(True, max(t_s, cur.end_s))]


def backchannel_phrases(lexicons: dict, name: str = "backchannel") -> Sequence[str]:
    """The plain phrases of a rule pack's backchannel lexicon (alternations and patterns skipped)."""
    lex = lexicons.get(name)
    if lex is None:
        return ()
    return tuple(p.text for p in lex.phrases if not any(ch in p.text for ch in "|<>"))


def merge_turn_utterance(turn: Turn, parts: Sequence[Utterance], text: str | None = None) -> Utterance:
    """One utterance standing for the turn so far (its rules read it): the joined text and words,
    the turn's span, the last utterance's index, and the conversation signals of its most heated
    utterance (so a turn with an angry utterance in it reads as angry)."""
    last = parts[-1]
    signals = None
    for u in parts:
        if u.signals is not None and (
            signals is None
            or not signals.tone.at_least(u.signals.tone.label)
            or u.signals.tone.label == signals.tone.label
        ):
            signals = u.signals
    confidences = [u.confidence for u in parts if u.confidence is not None]
    return replace(
        last,
        text=turn.text if text is None else text,
        start_s=turn.start_s,
        end_s=turn.end_s,
        words=tuple(w for u in parts for w in u.words),
        confidence=min(confidences) if confidences else None,
        timing_estimated=turn.timing_estimated,
        signals=signals,
    )
