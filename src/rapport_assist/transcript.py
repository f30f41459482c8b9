"""Transcript source: a ``.jsonl`` file, one utterance per line.

Each line is ``{"speaker": "agent"|"customer", "text": "...", "start": 12.3, "end": 15.0}``.
``start`` and ``end`` (seconds from call start) are optional: when missing they are estimated
from the word count, and the utterance is marked ``timing_estimated``.

Reading is lazy, so the lines before a bad one are processed and kept before the error.
"""

from __future__ import annotations

import codecs
import json
import math
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
    try:
        speaker = Speaker.parse(obj["speaker"])
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}", "speakers are channels: label each line agent or customer") from None
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
            yield lineno, where, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno})", "each line must be one JSON object"
            ) from None


def read_transcript(path: Path) -> Iterator[Utterance]:
    """Yield the utterances of a JSONL transcript; index = 0-based line number of non-blank lines.

    Raises InputNotFound or BadInput (naming the line) lazily, after the good lines before it.
    """
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
