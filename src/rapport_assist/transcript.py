"""Transcript source: a ``.jsonl`` file, one utterance per line, or a plain ``.txt`` transcript.

Each JSONL line is ``{"speaker": "agent"|"customer", "text": "...", "start": 12.3, "end": 15.0}``.
``start`` and ``end`` (seconds from call start) are optional: when missing they are estimated
from the word count, and the utterance is marked ``timing_estimated``.

A ``.txt`` transcript is what QA teams and call platforms export: one turn per line, led by its
side and a colon (``Agent: …``, ``Customer: …``, a synonym in ``TEXT_SIDES``, or a name with its
side: ``Julie (Agent): …``, ``Agent Julie: …``), optionally after
a time (``[00:01:12] Caller: …``, ``0:42 Rep: …``) or with it after the side (``Agent (0:42): …``).
A line with no side, or an indented one, continues the turn before it (wrapped text). Times, when
given, are turn starts; each turn's end is estimated from its words, never past the next start.

Reading is lazy, so the lines before a bad one are processed and kept before the error.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from .annotate import count_words
from .errors import BadInput, InputNotFound
from .types import Speaker, Utterance

WORDS_PER_S = 2.6  # conversational English; matches the scripted dev set
GAP_S = 0.5  # assumed pause between turns when times are missing
MIN_DURATION_S = 0.4
MAX_LINE_BYTES = 4 << 20  # a line is one utterance (a dialogue for 'eval'); longer is not a transcript
MAX_TEXT_CHARS = 50_000  # about 8,000 words, an hour of talk: the parser needs ~1 GB per 100,000


def estimate_duration_s(text: str) -> float:
    return max(MIN_DURATION_S, count_words(text) / WORDS_PER_S)


def _time(value: Any, name: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise BadInput(
            f"{where}: '{name}' must be a number of seconds ≥ 0, got {value!r}",
            "fix or remove that field (missing times are estimated from the word count)",
        )
    return float(value)


def parse_line(obj: Any, index: int, prev_end_s: float, where: str) -> Utterance:
    """Turn one decoded JSON line into an Utterance (``where`` is 'file:line' for errors)."""
    if not isinstance(obj, dict):
        raise BadInput(
            f"{where}: expected a JSON object, got {type(obj).__name__}",
            'write one object per line: {"speaker": "agent", "text": "..."}',
        )
    if "speaker" not in obj:
        raise BadInput(f"{where}: missing 'speaker'", "add \"speaker\": \"agent\" or \"customer\"")
    side = TEXT_SIDES.get(" ".join(obj["speaker"].lower().split())) if isinstance(obj["speaker"], str) else None
    try:
        speaker = side or Speaker.parse(obj["speaker"])
    except ValueError as exc:
        raise BadInput(
            f"{where}: {exc}", "speakers are the call's sides: label each line agent or customer (or rep, caller…)"
        ) from None
    text = obj.get("text")
    if not isinstance(text, str):
        raise BadInput(f"{where}: 'text' must be a string, got {type(text).__name__}", "add the words said as \"text\"")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        raise BadInput(
            f"{where}: 'text' is {len(text):,} characters long (at most {MAX_TEXT_CHARS:,} an utterance)",
            "split long turns into several lines, one utterance each",
        )
    start = _time(obj.get("start"), "start", where)
    end = _time(obj.get("end"), "end", where)
    estimated = start is None or end is None
    if start is None:
        start = prev_end_s + GAP_S if index else 0.0
        if end is not None and end < start:
            start = max(0.0, end - estimate_duration_s(text))
    if end is None:
        end = start + estimate_duration_s(text)
    if end < start:
        raise BadInput(f"{where}: 'end' ({end}) is before 'start' ({start})", "swap or correct the times")
    # who wrote the line; Twitter customer-care datasets (IBM's, Kaggle's twcs) name it "handle"
    author = obj.get("author", obj.get("handle"))
    if author is not None:
        if isinstance(author, bool) or not isinstance(author, (str, int)):
            raise BadInput(
                f"{where}: 'author' must be a string, got {type(author).__name__}",
                "name who wrote the line (a user id or handle), or leave 'author' out",
            )
        author = str(author).strip() or None
    return Utterance(
        index=index, speaker=speaker, text=text, start_s=start, end_s=end, timing_estimated=estimated, author=author
    )


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, lazily; missing or unreadable -> InputNotFound,
    bad bytes or a line over ``MAX_LINE_BYTES`` -> BadInput naming that line (after the good lines
    before it). A UTF-8 byte order mark at the start is skipped. Each line is decoded on its own,
    so an error names its own line, and at most ``MAX_LINE_BYTES`` are read into memory at once."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputNotFound(f"no such file: {path}", "check the path") from None
    except IsADirectoryError:
        raise InputNotFound(f"{path} is a folder, not a file", "pass a .jsonl file") from None
    except OSError as exc:
        raise InputNotFound(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
    with handle:
        lineno = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise InputNotFound(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE_BYTES:
                raise BadInput(
                    f"{path}:{lineno}: line is longer than {MAX_LINE_BYTES // (1 << 20)} MB",
                    "a transcript line holds one utterance: split long turns into several lines",
                )
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadInput(
                    f"{path}:{lineno}: not UTF-8 text (byte {exc.start + 1} of the line)", "save the file as UTF-8"
                ) from None


def json_lines(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line number, ``file:line``, decoded value) of each non-blank line of a JSONL file; errors as ``read_lines``,
    and a line that is not JSON -> BadInput naming it."""
    for lineno, raw in read_lines(path):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            yield lineno, where, json.loads(raw.rstrip("\r\n"))  # a line cut short: the column at its end, not 1
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno})", "each line must be one JSON object"
            ) from None


def read_transcript(path: Path) -> Iterator[Utterance]:
    """Yield the utterances of a JSONL transcript (index = 0-based line number of non-blank lines),
    or of a ``.txt`` one (index = turn number; ``read_text_transcript``).

    Raises InputNotFound or BadInput (naming the line) lazily, after the good lines before it.
    """
    if path.suffix.lower() == ".txt":
        yield from read_text_transcript(path)
        return
    index = 0
    prev_end = 0.0
    for _, where, obj in json_lines(path):
        utt = parse_line(obj, index, prev_end, where)
        prev_end = utt.end_s
        index += 1
        yield utt
    if index == 0:
        empty = path.stat().st_size == 0
        raise BadInput(
            f"{path} has no utterances" + (" (the file is empty)" if empty else ""),
            'write one JSON object per line: {"speaker": "agent", "text": "..."}',
        )


# The side words a plain-text transcript may lead a turn with (lower case, spaces as written).
TEXT_SIDES: dict[str, Speaker] = {
    **{
        w: Speaker.AGENT
        for w in (
            "agent",
            "rep",
            "representative",
            "advisor",
            "adviser",
            "associate",
            "csr",
            "operator",
            "support",
            "specialist",
            "staff",
            "customer service",
        )
    },
    **{w: Speaker.CUSTOMER for w in ("customer", "caller", "client", "member", "consumer", "user")},
}
_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?"
# [time] side [(time)]: words — the side is a few words before the first colon
_TEXT_TURN = re.compile(
    rf"^(?:[\[(]?(?P<t1>{_CLOCK})[\])]?\s*[-–]?\s*)?"
    rf"(?P<side>[A-Za-z][A-Za-z'_-]*(?: [A-Za-z'_-]+){{0,2}})"
    r"(?:\s*[(\[](?P<role>[A-Za-z][A-Za-z ]{0,30})[)\]])?"  # a name with its side: "Julie (Agent)"
    rf"\s*(?:[\[(](?P<t2>{_CLOCK})[\])])?\s*:(?P<text>.*)$"
)
_TEXT_SIDES_HINT = "start each turn with its side: 'Agent:' or 'Customer:' (also Rep:, Caller:, Client:…)"


def _clock_s(clock: str) -> float:
    seconds = 0.0
    for part in clock.replace(",", ".").split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _side_of(m: re.Match[str]) -> Speaker | None:
    """The side a turn's label names: a side word ("Caller"), or a name with one side word beside
    it ("Agent Julie", "Julie (Agent)"); None when it names no side or both."""
    words = " ".join(f"{m.group('side')} {m.group('role') or ''}".lower().split())
    if words in TEXT_SIDES:
        return TEXT_SIDES[words]
    if "customer service" in words:
        words = words.replace("customer service", "staff")
    sides = {TEXT_SIDES[w] for w in words.split() if w in TEXT_SIDES}
    return sides.pop() if len(sides) == 1 else None


def _turn_label(m: re.Match[str]) -> str:
    return m.group("side") + (f" ({m.group('role')})" if m.group("role") else "")


def text_turn_side(line: str) -> Speaker | None:
    """The side a plain-text transcript line starts a turn with, or None (no side word there)."""
    m = _TEXT_TURN.match(line)
    return _side_of(m) if m else None


def is_text_transcript(path: Path) -> bool:
    """A ``.txt`` file is a transcript when its first non-blank line starts a turn ("Agent: …"): a
    folder of calls may hold notes or READMEs, which are not calls. Unreadable: True (reading it
    as a transcript then says why)."""
    try:
        for _, line in read_lines(path):
            if line.strip():
                return text_turn_side(line) is not None
    except (BadInput, InputNotFound, OSError):
        return True
    return False


def read_text_transcript(path: Path) -> Iterator[Utterance]:
    """Yield the turns of a plain-text transcript (see the module doc), lazily: each turn goes out
    when the next one starts, so the turns before a bad line are kept before its error."""
    pending: tuple[Speaker, list[str], float | None, str] | None = None  # side, text, start, where
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

    for lineno, raw in read_lines(path):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        m = None if line[:1].isspace() else _TEXT_TURN.match(line)
        if m is None:
            if pending is None:
                raise BadInput(f"{where}: no side before the words", _TEXT_SIDES_HINT)
            pending[1].append(line)
            continue
        speaker = _side_of(m)
        if speaker is None:
            if pending is not None:  # the turn before the bad line is whole: keep it
                yield finish(None)
                pending = None
            raise BadInput(
                f"{where}: {_turn_label(m)!r} is not a side of the call",
                _TEXT_SIDES_HINT + "; give a person's name its side ('Julie (Agent):', 'Agent Julie:'), "
                "and indent a wrapped line that starts with a word and a colon",
            )
        clock = m.group("t1") or m.group("t2")
        start = _clock_s(clock) if clock else None
        if pending is not None:
            yield finish(start)
        pending = (speaker, [m.group("text")], start, where)
    if pending is None:
        raise BadInput(f"{path} has no turns", _TEXT_SIDES_HINT)
    yield finish(None)
