"""Google Cloud's ``.json`` transcripts, told apart by their shape (``google_kind``): a conversation
of Contact Center AI Insights (CCAI Insights) as its API gives it, a conversation file in the
format CCAI Insights takes for upload, and the response of a Speech-to-Text recognition.

The documented fields read. A CCAI Insights ``Conversation`` (the Contact Center AI Insights v1
API reference of ``Conversation.Transcript``, ``Conversation.Transcript.TranscriptSegment`` and its
``WordInfo``, ``ConversationParticipant.Role`` and ``Conversation.CallMetadata``, e.g.
https://cloud.google.com/ruby/docs/reference/google-cloud-contact_center_insights-v1/latest/Google-Cloud-ContactCenterInsights-V1-Conversation-Transcript-TranscriptSegment;
JSON names its fields in lowerCamelCase):

* ``transcript.transcriptSegments``: the segments, each one utterance here;
* of each segment, ``text``, ``segmentParticipant.role`` (HUMAN_AGENT, AUTOMATED_AGENT, END_USER,
  ANY_AGENT or ROLE_UNSPECIFIED), ``channelTag`` (1 to N for multi-channel audio, 0 for mono) and
  ``words[].startOffset`` / ``endOffset`` (protobuf durations: "1.500s" in JSON), the segment's
  times being its first word's start and its last word's end (no words: estimated);
* ``callMetadata.agentChannel`` / ``customerChannel``: the channel of each side.

A conversation file for upload (CCAI Insights, "Conversation data format", the transcript data:
https://cloud.google.com/contact-center/insights/docs/conversation-data-format): ``entries[]``, each
with ``text``, ``role`` (AGENT, AUTOMATED_AGENT, CUSTOMER or END_USER) and ``start_timestamp_usec``
(microseconds since 1970; times here are counted from the earliest entry, ends estimated).

A Speech-to-Text response (``RecognizeResponse``, ``LongRunningRecognizeResponse``, a v2 batch
result; the v1 and v2 references of ``SpeechRecognitionResult`` and ``WordInfo``, e.g.
https://cloud.google.com/php/docs/reference/cloud-speech/latest/V1.SpeechRecognitionResult):
``results[]``, each with ``alternatives[0].transcript`` (the most
likely words), ``channelTag`` (1 to N when each channel was recognized on its own),
``resultEndTime`` (v1) or ``resultEndOffset`` (v2), and ``alternatives[0].words[0].startTime``
(v1) or ``startOffset`` (v2) for its start. Also as the API wraps it: a finished long-running
operation's ``response`` (v1), a v2 ``BatchRecognizeResponse`` of one file with its results inline
(``results`` by the file's URI, then ``inlineResult.transcript.results``; the v2 reference of
``BatchRecognizeFileResult``). Not read: a mono recognition's diarization (the
words' ``speakerTag`` / ``speakerLabel``): such a response stops, saying what to do.

Sides: a segment's role first: HUMAN_AGENT is the agent, END_USER the customer (AGENT and CUSTOMER
too, the roles of the upload format); an AUTOMATED_AGENT's segments (a virtual agent, an IVR) are
left out with one warning; any other role (ANY_AGENT says neither) stops with a clear error. With no role, the channel: ``callMetadata``'s channels, else ``--speaker-map 'channel 1=
customer'`` (Google's numbers), else channel 1 (the left) the agent and 2 (the right) the customer,
``--channels customer,agent`` swapping them as for a recording (``transcript.transcript_map``
gives them as ch_0 and ch_1, the left and right).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterator

from .errors import BadInput
from .transcript_base import (
    Said,
    SpeakerMap,
    Warn,
    count_of,
    in_call_order,
    json_document,
    shown_value,
    type_name,
)
from .types import Speaker, Utterance

_GOOGLE_HINT = (
    "give the JSON as Google Cloud wrote it (a Contact Center AI Insights conversation, or a Speech-to-Text "
    "recognition response), or write the call as a .jsonl or .txt transcript"
)
_SEGMENT_HINT = (
    "give the conversation as CCAI Insights wrote it: each of transcript.transcriptSegments has its 'text', "
    "'segmentParticipant' with its 'role', 'channelTag' and 'words' with 'startOffset' and 'endOffset'"
)
_RESULT_HINT = (
    "give the response as Speech-to-Text wrote it: each of 'results' has 'alternatives' (the first one's "
    "'transcript' holds the words), 'channelTag' and 'resultEndTime'"
)
ROLE_SIDES: dict[str, Speaker] = {
    "HUMAN_AGENT": Speaker.AGENT,
    "AGENT": Speaker.AGENT,
    "END_USER": Speaker.CUSTOMER,
    "CUSTOMER": Speaker.CUSTOMER,
}
AUTOMATED = "AUTOMATED_AGENT"
_NO_ROLE = ("", "ROLE_UNSPECIFIED")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)s")  # protobuf's JSON form of a Duration: "1.500s"
_CHANNEL_NAME = re.compile(r"(?:channel|ch)[ _-]?(\d+)")
CCAI, UPLOAD, SPEECH = "ccai", "upload", "speech"
_ENTRY_HINT = (
    "give the conversation file as CCAI Insights takes it for upload: each of 'entries' has its 'text', "
    "'role' (AGENT, CUSTOMER, END_USER or AUTOMATED_AGENT) and 'start_timestamp_usec'"
)
_ROLE_HINT = (
    "set the role to HUMAN_AGENT or AGENT (a person of the contact centre), END_USER or CUSTOMER (the "
    "customer) or AUTOMATED_AGENT (a bot, left out), or drop the {what}"
)


def _segments(doc: Any) -> list[Any] | None:
    transcript = doc.get("transcript") if isinstance(doc, dict) else None
    segments = transcript.get("transcriptSegments") if isinstance(transcript, dict) else None
    return segments if isinstance(segments, list) else None


def _entries(doc: Any) -> list[Any] | None:
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if isinstance(entries, list) and any(isinstance(e, dict) and "role" in e and "text" in e for e in entries):
        return entries
    return None


def _results_at(doc: Any) -> tuple[list[Any], str] | None:
    """The ``results`` of a Speech-to-Text response and where they are in the file ('results'), also
    as the API wraps them: the ``response`` of a long-running operation that is ``done`` (v1), or
    the one file's results inline in a v2 BatchRecognize response (``results`` by the file's URI,
    each ``inlineResult.transcript``, or the deprecated ``transcript``). None: another JSON document
    (a response of several files too: which is the call is not known)."""
    at = ""
    if isinstance(doc, dict) and isinstance(doc.get("response"), dict) and doc.get("done") is True:
        doc, at = doc["response"], "response."
    results = doc.get("results") if isinstance(doc, dict) else None
    if isinstance(results, dict) and len(results) == 1:  # v2: {uri: BatchRecognizeFileResult}
        ((uri, file_result),) = results.items()
        inline = file_result.get("inlineResult") if isinstance(file_result, dict) else None
        for field, transcript in (
            ("inlineResult.transcript", inline.get("transcript") if isinstance(inline, dict) else None),
            ("transcript", file_result.get("transcript") if isinstance(file_result, dict) else None),
        ):
            if isinstance(transcript, dict) and isinstance(transcript.get("results"), list):
                results, at = transcript["results"], f"{at}results[{uri!r}].{field}."
                break
    if isinstance(results, list) and any(isinstance(r, dict) and "alternatives" in r for r in results):
        if not any(_not_googles(r) for r in results):
            return results, f"{at}results"
    return None


# what another vendor's 'results' with 'alternatives' hold and Google's never do: Speechmatics'
# words ('type', 'start_time', an alternative's 'content'), IBM Watson's results ('final', an
# alternative's 'timestamps' and 'word_confidence')
_OTHER_RESULT_KEYS = frozenset({"type", "start_time", "end_time", "final"})
_OTHER_ALTERNATIVE_KEYS = frozenset({"content", "timestamps", "word_confidence"})


def _not_googles(result: Any) -> bool:
    """Does a result of a ``results`` list hold what only another vendor's does?"""
    if not isinstance(result, dict):
        return False
    alternatives = result.get("alternatives")
    return not _OTHER_RESULT_KEYS.isdisjoint(result) or (
        isinstance(alternatives, list)
        and any(isinstance(a, dict) and not _OTHER_ALTERNATIVE_KEYS.isdisjoint(a) for a in alternatives)
    )


def _results(doc: Any) -> list[Any] | None:
    found = _results_at(doc)
    return found[0] if found is not None else None


def google_kind(doc: Any) -> str | None:
    """``CCAI`` (a CCAI Insights conversation: ``transcript.transcriptSegments``), ``UPLOAD`` (a
    conversation file for upload: ``entries`` with their ``role``), ``SPEECH`` (a Speech-to-Text
    response: ``results`` with ``alternatives``) or None (another JSON document)."""
    if _segments(doc) is not None:
        return CCAI
    if _entries(doc) is not None:
        return UPLOAD
    if _results(doc) is not None:
        return SPEECH
    return None


def seconds_of(value: Any, name: str, where: str, hint: str) -> float | None:
    """A protobuf Duration in seconds: "1.500s" (its JSON form) or {"seconds": 1, "nanos": 500000000};
    None when absent. Anything else is BadInput naming ``where`` and the field."""
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, str) and len(value) < 100 and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m[1])
    elif isinstance(value, dict) and set(value) <= {"seconds", "nanos"}:
        whole, nanos = value.get("seconds", 0), value.get("nanos", 0)
        if isinstance(whole, str) and whole.isdigit() and len(whole) < 30:
            whole = int(whole)
        if all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**30 for v in (whole, nanos)):
            seconds = whole + nanos / 1e9
    if seconds is None or not math.isfinite(seconds):
        raise BadInput(f"{where}: '{name}' must be a duration such as \"1.500s\", got {shown_value(value)}", hint)
    return seconds


def _channel(value: Any, where: str, hint: str) -> int:
    """A ``channelTag``: a whole number ≥ 0 (absent: 0, mono, as protobuf leaves out a zero)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{where}: 'channelTag' must be a whole number ≥ 0, got {shown_value(value)}", hint)
    return value


def _channel_sides(speaker_map: SpeakerMap, call: Any = None) -> dict[int, Speaker]:
    """The side of each channel (Google numbers them from 1): the conversation's ``callMetadata``,
    then ``speaker_map`` ('channel 1=customer'; ch_0, ch_1 from --channels: the left and right), then
    channel 1 the agent and 2 the customer."""
    sides = {1: Speaker.AGENT, 2: Speaker.CUSTOMER}
    named: dict[int, Speaker] = {}
    for name, side in speaker_map:
        m = _CHANNEL_NAME.fullmatch(name.replace(" ", ""))
        if m is None:
            continue
        if name.startswith("ch_"):  # --channels: ch_0 is the left channel, Google's channel 1
            named.setdefault(int(m[1]) + 1, side)
        else:
            named[int(m[1])] = side
    sides |= named
    if isinstance(call, dict):
        for key, side in (("agentChannel", Speaker.AGENT), ("customerChannel", Speaker.CUSTOMER)):
            tag = call.get(key)
            if isinstance(tag, int) and not isinstance(tag, bool) and tag > 0:
                sides[tag] = side
    return sides


def _side_by_channel(tag: int, sides: dict[int, Speaker], where: str, said: str, hint: str) -> Speaker:
    if tag == 0:
        raise BadInput(
            f"{where}: {said} and no channel (channelTag 0: mono audio), so whose words these are is not known",
            hint,
        )
    side = sides.get(tag)
    if side is None:
        raise BadInput(
            f"{where}: {said} on channel {tag}, which is neither the agent's nor the customer's",
            f"name its side: --speaker-map 'channel {tag}=agent' (or customer)",
        )
    return side


def read_google_json(
    path: Path, speaker_map: SpeakerMap = (), doc: Any = None, warn: Warn | None = None
) -> Iterator[Utterance]:
    """Yield the utterances of a Google Cloud ``.json`` transcript, read by its shape
    (``read_ccai_conversation``, ``read_speech_response``); ``doc``: the file's JSON, when already read."""
    if doc is None:
        doc = json_document(path, _GOOGLE_HINT)
    kind = google_kind(doc)
    if kind == CCAI:
        yield from read_ccai_conversation(path, doc, speaker_map, warn)
    elif kind == UPLOAD:
        yield from read_ccai_upload(path, doc, warn)
    elif kind == SPEECH:
        yield from read_speech_response(path, doc, speaker_map)
    else:
        raise BadInput(
            f"{path}: not a Google Cloud transcript (no 'transcript.transcriptSegments' of a CCAI Insights "
            "conversation, no 'entries' of one for upload, no 'results' of a Speech-to-Text response)",
            _GOOGLE_HINT,
        )


def _item_text(item: Any, where: str, hint: str) -> tuple[dict[str, Any], str]:
    """A segment or an entry (an object) and its ``text`` (a string); BadInput naming ``where`` otherwise."""
    if not isinstance(item, dict):
        raise BadInput(f"{where}: expected an object, got {type_name(item)}", hint)
    text = item.get("text")
    if not isinstance(text, str):
        raise BadInput(f"{where}: 'text' must be a string, got {type_name(text)}", hint)
    return item, text


def _role(value: Any, where: str, name: str, hint: str) -> str:
    """A participant's role in capitals ('' when not set); BadInput when it is not a string."""
    if value is not None and not isinstance(value, str):
        raise BadInput(f"{where}: {name} must be a string, got {type_name(value)}", hint)
    return (value or "").strip().upper()


def _side_of_role(role: str, where: str, what: str) -> Speaker | None:
    """The side of a role (None: no role set); an unknown role is BadInput saying which are sides."""
    side = ROLE_SIDES.get(role)
    if side is None and role not in _NO_ROLE:
        raise BadInput(
            f"{where}: participant role {role!r}: only HUMAN_AGENT (or AGENT) and END_USER (or CUSTOMER) are "
            "sides of a call (AUTOMATED_AGENT is left out)",
            _ROLE_HINT.format(what=what),
        )
    return side


def _warn_automated(path: Path, automated: int, what: str, many: str, warn: Warn | None, read: bool) -> None:
    """Say once how many of an automated agent's turns were left out, when the rest of the call is
    ``read`` (else the error that the call has no words says so)."""
    if automated and read and warn is not None:
        warn(
            f"{path}: left out {count_of(automated, what, many)} of an automated agent (AUTOMATED_AGENT: a "
            "virtual agent or IVR; the rules coach the human agent); the rest of the call is read"
        )


def _said_in_order(
    path: Path, turns: list[Said], error: BadInput | None, empty: str, automated: str = ""
) -> Iterator[Utterance]:
    """The utterances of ``turns``, then ``error``; none at all: BadInput saying the file ``empty``
    (``automated``: the turns of an automated agent it left out, 'N segments')."""
    yield from in_call_order(turns)
    if error is not None:
        raise error
    if not turns:
        only = f" of the agent or customer (only {automated} of an automated agent)" if automated else ""
        raise BadInput(f"{path}: {empty}{only}", _GOOGLE_HINT)


def read_ccai_conversation(
    path: Path, doc: Any, speaker_map: SpeakerMap = (), warn: Warn | None = None
) -> Iterator[Utterance]:
    """Yield the segments of a CCAI Insights conversation as utterances, in the order they began.
    An automated agent's segments are left out, said once through ``warn``; a segment of an
    unknown role, or of no role and no known channel, stops with ``file: segment N`` (counted from
    1) after the utterances before it."""
    segments = _segments(doc)
    if segments is None:
        raise BadInput(f"{path}: not a CCAI Insights conversation (no 'transcript.transcriptSegments')", _GOOGLE_HINT)
    channels = _channel_sides(speaker_map, doc.get("callMetadata"))
    turns: list[Said] = []
    automated = 0
    error: BadInput | None = None
    try:
        for n, segment in enumerate(segments, 1):
            where = f"{path}: segment {n}"
            segment, text = _item_text(segment, where, _SEGMENT_HINT)
            participant = segment.get("segmentParticipant")
            role = _role(
                participant.get("role") if isinstance(participant, dict) else None,
                where,
                "the participant's 'role'",
                _SEGMENT_HINT,
            )
            if not text.strip():
                continue
            if role == AUTOMATED:
                automated += 1
                continue
            side = _side_of_role(role, where, "segment")
            if side is None:
                side = _side_by_channel(
                    _channel(segment.get("channelTag"), where, _SEGMENT_HINT),
                    channels,
                    where,
                    "no participant role",
                    "give each segment its segmentParticipant.role (HUMAN_AGENT or END_USER), or "
                    "transcribe the call as stereo with the agent and the customer on channels of their own",
                )
            words = segment.get("words")
            if words is not None and not isinstance(words, list):
                raise BadInput(f"{where}: 'words' must be a list, got {type_name(words)}", _SEGMENT_HINT)
            start = end = None
            if words:
                first, last = words[0], words[-1]
                if not isinstance(first, dict) or not isinstance(last, dict):
                    raise BadInput(f"{where}: each of 'words' must be an object", _SEGMENT_HINT)
                start = seconds_of(first.get("startOffset"), "words[0].startOffset", where, _SEGMENT_HINT)
                end = seconds_of(last.get("endOffset"), f"words[{len(words) - 1}].endOffset", where, _SEGMENT_HINT)
            turns.append(Said(side, text, start, end, where))
    except BadInput as exc:
        error = exc
    _warn_automated(path, automated, "segment", "segments", warn, bool(turns or error))
    bot = count_of(automated, "segment") if automated else ""
    yield from _said_in_order(path, turns, error, "the conversation's transcript has no words", bot)


def read_ccai_upload(path: Path, doc: Any, warn: Warn | None = None) -> Iterator[Utterance]:
    """Yield the entries of a CCAI Insights conversation file for upload as utterances, timed from
    the earliest ``start_timestamp_usec`` (ends estimated from the words). An automated agent's
    entries are left out, said once through ``warn``; an entry of another role, or of none, stops
    with ``file: entry N`` (counted from 1) after the utterances before it."""
    entries = _entries(doc)
    if entries is None:
        raise BadInput(f"{path}: not a CCAI Insights conversation file (no 'entries' with a 'role')", _GOOGLE_HINT)
    read: list[tuple[Speaker, str, int | None, str]] = []
    origin: int | None = None
    automated = 0
    error: BadInput | None = None
    try:
        for n, entry in enumerate(entries, 1):
            where = f"{path}: entry {n}"
            entry, text = _item_text(entry, where, _ENTRY_HINT)
            role = _role(entry.get("role"), where, "'role'", _ENTRY_HINT)
            stamp = entry.get("start_timestamp_usec")
            if stamp is not None and (
                isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < 1 << 63
            ):
                raise BadInput(
                    f"{where}: 'start_timestamp_usec' must be a whole number of microseconds ≥ 0, got "
                    f"{shown_value(stamp)}",
                    _ENTRY_HINT,
                )
            if stamp is not None:  # the call starts at its first entry, whoever's
                origin = stamp if origin is None else min(origin, stamp)
            if not text.strip():
                continue
            if role == AUTOMATED:
                automated += 1
                continue
            side = _side_of_role(role, where, "entry")
            if side is None:
                raise BadInput(f"{where}: no 'role', so whose words these are is not known", _ENTRY_HINT)
            read.append((side, text, stamp, where))
    except BadInput as exc:
        error = exc
    turns = [
        Said(side, text, (stamp - (origin or 0)) / 1e6 if stamp is not None else None, None, where)
        for side, text, stamp, where in read
    ]
    _warn_automated(path, automated, "entry", "entries", warn, bool(turns or error))
    bot = count_of(automated, "entry", "entries") if automated else ""
    yield from _said_in_order(path, turns, error, "the conversation file has no words", bot)


def read_speech_response(path: Path, doc: Any, speaker_map: SpeakerMap = ()) -> Iterator[Utterance]:
    """Yield the results of a Speech-to-Text response as utterances, in the order they began, each
    side by its channel (a result with no channel, of a mono recognition, stops with ``file:
    results[N]``, counted from 0, after the utterances before it)."""
    found = _results_at(doc)
    if found is None:
        raise BadInput(f"{path}: not a Speech-to-Text response (no 'results' with 'alternatives')", _GOOGLE_HINT)
    results, at = found
    channels = _channel_sides(speaker_map)
    turns: list[Said] = []
    error: BadInput | None = None
    try:
        for n, result in enumerate(results):
            where = f"{path}: {at}[{n}]"
            if not isinstance(result, dict):
                raise BadInput(f"{where}: expected an object, got {type_name(result)}", _RESULT_HINT)
            alternatives = result.get("alternatives")
            if alternatives is not None and not isinstance(alternatives, list):
                raise BadInput(f"{where}: 'alternatives' must be a list, got {type_name(alternatives)}", _RESULT_HINT)
            best = alternatives[0] if alternatives else {}
            if not isinstance(best, dict):
                raise BadInput(f"{where}: alternatives[0] must be an object, got {type_name(best)}", _RESULT_HINT)
            text = best.get("transcript", "")
            if not isinstance(text, str):
                raise BadInput(f"{where}: 'transcript' must be a string, got {type_name(text)}", _RESULT_HINT)
            if not text.strip():  # nothing recognized in this stretch
                continue
            side = _side_by_channel(
                _channel(result.get("channelTag"), where, _RESULT_HINT),
                channels,
                where,
                "a result",
                "recognize the call as stereo with audioChannelCount 2 and enableSeparateRecognitionPerChannel "
                "(the agent and the customer each on a channel), or write it as a .jsonl or .txt transcript",
            )
            end_name = "resultEndOffset" if "resultEndOffset" in result else "resultEndTime"
            end = seconds_of(result.get(end_name), end_name, where, _RESULT_HINT)
            words = best.get("words")
            first = words[0] if isinstance(words, list) and words else None
            start = None
            if isinstance(first, dict):
                start_name = "startOffset" if "startOffset" in first else "startTime"
                start = seconds_of(first.get(start_name), f"words[0].{start_name}", where, _RESULT_HINT)
            turns.append(Said(side, text, start, end, where))
    except BadInput as exc:
        error = exc
    yield from _said_in_order(path, turns, error, "the Speech-to-Text response has no words")
