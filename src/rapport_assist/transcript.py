"""Transcript sources: a ``.jsonl`` file, one utterance per line; a plain ``.txt`` transcript;
WebVTT (``.vtt``) or SRT (``.srt``) captions; the ``.json`` of a cloud product: Amazon Transcribe (a
job's output, Call Analytics) or Contact Lens, an Azure AI Speech batch or fast transcription, a
Google Cloud CCAI Insights conversation or Speech-to-Text response. ``read_transcript`` picks the
reader by the file's suffix, and a ``.json`` file's by its shape (``json_transcript_kind``).

Each JSONL line is ``{"speaker": "agent"|"customer", "text": "...", "start": 12.3, "end": 15.0}``.
``start`` and ``end`` (seconds from call start) are optional: when missing they are estimated
from the word count, and the utterance is marked ``timing_estimated``.

The other readers have their own modules: ``transcript_text`` (``.txt`` turns, captions, and
``--speaker-map``, which names people as sides), ``transcript_amazon`` (the ``.json`` of Amazon
Transcribe and Contact Lens), ``transcript_azure`` (Azure AI Speech), ``transcript_google`` (CCAI
Insights, Speech-to-Text). What they all share (``parse_line``, ``read_lines``, the timing
constants, ``TEXT_SIDES``, ``SpeakerMap``) is in ``transcript_base``; the names callers use are
imported from here.

Reading is lazy, so the lines before a bad one are processed and kept before the error. What a
reader leaves out without stopping (a Contact Lens call's system and bot segments, a CCAI
Insights call's automated agent) is said once through the ``warn`` given to ``read_transcript``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import BadInput, InputNotFound, RapportError
from .transcript_amazon import is_amazon_document, read_amazon_json
from .transcript_amazon import is_amazon_transcript as is_amazon_transcript
from .transcript_azure import is_azure_document, read_azure_json
from .transcript_base import WORDS_PER_S as WORDS_PER_S
from .transcript_base import SpeakerMap as SpeakerMap
from .transcript_base import Warn as Warn
from .transcript_base import json_document, json_error
from .transcript_base import parse_line as parse_line
from .transcript_base import read_lines as read_lines
from .transcript_google import google_kind, read_google_json
from .transcript_text import not_a_text_transcript, read_captions, read_text_transcript
from .transcript_text import parse_speaker_map as parse_speaker_map
from .types import EVENT_TYPES, Speaker, Utterance

TEXT_SUFFIX = ".txt"
# Amazon Transcribe (a job's output, Call Analytics), Amazon Connect Contact Lens, Azure AI Speech
# batch and fast transcription, Google Cloud CCAI Insights and Speech-to-Text: told apart by their shape
ANALYTICS_SUFFIX = ".json"
CAPTION_SUFFIXES = (".vtt", ".srt")
TRANSCRIPT_SUFFIXES = (".jsonl", ".ndjson", TEXT_SUFFIX, ANALYTICS_SUFFIX, *CAPTION_SUFFIXES)
# the formats whose turns are labelled by names or labels a speaker map can give sides (.json: a
# Transcribe job's ch_0, spk_0…, Azure's channels and speaker1…, Google's channels; Call Analytics,
# Contact Lens and CCAI Insights name their roles, which win over it)
SPEAKER_MAP_SUFFIXES = (TEXT_SUFFIX, *CAPTION_SUFFIXES, ANALYTICS_SUFFIX)
# a JSONL file that starts with an event (``types.EVENT_TYPES``) is rapport-assist's own output
# (``replay --out``, ``live --record``, qa's ``events.jsonl``)
EVENT_LOG = "an event log that rapport-assist wrote (replay --out, live --record), not a transcript"
EVENT_LOG_HINT = "replay the recording it came from (live --record-audio keeps it beside the log, as a .wav)"


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
                f"{where}: not valid JSON ({json_error(exc)})", "each line must be one JSON object"
            ) from None
        except RecursionError:  # valid JSON nested deeper than the reader goes
            raise BadInput(f"{where}: JSON nested too deeply to read", "each line must be one JSON object") from None
        except ValueError:  # an integer of more digits than Python converts (4,300)
            raise BadInput(
                f"{where}: a number too long to read (thousands of digits)", "each line must be one JSON object"
            ) from None


_JSON_HINT = (
    "give the JSON as the product wrote it (Amazon Transcribe, Call Analytics or Contact Lens; an Azure AI "
    "Speech batch transcription result or fast transcription response; a Google Cloud CCAI Insights "
    "conversation or Speech-to-Text response), "
    "or write the call as a .jsonl or .txt transcript"
)
AMAZON, AZURE, GOOGLE = "Amazon", "Azure", "Google"


def json_transcript_kind(doc: Any) -> str | None:
    """Whose transcript the decoded JSON ``doc`` is, by its shape: ``AMAZON`` (a Transcribe job's
    ``results`` with its items, a ``Transcript`` list of Call Analytics or Contact Lens), ``AZURE``
    (``recognizedPhrases``; fast transcription's ``phrases`` beside ``combinedPhrases``), ``GOOGLE``
    (``transcript.transcriptSegments`` of CCAI Insights, ``entries`` with roles of its upload format,
    ``results`` with ``alternatives`` of Speech-to-Text), or None: another JSON document."""
    if is_amazon_document(doc):
        return AMAZON
    if is_azure_document(doc):
        return AZURE
    if google_kind(doc) is not None:
        return GOOGLE
    return None


@dataclass(frozen=True, eq=False)
class JsonTranscript:
    """A ``.json`` file parsed once (``load_json_transcript``), to be read from that parse:
    ``doc`` is its decoded JSON, ``kind`` whose transcript it is (``json_transcript_kind``; None:
    another JSON document)."""

    path: Path
    doc: Any
    kind: str | None


def load_json_transcript(path: Path) -> JsonTranscript:
    """Parse the ``.json`` file ``path`` (once: give the result to ``read_transcript``);
    InputNotFound, or BadInput when it is not one JSON document."""
    doc = json_document(path, _JSON_HINT)
    return JsonTranscript(path, doc, json_transcript_kind(doc))


def is_json_transcript(path: Path, unreadable: bool = True) -> bool:
    """Is the ``.json`` file ``path`` a transcript this project reads (``json_transcript_kind``)?
    One that cannot be read or is not one JSON document: ``unreadable`` (True: reading it then says why)."""
    try:
        return load_json_transcript(path).kind is not None
    except (BadInput, InputNotFound):
        return unreadable


def read_json_transcript(
    path: Path, speaker_map: SpeakerMap = (), warn: Warn | None = None, parsed: JsonTranscript | None = None
) -> Iterator[Utterance]:
    """Yield the utterances of a cloud product's ``.json`` transcript, read by its shape
    (``json_transcript_kind``); what a reader leaves out is said through ``warn``. ``parsed``: the
    file already parsed (``load_json_transcript``), else it is parsed now."""
    loaded = parsed if parsed is not None else load_json_transcript(path)
    doc, kind = loaded.doc, loaded.kind
    if kind == AMAZON:
        yield from read_amazon_json(path, speaker_map, doc, warn)
    elif kind == AZURE:
        yield from read_azure_json(path, speaker_map, doc)
    elif kind == GOOGLE:
        yield from read_google_json(path, speaker_map, doc, warn)
    else:
        raise BadInput(
            f"{path}: not a transcript this reads (no 'results' of an Amazon Transcribe job, no top-level "
            "'Transcript' list of Call Analytics or Contact Lens, no 'recognizedPhrases' or 'phrases' of Azure AI "
            "Speech, "
            "no 'transcript.transcriptSegments' of CCAI Insights nor 'entries' of its upload format, no 'results' of "
            "Google Speech-to-Text)",
            _JSON_HINT,
        )


def read_transcript(
    path: Path, speaker_map: SpeakerMap = (), warn: Warn | None = None, parsed: JsonTranscript | None = None
) -> Iterator[Utterance]:
    """Yield the utterances of a transcript, read by its suffix: JSONL (index = 0-based line number
    of non-blank lines), ``.txt`` (``transcript_text.read_text_transcript``), a cloud product's ``.json``
    (``read_json_transcript``) or ``.vtt``/``.srt`` captions
    (``transcript_text.read_captions``); the last three number their utterances in file order (a
    ``.json``: in the order they began). ``speaker_map``: people named as sides
    (``SPEAKER_MAP_SUFFIXES`` only); ``warn``: told what a reader left out (a bot's turns), once a file;
    ``parsed``: a ``.json`` file already parsed (``load_json_transcript``), read from that parse.

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
        yield from read_json_transcript(path, speaker_map, warn, parsed)
        return
    index = 0
    prev_end = 0.0
    if _is_event_log(path):
        raise BadInput(f"{path} is {EVENT_LOG}", EVENT_LOG_HINT)
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
    if suffix in (".jsonl", ".ndjson") and _is_event_log(path):
        return f"{EVENT_LOG}: its recording is the call"
    if suffix == ANALYTICS_SUFFIX and not is_json_transcript(path):
        return (
            "a .json file that is not an Amazon Transcribe, Azure AI Speech or Google Cloud transcript (of a "
            "Transcribe job, Call Analytics, Contact Lens, a batch or fast transcription, CCAI Insights or "
            "Speech-to-Text)"
        )
    return None


def _is_event_log(path: Path) -> bool:
    """Is the JSONL file ``path`` an event log: its lines are events, and not only utterances (a
    transcript may be written as ``utterance`` events)? Read up to the first line that is not an
    utterance event: a transcript's first line. One that cannot be read is not (reading it says why)."""
    try:
        for _, _, obj in json_lines(path):
            if not (isinstance(obj, dict) and obj.get("type") in EVENT_TYPES):
                return False
            if obj["type"] != "utterance":
                return True
    except (RapportError, OSError):
        pass
    return False


def transcript_map(
    path: Path, speaker_map: SpeakerMap, channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER)
) -> SpeakerMap:
    """The speaker map to read the transcript ``path`` with: ``speaker_map`` where its format labels
    turns (``SPEAKER_MAP_SUFFIXES``), else none; in a ``.json`` also the sides ``--channels`` gives
    the left and right channels (ch_0, ch_1 of a Transcribe job or of Azure, batch or fast; Google's
    channels 1 and 2), unless ``speaker_map`` names them."""
    suffix = path.suffix.lower()
    if suffix not in SPEAKER_MAP_SUFFIXES:
        return ()
    if suffix != ANALYTICS_SUFFIX or channel_order == (Speaker.AGENT, Speaker.CUSTOMER):
        return speaker_map
    named = {name for name, _ in speaker_map}
    channels = (("ch_0", channel_order[0]), ("ch_1", channel_order[1]))
    return tuple(pair for pair in channels if pair[0] not in named) + speaker_map
