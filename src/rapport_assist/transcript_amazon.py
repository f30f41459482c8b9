"""Amazon's ``.json`` transcripts, told apart by their shape (``read_amazon_json``): the post-call
output of Transcribe Call Analytics or Contact Lens, and the output of a plain Transcribe job.

A Call Analytics / Contact Lens ``.json`` is one document whose ``Transcript`` list holds the
call's segments, each with its side (``ParticipantRole``, or ``ParticipantId`` read through the
``Participants`` list), ``Content`` and times in milliseconds (``read_call_analytics``). The
output of a plain Transcribe job (``read_amazon_transcribe``) is its ``results``: timed words, each
of a channel (ch_0 the agent, ch_1 the customer) or a speaker (spk_0…, given sides by ``--speaker-map``),
joined into utterances while one speaks (or its ``audio_segments``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import BadInput, InputNotFound
from .transcript_base import Said, SpeakerMap, Warn, fold, in_call_order, json_document, parse_line, time_field
from .types import Speaker, Utterance
from .wording import plural


# ---------------------------------------------------------------------------- Call Analytics / Contact Lens

# Post-call output shapes: https://docs.aws.amazon.com/transcribe/latest/dg/tca-output-batch.html
# (Transcribe Call Analytics: each segment has its ParticipantRole) and
# https://docs.aws.amazon.com/connect/latest/adminguide/contact-lens-example-output-files.html
# (Contact Lens: segments name a ParticipantId; the top-level Participants list gives each id's role).
# Amazon Connect's participant roles (the ParticipantRole of its APIs) are AGENT, CUSTOMER, SYSTEM,
# CUSTOM_BOT and SUPERVISOR; Contact Lens's example call lists a SYSTEM participant beside the two
# sides, and a chat's transcript holds the messages of the system (a flow's prompts, "the agent
# joined") and of a bot (Amazon Lex, or a CUSTOM_BOT added to the chat). Those say nothing the call's
# two sides said: their segments are skipped, and one note says how many and whose
# (``call_analytics_note``). A supervisor who barges in talks to the customer for the contact centre,
# as the agent does: the customer hears one side. Read as the agent, what the supervisor says is held
# to the same rules, and the talk between the sides (dead air, talk-overs, who talks how much) stays
# whole; skipped, the supervisor's minutes would read as dead air and the customer's answers as
# said to nobody. The note says how many segments were the supervisor's, as nudges on them are not
# the agent's own. Any other role (a typo, a product's own) stops, naming its segment.
_ANALYTICS_SIDES = {"AGENT": Speaker.AGENT, "CUSTOMER": Speaker.CUSTOMER, "SUPERVISOR": Speaker.AGENT}
_NOT_SIDES = ("SYSTEM", "CUSTOM_BOT")  # skipped
_AMAZON_HINT = (
    "give the JSON as Amazon wrote it (a transcription job's output, or the post-call output of Transcribe "
    "Call Analytics or Contact Lens), or write the call as a .jsonl or .txt transcript"
)


def _json_document(path: Path) -> Any:
    """The JSON document in ``path``; InputNotFound or BadInput (``file:line`` of a syntax error)."""
    return json_document(path, _AMAZON_HINT)


def _analytics_segments(doc: Any) -> list[Any] | None:
    transcript = doc.get("Transcript") if isinstance(doc, dict) else None
    return transcript if isinstance(transcript, list) else None


def is_amazon_transcript(path: Path, unreadable: bool = True) -> bool:
    """Is ``path`` an Amazon transcript: the output of a Transcribe job (a ``results`` object with
    its ``items``) or of Call Analytics / Contact Lens (a top-level ``Transcript`` list)? One that
    cannot be read or is not one JSON document: ``unreadable`` (True: reading it then says why)."""
    try:
        doc = _json_document(path)
    except (BadInput, InputNotFound):
        return unreadable
    return is_amazon_document(doc)


def is_amazon_document(doc: Any) -> bool:
    """Is the decoded JSON ``doc`` an Amazon transcript (see ``is_amazon_transcript``)?"""
    return _analytics_segments(doc) is not None or _transcribe_results(doc) is not None


def read_amazon_json(
    path: Path, speaker_map: SpeakerMap = (), doc: Any = None, warn: Warn | None = None
) -> Iterator[Utterance]:
    """Yield the utterances of an Amazon ``.json`` transcript, read by its shape: Call Analytics /
    Contact Lens (``read_call_analytics``; their roles say the sides, ``speaker_map`` is not used;
    ``warn`` is told first what it skips or reads as the agent's: ``call_analytics_note``)
    or a plain transcription job (``read_amazon_transcribe``). ``doc``: the file's JSON, when already read."""
    if doc is None:
        doc = _json_document(path)
    if _analytics_segments(doc) is not None:
        note = call_analytics_note(path, doc)
        if note is not None and warn is not None:
            warn(note)
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
    return time_field(value, name, where, unit="milliseconds", per_s=1000.0)


def _participant_roles(doc: dict[str, Any]) -> dict[str, Any]:
    """Each ParticipantId of the ``Participants`` list and its ParticipantRole (Contact Lens)."""
    roles: dict[str, Any] = {}
    participants = doc.get("Participants")
    for p in participants if isinstance(participants, list) else ():
        if isinstance(p, dict) and isinstance(p.get("ParticipantId"), str):
            roles[p["ParticipantId"]] = p.get("ParticipantRole")
    return roles


def _segment_role(segment: dict[str, Any], roles: dict[str, Any]) -> Any:
    """Whose a segment is: its ParticipantRole, or its ParticipantId's role (the id itself when
    ``Participants`` gives it none); None when it says neither."""
    role = segment.get("ParticipantRole")
    if role is None and "ParticipantId" in segment:
        pid = segment["ParticipantId"]  # a participant listed without a role is named by its id
        role = (roles.get(pid) or pid) if isinstance(pid, str) else pid
    return role.strip().upper() if isinstance(role, str) and role.strip().upper() in _ROLES else role


_ROLES = (*_ANALYTICS_SIDES, *_NOT_SIDES)


def call_analytics_note(path: Path, doc: Any = None) -> str | None:
    """What ``read_call_analytics`` leaves out or reads as another's, said once: the segments of
    the system or a bot it skips and those of a supervisor it reads as the agent's (see ``_ANALYTICS_SIDES``);
    None when there are none, or the file is no such transcript (reading it then says why)."""
    try:
        if doc is None:
            doc = _json_document(path)
    except (BadInput, InputNotFound):
        return None
    segments = _analytics_segments(doc)
    if segments is None:
        return None
    roles = _participant_roles(doc)
    roles_said = (_segment_role(s, roles) for s in segments if isinstance(s, dict))
    counts = Counter(role for role in roles_said if isinstance(role, str))
    skipped = [(role, counts[role]) for role in _NOT_SIDES if counts[role]]
    said = []
    if skipped:
        n = sum(k for _, k in skipped)
        whose = " and ".join(f"{role} ({k})" if len(skipped) > 1 else role for role, k in skipped)
        said.append(f"{plural(n, 'segment')} of {whose} skipped (a system or bot message is no side of the call)")
    if counts["SUPERVISOR"]:
        said.append(
            f"{plural(counts['SUPERVISOR'], 'segment')} of SUPERVISOR read as the agent's side "
            "(a supervisor who joined the call speaks for the contact centre)"
        )
    return f"{path}: {'; '.join(said)}" if said else None


def read_call_analytics(path: Path, doc: Any = None) -> Iterator[Utterance]:
    """Yield the segments of an Amazon Transcribe Call Analytics or Contact Lens post-call JSON as
    utterances in the order they began (``BeginOffsetMillis``/``EndOffsetMillis`` their times; a segment
    with no words is left out). A segment of the system or a bot is skipped, a supervisor's read as the agent's
    (``_ANALYTICS_SIDES``; ``call_analytics_note`` says so once); one of any other participant stops
    with ``file: segment N`` (counted from 1), after the segments before it. ``doc``: the file's
    JSON, when already read."""
    if doc is None:
        doc = _json_document(path)
    segments = _analytics_segments(doc)
    if segments is None:
        raise BadInput(
            f"{path}: not an Amazon Transcribe Call Analytics or Contact Lens transcript (no top-level "
            "'Transcript' list)",
            _AMAZON_HINT,
        )
    roles = _participant_roles(doc)
    turns: list[Said] = []
    skipped = 0
    error: BadInput | None = None
    try:
        for n, segment in enumerate(segments, 1):
            said = _analytics_turn(segment, f"{path}: segment {n}", roles)
            if said is None:
                skipped += 1
            elif said.text.strip():
                turns.append(said)
    except BadInput as exc:
        error = exc
    # in the order they began (the listed order when it is, as Amazon lists them)
    yield from in_call_order(turns)
    if error is not None:
        raise error
    if not turns:
        others = f" (only {plural(skipped, 'segment')} of the system or a bot)" if skipped else ""
        raise BadInput(f"{path}: the 'Transcript' list has no words of the agent or customer{others}", _AMAZON_HINT)


def _analytics_turn(segment: Any, where: str, roles: dict[str, Any]) -> Said | None:
    """A Call Analytics / Contact Lens segment as a turn; None: the system's or a bot's (skipped).
    BadInput naming ``where`` for a segment that is not one, or of another participant."""
    if not isinstance(segment, dict):
        raise BadInput(
            f"{where}: expected an object, got {type(segment).__name__}",
            'each item of \'Transcript\' is one segment: {"ParticipantRole": "AGENT", "Content": "...", ...}',
        )
    role = _segment_role(segment, roles)
    if role in _NOT_SIDES:
        return None
    side = _ANALYTICS_SIDES.get(role) if isinstance(role, str) else None
    if side is None:
        said = "no 'ParticipantRole' or 'ParticipantId'" if role is None else f"participant {role!r}"
        raise BadInput(
            f"{where}: {said}: only AGENT and CUSTOMER are sides of a call "
            "(SUPERVISOR is read as the agent; SYSTEM and CUSTOM_BOT are skipped)",
            "drop the segment, or set its ParticipantRole to AGENT or CUSTOMER",
        )
    content = segment.get("Content")
    if not isinstance(content, str):
        raise BadInput(
            f"{where}: 'Content' must be a string, got {type(content).__name__}",
            "give the words said as \"Content\"",
        )
    if not content.strip():  # no words: left out, its times unread
        return Said(side, "", None, None, where)
    start = _millis(segment.get("BeginOffsetMillis"), "BeginOffsetMillis", where)
    end = _millis(segment.get("EndOffsetMillis"), "EndOffsetMillis", where)
    return Said(side, content, start, end, where)


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
# (``transcript.transcript_map``), or with --speaker-map 'ch_0=customer,ch_1=agent'.
TRANSCRIBE_CHANNEL_SIDES: SpeakerMap = (("ch_0", Speaker.AGENT), ("ch_1", Speaker.CUSTOMER))


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
    channel: bool = False  # the label is a channel's (channel identification), not a speaker's


def _transcribe_results(doc: Any) -> dict[str, Any] | None:
    """The ``results`` of a transcription job's output, or None (another JSON document)."""
    results = doc.get("results") if isinstance(doc, dict) else None
    if isinstance(results, dict) and any(k in results for k in ("items", "audio_segments", "channel_labels")):
        return results
    return None


def _seconds(value: Any, name: str, where: str) -> float | None:
    """A time of a Transcribe output (a string of seconds, "4.86", or a number); None when absent."""
    return time_field(value, name, where, text=True, hint=_TRANSCRIBE_FORM_HINT)


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
        spoken = isinstance(item.get("speaker_label"), str) and bool(item["speaker_label"].strip())
        channel = label is not None and not spoken  # a channel's word (not a speaker's, nor a speaker segment's)
        if label is None and label_of is not None:
            label = label_of(start)
        if not content:
            continue
        last = _Piece(label, start, end, content, where, channel)
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

    # by start (a stable sort keeps the listed order of equal starts), with the latest end so far
    spans.sort(key=lambda span: span[0])
    span_starts = [s for s, _, _ in spans]
    reach = list(accumulate((e for _, e, _ in spans), max))

    def speaker_at(start: float) -> str | None:
        """The speaker segment a word starts in (older diarization outputs label segments only): of
        those holding its start, the one that began last, so a word starting where one segment ends
        and the next begins is the next one's. A binary search, not a scan: a long call has
        thousands of segments and tens of thousands of words."""
        k = bisect_right(span_starts, start) - 1
        while k >= 0 and reach[k] >= start:  # earlier segments may still hold it (they overlap)
            if spans[k][1] >= start:
                return spans[k][2]
            k -= 1
        return None

    return _item_pieces(items if items is not None else [], f"{at}.items", None, speaker_at if spans else None), False


def _sides_of_labels(path: Path, labels: Sequence[str], speaker_map: SpeakerMap) -> dict[str, Speaker]:
    """Each label's side: ``speaker_map`` first, then ch_0 = agent and ch_1 = customer. BadInput
    naming the labels that have none (speaker partitioning cannot tell the agent from the customer)."""
    known = dict(TRANSCRIBE_CHANNEL_SIDES) | dict(speaker_map)
    sides = {label: known[fold(label)] for label in labels if fold(label) in known}
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
    speaker talks (each channel's on their own: the sides may overlap), a new utterance after a
    silence over ``PAUSE_S``. Sides: ch_0 agent,
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
    # The words of one utterance: with channel identification each channel's own, until a pause (the
    # sides overlap, as a stereo recording's utterances do: the other side's 'mm-hmm' does not cut a
    # sentence); speakers of a mono call take turns, so another speaker's word ends one too. The
    # pieces are in call order, so are the first words of the utterances made of them.
    per_channel = not whole and all(p.channel for p in ordered)
    utterances: list[list[_Piece]] = []
    saying: dict[str | None, list[_Piece]] = {}  # the utterance going on, per channel (or for all)
    for piece in ordered:
        who = piece.label if per_channel else None
        turn = saying.get(who)
        if (
            whole
            or turn is None
            or piece.label != turn[-1].label
            or (piece.start or 0.0) - (turn[-1].end or 0.0) > PAUSE_S
        ):
            turn = saying[who] = []
            utterances.append(turn)
        turn.append(piece)
    index = 0
    prev_end = 0.0
    for turn in utterances:
        first, last = turn[0], turn[-1]
        utt = parse_line(
            {
                "speaker": sides[str(first.label)].value,
                "text": " ".join(p.text for p in turn),
                "start": first.start,
                "end": last.end,
            },
            index,
            prev_end,
            first.where,
        )
        index += 1
        prev_end = utt.end_s
        yield utt
    if error is not None:
        raise error
    if index == 0:
        raise BadInput(f"{path}: the Amazon Transcribe job found no words", _AMAZON_HINT)
