"""The result file of an Azure AI Speech batch transcription, or the response of its fast
transcription API (``read_azure_json``): one ``.json`` per recording, told apart from other
``.json`` transcripts by its top-level ``recognizedPhrases`` list (batch), or ``phrases`` list
beside ``combinedPhrases`` or ``durationMilliseconds`` (fast) (``is_azure_document``).

The documented fields read (Microsoft Learn, "Get batch transcription results", the section on
the transcription result file: https://learn.microsoft.com/azure/ai-services/speech-service/batch-transcription-get):

* ``recognizedPhrases``: the phrases, each one utterance here;
* of each phrase, ``channel`` (0 and 1, the left and right channels of a stereo file),
  ``speaker`` (1, 2…, present only when diarization was asked for), ``recognitionStatus``
  ("Success"; a phrase of another status has no words and is left out),
  ``offsetInTicks`` and ``durationInTicks`` (ticks of 100 ns, sometimes written as 7600000.0)
  or else ``offset`` and ``duration`` (ISO 8601 durations such as "PT1.32S"), and
  ``nBest[0].display`` (the most likely words, with punctuation and capitals).

Not used: ``combinedRecognizedPhrases``, ``lexical``, ``itn``, ``maskedITN``, the word timings,
confidences, ``locale``, ``source``, ``timestamp``.

The fast transcription response (REST ``POST …/speechtotext/transcriptions:transcribe``, the
synchronous API, version 2024-11-15) was checked against Microsoft Learn, "Use the fast
transcription API with Azure AI Speech" (its example responses with a locale given, with
diarization and with multichannel on:
https://learn.microsoft.com/azure/ai-services/speech-service/fast-transcription-create), the REST
reference "Transcriptions - Transcribe" (whose 2024-05-15-preview example names the times
``offset`` and ``duration``, in milliseconds too) and the phrase type of Microsoft's JavaScript
client, @azure/ai-speech-transcription ``TranscribedPhrase`` (channel and speaker: when present).
Its fields read:

* ``phrases``: the phrases, each one utterance here;
* of each phrase, ``text`` (the display form: punctuation and capitals),
  ``offsetMilliseconds`` and ``durationMilliseconds`` (``offset`` and ``duration`` in the
  preview), ``channel`` (0-based, present only with channel separation: 0 and 1, the left and
  right channels) and ``speaker`` (a number per voice, in no particular order, present only with
  diarization);
* ``combinedPhrases`` only to see a silent second channel (an entry with ``channel`` 1): its
  texts repeat the phrases' words, so they are not read as utterances.

Not used: ``durationMilliseconds`` of the call, a phrase's ``words``, ``locale``, ``confidence``.

Sides: channel 0 is the agent and channel 1 the customer (the left and right channels, this
project's stereo convention: ``--channels customer,agent`` swaps them through
``transcript.transcript_map``, or ``--speaker-map 'ch_0=customer,ch_1=agent'``). A diarized
phrase's ``speaker`` number says nothing about who is the agent, so diarized speakers need
``--speaker-map 'speaker1=agent,speaker2=customer'``, as Amazon Transcribe's spk_0… do. A result
of channel 0 alone and no speakers is a mono recording transcribed whole (both voices on one
channel): it stops, saying so, unless ``--speaker-map 'ch_0=…'`` (channel 0 alone) says it is one
side's own recording; ``--channels``, which names both channels for a folder's stereo calls, says
nothing of it. A stereo file whose right channel was silent lists channel 1 in
``combinedRecognizedPhrases`` (``combinedPhrases``), and is read as the agent's. A fast
transcription is read the same way: its channels, its speakers, its mono response.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import BadInput
from .transcript_base import Said, SpeakerMap, in_call_order, json_document, shown_value, time_field, type_name
from .types import Speaker, Utterance

TICKS_PER_S = 10_000_000.0  # a tick is 100 nanoseconds
CHANNEL_SIDES: dict[str, Speaker] = {"ch_0": Speaker.AGENT, "ch_1": Speaker.CUSTOMER}

_AZURE_HINT = (
    "give the transcription result file as Azure AI Speech batch transcription wrote it (the one of "
    "\"kind\": \"Transcription\", not the report), or write the call as a .jsonl or .txt transcript"
)
_PHRASE_HINT = (
    "give the result file as Azure wrote it: each recognized phrase has its 'channel', 'offsetInTicks', "
    "'durationInTicks' and 'nBest' list, whose first entry's 'display' holds the words"
)
_FAST_HINT = (
    "give the response as Azure AI Speech fast transcription returned it (its 'phrases' beside "
    "'combinedPhrases'), or write the call as a .jsonl or .txt transcript"
)
_FAST_PHRASE_HINT = (
    "give the response as Azure returned it: each phrase has its 'text', 'offsetMilliseconds' and "
    "'durationMilliseconds', and a 'channel' (channel separation) or a 'speaker' (diarization)"
)
# 'PT1.32S', 'PT1M5.2S', 'P1DT2H' (ISO 8601 durations, as Azure writes offsets and durations)
_ISO_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
# how a --speaker-map may name a diarized speaker ('speaker1', 'Speaker 1', 'speaker_1', 'guest-1') or a channel
_SPEAKER_NAME = re.compile(r"(?:speaker|spk|guest)[ _-]?(\d+)")
_CHANNEL_NAME = re.compile(r"(?:ch|channel)[ _-]?(\d+)")


def _phrases(doc: Any) -> list[Any] | None:
    phrases = doc.get("recognizedPhrases") if isinstance(doc, dict) else None
    return phrases if isinstance(phrases, list) else None


def _fast_phrases(doc: Any) -> list[Any] | None:
    """The ``phrases`` of a fast transcription response: a top-level list beside the response's
    ``combinedPhrases`` or its ``durationMilliseconds`` (not a bare ``duration``, as the preview named
    it: a word other JSON uses too; the preview's responses have ``combinedPhrases``)."""
    if not isinstance(doc, dict) or not any(k in doc for k in ("combinedPhrases", "durationMilliseconds")):
        return None
    phrases = doc.get("phrases")
    return phrases if isinstance(phrases, list) else None


def is_azure_document(doc: Any) -> bool:
    """Is the decoded JSON ``doc`` the result file of an Azure AI Speech batch transcription (a
    top-level ``recognizedPhrases`` list) or a fast transcription response (``_fast_phrases``)?"""
    return _phrases(doc) is not None or _fast_phrases(doc) is not None


def _iso_seconds(value: Any, name: str, where: str) -> float | None:
    """An ISO 8601 duration ('PT1.32S') in seconds; None when absent."""
    if value is None:
        return None
    m = _ISO_DURATION.fullmatch(value.strip()) if isinstance(value, str) and len(value) < 100 else None
    if m is None or not any(m.groupdict().values()):
        raise BadInput(
            f"{where}: '{name}' must be an ISO 8601 duration such as \"PT1.32S\", got {shown_value(value)}",
            _PHRASE_HINT,
        )
    d, h, mi, s = (float(m[k] or 0) for k in ("d", "h", "m", "s"))
    seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    if not math.isfinite(seconds):
        raise BadInput(f"{where}: '{name}' is too large a duration, got {shown_value(value)}", _PHRASE_HINT)
    return seconds


def _phrase_time(phrase: dict[str, Any], ticks: str, iso: str, where: str) -> float | None:
    """A phrase's offset or duration in seconds: from its ticks, else its ISO duration; None when neither."""
    seconds = time_field(phrase.get(ticks), ticks, where, unit="ticks", per_s=TICKS_PER_S, hint=_PHRASE_HINT)
    return seconds if seconds is not None else _iso_seconds(phrase.get(iso), iso, where)


def _count(value: Any, name: str, where: str, hint: str) -> int | None:
    """A channel or speaker number ≥ 0; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{where}: '{name}' must be a whole number ≥ 0, got {shown_value(value)}", hint)
    return value


def _label(phrase: dict[str, Any], where: str, hint: str) -> str:
    """Whose a phrase is: its diarized speaker ('speaker1'), else its channel ('ch_0'; none: channel 0)."""
    channel = _count(phrase.get("channel"), "channel", where, hint)
    speaker = _count(phrase.get("speaker"), "speaker", where, hint)
    return f"speaker{speaker}" if speaker is not None else f"ch_{channel or 0}"


def _mapped(speaker_map: SpeakerMap) -> dict[str, Speaker]:
    """The sides ``speaker_map`` gives Azure's labels (speaker1…, ch_0…), however the names are written."""
    out: dict[str, Speaker] = {}
    for name, side in speaker_map:
        compact = name.replace(" ", "")
        if m := _SPEAKER_NAME.fullmatch(compact):
            out[f"speaker{int(m[1])}"] = side
        elif m := _CHANNEL_NAME.fullmatch(compact):
            out[f"ch_{int(m[1])}"] = side
    return out


def _sides_of_labels(path: Path, labels: Sequence[str], speaker_map: SpeakerMap) -> dict[str, Speaker]:
    """Each label's side: ``speaker_map`` first, then channel 0 = agent and channel 1 = customer.
    BadInput naming the labels that have none (diarization cannot tell the agent from the customer),
    with the option that would name them."""
    known = CHANNEL_SIDES | _mapped(speaker_map)
    sides = {label: known[label] for label in labels if label in known}
    missing = [label for label in labels if label not in sides]
    if missing:
        given = [f"{label}={sides[label].value}" for label in labels if label in sides]
        # a guess to check: the first to speak is the agent ("Thanks for calling…"), unless one is named
        agent = Speaker.AGENT not in sides.values()
        guess = [f"{label}={'agent' if agent and k == 0 else 'customer'}" for k, label in enumerate(missing)]
        option = f"--speaker-map '{','.join(given + guess)}'"
        speakers = all(label.startswith("speaker") for label in labels)
        found = ("speaker" if speakers else "label") + ("s" if len(labels) > 1 else "")
        raise BadInput(
            f"{path}: Azure AI Speech's {found} {', '.join(labels)} "
            f"{'do' if len(labels) > 1 else 'does'} not say who is the agent"
            + (f" (--speaker-map gives no side to {', '.join(missing)})" if speaker_map else ""),
            f"name the sides: {option} (or the other way round: listen to the call's start)",
        )
    return sides


def _stereo(doc: dict[str, Any], key: str) -> bool:
    """Does the result list a second channel (its combined phrases, ``key``, have an entry per
    channel transcribed, a silent one too)? A mono recording's result has channel 0 only."""
    combined = doc.get(key)
    return isinstance(combined, list) and any(
        isinstance(c, dict) and c.get("channel") == 1 and not isinstance(c.get("channel"), bool) for c in combined
    )


_Read = tuple[str, str, float | None, float | None, str]
"""A phrase read: its label (``_label``), words, start and end (None when not given), where it is."""


def _read(
    path: Path,
    phrases: list[Any],
    key: str,
    hint: str,
    words: Callable[[dict[str, Any], str], str | None],
    times: Callable[[dict[str, Any], str], tuple[float | None, float | None]],
) -> tuple[list[_Read], BadInput | None]:
    """The phrases with words of the list ``key`` (``words``: a phrase's text, None when it has
    none; ``times``: its offset and duration), and the error that stopped the reading (None: none did)."""
    read: list[_Read] = []
    try:
        for n, phrase in enumerate(phrases):
            where = f"{path}: {key}[{n}]"
            if not isinstance(phrase, dict):
                raise BadInput(f"{where}: expected an object, got {type_name(phrase)}", hint)
            text = words(phrase, where)
            if text is None or not text.strip():
                continue
            label = _label(phrase, where, hint)
            start, length = times(phrase, where)
            end = start + length if start is not None and length is not None else None
            read.append((label, text, start, end, where))
    except BadInput as exc:
        return read, exc
    return read, None


def _batch_words(phrase: dict[str, Any], where: str) -> str | None:
    """A batch result phrase's words: its first nBest entry's ``display`` (None: not recognized)."""
    if phrase.get("recognitionStatus", "Success") != "Success":  # no match, a timeout: no words
        return None
    best = phrase.get("nBest")
    first = best[0] if isinstance(best, list) and best else None
    display = first.get("display") if isinstance(first, dict) else None
    if not isinstance(display, str):
        raise BadInput(f"{where}: no words (no nBest[0].display)", _PHRASE_HINT)
    return display


def _batch_times(phrase: dict[str, Any], where: str) -> tuple[float | None, float | None]:
    return (
        _phrase_time(phrase, "offsetInTicks", "offset", where),
        _phrase_time(phrase, "durationInTicks", "duration", where),
    )


def _fast_words(phrase: dict[str, Any], where: str) -> str:
    text = phrase.get("text")
    if not isinstance(text, str):
        raise BadInput(f"{where}: 'text' must be a string, got {type_name(text)}", _FAST_PHRASE_HINT)
    return text


def _fast_time(phrase: dict[str, Any], name: str, preview: str, where: str) -> float | None:
    """A fast transcription phrase's offset or duration in seconds, from its milliseconds (``name``,
    else the preview API's ``preview``); None when neither is given."""
    key = name if phrase.get(name) is not None else preview
    return time_field(phrase.get(key), key, where, unit="milliseconds", per_s=1000.0, hint=_FAST_PHRASE_HINT)


def _fast_times(phrase: dict[str, Any], where: str) -> tuple[float | None, float | None]:
    return (
        _fast_time(phrase, "offsetMilliseconds", "offset", where),
        _fast_time(phrase, "durationMilliseconds", "duration", where),
    )


def read_azure_json(path: Path, speaker_map: SpeakerMap = (), doc: Any = None) -> Iterator[Utterance]:
    """Yield the utterances of an Azure AI Speech batch transcription result or fast transcription
    response: one per phrase with words, in the order they began (a stereo file's phrases may be
    listed channel by channel), timed by their offset and duration. Sides as in the module's
    docstring; ``doc``: the file's JSON, when already read.

    A bad phrase stops with ``file: recognizedPhrases[N]`` (``phrases[N]``; counted from 0, as in
    the JSON) after the utterances before it; speakers with no side stop before any, and so does a
    result of one channel and no speakers (a mono recording transcribed whole: both voices on
    channel 0), unless ``speaker_map`` names channel 0's side."""
    if doc is None:
        doc = json_document(path, _AZURE_HINT)
    phrases = _phrases(doc)
    fast = _fast_phrases(doc) if phrases is None else None
    if phrases is not None:
        read, error = _read(path, phrases, "recognizedPhrases", _PHRASE_HINT, _batch_words, _batch_times)
        stereo, hint = _stereo(doc, "combinedRecognizedPhrases"), _AZURE_HINT
    elif fast is not None:
        read, error = _read(path, fast, "phrases", _FAST_PHRASE_HINT, _fast_words, _fast_times)
        stereo, hint = _stereo(doc, "combinedPhrases"), _FAST_HINT
    else:
        raise BadInput(
            f"{path}: not an Azure AI Speech transcription result (no 'recognizedPhrases' list, "
            "nor 'phrases' of a fast transcription)",
            _AZURE_HINT,
        )
    labels = list(dict.fromkeys(label for label, *_ in read))
    # one side's own recording is said by naming channel 0 alone: a map of both channels (as
    # --channels gives, for the stereo calls of a folder) says nothing of a mono one
    mapped = _mapped(speaker_map)
    one_sides = "ch_0" in mapped and "ch_1" not in mapped
    if labels == ["ch_0"] and not one_sides and not stereo:
        raise BadInput(
            f"{path}: Azure AI Speech heard one channel and no speakers, so whose words are whose is not known",
            "transcribe the call again as stereo (the agent and the customer on channels of their own) or with "
            "diarization, or write it as a .jsonl or .txt transcript; if the recording holds one side only, say "
            "whose: --speaker-map 'ch_0=agent' (or customer), channel 0 alone",
        )
    sides = _sides_of_labels(path, labels, speaker_map)
    turns = [Said(sides[label], text, start, end, where) for label, text, start, end, where in read]
    yield from in_call_order(turns)
    if error is not None:
        raise error
    if not turns:
        raise BadInput(f"{path}: Azure AI Speech recognized no words in this call", hint)
