"""Transcript sources: a ``.jsonl`` file, one utterance per line; a plain ``.txt`` transcript;
WebVTT (``.vtt``) or SRT (``.srt``) captions; an Amazon Transcribe (a job's output, Call Analytics)
or Contact Lens ``.json``. ``read_transcript`` picks the reader by the file's suffix.

Each JSONL line is ``{"speaker": "agent"|"customer", "text": "...", "start": 12.3, "end": 15.0}``.
``start`` and ``end`` (seconds from call start) are optional: when missing they are estimated
from the word count, and the utterance is marked ``timing_estimated``.

The other readers have their own modules: ``transcript_text`` (``.txt`` turns, captions, and
``--speaker-map``, which names people as sides), ``transcript_amazon`` (the ``.json`` of Amazon
Transcribe and Contact Lens). What they all share (``parse_line``, ``read_lines``, the timing
constants, ``TEXT_SIDES``, ``SpeakerMap``) is in ``transcript_base``; the names callers use are
imported from here.

Reading is lazy, so the lines before a bad one are processed and kept before the error. What a
reader leaves out without stopping (a Contact Lens call's system and bot segments) is said once,
before the replay, by ``transcript_notes``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .errors import BadInput
from .transcript_amazon import is_amazon_transcript as is_amazon_transcript
from .transcript_amazon import call_analytics_note, read_amazon_json
from .transcript_base import WORDS_PER_S as WORDS_PER_S
from .transcript_base import SpeakerMap as SpeakerMap
from .transcript_base import parse_line as parse_line
from .transcript_base import read_lines as read_lines
from .transcript_text import not_a_text_transcript, read_captions, read_text_transcript
from .transcript_text import parse_speaker_map as parse_speaker_map
from .types import Speaker, Status, Utterance

TEXT_SUFFIX = ".txt"
ANALYTICS_SUFFIX = ".json"  # Amazon Transcribe (a job's output, Call Analytics), Amazon Connect Contact Lens
CAPTION_SUFFIXES = (".vtt", ".srt")
TRANSCRIPT_SUFFIXES = (".jsonl", ".ndjson", TEXT_SUFFIX, ANALYTICS_SUFFIX, *CAPTION_SUFFIXES)
# the formats whose turns are labelled by names or labels a speaker map can give sides (.json: a
# Transcribe job's ch_0, spk_0…; Call Analytics and Contact Lens name their roles, and ignore it)
SPEAKER_MAP_SUFFIXES = (TEXT_SUFFIX, *CAPTION_SUFFIXES, ANALYTICS_SUFFIX)


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
        except RecursionError:  # valid JSON nested deeper than the reader goes
            raise BadInput(f"{where}: JSON nested too deeply to read", "each line must be one JSON object") from None


def read_transcript(path: Path, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the utterances of a transcript, read by its suffix: JSONL (index = 0-based line number
    of non-blank lines), ``.txt`` (``transcript_text.read_text_transcript``), an Amazon ``.json``
    (``transcript_amazon.read_amazon_json``) or ``.vtt``/``.srt`` captions
    (``transcript_text.read_captions``); the last three number their utterances in file order.
    ``speaker_map``: people named as sides (``SPEAKER_MAP_SUFFIXES`` only).

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
        return not_a_text_transcript(path, speaker_map)
    if suffix == ANALYTICS_SUFFIX and not is_amazon_transcript(path):
        return "a .json file that is not an Amazon Transcribe transcript (of a job, Call Analytics or Contact Lens)"
    return None


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


OTHER_PARTICIPANTS = "other_participants"  # the code of the note that a transcript's other participants were left out


def transcript_notes(path: Path) -> list[Status]:
    """What the user should know before a transcript's replay that reading it does not stop for:
    in a Contact Lens ``.json``, the segments of the system or a bot left out and a supervisor's read
    as the agent's (``transcript_amazon.call_analytics_note``), as one warning."""
    if path.suffix.lower() != ANALYTICS_SUFFIX:
        return []
    note = call_analytics_note(path)
    return [Status("warning", OTHER_PARTICIPANTS, note, 0.0)] if note else []
