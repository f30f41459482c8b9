"""Transcript sources: a ``.jsonl`` file, one utterance per line; a plain ``.txt`` transcript; an
Amazon Transcribe (a job's output, Call Analytics) or Contact Lens ``.json``; WebVTT (``.vtt``) or SRT (``.srt``) captions.

Each JSONL line is ``{"speaker": "agent"|"customer", "text": "...", "start": 12.3, "end": 15.0}``.
``start`` and ``end`` (seconds from call start) are optional: when missing they are estimated
from the word count, and the utterance is marked ``timing_estimated``.

A ``.txt`` transcript is what QA teams and call platforms export: one turn per line, led by its
side and a colon (``Agent: …``, ``Customer: …``, a synonym in ``TEXT_SIDES``, or a name with its
side: ``Julie (Agent): …``, ``Agent Julie: …``), optionally after
a time (``[00:01:12] Caller: …``, ``0:42 Rep: …``) or with it after the side (``Agent (0:42): …``).
A line with no side, or an indented one, continues the turn before it (wrapped text). Times, when
given, are turn starts; each turn's end is estimated from its words, never past the next start.

A Call Analytics / Contact Lens ``.json`` is one document whose ``Transcript`` list holds the
call's segments, each with its side (``ParticipantRole``, or ``ParticipantId`` read through the
``Participants`` list), ``Content`` and times in milliseconds (``read_call_analytics``). The
output of a plain Transcribe job (``read_amazon_transcribe``) is its ``results``: timed words, each
of a channel (ch_0 the agent, ch_1 the customer) or a speaker (spk_0…, given sides by ``--speaker-map``),
joined into utterances while one speaks (or its ``audio_segments``).

Captions (``read_captions``) are cues with their times; each cue's text says its side, as a WebVTT
voice (``<v Agent>``, ``<v Julie (Agent)>``) or a leading label read as a ``.txt`` turn's
(``Agent: …``). A cue without a side takes the voice of the cue before it, if that had one.

``--speaker-map`` (``parse_speaker_map``) names people as sides for the formats that label turns
(``SPEAKER_MAP_SUFFIXES``), so "Julie: …" can be read; a name it gives wins over the side words.
In a Transcribe job's output it names its speakers and channels ("spk_0=agent").

Reading is lazy, so the lines before a bad one are processed and kept before the error.
"""

from __future__ import annotations

import codecs
import html
import json
import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .annotate import count_words
from .errors import BadInput, InputNotFound, UsageError
from .types import Speaker, Utterance

TEXT_SUFFIX = ".txt"
ANALYTICS_SUFFIX = ".json"  # Amazon Transcribe (a job's output, Call Analytics), Amazon Connect Contact Lens
CAPTION_SUFFIXES = (".vtt", ".srt")
TRANSCRIPT_SUFFIXES = (".jsonl", ".ndjson", TEXT_SUFFIX, ANALYTICS_SUFFIX, *CAPTION_SUFFIXES)
# the formats whose turns are labelled by names or labels a speaker map can give sides (.json: a
# Transcribe job's ch_0, spk_0…; Call Analytics and Contact Lens name their roles, and ignore it)
SPEAKER_MAP_SUFFIXES = (TEXT_SUFFIX, *CAPTION_SUFFIXES, ANALYTICS_SUFFIX)

SpeakerMap = tuple[tuple[str, Speaker], ...]
"""People named as sides (``--speaker-map``): (name in lower case, one space between words, side)."""

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


def read_transcript(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the utterances of a transcript, read by its suffix: JSONL (index = 0-based line number
    of non-blank lines), ``.txt`` (``read_text_transcript``), Call Analytics / Contact Lens ``.json``
    (``read_call_analytics``) or ``.vtt``/``.srt`` captions (``read_captions``); the last three
    number their utterances in file order. ``speaker_map``: people named as sides
    (``SPEAKER_MAP_SUFFIXES`` only).

    Raises InputNotFound or BadInput (naming the line) lazily, after the good lines before it.
    """
    suffix = path.suffix.lower()
    if suffix == TEXT_SUFFIX:
        yield from read_text_transcript(path, speaker_map)
        return
    if suffix in CAPTION_SUFFIXES:
        yield from read_captions(path, speaker_map)
        return
    if suffix == ANALYTICS_SUFFIX:
        yield from read_amazon_json(path, speaker_map)
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


def not_a_transcript(path: Path, speaker_map: SpeakerMap = ()) -> str | None:
    """Why a file with a transcript's suffix, found among calls, is not a call (a note, a README, a
    settings ``.json``), else None. Only ``.txt`` and ``.json`` files can be something else; one that
    cannot be read counts as a transcript (reading it then says why)."""
    suffix = path.suffix.lower()
    if suffix == TEXT_SUFFIX:
        line = _first_line(path)
        turn = None if line is None else _label_patterns(_names(speaker_map))[0].match(line)
        if line is None or (turn is not None and _side_of(turn, speaker_map) is not None):
            return None
        why = "a .txt file whose first line is not a turn such as 'Agent: …'"
        if turn is not None:
            who = _turn_label(turn)
            why += f"; if {who!r} is a person, --speaker-map '{who}=agent' (or =customer) reads it"
        return why
    if suffix == ANALYTICS_SUFFIX and not is_amazon_transcript(path):
        return "a .json file that is not an Amazon Transcribe transcript (of a job, Call Analytics or Contact Lens)"
    return None


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
_NAME = r"[A-Za-z][A-Za-z'_-]*(?: [A-Za-z'_-]+){0,2}"  # a side word, or a name of up to three words
_ROLE = r"(?:\s*[(\[](?P<role>[A-Za-z][A-Za-z ]{0,30})[)\]])?"  # a name with its side: "Julie (Agent)"
_TEXT_SIDES_HINT = "start each turn with its side: 'Agent:' or 'Customer:' (also Rep:, Caller:, Client:…)"
_NAME_HINT = (
    "give a person's name its side ('Julie (Agent):', 'Agent Julie:') or name people with --speaker-map 'Julie=agent'"
)


@lru_cache(maxsize=16)
def _label_patterns(names: tuple[str, ...] = ()) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The patterns of a turn's line ("[time] side [(time)]: words", the side a few words before the
    first colon) and of a label alone (a WebVTT voice: "Julie (Agent)"). ``names``: the people of a
    speaker map, matched as written in any case, whatever their characters ("Mr. Jones", "Speaker 1")."""
    side = rf"(?P<side>{_NAME})"
    if names:
        named = "|".join(r"\s+".join(map(re.escape, n.split())) for n in sorted(names, key=len, reverse=True))
        side = rf"(?P<side>(?i:{named})|{_NAME})"
    turn = re.compile(
        rf"^(?:[\[(]?(?P<t1>{_CLOCK})[\])]?\s*[-–]?\s*)?{side}{_ROLE}"
        rf"\s*(?:[\[(](?P<t2>{_CLOCK})[\])])?\s*:(?P<text>.*)$"
    )
    return turn, re.compile(rf"\s*{side}{_ROLE}\s*")


def _names(speaker_map: SpeakerMap) -> tuple[str, ...]:
    return tuple(name for name, _ in speaker_map)


def parse_speaker_map(text: str) -> SpeakerMap:
    """``--speaker-map "Julie=agent,Mr Jones=customer"``: people and their sides (a side word of
    ``TEXT_SIDES``: agent, customer, rep, caller…). UsageError when a pair cannot be read."""
    example = "write it as --speaker-map 'Julie=agent,Mr Jones=customer'"
    pairs: dict[str, Speaker] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        written, eq, word = item.partition("=")
        written = " ".join(written.split())
        name = written.lower()
        if not eq or not name:
            raise UsageError(f"--speaker-map: {item.strip()!r} is not NAME=SIDE", example)
        if any(c in name for c in ":<>"):
            raise UsageError(f"--speaker-map: a name cannot hold ':', '<' or '>' ({written!r})", example)
        side = TEXT_SIDES.get(" ".join(word.lower().split()))
        if side is None:
            raise UsageError(
                f"--speaker-map: {word.strip()!r} (for {written!r}) is not a side", "give each name agent or customer"
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


def _side_of(m: re.Match[str], speaker_map: SpeakerMap = ()) -> Speaker | None:
    """The side a turn's label names: a person of ``speaker_map`` ("Julie"), a side word ("Caller"),
    or a name with one side word beside it ("Agent Julie", "Julie (Agent)"); None when it names no
    side or both."""
    name = " ".join(m.group("side").lower().split())
    for person, side in speaker_map:
        if person == name:
            return side
    words = " ".join(f"{name} {m.group('role') or ''}".lower().split())
    if words in TEXT_SIDES:
        return TEXT_SIDES[words]
    if "customer service" in words:
        words = words.replace("customer service", "staff")
    sides = {TEXT_SIDES[w] for w in words.split() if w in TEXT_SIDES}
    return sides.pop() if len(sides) == 1 else None


def _turn_label(m: re.Match[str]) -> str:
    return m.group("side") + (f" ({m.group('role')})" if m.group("role") else "")


def _not_a_side(where: str, m: re.Match[str], hint: str) -> BadInput:
    return BadInput(f"{where}: {_turn_label(m)!r} is not a side of the call", f"{hint}; {_NAME_HINT}")


def text_turn_side(line: str, speaker_map: SpeakerMap = ()) -> Speaker | None:
    """The side a plain-text transcript line starts a turn with, or None (no side word there)."""
    m = _label_patterns(_names(speaker_map))[0].match(line)
    return _side_of(m, speaker_map) if m else None


def _first_line(path: Path) -> str | None:
    """The first non-blank line of a text file ("" when there is none); None when it cannot be read."""
    try:
        for _, line in read_lines(path):
            if line.strip():
                return line
    except (BadInput, InputNotFound, OSError):
        return None
    return ""


def is_text_transcript(path: Path, speaker_map: SpeakerMap = ()) -> bool:
    """A ``.txt`` file is a transcript when its first non-blank line starts a turn ("Agent: …"): a
    folder of calls may hold notes or READMEs, which are not calls. Unreadable: True (reading it
    as a transcript then says why)."""
    line = _first_line(path)
    return line is None or text_turn_side(line, speaker_map) is not None


def read_text_transcript(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the turns of a plain-text transcript (see the module doc), lazily: each turn goes out
    when the next one starts, so the turns before a bad line are kept before its error."""
    turn_line = _label_patterns(_names(speaker_map))[0]
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
        m = None if line[:1].isspace() else turn_line.match(line)
        if m is None:
            if pending is None:
                raise BadInput(f"{where}: no side before the words", _TEXT_SIDES_HINT)
            pending[1].append(line)
            continue
        speaker = _side_of(m, speaker_map)
        if speaker is None:
            if pending is not None:  # the turn before the bad line is whole: keep it
                yield finish(None)
                pending = None
            raise _not_a_side(
                where, m, _TEXT_SIDES_HINT + ", indent a wrapped line that starts with a word and a colon"
            )
        clock = m.group("t1") or m.group("t2")
        start = _clock_s(clock) if clock else None
        if pending is not None:
            yield finish(start)
        pending = (speaker, [m.group("text")], start, where)
    if pending is None:
        raise BadInput(f"{path} has no turns", _TEXT_SIDES_HINT)
    yield finish(None)


# ---------------------------------------------------------------------------- Call Analytics / Contact Lens

# Post-call output shapes: https://docs.aws.amazon.com/transcribe/latest/dg/tca-output-batch.html
# (Transcribe Call Analytics: each segment has its ParticipantRole) and
# https://docs.aws.amazon.com/connect/latest/adminguide/contact-lens-example-output-files.html
# (Contact Lens: segments name a ParticipantId; the top-level Participants list gives each id's role).
MAX_JSON_BYTES = 256 << 20  # the document is read whole; a call's analytics are a few MB
_ANALYTICS_SIDES = {"AGENT": Speaker.AGENT, "CUSTOMER": Speaker.CUSTOMER}
_AMAZON_HINT = (
    "give the JSON as Amazon wrote it (a transcription job's output, or the post-call output of Transcribe "
    "Call Analytics or Contact Lens), or write the call as a .jsonl or .txt transcript"
)


def _json_document(path: Path) -> Any:
    """The JSON document in ``path``; InputNotFound or BadInput (``file:line`` of a syntax error)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise InputNotFound(f"no such file: {path}", "check the path") from None
    except IsADirectoryError:
        raise InputNotFound(f"{path} is a folder, not a file", "pass a .json file") from None
    except OSError as exc:
        raise InputNotFound(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
    if len(raw) > MAX_JSON_BYTES:
        raise BadInput(f"{path} is over {MAX_JSON_BYTES >> 20} MB", _AMAZON_HINT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start + 1})", "save the file as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})",
            "the file must be one whole JSON document: was it cut short or edited by hand?",
        ) from None


def _analytics_segments(doc: Any) -> list[Any] | None:
    transcript = doc.get("Transcript") if isinstance(doc, dict) else None
    return transcript if isinstance(transcript, list) else None


def is_amazon_transcript(path: Path) -> bool:
    """Is ``path`` an Amazon transcript: the output of a Transcribe job (a ``results`` object with
    its ``items``) or of Call Analytics / Contact Lens (a top-level ``Transcript`` list)? One that
    cannot be read or is not JSON: True (reading it then says why)."""
    try:
        doc = _json_document(path)
    except (BadInput, InputNotFound):
        return True
    return _analytics_segments(doc) is not None or _transcribe_results(doc) is not None


def read_amazon_json(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the utterances of an Amazon ``.json`` transcript, read by its shape: Call Analytics /
    Contact Lens (``read_call_analytics``; their roles say the sides, ``speaker_map`` is not used)
    or a plain transcription job (``read_amazon_transcribe``)."""
    doc = _json_document(path)
    if _analytics_segments(doc) is not None:
        yield from read_call_analytics(path, doc)
    elif _transcribe_results(doc) is not None:
        yield from read_amazon_transcribe(path, speaker_map, doc)
    else:
        raise BadInput(
            f"{path}: not an Amazon Transcribe transcript (no 'results' of a transcription job, no top-level "
            "'Transcript' list of Call Analytics or Contact Lens)",
            _AMAZON_HINT,
        )


def _millis(value: Any, name: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise BadInput(
            f"{where}: '{name}' must be a number of milliseconds ≥ 0, got {value!r}",
            "fix or remove that field (missing times are estimated from the word count)",
        )
    return value / 1000.0


def read_call_analytics(path: Path, doc: Any = None) -> Iterator[Utterance]:
    """Yield the segments of an Amazon Transcribe Call Analytics or Contact Lens post-call JSON as
    utterances (``BeginOffsetMillis``/``EndOffsetMillis`` their times; a segment with no words is
    left out). A segment of another participant (a system or bot message, a supervisor) stops with
    ``file: segment N`` (counted from 1), after the segments before it. ``doc``: the file's JSON,
    when already read."""
    if doc is None:
        doc = _json_document(path)
    segments = _analytics_segments(doc)
    if segments is None:
        raise BadInput(
            f"{path}: not an Amazon Transcribe Call Analytics or Contact Lens transcript (no top-level "
            "'Transcript' list)",
            _AMAZON_HINT,
        )
    roles: dict[str, Any] = {}
    participants = doc.get("Participants")
    for p in participants if isinstance(participants, list) else ():
        if isinstance(p, dict) and isinstance(p.get("ParticipantId"), str):
            roles[p["ParticipantId"]] = p.get("ParticipantRole")
    index = 0
    prev_end = 0.0
    for n, segment in enumerate(segments, 1):
        where = f"{path}: segment {n}"
        if not isinstance(segment, dict):
            raise BadInput(
                f"{where}: expected an object, got {type(segment).__name__}",
                'each item of \'Transcript\' is one segment: {"ParticipantRole": "AGENT", "Content": "...", ...}',
            )
        role = segment.get("ParticipantRole")
        if role is None and "ParticipantId" in segment:
            role = roles.get(segment["ParticipantId"], segment["ParticipantId"])
        side = _ANALYTICS_SIDES.get(role.strip().upper()) if isinstance(role, str) else None
        if side is None:
            said = "no 'ParticipantRole' or 'ParticipantId'" if role is None else f"participant {role!r}"
            raise BadInput(
                f"{where}: {said}: only AGENT and CUSTOMER are sides of a call",
                "drop the segment (a system or bot message), or set its ParticipantRole to AGENT or CUSTOMER",
            )
        content = segment.get("Content")
        if not isinstance(content, str):
            raise BadInput(
                f"{where}: 'Content' must be a string, got {type(content).__name__}",
                "give the words said as \"Content\"",
            )
        if not content.strip():
            continue
        start = _millis(segment.get("BeginOffsetMillis"), "BeginOffsetMillis", where)
        end = _millis(segment.get("EndOffsetMillis"), "EndOffsetMillis", where)
        utterance = parse_line(
            {"speaker": side.value, "text": content, "start": start, "end": end}, index, prev_end, where
        )
        index += 1
        prev_end = utterance.end_s
        yield utterance
    if index == 0:
        raise BadInput(f"{path}: the 'Transcript' list has no words", _AMAZON_HINT)


# ---------------------------------------------------------------------------- Amazon Transcribe (plain)

# The output of a plain transcription job (StartTranscriptionJob, not Call Analytics): a 'results'
# object with the words in 'items' (each with start_time and end_time as strings of seconds, a type
# 'pronunciation' or 'punctuation' and the word as alternatives[0].content).
# Channel identification (stereo calls): https://docs.aws.amazon.com/transcribe/latest/dg/channel-id-output-batch.html
# (results.channel_labels.channels[].items, labelled ch_0 and ch_1); speaker partitioning (diarization):
# https://docs.aws.amazon.com/transcribe/latest/dg/diarization-output-batch.html (results.speaker_labels.segments,
# spk_0, spk_1…, and a speaker_label on each of results.items). Outputs written since also label
# each item with its channel_label or speaker_label, and hold results.audio_segments: the words of
# one stretch of one speaker or channel, as 'transcript' with its times, label and item ids.
PAUSE_S = 1.0
"""A silence longer than this between two words of one speaker starts a new utterance. Gaps
between turns in conversation are mostly a fraction of a second and a breath between sentences is
shorter still, so a longer silence is a pause that ends what was being said (a hold, a lookup, a
wait for an answer)."""

# Transcribe numbers the channels of a stereo file from 0, left first; this project's stereo
# convention is the agent on the left (``--channels agent,customer``), so ch_0 is the agent. A call
# recorded the other way round says so as for its recording, with --channels customer,agent
# (``transcript_map``), or with --speaker-map 'ch_0=customer,ch_1=agent'.
TRANSCRIBE_CHANNEL_SIDES: SpeakerMap = (("ch_0", Speaker.AGENT), ("ch_1", Speaker.CUSTOMER))


def transcript_map(
    path: Path, speaker_map: SpeakerMap, channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER)
) -> SpeakerMap:
    """The speaker map to read the transcript ``path`` with: ``speaker_map`` where its format labels
    turns (``SPEAKER_MAP_SUFFIXES``), else none; in a ``.json`` also the sides ``--channels`` gives
    the left and right channels (ch_0, ch_1 of a Transcribe job), unless ``speaker_map`` names them."""
    suffix = path.suffix.lower()
    if suffix not in SPEAKER_MAP_SUFFIXES:
        return ()
    if suffix != ANALYTICS_SUFFIX or channel_order == (Speaker.AGENT, Speaker.CUSTOMER):
        return speaker_map
    named = {name for name, _ in speaker_map}
    channels = (("ch_0", channel_order[0]), ("ch_1", channel_order[1]))
    return tuple(pair for pair in channels if pair[0] not in named) + speaker_map


_TRANSCRIBE_FORM_HINT = (
    "give the job's output JSON as Amazon Transcribe wrote it (each item's word in alternatives[0].content, "
    "times as start_time and end_time)"
)


@dataclass
class _Piece:
    """A word (from ``items``) or a stretch of words (from ``audio_segments``) of one label."""

    label: str | None
    start: float | None
    end: float | None
    text: str
    where: str


def _transcribe_results(doc: Any) -> dict[str, Any] | None:
    """The ``results`` of a transcription job's output, or None (another JSON document)."""
    results = doc.get("results") if isinstance(doc, dict) else None
    if isinstance(results, dict) and any(k in results for k in ("items", "audio_segments", "channel_labels")):
        return results
    return None


def _seconds(value: Any, name: str, where: str) -> float | None:
    """A time of a Transcribe output (a string of seconds, "4.86", or a number); None when absent."""
    if value is None:
        return None
    seconds = None
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise BadInput(f"{where}: '{name}' must be a number of seconds ≥ 0, got {value!r}", _TRANSCRIBE_FORM_HINT)
    return seconds


def _label(obj: dict[str, Any]) -> str | None:
    """Who an item or segment is: its speaker (diarization) or else its channel."""
    for key in ("speaker_label", "channel_label"):
        if isinstance(obj.get(key), str) and obj[key].strip():
            return str(obj[key]).strip()
    return None


def _item_pieces(
    items: Any, at: str, default: str | None = None, label_of: Callable[[float], str | None] | None = None
) -> Iterator[_Piece]:
    """The words of a Transcribe ``items`` list (``at``: where it is, for errors), punctuation
    attached to the word before it. An item with no label of its own has ``default`` (its channel's),
    else ``label_of(its start time)``."""
    if not isinstance(items, list):
        raise BadInput(f"{at}: expected a list of items, got {type(items).__name__}", _TRANSCRIBE_FORM_HINT)
    last: _Piece | None = None
    for i, item in enumerate(items):
        where = f"{at}[{i}]"
        if not isinstance(item, dict):
            raise BadInput(f"{where}: expected an object, got {type(item).__name__}", _TRANSCRIBE_FORM_HINT)
        alternatives = item.get("alternatives")
        best = alternatives[0] if isinstance(alternatives, list) and alternatives else None
        content = best.get("content") if isinstance(best, dict) else None
        if not isinstance(content, str):
            raise BadInput(f"{where}: no word (no alternatives[0].content)", _TRANSCRIBE_FORM_HINT)
        content = " ".join(content.split())
        kind = item.get("type")
        if kind == "punctuation":
            if last is not None and content:
                last.text += content
            continue
        if kind != "pronunciation":
            raise BadInput(
                f"{where}: 'type' must be 'pronunciation' or 'punctuation', got {kind!r}", _TRANSCRIBE_FORM_HINT
            )
        start = _seconds(item.get("start_time"), "start_time", where)
        end = _seconds(item.get("end_time"), "end_time", where)
        if start is None or end is None:
            raise BadInput(f"{where}: a word without its 'start_time' and 'end_time'", _TRANSCRIBE_FORM_HINT)
        if end < start:
            raise BadInput(f"{where}: 'end_time' ({end}) is before 'start_time' ({start})", "swap or correct the times")
        label = _label(item) or default
        if label is None and label_of is not None:
            label = label_of(start)
        if not content:
            continue
        last = _Piece(label, start, end, content, where)
        yield last


def _transcribe_pieces(path: Path, results: dict[str, Any]) -> tuple[Iterator[_Piece], bool]:
    """The pieces of a transcription job's ``results``, and whether each is a whole utterance
    (``audio_segments``) rather than one word (``items``, to be joined)."""
    at = f"{path}: results"
    segments = results.get("audio_segments")
    if isinstance(segments, list) and segments:

        def segment_pieces() -> Iterator[_Piece]:
            for i, segment in enumerate(segments):
                where = f"{at}.audio_segments[{i}]"
                if not isinstance(segment, dict):
                    raise BadInput(f"{where}: expected an object, got {type(segment).__name__}", _TRANSCRIBE_FORM_HINT)
                text = segment.get("transcript")
                if not isinstance(text, str):
                    raise BadInput(
                        f"{where}: 'transcript' must be a string, got {type(text).__name__}", _TRANSCRIBE_FORM_HINT
                    )
                if text.strip():
                    start = _seconds(segment.get("start_time"), "start_time", where)
                    end = _seconds(segment.get("end_time"), "end_time", where)
                    yield _Piece(_label(segment), start, end, text, where)

        return segment_pieces(), True
    items = results.get("items")
    labelled = isinstance(items, list) and any(isinstance(i, dict) and _label(i) for i in items)
    channels = results.get("channel_labels")
    if not labelled and isinstance(channels, dict) and isinstance(channels.get("channels"), list):

        def channel_pieces() -> Iterator[_Piece]:
            for c, channel in enumerate(channels["channels"]):
                where = f"{at}.channel_labels.channels[{c}]"
                if not isinstance(channel, dict):
                    raise BadInput(f"{where}: expected an object, got {type(channel).__name__}", _TRANSCRIBE_FORM_HINT)
                yield from _item_pieces(channel.get("items"), f"{where}.items", default=_label(channel))

        return channel_pieces(), False
    speakers = results.get("speaker_labels")
    spans: list[tuple[float, float, str]] = []
    if not labelled and isinstance(speakers, dict) and isinstance(speakers.get("segments"), list):
        for s, segment in enumerate(speakers["segments"]):
            where = f"{at}.speaker_labels.segments[{s}]"
            if isinstance(segment, dict) and _label(segment):
                start = _seconds(segment.get("start_time"), "start_time", where)
                end = _seconds(segment.get("end_time"), "end_time", where)
                if start is not None and end is not None:
                    spans.append((start, end, str(_label(segment))))

    def speaker_at(start: float) -> str | None:
        """The speaker segment a word starts in (older diarization outputs label segments only)."""
        return next((label for s, e, label in spans if s <= start <= e), None)

    return _item_pieces(items if items is not None else [], f"{at}.items", None, speaker_at if spans else None), False


def _sides_of_labels(path: Path, labels: Sequence[str], speaker_map: SpeakerMap) -> dict[str, Speaker]:
    """Each label's side: ``speaker_map`` first, then ch_0 = agent and ch_1 = customer. BadInput
    naming the labels that have none (speaker partitioning cannot tell the agent from the customer)."""
    known = dict(TRANSCRIBE_CHANNEL_SIDES) | dict(speaker_map)
    sides = {label: known[label.lower()] for label in labels if label.lower() in known}
    missing = [label for label in labels if label not in sides]
    if missing:
        given = [f"{label}={sides[label].value}" for label in labels if label in sides]
        # a guess to check: the first to speak is the agent ("Thanks for calling…"), unless one is named
        agent = Speaker.AGENT not in sides.values()
        guess = [f"{label}={'agent' if agent and k == 0 else 'customer'}" for k, label in enumerate(missing)]
        option = f"--speaker-map '{','.join(given + guess)}'"
        found = "speaker label" if len(labels) == 1 else "speaker labels"
        raise BadInput(
            f"{path}: Amazon Transcribe's {found} {', '.join(labels)} "
            f"{'do' if len(labels) > 1 else 'does'} not say who is the agent"
            + (f" (--speaker-map gives no side to {', '.join(missing)})" if speaker_map else ""),
            f"name the sides: {option} (or the other way round: listen to the call's start)",
        )
    return sides


def read_amazon_transcribe(path: Path, speaker_map: SpeakerMap = (), doc: Any = None) -> Iterator[Utterance]:
    """Yield the utterances of a plain Amazon Transcribe job's output JSON (see the comment above):
    one per ``audio_segments`` entry when there are some, else the words of ``items`` joined while one
    speaker or channel talks, a new utterance after a silence over ``PAUSE_S``. Sides: ch_0 agent,
    ch_1 customer, speakers (spk_N) through ``speaker_map`` only, which also wins over the channel sides.

    A bad item or segment stops with ``file: results.items[N]`` (its path in the JSON) after the
    utterances before it; labels with no side, or none at all (a single-speaker job), before any."""
    if doc is None:
        doc = _json_document(path)
    results = _transcribe_results(doc)
    if results is None:
        raise BadInput(f"{path}: not the output of an Amazon Transcribe job (no 'results' with 'items')", _AMAZON_HINT)
    pieces, whole = _transcribe_pieces(path, results)
    read: list[_Piece] = []
    error: BadInput | None = None
    try:
        for piece in pieces:
            read.append(piece)
    except BadInput as exc:
        error = exc
    unlabelled = next((k for k, p in enumerate(read) if p.label is None), None)
    if unlabelled == 0 and all(p.label is None for p in read):
        raise BadInput(
            f"{path}: the Amazon Transcribe job labelled no channels or speakers, so whose words are whose is not known",
            "transcribe the call again with channel identification (a stereo call) or speaker partitioning, "
            "or write it as a .jsonl or .txt transcript",
        )
    if unlabelled is not None:
        error = BadInput(
            f"{read[unlabelled].where}: whose word this is is not said (no 'channel_label' or 'speaker_label', "
            "and no speaker segment holds its time)",
            _TRANSCRIBE_FORM_HINT,
        )
        read = read[:unlabelled]
    # call order (the channels of channel identification are listed one after the other); a
    # segment with no start time stays after the one before it
    starts: list[float] = []
    for p in read:
        starts.append(p.start if p.start is not None else (starts[-1] if starts else 0.0))
    ordered = [read[k] for k in sorted(range(len(read)), key=starts.__getitem__)]
    sides = _sides_of_labels(path, list(dict.fromkeys(str(p.label) for p in ordered)), speaker_map)
    index = 0
    prev_end = 0.0
    turn: list[_Piece] = []

    def utterance() -> Utterance:
        nonlocal index, prev_end
        first, last = turn[0], turn[-1]
        text = " ".join(p.text for p in turn)
        utt = parse_line(
            {"speaker": sides[str(first.label)].value, "text": text, "start": first.start, "end": last.end},
            index,
            prev_end,
            first.where,
        )
        index += 1
        prev_end = utt.end_s
        return utt

    for piece in ordered:
        if turn and (whole or piece.label != turn[-1].label or (piece.start or 0.0) - (turn[-1].end or 0.0) > PAUSE_S):
            yield utterance()
            turn = []
        turn.append(piece)
    if turn:
        yield utterance()
    if error is not None:
        raise error
    if index == 0:
        raise BadInput(f"{path}: the Amazon Transcribe job found no words", _AMAZON_HINT)


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
    for lineno, raw in read_lines(path):
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


def _cue_parts(
    path: Path, lines: Sequence[tuple[int, str]], carried: Speaker | None, speaker_map: SpeakerMap
) -> list[tuple[Speaker, list[str], int, bool]]:
    """The turns of one cue's text lines: (side, words, line number, whether a voice gave the side).
    A line led by a label or holding voices starts turns; other text goes on the turn before it,
    or, at the cue's start, on the voice ``carried`` from the cue before. BadInput when neither is there."""
    turn_line, label = _label_patterns(_names(speaker_map))
    parts: list[tuple[Speaker, list[str], int, bool]] = []
    for lineno, line in lines:
        where = f"{path}:{lineno}"
        pieces = _VOICE.split(line)  # text, voice, its text, voice, its text…
        lead = _clean_cue_text(pieces[0])
        if lead and not _SOUND_ONLY.fullmatch(lead):
            m = turn_line.match(lead)
            if m is not None:
                side = _side_of(m, speaker_map)
                if side is None:
                    raise _not_a_side(where, m, _CUE_SIDES_HINT)
                parts.append((side, [m.group("text")], lineno, False))
            elif parts:
                parts[-1][1].append(lead)
            elif carried is not None:
                parts.append((carried, [lead], lineno, True))
            else:
                raise BadInput(
                    f"{where}: the cue does not say whose words these are", f"{_CUE_SIDES_HINT}; {_NAME_HINT}"
                )
        for k in range(1, len(pieces), 2):
            voice = " ".join((pieces[k] or "").split())
            m = label.fullmatch(voice)
            side = _side_of(m, speaker_map) if m else None
            if side is None:
                raise BadInput(
                    f"{where}: the voice {voice!r} is not a side of the call", f"{_CUE_SIDES_HINT}; {_NAME_HINT}"
                )
            parts.append((side, [_clean_cue_text(pieces[k + 1])], lineno, True))
    return parts


def read_captions(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the turns of WebVTT or SRT captions, lazily (see the module doc): each cue's times are
    its utterance's (a cue of several turns shares them out by words). A cue whose side cannot be
    read stops with ``file:line`` after the cues before it."""
    index = 0
    prev_end = 0.0
    carried: Speaker | None = None  # the voice of the cue before, for a cue that names no side
    for number, block in enumerate(_caption_blocks(path)):
        first_lineno, head = block[0]
        if (number == 0 and head.lstrip().startswith("WEBVTT")) or _VTT_BLOCK.match(head):
            continue  # the WebVTT header, a comment, a style or a region
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
        for lineno, line in block[at + 1 :]:
            if _CUE_TIMING.match(line):  # two cues run together: its words would be the first cue's
                raise BadInput(f"{path}:{lineno}: a cue time inside a cue's text", _CUE_FORM_HINT)
        parts = _cue_parts(path, block[at + 1 :], carried, speaker_map)
        if parts:
            carried = parts[-1][0] if parts[-1][3] else None
        turns = [
            (side, text, lineno) for side, words, lineno, _ in parts if (text := " ".join(" ".join(words).split()))
        ]
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
