"""Where utterances come from in a replay: a transcript, or recorded audio run through the
endpointer and the recognizer (the same stages live capture uses).

``ReplayInput`` says what the user gave on the command line; ``open_replay`` checks it and
returns a ``ReplaySource`` whose ``items()`` timeline feeds ``CallPipeline.run``.

Recordings are streamed, never held whole (``CallAudio``, ``CallSegments``): a first decoding
pass measures them (length, faults: what the pipeline and its notes need before the first
event), then they are decoded again in 0.5 s blocks, each channel endpointed as it goes, and
the segments merged across channels into call order as soon as no channel can still produce
an earlier one. Memory follows the longest utterance, not the length of the call.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, Union

import numpy as np

from .audio import STREAM_RATE_HZ
from .errors import BadInput, RapportError, UsageError
from .transcript import (
    ANALYTICS_SUFFIX,
    SPEAKER_MAP_SUFFIXES,
    TRANSCRIPT_SUFFIXES,
    JsonTranscript,
    SpeakerMap,
    load_json_transcript,
    read_transcript,
    transcript_map,
)
from .types import Recognition, SpeechActivity, SpeechSegment, Speaker, Status, TurnRevision, Utterance

if TYPE_CHECKING:  # pragma: no cover
    from .audio import AudioInfo
    from .endpoint import EndpointerOptions
    from .recognizer import Recognizer
    from .turn_pass import TurnPass

# Replay feeds the endpointer in blocks of this size, as a capture callback would.
REPLAY_BLOCK_S = 0.5
# Batch recognition (qa) packs a call's utterances into shared windows; a long call is recognized
# in chunks of about this much speech, so it is never held whole (shorter calls: one chunk, as before).
BATCH_CHUNK_S = 300.0
# A transcript is all there, so the pipeline may read this many utterances ahead and annotate
# them in one spaCy batch (see bench/rules_speed.py).
TRANSCRIPT_READ_AHEAD = 64


ReplayItem = Union[Utterance, Status, SpeechActivity, TurnRevision]  # what a replay's timeline holds


class Timeline(Iterator[ReplayItem]):
    """A replay's items in timeline order, and ``read_ahead``: how many utterances a consumer
    may take before handing the first one on without delaying any event. A transcript is all
    there (``TRANSCRIPT_READ_AHEAD``); audio is recognized one utterance at a time, so reading
    ahead would hold each event back by the recognition of the next ones (1).

    ``sides``: whose audio the call has (a mono recording replayed with ``--speaker``: one),
    when known; None for a transcript."""

    def __init__(
        self, items: Iterable[ReplayItem], read_ahead: int = 1, sides: tuple[Speaker, ...] | None = None
    ) -> None:
        self._items = iter(items)
        self.read_ahead = read_ahead
        self.sides = sides

    def __iter__(self) -> "Timeline":
        return self

    def __next__(self) -> ReplayItem:
        return next(self._items)


@dataclass(frozen=True)
class ReplayInput:
    """What to replay: one file (stereo, mono with ``speaker``, or a transcript) or two mono files."""

    path: Path | None = None
    agent_path: Path | None = None
    customer_path: Path | None = None
    speaker: Speaker | None = None
    channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER)
    speaker_map: SpeakerMap = ()  # people named as sides, in a transcript that labels turns by name

    @property
    def is_transcript(self) -> bool:
        return self.path is not None and self.path.suffix.lower() in TRANSCRIPT_SUFFIXES

    @property
    def reading_map(self) -> SpeakerMap:
        """The speaker map a transcript is read with (``transcript_map``: ``speaker_map``, and in a
        Transcribe job's ``.json`` the channels' sides of ``channel_order``)."""
        if self.path is None or not self.is_transcript:
            return ()
        return transcript_map(self.path, self.speaker_map, self.channel_order)

    @property
    def sides(self) -> tuple[Speaker, ...] | None:
        """Whose audio it holds: one side for a mono file with ``speaker`` or one of
        ``agent_path``/``customer_path``; None for a transcript (each line names its speaker)."""
        if self.is_transcript:
            return None
        if self.path is not None:
            return (self.speaker,) if self.speaker is not None else (Speaker.AGENT, Speaker.CUSTOMER)
        return tuple(s for s, p in ((Speaker.AGENT, self.agent_path), (Speaker.CUSTOMER, self.customer_path)) if p)

    def check(self) -> None:
        """Raise UsageError when the combination of arguments makes no sense."""
        pair = self.agent_path is not None or self.customer_path is not None
        if self.path is None and not pair:
            raise UsageError("nothing to replay", "give a recording or transcript, or --agent A.wav --customer B.wav")
        if self.path is not None and pair:
            raise UsageError(
                "give either one INPUT or --agent/--customer files, not both",
                "for two mono recordings use only --agent A.wav --customer B.wav",
            )
        if self.speaker is not None and (pair or self.is_transcript):
            raise UsageError(
                "--speaker is for a single mono recording",
                "transcripts name the speaker on each line; --agent/--customer name theirs",
            )
        if self.speaker_map and (self.path is None or self.path.suffix.lower() not in SPEAKER_MAP_SUFFIXES):
            raise UsageError(
                "--speaker-map is for transcripts that label turns by name or label ("
                + ", ".join(SPEAKER_MAP_SUFFIXES)
                + ")",
                "drop --speaker-map: a recording's sides are its channels (--channels), and a .jsonl transcript "
                "names agent and customer itself",
            )


@dataclass
class ReplaySource:
    """A checked input, ready to yield utterances. ``audio_s`` is the recording length, if audio."""

    timeline: Iterator[ReplayItem]
    audio_s: float | None = None
    notes: list[Status] = field(default_factory=list)
    read_ahead: int = 1  # see ``Timeline``
    sides: tuple[Speaker, ...] | None = None  # whose audio it has (None: not known, a transcript)

    def items(self) -> Timeline:
        """Everything on the timeline, for the pipeline: notes, activity marks, utterances."""
        return Timeline(chain(self.notes, self.timeline), self.read_ahead, self.sides)

    def utterances(self) -> Iterator[Utterance]:
        """Only the utterances (for scripts that want the words), each with its final text (a
        turn's second pass applied, ``TurnRevision``)."""
        from .turn_pass import apply_revisions

        yield from apply_revisions(self.timeline)


def endpoint_channel(
    speaker: Speaker, samples: np.ndarray, options: "EndpointerOptions", block_s: float = REPLAY_BLOCK_S
) -> list[SpeechSegment]:
    """Run one channel through a streaming endpointer, block by block as live capture does."""
    from .endpoint import Endpointer

    endpointer = Endpointer(speaker, options)
    block = max(512, int(block_s * STREAM_RATE_HZ))
    segments: list[SpeechSegment] = []
    for offset in range(0, len(samples), block):
        segments.extend(endpointer.push(samples[offset : offset + block]))
    segments.extend(endpointer.finish())
    return segments


TimelineEntry = tuple[float, bool, SpeechSegment, Any]
"""A segment's start (``False``) or end (``True``) on the call timeline, at ``t_s``, with a key
for its recognition."""


def recognize_segments(
    segments: Sequence[SpeechSegment],
    recognizer: "Recognizer",
    recognitions: "Sequence[Recognition | None] | None" = None,
    turn_pass: "TurnPass | None" = None,
) -> Iterator[Utterance | SpeechActivity | TurnRevision]:
    """Walk the segments on the call timeline, as live capture would meet them.

    ``recognitions``: what the recognizer made of each segment, when it was done beforehand
    (batch recognition); by default each segment is recognized when the walk reaches its end.

    At each segment's start a ``SpeechActivity`` marks its channel busy; at its end the
    segment is recognized and becomes an ``Utterance`` (with its loudness measured), or, when
    the recognizer's guards reject it (noise, invented text), a ``SpeechActivity`` that marks
    the channel free again. Utterance indices follow the order in which utterances end.

    ``turn_pass``: the second pass over each turn (by default as the recognizer's options say,
    ``turn_pass_for``); its ``TurnRevision``s come before the utterance that closes each turn.
    """
    timeline = [(seg.start_s, 0, seg.start_s, i) for i, seg in enumerate(segments)]
    timeline += [(seg.end_s, 1, seg.start_s, i) for i, seg in enumerate(segments)]
    entries = ((t_s, bool(is_end), segments[i], i) for t_s, is_end, _, i in sorted(timeline))
    turns = turn_pass if turn_pass is not None else turn_pass_for(recognizer)
    if recognitions is None:
        return walk_timeline(entries, lambda _, segment: recognizer.recognize(segment), turns)
    return walk_timeline(entries, lambda i, _: recognitions[i], turns)


def walk_timeline(
    entries: Iterable[TimelineEntry],
    recognize: "Callable[[Any, SpeechSegment], Recognition | None]",
    turn_pass: "TurnPass | None" = None,
) -> Iterator[Utterance | SpeechActivity | TurnRevision]:
    """The timeline items of ``entries`` (in call order): a ``SpeechActivity`` at each start;
    at each end ``recognize(key, segment)`` and the ``Utterance`` it gives, or a ``SpeechActivity``
    that frees the channel when it gives None (see ``recognize_segments``).

    ``turn_pass``: each turn is decoded again when it closes (``turn_pass.TurnPass``), and the
    ``TurnRevision``s it keeps come right before the utterance that closed the turn (or last)."""
    index = 0
    t_end = 0.0
    for t_s, is_end, segment, key in entries:
        if not is_end:
            yield SpeechActivity(segment.speaker, t_s, True)
            continue
        t_end = max(t_end, t_s)
        rec = recognize(key, segment)
        if rec is None:
            yield SpeechActivity(segment.speaker, t_s, False)
            continue
        utterance = to_utterance(segment, rec, index)
        if turn_pass is not None:
            yield from turn_pass.on_utterance(utterance, segment, rec)
        yield utterance
        index += 1
    if turn_pass is not None:
        yield from turn_pass.finish(t_end)


def turn_pass_for(recognizer: "Recognizer") -> "TurnPass | None":
    """The second pass over each turn (``turn_pass.TurnPass``) when the recognizer's options
    ask for it (``RecognizerOptions.turn_pass``), else None."""
    options = getattr(recognizer, "options", None)
    if options is None or not options.turn_pass:
        return None
    from .turn_pass import TurnPass

    return TurnPass(recognizer)


def recognized_in_chunks(
    entries: Iterable[TimelineEntry], recognizer: "Recognizer", chunk_s: float = BATCH_CHUNK_S
) -> Iterator[TimelineEntry]:
    """``entries`` with each end's key replaced by its recognition, done with
    ``Recognizer.recognize_batch`` on runs of the timeline holding about ``chunk_s`` of speech:
    a call with less is recognized in one batch (the same words as one batch of all its
    segments); a longer one never holds more than a chunk's audio."""
    held: list[TimelineEntry] = []
    held_s = 0.0

    def flush() -> Iterator[TimelineEntry]:
        ends = [k for k, entry in enumerate(held) if entry[1]]
        found = recognizer.recognize_batch([held[k][2] for k in ends]) if ends else []
        rec_at = dict(zip(ends, found))
        for k, (t_s, is_end, segment, _) in enumerate(held):
            yield t_s, is_end, segment, rec_at.get(k)

    for entry in entries:
        held.append(entry)
        if entry[1]:
            held_s += entry[2].duration_s
            if held_s >= chunk_s:
                yield from flush()
                held, held_s = [], 0.0
    yield from flush()


def to_utterance(segment: SpeechSegment, rec: "Recognition", index: int) -> Utterance:
    """The utterance a recognized segment becomes: times narrowed to its words, loudness measured."""
    from .voice import measure_voice

    start_s = segment.start_s
    end_s = segment.end_s
    if rec.words:
        start_s = max(start_s, min(w.start_s for w in rec.words))
        end_s = min(end_s, max(w.end_s for w in rec.words))
        if end_s <= start_s:
            start_s, end_s = segment.start_s, segment.end_s
    return Utterance(
        index=index,
        speaker=segment.speaker,
        text=rec.text,
        start_s=start_s,
        end_s=end_s,
        confidence=rec.confidence,
        words=rec.words,
        voice=measure_voice(segment.audio),
    )


@dataclass(frozen=True)
class _Side:
    """Where one speaker's audio comes from: channel ``pick`` of a file, or all its channels
    mixed down (``pick`` None)."""

    speaker: Speaker
    info: "AudioInfo"
    pick: int | None


SILENT_CHANNEL = "silent_channel"  # the code of the note that a side's audio is silent throughout


def _refuse_one_recording_twice(agent: Path, customer: Path) -> None:
    """BadInput when the agent's and the customer's files are one recording (the same file, or a
    copy of it): as for a stereo file with the same audio on both channels, every word would be
    said by both sides and the whole call would be talk-over."""
    import filecmp

    from .fileio import same_file

    try:
        same = same_file(agent, customer) or filecmp.cmp(agent, customer, shallow=False)
    except OSError:  # reading each file says why
        return
    if same:
        raise BadInput(
            f"the agent's file {agent} and the customer's file {customer} are the same recording, so the "
            "agent's words cannot be told from the customer's",
            "give each side's own recording (replay: --agent and --customer; qa: CALL_agent and CALL_customer); "
            "if one side alone speaks in it, give that file alone (replay: --speaker agent|customer)",
        )


def _is_silent(side: _Side) -> bool:
    """The side's channel (or, mixed down, every channel of its file) never rises above ``SILENT_PEAK``."""
    from .audio import SILENT_PEAK

    peaks = side.info.peaks
    if not peaks:
        return False  # not measured
    loudest = max(peaks) if side.pick is None else peaks[side.pick] if side.pick < len(peaks) else None
    return loudest is not None and loudest < SILENT_PEAK


def heard_sides(items: Iterable[object], declared: "tuple[Speaker, ...] | None") -> tuple[Speaker, ...] | None:
    """Whose voice a whole timeline (a transcript, a recording from the cache) can hold, for
    ``CallPipeline.run``'s ``sides``: the sides ``declared`` (``ReplayInput.sides``; None for a
    transcript) less one whose audio is silent throughout (a ``SILENT_CHANNEL`` note); for a
    transcript, its one speaker when only one side has lines. None: both sides, or not known.

    A call of one side cannot tell the other side's talk from silence: nothing between the
    sides is measured or nudged on it (see ``CallPipeline.run``)."""
    items = list(items)
    silent = {s for i in items if isinstance(i, Status) and i.code == SILENT_CHANNEL for s in i.speakers}
    if declared is not None:
        heard = tuple(s for s in declared if s not in silent)
        return heard or declared
    if silent:
        return tuple(s for s in Speaker if s not in silent) or None
    spoke = {i.speaker for i in items if isinstance(i, Utterance)}
    return tuple(spoke) if len(spoke) == 1 else None


OTHER_PARTICIPANTS = "other_participants"
"""The code of the warning a transcript's reader gives for the turns of others than the two sides:
left out (a Contact Lens call's system or bot, a CCAI Insights call's automated agent) or read as
the agent's (a Contact Lens supervisor); on the timeline before the utterances, so ``qa`` lists it
with the call."""


Parsed = Union[JsonTranscript, RapportError, None]
"""A transcript parsed ahead of its reading (``parse_ahead``): a ``.json`` file's document, or why it
could not be parsed (raised when the file is read); None: read from the file."""


def parse_ahead(path: Path) -> Parsed:
    """Parse the ``.json`` transcript ``path`` once, for both of its readings in ``open_replay``
    (``transcript_sides``, ``transcript_timeline``); a file that cannot be parsed keeps its error, for
    the reading to raise in its turn. Other transcripts: None (they are read line by line)."""
    if path.suffix.lower() != ANALYTICS_SUFFIX:
        return None
    try:
        return load_json_transcript(path)
    except RapportError as exc:
        return exc


def _read_parsed(
    path: Path, speaker_map: SpeakerMap, parsed: Parsed, warn: Callable[[str], None] | None = None
) -> Iterator[Utterance]:
    """``read_transcript`` from ``parsed`` (``parse_ahead``): its error raised when read, as reading the file would."""
    if isinstance(parsed, RapportError):
        raise parsed
    yield from read_transcript(path, speaker_map, warn=warn, parsed=parsed)


def transcript_timeline(
    path: Path, speaker_map: SpeakerMap = (), parsed: Parsed = None
) -> Iterator[Utterance | Status]:
    """A transcript's utterances (``read_transcript``), each warning of its reader (``OTHER_PARTICIPANTS``)
    placed before the utterances read after it: the readers that warn read the whole file first,
    so the warning comes first, at 0 s. ``parsed``: the file parsed ahead (``parse_ahead``)."""
    said: list[str] = []
    for utterance in _read_parsed(path, speaker_map, parsed, warn=said.append):
        while said:
            yield Status("warning", OTHER_PARTICIPANTS, said.pop(0), 0.0)
        yield utterance
    for message in said:
        yield Status("warning", OTHER_PARTICIPANTS, message, 0.0)


def transcript_sides(path: Path, speaker_map: SpeakerMap = (), parsed: Parsed = None) -> tuple[Speaker, ...] | None:
    """``heard_sides`` of a transcript file, read ahead of its replay (which reads it line by
    line): its one speaker when all its good lines are one side's (up to a bad line, which the
    replay then reports), else None. ``parsed``: the file parsed ahead (``parse_ahead``)."""
    spoke: set[Speaker] = set()
    try:
        for utterance in _read_parsed(path, speaker_map, parsed):
            spoke.add(utterance.speaker)
            if len(spoke) > 1:
                return None
    except RapportError:
        pass
    return tuple(spoke) if len(spoke) == 1 else None


class CallAudio:
    """The recording(s) of a call, checked and measured (one decoding pass that keeps no
    audio), ready to be streamed block by block with ``blocks``.

    ``speakers``: the sides, in the order their segments were always listed (left/agent first);
    ``duration_s``: the longest file's decoded length; ``notes``: warnings to put first on the
    timeline (a file that broke off, extra channels, a mixed-down side).
    """

    def __init__(self, spec: ReplayInput) -> None:
        from .audio import probe_audio

        self.notes: list[Status] = []

        def probe(path: Path) -> "AudioInfo":
            info = probe_audio(path)
            if info.truncated:
                self.notes.append(Status("warning", "audio_truncated", info.warning, info.duration_s))  # where it broke
            return info

        sides: list[_Side] = []
        if spec.path is not None:
            info = probe(spec.path)
            n = info.source_channels
            if n == 1 or info.twin_channels:
                # one side's audio (a twin-channel file: one signal on both channels, which split
                # into agent and customer would put every word on both sides): whose, the user says
                if spec.speaker is None:
                    if n == 1:
                        raise BadInput(
                            f"{spec.path} is mono, so it holds one side of the call",
                            "say whose it is (replay: --speaker agent|customer, or two files with --agent/--customer; "
                            "qa: name it CALL_agent or CALL_customer, and the other side's file the same way)",
                        )
                    raise BadInput(
                        f"{spec.path} has the same audio on both channels (a mono recording saved as "
                        "stereo, or one mix of both voices), so the agent's words cannot be told from "
                        "the customer's",
                        "if one side alone speaks in it, say whose it is (replay: --speaker agent|customer; "
                        "qa: name it CALL_agent or CALL_customer); for a whole call, record each side on "
                        "its own channel (left agent, right customer) or in its own file",
                    )
                sides.append(_Side(spec.speaker, info, 0))
            else:
                if spec.speaker is not None:
                    raise UsageError(
                        f"--speaker is for mono files, but {spec.path} has {n} channels",
                        "drop --speaker; use --channels customer,agent if the sides are swapped",
                    )
                if n > 2:
                    self.notes.append(
                        Status(
                            "warning",
                            "extra_channels",
                            f"{spec.path} has {n} channels; using the first two as "
                            f"{spec.channel_order[0].value},{spec.channel_order[1].value}",
                            0.0,
                        )
                    )
                sides += [_Side(spec.channel_order[0], info, 0), _Side(spec.channel_order[1], info, 1)]
        else:
            if spec.agent_path is not None and spec.customer_path is not None:
                _refuse_one_recording_twice(spec.agent_path, spec.customer_path)
            for speaker, path in ((Speaker.AGENT, spec.agent_path), (Speaker.CUSTOMER, spec.customer_path)):
                if path is None:
                    continue
                info = probe(path)
                pick: int | None = 0
                if info.source_channels > 1:
                    self.notes.append(
                        Status(
                            "warning",
                            "downmixed",
                            f"{path} has {info.source_channels} channels; mixing them down for the {speaker.value}",
                            0.0,
                        )
                    )
                    pick = None
                sides.append(_Side(speaker, info, pick))
        self._sides = tuple(sides)
        self.speakers: tuple[Speaker, ...] = tuple(side.speaker for side in sides)
        self.duration_s = max(side.info.duration_s for side in sides)
        # the sides that can be heard: a side whose audio is silent throughout (a stereo call
        # recorded with one channel dead) is the other side alone on the line (``heard_sides``)
        self.heard: tuple[Speaker, ...] = self.speakers
        silent = [side for side in sides if _is_silent(side)]
        if len(sides) == 2 and len(silent) == 1:
            (side,) = silent
            self.heard = tuple(s for s in self.speakers if s is not side.speaker)
            if side.pick is None or side.info.source_channels == 1:
                where = f"{side.info.path.name} (the {side.speaker.value}'s file)"
            else:
                channel = ("left", "right")[side.pick]
                where = f"the {side.speaker.value}'s channel of {side.info.path.name} ({channel})"
            self.notes.append(
                Status(
                    "warning",
                    SILENT_CHANNEL,
                    f"{where} is silent throughout: only the {self.heard[0].value} can be heard",
                    0.0,
                    speakers=(side.speaker,),
                )
            )

    def blocks(self, block_samples: int) -> Iterator[dict[Speaker, np.ndarray]]:
        """Consecutive blocks of ``block_samples`` 16 kHz samples per speaker (float32, mono), in
        step across the sides; a side whose file ended is left out of the later blocks."""
        from .audio import stream_blocks

        files: dict[Path, Iterator[np.ndarray]] = {}
        for side in self._sides:
            if side.info.path not in files:
                files[side.info.path] = stream_blocks(side.info, block_samples)
        while True:
            data = {path: next(stream, None) for path, stream in files.items()}
            out: dict[Speaker, np.ndarray] = {}
            for side in self._sides:
                block = data[side.info.path]
                if block is None:
                    continue
                if side.pick is not None:
                    out[side.speaker] = block[side.pick]
                else:
                    out[side.speaker] = np.mean(block, axis=0).astype(np.float32)
            if not out:
                return
            yield out


class CallSegments:
    """A call's speech segments, endpointed block by block, as ``TimelineEntry``s in call order
    (the order ``recognize_segments`` sorts a whole call's segments into).

    Each side runs through its own streaming ``Endpointer``. A segment's start or end is handed
    on once no side can still produce a segment that starts earlier (each endpointer's
    ``horizon_s``; an end at exactly the horizon waits, as a part that continues a force-cut
    utterance starts there and comes first). So at any moment this holds one block and, per
    side, at most the open utterance and a force-cut part before it: at most
    ``4 * max_utterance_s`` of audio (plus a block and the padding) on a two-sided call,
    whatever its length. ``peak_held_s`` records the most audio held at once (seconds, all
    sides together), for tests and benchmarks.
    """

    def __init__(self, audio: CallAudio, options: "EndpointerOptions", block_s: float = REPLAY_BLOCK_S) -> None:
        self.audio = audio
        self.options = options
        self.block_samples = max(512, int(block_s * STREAM_RATE_HZ))
        self.peak_held_s = 0.0

    def __iter__(self) -> Iterator[TimelineEntry]:
        from .endpoint import Endpointer

        endpointers = {speaker: Endpointer(speaker, self.options) for speaker in self.audio.speakers}
        position = {speaker: k for k, speaker in enumerate(self.audio.speakers)}
        count = dict.fromkeys(self.audio.speakers, 0)
        # (t_s, is_end, start_s, side, n, segment): the sort key of recognize_segments, side and
        # n standing for the segment's place in the list of every side's segments
        heap: list[tuple[float, int, float, int, int, SpeechSegment]] = []
        held_s = 0.0  # audio of the segments waiting in the heap

        def add(speaker: Speaker, segments: list[SpeechSegment]) -> None:
            nonlocal held_s
            for segment in segments:
                n = count[speaker]
                count[speaker] += 1
                heapq.heappush(heap, (segment.start_s, 0, segment.start_s, position[speaker], n, segment))
                heapq.heappush(heap, (segment.end_s, 1, segment.start_s, position[speaker], n, segment))
                held_s += len(segment.audio) / STREAM_RATE_HZ

        def ready(horizon_s: float) -> Iterator[TimelineEntry]:
            nonlocal held_s
            while heap and heap[0][0] < horizon_s:
                t_s, is_end, _, _, _, segment = heapq.heappop(heap)
                if is_end:
                    held_s -= len(segment.audio) / STREAM_RATE_HZ
                yield t_s, bool(is_end), segment, None

        for block in self.audio.blocks(self.block_samples):
            for speaker, endpointer in endpointers.items():
                if speaker in block:
                    add(speaker, endpointer.push(block[speaker]))
                else:  # that side's file ended
                    add(speaker, endpointer.finish())
            in_use = sum(len(b) for b in block.values()) / STREAM_RATE_HZ
            in_use += held_s + sum(e.buffered_s for e in endpointers.values())
            self.peak_held_s = max(self.peak_held_s, in_use)
            yield from ready(min(e.horizon_s for e in endpointers.values()))
        for speaker, endpointer in endpointers.items():
            add(speaker, endpointer.finish())
        yield from ready(math.inf)


def open_replay(
    spec: ReplayInput,
    recognizer_factory: Callable[[], Recognizer],
    endpointer_options: "EndpointerOptions | None" = None,
    batch: bool = False,
) -> ReplaySource:
    """Check and open ``spec``. ``recognizer_factory()`` is only called for audio input.

    ``batch``: recognize a recording's utterances together, packed into 30 s windows
    (``Recognizer.recognize_batch``; batch QA; in chunks of ``BATCH_CHUNK_S`` of speech), instead
    of one at a time as they end (as live capture must). The timeline and its events have the same form either way; the words can
    differ a little, as Whisper hears each utterance with its neighbours around it.
    """
    spec.check()
    if spec.is_transcript:
        assert spec.path is not None
        parsed = parse_ahead(spec.path)  # a .json file: parsed here once, read twice
        return ReplaySource(
            transcript_timeline(spec.path, spec.reading_map, parsed),
            read_ahead=TRANSCRIPT_READ_AHEAD,
            sides=transcript_sides(spec.path, spec.reading_map, parsed),
        )
    from .endpoint import EndpointerOptions

    audio = CallAudio(spec)
    options = endpointer_options or EndpointerOptions()
    recognizer = recognizer_factory()

    def generate() -> Iterator[Utterance | SpeechActivity | TurnRevision]:
        entries = iter(CallSegments(audio, options))
        turns = turn_pass_for(recognizer)
        if batch:
            yield from walk_timeline(recognized_in_chunks(entries, recognizer), lambda rec, _: rec, turns)
        else:
            yield from walk_timeline(entries, lambda _, segment: recognizer.recognize(segment), turns)

    return ReplaySource(generate(), audio_s=audio.duration_s, notes=audio.notes, sides=audio.heard)


@dataclass
class EndpointedRecording:
    """A recording decoded and cut into speech segments, not yet recognized (batch QA
    recognizes the segments of several short recordings together; they are held whole)."""

    segments: list[SpeechSegment]
    audio_s: float
    notes: list[Status]

    def source(self, recognizer: "Recognizer", recognitions: "Sequence[Recognition | None]") -> ReplaySource:
        """The replay, once its segments are recognized (``recognitions``, in segment order)."""
        return ReplaySource(
            recognize_segments(self.segments, recognizer, recognitions), audio_s=self.audio_s, notes=self.notes
        )


def endpoint_recording(spec: ReplayInput, endpointer_options: "EndpointerOptions | None" = None) -> EndpointedRecording:
    """Check, decode and endpoint a recording (not a transcript); BadInput when it cannot be read."""
    from .endpoint import EndpointerOptions

    spec.check()
    audio = CallAudio(spec)
    ends = [
        segment for _, is_end, segment, _ in CallSegments(audio, endpointer_options or EndpointerOptions()) if is_end
    ]
    side = {speaker: k for k, speaker in enumerate(audio.speakers)}
    segments = sorted(ends, key=lambda segment: side[segment.speaker])  # each side's in order, sides in turn
    return EndpointedRecording(segments, audio.duration_s, audio.notes)
