"""Transcripts whose turns say their sides by labels: plain-text ``.txt`` turns
(``read_text_transcript``), WebVTT and SRT captions (``read_captions``), and the people
``--speaker-map`` names as sides (``parse_speaker_map``, ``SpeakerMap``) so that they can be read.

A ``.txt`` transcript is what QA teams and call platforms export: one turn per line, led by its
side and a colon (``Agent: …``, ``Customer: …``, a synonym in ``TEXT_SIDES``, or a name with its
side: ``Julie (Agent): …``, ``Agent Julie: …``; a side word with a number, ``Agent 1: …``), optionally after
a time (``[00:01:12] Caller: …``, ``0:42 Rep: …``) or with it after the side (``Agent (0:42): …``).
A line with no side, or an indented one, continues the turn before it (wrapped text); so does one
led by a word that heads a list's step or an aside, never a speaker's turn ("Step 2:", "Option B:",
"Note:"; ``_words_not_a_speaker``), after a turn has started. Times, when
given, are turn starts; each turn's end is estimated from its words, never past the next start. A
turn (or a caption cue) that starts before the one above it stops: the call's time cannot go back.

Captions (``read_captions``) are cues with their times; each cue's text says its side, as a WebVTT
voice (``<v Agent>``, ``<v Julie (Agent)>``), a leading label read as a ``.txt`` turn's
(``Agent: …``), or a label in brackets on a line of its own (``[Agent]``, ``[speaker 0]`` of the
speaker map). A cue without a side goes on with the voice of the cue before it, or with its label
while the turn goes on (``read_captions`` says when: captions often label a turn's first cue only).

``--speaker-map`` (``parse_speaker_map``) names people as sides for the formats that label turns
(``transcript.SPEAKER_MAP_SUFFIXES``), so "Julie: …" can be read; a name it gives wins over the side
words. Names and side words are compared case-folded (``transcript_base.fold``: 'STRASSE' is
'Straße'). A name with a comma goes in double quotes ('"Smith, Julie"=agent'), and a turn led by
such a name that the map does not give stops rather than going on the turn before. In a Transcribe
job's output (``transcript_amazon``) it names its speakers and channels ("spk_0=agent").

The side words (``TEXT_SIDES``) and ``SpeakerMap`` are in ``transcript_base``, with ``parse_line``,
which reads a JSONL line's speaker with the same words.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Literal, NamedTuple, Sequence

from .annotate import count_words
from .errors import BadInput, InputNotFound, UsageError
from .timefmt import clock
from .transcript_base import TEXT_SIDES, SpeakerMap, estimate_duration_s, fold, parse_line, read_lines
from .types import Speaker, Utterance

# ---------------------------------------------------------------------------- side labels, --speaker-map and .txt turns

_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?"
_LETTER = r"[^\W\d_]"  # a letter of any alphabet ("José", "Zoë")
# within a name, also a character that is neither ASCII, a letter nor a space: a combining mark (the
# vowel signs of "राजेश", an accent left uncomposed), a typographic apostrophe ("O’Brien")
_IN_NAME = rf"(?:{_LETTER}|['_-]|[^\x00-\x7f\w\s])"
# a word of a name: letters (an initial or a title with its dot: "J.", "Dr."), or a number ("Speaker 2",
# "Agent 1"; not a time's hours: "Rep 0:42" is none)
_WORD = rf"(?:{_IN_NAME}+\.?|\d+(?!:\d))"
_NAME = rf"{_LETTER}{_IN_NAME}*\.?(?: {_WORD}){{0,2}}"  # a side word, or a name of up to three words
_ROLE = r"(?:\s*[(\[](?P<role>[A-Za-z][A-Za-z ]{0,30})[)\]])?"  # a name with its side: "Julie (Agent)"
_TEXT_SIDES_HINT = "start each turn with its side: 'Agent:' or 'Customer:' (also Rep:, Caller:, Client:…)"
_NAME_HINT = (
    "give a person's name its side ('Julie (Agent):', 'Agent Julie:') or name people with --speaker-map 'Julie=agent'"
)


@lru_cache(maxsize=1)
def _folding_to_several() -> dict[str, tuple[str, ...]]:
    """The letters whose case folding is more than one character ('ß' and 'ẞ': 'ss'; 'İ': 'i' and a
    combining dot; 'ﬁ': 'fi'), by their folding. All are in the Basic Multilingual Plane."""
    out: dict[str, tuple[str, ...]] = {}
    for c in map(chr, range(0x10000)):
        if c.casefold() != c and len(folded := fold(c)) > 1:
            out[folded] = (*out.get(folded, ()), c)
    return out


def _caseless(name: str) -> str:
    """A pattern of a speaker map's ``name`` (``fold``: 'strasse') as a line may write it, for a
    pattern matched ignoring case: its words apart by any spaces, and where a letter that folds to
    several ('ß', 'ẞ') may stand for them ('Straße', 'STRASSE'). Such foldings are looked for left to
    right, the longest first: of two that overlap (in 'ssss'), one way of reading them only."""
    several = _folding_to_several()
    longest = max(map(len, several))
    out: list[str] = []
    at = 0
    while at < len(name):
        folded = next((name[at : at + n] for n in range(longest, 1, -1) if name[at : at + n] in several), None)
        if folded is not None:
            out.append(f"(?:{re.escape(folded)}|{'|'.join(map(re.escape, several[folded]))})")
            at += len(folded)
            continue
        out.append(r"\s+" if name[at] == " " else re.escape(name[at]))
        at += 1
    return "".join(out)


@lru_cache(maxsize=16)
def _label_patterns(names: tuple[str, ...] = ()) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The patterns of a turn's line ("[time] side [(time)]: words", the side a few words before the
    first colon) and of a label alone (a WebVTT voice: "Julie (Agent)"). ``names``: the people of a
    speaker map, matched as written in any case (``_caseless``), whatever their characters ("Mr. Jones",
    "Speaker 1")."""
    side = rf"(?P<side>{_NAME})"
    if names:
        named = "|".join(_caseless(n) for n in sorted(names, key=len, reverse=True))
        side = rf"(?P<side>(?i:{named})|{_NAME})"
    turn = re.compile(
        rf"^(?:[\[(]?(?P<t1>{_CLOCK})[\])]?\s*[-–]?\s*)?{side}{_ROLE}"
        rf"\s*(?:[\[(](?P<t2>{_CLOCK})[\])])?\s*:(?P<text>.*)$"
    )
    return turn, re.compile(rf"\s*{side}{_ROLE}\s*")


def _names(speaker_map: SpeakerMap) -> tuple[str, ...]:
    return tuple(name for name, _ in speaker_map)


_QUOTED_EXAMPLE = "--speaker-map '\"Smith, Julie\"=agent'"
_QUOTE_HINT = f"a name with a comma goes in double quotes: {_QUOTED_EXAMPLE}"


def _outside_quotes(text: str, sep: str) -> list[str]:
    """``text`` split at each ``sep`` that is not between double quotes (the quotes are kept)."""
    parts = [""]
    quoted = False
    for c in text:
        if c == sep and not quoted:
            parts.append("")
            continue
        quoted ^= c == '"'
        parts[-1] += c
    return parts


def _unquoted(part: str, what: str) -> str:
    """A NAME or SIDE of ``--speaker-map`` without the double quotes around it, spaces tidied."""
    part = part.strip()
    if len(part) > 1 and part[0] == part[-1] == '"' and '"' not in part[1:-1]:
        part = part[1:-1]
    elif '"' in part:
        raise UsageError(
            f"--speaker-map: double quotes go around a whole {what} ({part!r})",
            f"quote a whole name, both ends: {_QUOTED_EXAMPLE}",
        )
    return unicodedata.normalize("NFC", " ".join(part.split()))


def parse_speaker_map(text: str) -> SpeakerMap:
    """``--speaker-map "Julie=agent,Mr Jones=customer"``: people and their sides (a side word of
    ``TEXT_SIDES``: agent, customer, rep, caller…). A name with a comma (or '=') is written in
    double quotes: ``'"Smith, Julie"=agent'``. Names are kept as ``fold`` writes them, so they match
    in any case ('STRASSE' is 'Straße'). UsageError when a pair cannot be read, or a quote is not
    closed."""
    example = "write it as --speaker-map 'Julie=agent,Mr Jones=customer'"
    if text.count('"') % 2:
        raise UsageError(
            f"--speaker-map: a double quote is not closed ({text.strip()!r})",
            f"quote a whole name, both ends: {_QUOTED_EXAMPLE}",
        )
    pairs: dict[str, Speaker] = {}
    for item in _outside_quotes(text, ","):
        if not item.strip():
            continue
        written, *sides = _outside_quotes(item, "=")
        written = _unquoted(written, "name")
        name = fold(written)
        if len(sides) != 1 or not name:
            # "Smith, Julie=agent" is read as 'Smith' and 'Julie=agent': say how to keep the name whole
            hint = f"{example}; {_QUOTE_HINT}" if not sides and "," in text else example
            raise UsageError(f"--speaker-map: {item.strip()!r} is not NAME=SIDE", hint)
        if any(c in name for c in ":<>"):
            raise UsageError(f"--speaker-map: a name cannot hold ':', '<' or '>' ({written!r})", example)
        word = _unquoted(sides[0], "side")
        side = TEXT_SIDES.get(fold(word))
        if side is None:
            raise UsageError(
                f"--speaker-map: {word!r} (for {written!r}) is not a side", "give each name agent or customer"
            )
        if pairs.setdefault(name, side) is not side:
            raise UsageError(f"--speaker-map gives {written!r} both sides", "name each person once")
    if not pairs:
        raise UsageError("--speaker-map names nobody", example)
    return tuple(pairs.items())


def _clock_s(clock: str) -> float:
    seconds = 0.0
    for part in clock.replace(",", ".").split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


# a desk named after whom it serves ("Customer Service", "Customer Care", "Member Services") is the agent
_DESK = re.compile(
    r"\b(?:customer|client|member|consumer|user)s? (?:service|services|care|support|success|relations|experience)\b"
)


def _side_of(m: re.Match[str], speaker_map: SpeakerMap = ()) -> Speaker | None:
    """The side a turn's label names: a person of ``speaker_map`` ("Julie"), a side word ("Caller"),
    or a name with one side word beside it ("Agent Julie", "Julie (Agent)"); None when it names no
    side or both."""
    name = fold(m.group("side"))
    for person, side in speaker_map:
        if person == name:
            return side
    words = fold(f"{name} {m.group('role') or ''}")
    if words in TEXT_SIDES:
        return TEXT_SIDES[words]
    words = _DESK.sub("staff", words)  # "Customer Care", "Member Services": the agent's desk
    sides = {TEXT_SIDES[w] for w in words.split() if w in TEXT_SIDES}
    return sides.pop() if len(sides) == 1 else None


# Words that lead a line of a turn's own words, never a speaker's turn: a step or an option of what
# the speaker lists ("Step 2:", "Option B:"), an aside ("Note:", "PS:"). A turn wrapped so that a line
# starts with one stopped as a name where the side belongs. Other labels that name no side still stop
# (a person, a role this reader does not know: "Julie:", "Supervisor:", "Speaker 3:"): that is a new
# speaker whose side is not known, and going on with the turn before would give their words to the
# wrong side. Which of those appears first in the middle of a call (a supervisor, a transfer, the
# agent by her name) cannot be told from whom the file named before, so only these words go on.
_NOT_SPEAKERS = frozenset(
    {"step", "option", "item", "point", "tip", "example", "note", "nb", "ps", "reminder", "warning", "important"}
)


def _words_not_a_speaker(m: re.Match[str]) -> bool:
    """Is the label of the turn's line ``m`` one of ``_NOT_SPEAKERS``, alone or with a number or a
    letter ("Step 2", "Option B", "Note"), and without a time (a timed line starts a turn)?"""
    if m.group("t1") or m.group("t2"):
        return False
    first, *rest = fold(m.group("side")).split()
    return (
        first in _NOT_SPEAKERS and len(rest) <= 1 and all(w.isdecimal() or (len(w) == 1 and w.isalpha()) for w in rest)
    )


def _turn_label(m: re.Match[str]) -> str:
    return m.group("side") + (f" ({m.group('role')})" if m.group("role") else "")


def _not_a_side(where: str, m: re.Match[str], hint: str) -> BadInput:
    return BadInput(f"{where}: {_turn_label(m)!r} is not a side of the call", f"{hint}; {_NAME_HINT}")


# a turn led by a name written surname first ("Smith, Julie: …", as directories and some call
# platforms write them): not read as a label (a comma is no part of a side), so without this it
# would go on the turn before as its words, said by the wrong person
_COMMA_TURN = re.compile(rf"^(?:[\[(]?{_CLOCK}[\])]?\s*[-–]?\s*)?(?P<name>{_NAME},\s*{_NAME}){_ROLE}\s*:")


def _comma_name(line: str) -> str | None:
    """The name, written with a comma, that leads ``line`` as a turn's label ("Smith, Julie"), else
    None. Each of its words starts with a capital, so a sentence ("Well, I think: …") is none."""
    m = _COMMA_TURN.match(line)
    if m is None or not all(w[:1].isupper() for w in m.group("name").replace(",", " ").split()):
        return None
    return " ".join(m.group("name").split())


def _comma_name_error(where: str, name: str) -> BadInput:
    return BadInput(
        f"{where}: {name!r} is not a side of the call",
        f"name people with --speaker-map (a name with a comma in double quotes): --speaker-map '\"{name}\"=agent'",
    )


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``read_lines`` of a text transcript, each line composed (NFC): a name is one text however a tool
    wrote its accents ("José" as 'e' and a combining accent, as macOS may save it), in the file and
    in ``--speaker-map`` alike."""
    for lineno, line in read_lines(path):
        yield lineno, unicodedata.normalize("NFC", line)


def _first_line(path: Path) -> str | None:
    """The first non-blank line of a text file ("" when there is none); None when it cannot be read."""
    try:
        for _, line in _text_lines(path):
            if line.strip():
                return line
    except (BadInput, InputNotFound, OSError):
        return None
    return ""


def not_a_text_transcript(path: Path, speaker_map: SpeakerMap = ()) -> str | None:
    """Why a ``.txt`` file found among calls is not a transcript (its first line is not a turn), else
    None; one that cannot be read counts as a transcript (``transcript.not_a_transcript``)."""
    line = _first_line(path)
    turn = None if line is None else _label_patterns(_names(speaker_map))[0].match(line)
    if line is None or (turn is not None and _side_of(turn, speaker_map) is not None):
        return None
    why = "a .txt file whose first line is not a turn such as 'Agent: …'"
    if turn is not None:
        who = _turn_label(turn)
        why += f"; if {who!r} is a person, --speaker-map '{who}=agent' (or =customer) reads it"
    elif line and (name := _comma_name(line)):
        why += f"; if {name!r} is a person, --speaker-map '\"{name}\"=agent' (or =customer) reads it"
    return why


_TURN_ORDER_HINT = "put the turns in the order they were said (a call of two legs: each leg in a file of its own)"
_CUE_ORDER_HINT = (
    "put the cues in the order they start (captions of each channel one after the other: merge them by time)"
)


def _time_goes_back(where: str, what: str, start: float, before: tuple[float, int], hint: str) -> BadInput:
    """A turn or cue that starts before the one above it: replayed as listed, the call's time would
    go back (and what was said in between would come after what followed it)."""
    now, then = (clock(t, tenths=False, hours=True) for t in (start, before[0]))
    return BadInput(f"{where}: the {what} starts at {now}, before the one at line {before[1]} ({then})", hint)


def read_text_transcript(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the turns of a plain-text transcript (see the module doc), lazily: each turn goes out
    when the next one starts, so the turns before a bad line are kept before its error."""
    turn_line = _label_patterns(_names(speaker_map))[0]
    pending: tuple[Speaker, list[str], float | None, str] | None = None  # side, text, start, where
    last_timed: tuple[float, int] | None = None  # the latest start given, and its line
    index = 0
    prev_end = 0.0

    def finish(next_start: float | None) -> Utterance:
        nonlocal index, prev_end
        assert pending is not None
        speaker, words, start, where = pending
        text = " ".join(" ".join(words).split())
        if not text:
            raise BadInput(f"{where}: the turn has no words", "write what was said after the colon, or drop the line")
        end = None
        if start is not None:
            end = start + estimate_duration_s(text)
            if next_start is not None and next_start >= start:
                end = min(end, next_start)
        utterance = parse_line(
            {"speaker": speaker.value, "text": text, "start": start, "end": end}, index, prev_end, where
        )
        utterance = replace(utterance, timing_estimated=True)  # a start at most; the end is estimated
        index += 1
        prev_end = utterance.end_s
        return utterance

    lines = _text_lines(path)
    while True:
        try:
            lineno, raw = next(lines)
        except StopIteration:
            break
        except BadInput:  # a line that cannot be read (bytes not UTF-8, NUL): the turn before it is kept
            if pending is not None:
                yield finish(None)
            raise
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        m = None if line[:1].isspace() else turn_line.match(line)
        if m is None:
            name = None if line[:1].isspace() else _comma_name(line)
            if name is not None:  # a person the speaker map does not name, surname first
                if pending is not None:
                    yield finish(None)
                    pending = None
                raise _comma_name_error(where, name)
            if pending is None:
                raise BadInput(f"{where}: no side before the words", _TEXT_SIDES_HINT)
            pending[1].append(line)
            continue
        speaker = _side_of(m, speaker_map)
        if speaker is None and pending is not None and _words_not_a_speaker(m):
            pending[1].append(line)  # "Step 2: …" in the middle of a turn: its words
            continue
        if speaker is None:
            if pending is not None:  # the turn before the bad line is whole: keep it
                yield finish(None)
                pending = None
            raise _not_a_side(
                where, m, _TEXT_SIDES_HINT + ", indent a wrapped line that starts with a word and a colon"
            )
        written = m.group("t1") or m.group("t2")
        start = _clock_s(written) if written else None
        if start is not None and last_timed is not None and start < last_timed[0]:
            if pending is not None:  # the turn before the bad line is whole: keep it
                yield finish(None)
                pending = None
            raise _time_goes_back(where, "turn", start, last_timed, _TURN_ORDER_HINT)
        if start is not None:
            last_timed = (start, lineno)
        if pending is not None:
            yield finish(start)
        pending = (speaker, [m.group("text")], start, where)
    if pending is None:
        raise BadInput(f"{path} has no turns", _TEXT_SIDES_HINT)
    yield finish(None)


# ---------------------------------------------------------------------------- WebVTT and SRT captions

_CUE_CLOCK = r"(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
_CUE_TIMING = re.compile(rf"^\s*(?P<start>{_CUE_CLOCK})\s*-->\s*(?P<end>{_CUE_CLOCK})(?:\s.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>")  # "<v Julie (Agent)>", "<v.loud Agent>"
_TAG = re.compile(r"</?[A-Za-z][^>]*>|<\d[^>]*>")  # other cue markup (<i>, </v>, <c.x>, <00:01.000>): dropped
_VTT_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:\s|$)")
_CUE_SIDES_HINT = (
    "start the cue's text with its side: a WebVTT voice '<v Agent>' ('<v Julie (Agent)>') "
    "or a label 'Agent:' ('Customer:', 'Caller:', 'Julie (Agent):'…)"
)
_CUE_FORM_HINT = (
    "a cue is an optional number or id, a time line '00:00:01.000 --> 00:00:04.000' ('00:00:01,000' in .srt), "
    "then its text; cues are separated by a blank line"
)


def _caption_blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The blocks of a caption file (lines between blank lines), each line with its number."""
    block: list[tuple[int, str]] = []
    for lineno, raw in _text_lines(path):
        line = raw.rstrip("\r\n")
        if line.strip():
            block.append((lineno, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _clean_cue_text(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


# a caption line that only describes a sound ("[music]", "(inaudible)", "♪ ♪") says no words
_SOUND_ONLY = re.compile(r"(?:\s*(?:\[[^\]]*\]|\([^)]*\)|♪+))+\s*")


def _unless_sound(text: str) -> str:
    """A turn's words, or none when they only describe a sound ('<v Customer>[sighs]', 'Agent: (inaudible)')."""
    return "" if _SOUND_ONLY.fullmatch(text) else text


class _Part(NamedTuple):
    """One turn of a cue: its side, its words, the line it starts on, what gave its side (a voice
    or a label) and whether that was the cue before's (``carried``)."""

    side: Speaker
    words: list[str]
    lineno: int
    how: Literal["voice", "label"]
    carried: bool = False


_NEW_SPEAKER = re.compile(r">>+\s*")  # broadcast captions' mark of a change of speaker (">>>": of subject)
# a label on a line of its own, in brackets: Deepgram's SRT ("[speaker 0]", when the speaker
# changes), some meeting exports ("(Julie Smith)"); read only when it is a side word or a person of
# the speaker map, so a sound ("[customer laughs]", "(music)") stays a sound
_BRACKETED = re.compile(r"[\[(]\s*([^\])]+?)\s*[\])]")
_DIARIZED = re.compile(r"speaker \d+")  # a diarizer's speaker, who needs --speaker-map


def _bracket_side(lead: str, where: str, speaker_map: SpeakerMap) -> Speaker | None:
    """The side a bracketed label alone on a line names ("[Agent]", "[speaker 0]" of the speaker
    map), else None (a sound). BadInput for a diarizer's speaker the speaker map does not name."""
    m = _BRACKETED.fullmatch(lead)
    if m is None:
        return None
    name = fold(m.group(1))
    side = dict(speaker_map).get(name) or TEXT_SIDES.get(name)
    if side is None and _DIARIZED.fullmatch(name):
        raise BadInput(
            f"{where}: {lead!r} is not a side of the call",
            "name the speakers: --speaker-map 'speaker 0=agent,speaker 1=customer' "
            "(or the other way round: listen to the call's start)",
        )
    return side


def _cue_parts(
    path: Path,
    lines: Sequence[tuple[int, str]],
    carried: _Part | None,
    speaker_map: SpeakerMap,
    not_carried: str = "",
) -> list[_Part]:
    """The turns of one cue's text lines. A line led by a label or holding voices starts turns;
    other text goes on the turn before it, or, at the cue's start, on the side ``carried`` from the
    cue before. BadInput when neither is there (``not_carried``: why the cue before's is not), or
    when a line marks a new speaker ('>>') without saying whose side."""
    turn_line, label = _label_patterns(_names(speaker_map))
    parts: list[_Part] = []
    marked = False  # a '>>' alone on the line before: the next words are a new speaker's
    for lineno, line in lines:
        where = f"{path}:{lineno}"
        after_mark, marked = marked, False
        pieces = _VOICE.split(line)  # text, voice, its text, voice, its text…
        lead = _clean_cue_text(pieces[0])
        new_speaker = _NEW_SPEAKER.match(lead)
        if new_speaker:
            lead = lead[new_speaker.end() :]
            marked = not lead and len(pieces) == 1
        bracketed = _bracket_side(lead, where, speaker_map) if lead else None
        m = None if bracketed is not None or not lead or _SOUND_ONLY.fullmatch(lead) else turn_line.match(lead)
        if bracketed is not None:
            parts.append(_Part(bracketed, [], lineno, "label"))
        elif m is not None:
            side = _side_of(m, speaker_map)
            if side is None:
                raise _not_a_side(where, m, _CUE_SIDES_HINT)
            parts.append(_Part(side, [_unless_sound(m.group("text"))], lineno, "label"))
        elif lead and not _SOUND_ONLY.fullmatch(lead):
            name = _comma_name(lead)
            if name is not None:
                raise _comma_name_error(where, name)
            if new_speaker or after_mark:
                raise BadInput(
                    f"{where}: the cue marks a new speaker ('>>') but not whose side",
                    f"{_CUE_SIDES_HINT}; {_NAME_HINT}",
                )
            if parts:
                parts[-1].words.append(lead)
            elif carried is not None:
                parts.append(_Part(carried.side, [lead], lineno, carried.how, carried=True))
            else:
                raise BadInput(
                    f"{where}: the cue does not say whose words these are"
                    + (f" ({not_carried})" if not_carried else ""),
                    f"{_CUE_SIDES_HINT}; {_NAME_HINT}",
                )
        for k in range(1, len(pieces), 2):
            voice = " ".join((pieces[k] or "").split())
            m = label.fullmatch(voice)
            side = _side_of(m, speaker_map) if m else None
            if side is None:
                raise BadInput(
                    f"{where}: the voice {voice!r} is not a side of the call", f"{_CUE_SIDES_HINT}; {_NAME_HINT}"
                )
            parts.append(_Part(side, [_unless_sound(_clean_cue_text(pieces[k + 1]))], lineno, "voice"))
    return parts


CARRY_GAP_S = 2.0
"""A cue with no side within this many seconds of a labelled cue's end goes on with its speaker
(see ``read_captions``); after a longer silence it stops, saying so."""


def read_captions(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the turns of WebVTT or SRT captions, lazily (see the module doc): each cue's times are
    its utterance's (a cue of several turns shares them out by words). A cue whose side cannot be
    read stops with ``file:line`` after the cues before it.

    A cue that names no side goes on with the speaker of the cue before. Meeting exports name the
    speaker on every cue (Zoom's 'Name: …', Teams' '<v Name>'), so there it never happens; but
    captioning style guides (a label at each change of speaker) and transcription services' SRT
    (Deepgram's captions: a label only when the speaker changes) label the first cue of a turn
    only, and its later cues have none. A voice goes on always, as WebVTT means it; a label only
    while the turn plausibly does: the cue starts within ``CARRY_GAP_S`` of the labelled one's end,
    and the file has not labelled one speaker's cues one after another (which says it labels every
    cue, so a cue without a label is a slip, not the same speaker). Whether the cue before ended a
    sentence says nothing here: cues are cut by length (Deepgram's: 8 words), a turn's sentences
    run across them. A '>>' with no label (a new speaker, in broadcast style) is never carried."""
    index = 0
    prev_end = 0.0
    carried: _Part | None = None  # the side of the cue before, for a cue that names no side
    cue_end = 0.0  # the end of the cue before
    cue_start: tuple[float, int] | None = None  # the start of the cue before, and its time's line
    every_cue = ""  # where the file labelled one speaker's cues one after another ("" if not yet)
    for number, block in enumerate(_caption_blocks(path)):
        head = block[0][1]
        header = number == 0 and head.lstrip().startswith("WEBVTT")
        if header or _VTT_BLOCK.match(head):
            arrow = next((k for k, (_, line) in enumerate(block) if "-->" in line), None)
            if arrow is None:
                continue  # the WebVTT header, a comment, a style or a region
            # no blank line before a cue: as WebVTT reads it, the block ends at the cue's time line
            # (a comment's one line before it is that cue's id)
            block = block[arrow if header or arrow > 1 else 0 :]
        first_lineno = block[0][0]
        at = next((k for k, (_, line) in enumerate(block[:2]) if "-->" in line), None)
        if at is None:
            raise BadInput(f"{path}:{first_lineno}: no cue time ('start --> end') at the cue's start", _CUE_FORM_HINT)
        time_lineno, time_line = block[at]
        timing = _CUE_TIMING.match(time_line)
        if timing is None:
            raise BadInput(f"{path}:{time_lineno}: cannot read the cue time {time_line.strip()!r}", _CUE_FORM_HINT)
        start, end = _clock_s(timing.group("start")), _clock_s(timing.group("end"))
        if end < start:
            raise BadInput(f"{path}:{time_lineno}: the cue ends before it starts", "swap or correct the times")
        if cue_start is not None and start < cue_start[0]:
            raise _time_goes_back(f"{path}:{time_lineno}", "cue", start, cue_start, _CUE_ORDER_HINT)
        cue_start = (start, time_lineno)
        for lineno, line in block[at + 1 :]:
            if _CUE_TIMING.match(line):  # two cues run together: its words would be the first cue's
                raise BadInput(f"{path}:{lineno}: a cue time inside a cue's text", _CUE_FORM_HINT)
        carry, not_carried = carried, ""
        if carried is not None and carried.how == "label":
            gap = start - cue_end
            if every_cue:
                carry = None
                not_carried = (
                    f"this file labels every cue, even one speaker's in a row as at {every_cue}, "
                    "so one without a label is not taken for the speaker before"
                )
            elif gap > CARRY_GAP_S:
                carry = None
                not_carried = (
                    f"it starts {gap:.1f} s after the cue before; the label of that turn, "
                    f"{carried.side.value} at line {carried.lineno}, goes on to cues within {CARRY_GAP_S:g} s only"
                )
        parts = _cue_parts(path, block[at + 1 :], carry, speaker_map, not_carried)
        if parts:
            first = parts[0]
            if (
                carried is not None
                and first.how == carried.how == "label"
                and not (first.carried or carried.carried)
                and first.side is carried.side
            ):
                every_cue = every_cue or f"line {first.lineno}"
            carried, cue_end = parts[-1], end
        turns = [(part.side, text, part.lineno) for part in parts if (text := " ".join(" ".join(part.words).split()))]
        words = [max(1, count_words(text)) for _, text, _ in turns]
        t = start
        for k, (side, text, lineno) in enumerate(turns):
            part_end = end if k == len(turns) - 1 else t + (end - start) * words[k] / sum(words)
            utterance = parse_line(
                {"speaker": side.value, "text": text, "start": t, "end": part_end}, index, prev_end, f"{path}:{lineno}"
            )
            index += 1
            prev_end = utterance.end_s
            t = part_end
            yield utterance
    if index == 0:
        raise BadInput(f"{path} has no cues with words", _CUE_FORM_HINT)
