"""What every transcript reader shares: the utterance of one decoded line (``parse_line``: a JSONL
line's fields; the other readers give it the same fields for each turn they read, so one place
checks them), a text file's lines read lazily (``read_lines``), the times estimated from the word
count (``WORDS_PER_S``, ``GAP_S``), the side words (``TEXT_SIDES``: agent, rep, caller…, which a
JSONL ``speaker`` may be too) and ``SpeakerMap`` (people named as sides).

A module of its own below the readers: ``transcript`` picks a reader by suffix, so it imports
``transcript_text`` and ``transcript_amazon``, and both of those need ``parse_line``. Kept in
``transcript``, it would be imported back from there; an import inside a function is still an
import cycle (grimp reads every import statement, and tests/test_architecture.py refuses cycles).
"""

from __future__ import annotations

import codecs
import json
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Sequence

from .annotate import count_words
from .errors import BadInput, InputNotFound
from .types import Speaker, Utterance

SpeakerMap = tuple[tuple[str, Speaker], ...]
"""People named as sides (``--speaker-map``): (name as ``fold`` writes it, side)."""


def fold(text: str) -> str:
    """``text`` as names and side words are compared: decomposed (NFD), case-folded, composed (NFC),
    one space between words. Case folding is lower case that also makes one text of what a script's
    capitals and lower case write differently ('Straße' and 'STRASSE' are both 'strasse', Armenian
    'և' and 'ԵՒ' both 'եւ'), which ``str.lower`` does not. Normalizing before and after it is the
    Unicode standard's canonical caseless match (3.13, D145), as Python's Unicode HOWTO writes it
    (NFD both times); composing at the end gives the same equality and keeps the name's letters as a
    composed (NFC) line writes them. Decomposing first matters: composed, a Greek vowel with its iota
    subscript and a further accent folds in another order than decomposed."""
    decomposed = unicodedata.normalize("NFD", " ".join(text.split()))
    return unicodedata.normalize("NFC", decomposed.casefold())


# The side words a plain-text transcript may lead a turn with (as ``fold`` writes them).
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

WORDS_PER_S = 2.6  # conversational English; matches the scripted dev set
GAP_S = 0.5  # assumed pause between turns when times are missing
MIN_DURATION_S = 0.4
MAX_LINE_BYTES = 4 << 20  # a line is one utterance (a dialogue for 'eval'); longer is not a transcript
MAX_TEXT_CHARS = 50_000  # about 8,000 words, an hour of talk: the parser needs ~1 GB per 100,000
MAX_JSON_BYTES = 256 << 20  # a .json transcript is read whole; a call's analytics are a few MB

Warn = Callable[[str], None]
"""Where a reader says what it left out of a transcript and why (a warning, once per file)."""


def estimate_duration_s(text: str) -> float:
    return max(MIN_DURATION_S, count_words(text) / WORDS_PER_S)


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float, or None: not a number (a bool neither), NaN, infinite, or an
    integer too large for a float (JSON allows any number of digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def shown_value(value: Any) -> str:
    """``value`` for an error message, a huge number cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_MISSING_TIME_HINT = "fix or remove that field (missing times are estimated from the word count)"


def time_field(
    value: Any,
    name: str,
    where: str,
    *,
    unit: str = "seconds",
    per_s: float = 1.0,
    text: bool = False,
    hint: str = _MISSING_TIME_HINT,
) -> float | None:
    """A time field of a transcript in seconds, or None when absent: a number of ``unit`` ≥ 0
    (``per_s`` of them to a second); with ``text``, also a number written as a string ("4.86").
    Anything else is BadInput naming ``where`` and the field."""
    if value is None:
        return None
    number = None
    if text and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        if number is not None and not math.isfinite(number):
            number = None
    else:
        number = finite_number(value)
    if number is None or number < 0:
        raise BadInput(f"{where}: '{name}' must be a number of {unit} ≥ 0, got {shown_value(value)}", hint)
    return number / per_s


def parse_line(obj: Any, index: int, prev_end_s: float, where: str) -> Utterance:
    """Turn one decoded JSON line into an Utterance (``where`` is 'file:line' for errors)."""
    if not isinstance(obj, dict):
        raise BadInput(
            f"{where}: expected a JSON object, got {type(obj).__name__}",
            'write one object per line: {"speaker": "agent", "text": "..."}',
        )
    if "speaker" not in obj:
        raise BadInput(f"{where}: missing 'speaker'", "add \"speaker\": \"agent\" or \"customer\"")
    side = TEXT_SIDES.get(fold(obj["speaker"])) if isinstance(obj["speaker"], str) else None
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
    start = time_field(obj.get("start"), "start", where)
    end = time_field(obj.get("end"), "end", where)
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


def open_input(path: Path, suffix: str) -> BinaryIO:
    """``path`` opened for reading bytes; a missing, folder or unreadable path is InputNotFound
    saying what to do (``suffix``: the kind of file to pass instead of a folder)."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputNotFound(f"no such file: {path}", "check the path") from None
    except IsADirectoryError:
        raise InputNotFound(f"{path} is a folder, not a file", f"pass a {suffix} file") from None
    except OSError as exc:
        raise InputNotFound(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None


_UTF16_HINT = "save the file as UTF-8 (Notepad: Save as, Encoding UTF-8; PowerShell: Out-File -Encoding utf8)"


def _utf16_error(path: Path, where: str, raw: bytes) -> BadInput | None:
    """The error for text in UTF-16, as Windows PowerShell's '>' and Notepad's 'Unicode' save it (a
    byte order mark, or NUL bytes: no text transcript holds one), else None. ``where``: the file
    and line named."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return BadInput(f"{where}: UTF-16 text (its byte order mark says so), not UTF-8", _UTF16_HINT)
    if b"\x00" in raw:
        return BadInput(f"{where}: NUL bytes, so not UTF-8 text: UTF-16 without its byte order mark?", _UTF16_HINT)
    return None


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, lazily; missing or unreadable -> InputNotFound,
    bad bytes or a line over ``MAX_LINE_BYTES`` -> BadInput naming that line (after the good lines
    before it); UTF-16 text (Windows' 'Unicode') is named as such. A UTF-8 byte order mark at the
    start is skipped; lines end with LF, CRLF or a CR alone. Each line is decoded on its own, so an
    error names its own line, and at most ``MAX_LINE_BYTES`` are read into memory at once."""
    with open_input(path, ".jsonl") as handle:
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
            utf16 = _utf16_error(path, str(path) if lineno == 1 else f"{path}:{lineno}", raw)
            if utf16 is not None:
                raise utf16
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadInput(
                    f"{path}:{lineno}: not UTF-8 text (byte {exc.start + 1} of the line)", "save the file as UTF-8"
                ) from None
            # a CR alone ends a line too (WebVTT allows it; old Mac tools write it): each is a line
            body = text.rstrip("\r\n")
            *lines, last = body.split("\r")
            for line in lines:
                yield lineno, line + "\n"
                lineno += 1
            yield lineno, last + text[len(body) :]


def json_error(exc: json.JSONDecodeError) -> str:
    """What is wrong where, in words: 'Expecting value at column 17' ('Unterminated string
    starting at' does not say 'at' twice)."""
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


def json_document(path: Path, hint: str) -> Any:
    """The JSON document in ``path`` (a cloud product's ``.json`` transcript, read whole);
    InputNotFound, or BadInput naming ``file:line`` of a syntax error (``hint``: what to give instead,
    for a file too large or nested too deeply to be one)."""
    with open_input(path, ".json") as handle:
        try:
            raw = handle.read(MAX_JSON_BYTES + 1)
        except OSError as exc:
            raise InputNotFound(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
    if len(raw) > MAX_JSON_BYTES:
        raise BadInput(f"{path} is over {MAX_JSON_BYTES >> 20} MB", hint)
    utf16 = _utf16_error(path, str(path), raw)
    if utf16 is not None:
        raise utf16
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start + 1})", "save the file as UTF-8") from None
    if not text.strip():
        raise BadInput(f"{path} is empty", hint)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}: not valid JSON ({json_error(exc)})",
            "the file must be one whole JSON document: was it cut short or edited by hand?",
        ) from None
    except RecursionError:  # valid JSON, but nested deeper than the reader goes: no product writes that
        raise BadInput(f"{path}: JSON nested too deeply to read", hint) from None
    except ValueError:  # an integer of more digits than Python converts (4,300): no product writes that
        raise BadInput(f"{path}: a number too long to read (thousands of digits)", hint) from None


def type_name(value: Any) -> str:
    """What a JSON value is, for an error message ('a list', 'null'…)."""
    if value is None:
        return "null"
    return {
        bool: "true or false",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def count_of(n: int, what: str, many: str = "") -> str:
    """'1 segment', '3 segments' ('1 entry', '2 entries' with ``many``)."""
    return f"{n} {what}" if n == 1 else f"{n} {many or what + 's'}"


@dataclass
class Said:
    """A turn read from a cloud product's JSON, its side known, before ``parse_line`` checks it."""

    speaker: Speaker
    text: str
    start: float | None
    end: float | None
    where: str  # 'file: segment N', for errors


def in_call_order(turns: Sequence[Said]) -> Iterator[Utterance]:
    """The utterances of ``turns`` in the order they began (the sides of a stereo call are listed
    one channel after the other by some products), numbered from 0. A turn with no start time is
    placed by its end less its estimated length, else after the turn listed before it."""
    keys: list[float] = []
    for t in turns:
        if t.start is not None:
            keys.append(t.start)
        elif t.end is not None:
            keys.append(max(0.0, t.end - estimate_duration_s(t.text)))
        else:
            keys.append(keys[-1] if keys else 0.0)
    index = 0
    prev_end = 0.0
    for k in sorted(range(len(turns)), key=keys.__getitem__):
        t = turns[k]
        utterance = parse_line(
            {"speaker": t.speaker.value, "text": t.text, "start": t.start, "end": t.end}, index, prev_end, t.where
        )
        index += 1
        prev_end = utterance.end_s
        yield utterance
