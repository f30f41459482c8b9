"""Where utterances come from in a replay: a transcript, or recorded audio run through the
endpointer and the recognizer (the same stages live capture uses).

``ReplayInput`` says what the user gave on the command line; ``open_replay`` checks it and
returns a ``ReplaySource`` whose ``items()`` timeline feeds ``CallPipeline.run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, Union

import numpy as np

from .errors import BadInput, UsageError
from .transcript import read_transcript
from .types import Recognition, SpeechActivity, SpeechSegment, Speaker, Status, Utterance

if TYPE_CHECKING:  # pragma: no cover
    from .endpoint import EndpointerOptions
    from .recognizer import Recognizer

TRANSCRIPT_SUFFIXES = (".jsonl", ".ndjson")
# Replay feeds the endpointer in blocks of this size, as a capture callback would.
REPLAY_BLOCK_S = 0.5
# A transcript is all there, so the pipeline may read this many utterances ahead and annotate
# them in one spaCy batch (see bench/rules_speed.py).
TRANSCRIPT_READ_AHEAD = 64


class Timeline(Iterator[Union[Utterance, Status, SpeechActivity]]):
    """A replay's items in timeline order, and ``read_ahead``: how many utterances a consumer
    may take before handing the first one on without delaying any event. A transcript is all
    there (``TRANSCRIPT_READ_AHEAD``); audio is recognized one utterance at a time, so reading
    ahead would hold each event back by the recognition of the next ones (1)."""

    def __init__(self, items: Iterable[Utterance | Status | SpeechActivity], read_ahead: int = 1) -> None:
        self._items = iter(items)
        self.read_ahead = read_ahead

    def __iter__(self) -> "Timeline":
        return self

    def __next__(self) -> Utterance | Status | SpeechActivity:
        return next(self._items)


@dataclass(frozen=True)
class ReplayInput:
    """What to replay: one file (stereo, mono with ``speaker``, or a transcript) or two mono files."""

    path: Path | None = None
    agent_path: Path | None = None
    customer_path: Path | None = None
    speaker: Speaker | None = None
    channel_order: tuple[Speaker, Speaker] = (Speaker.AGENT, Speaker.CUSTOMER)

    @property
    def is_transcript(self) -> bool:
        return self.path is not None and self.path.suffix.lower() in TRANSCRIPT_SUFFIXES

    def check(self) -> None:
        """Raise UsageError when the combination of arguments makes no sense."""
        pair = self.agent_path is not None or self.customer_path is not None
        if self.path is None and not pair:
            raise UsageError("nothing to replay", "give a recording or transcript, or --agent A.wav --customer B.wav")
        if self.path is not None and pair:
            raise UsageError("give either one INPUT or --agent/--customer files, not both",
                             "for two mono recordings use only --agent A.wav --customer B.wav")
        if self.speaker is not None and (pair or self.is_transcript):
            raise UsageError("--speaker is for a single mono recording",
                             "transcripts name the speaker on each line; --agent/--customer name theirs")


@dataclass
class ReplaySource:
    """A checked input, ready to yield utterances. ``audio_s`` is the recording length, if audio."""

    timeline: Iterator[Utterance | Status | SpeechActivity]
    audio_s: float | None = None
    notes: list[Status] = field(default_factory=list)
    read_ahead: int = 1  # see ``Timeline``

    def items(self) -> Timeline:
        """Everything on the timeline, for the pipeline: notes, activity marks, utterances."""
        return Timeline(chain(self.notes, self.timeline), self.read_ahead)

    def utterances(self) -> Iterator[Utterance]:
        """Only the utterances (for scripts that want the words)."""
        for item in self.timeline:
            if isinstance(item, Utterance):
                yield item


def endpoint_channel(
    speaker: Speaker, samples: np.ndarray, options: "EndpointerOptions", block_s: float = REPLAY_BLOCK_S
) -> list[SpeechSegment]:
    """Run one channel through a streaming endpointer, block by block as live capture does."""
    from .endpoint import Endpointer
    from .audio import STREAM_RATE_HZ

    endpointer = Endpointer(speaker, options)
    block = max(512, int(block_s * STREAM_RATE_HZ))
    segments: list[SpeechSegment] = []
    for offset in range(0, len(samples), block):
        segments.extend(endpointer.push(samples[offset: offset + block]))
    segments.extend(endpointer.finish())
    return segments


def recognize_segments(segments: Sequence[SpeechSegment], recognizer: "Recognizer",
                       recognitions: "Sequence[Recognition | None] | None" = None) -> Iterator[Utterance | SpeechActivity]:
    """Walk the segments on the call timeline, as live capture would meet them.

    ``recognitions``: what the recognizer made of each segment, when it was done beforehand
    (batch recognition); by default each segment is recognized when the walk reaches its end.

    At each segment's start a ``SpeechActivity`` marks its channel busy; at its end the
    segment is recognized and becomes an ``Utterance`` (with its loudness measured), or, when
    the recognizer's guards reject it (noise, invented text), a ``SpeechActivity`` that marks
    the channel free again. Utterance indices follow the order in which utterances end.
    """
    timeline = [(seg.start_s, 0, seg.start_s, i) for i, seg in enumerate(segments)]
    timeline += [(seg.end_s, 1, seg.start_s, i) for i, seg in enumerate(segments)]
    index = 0
    for t_s, is_end, _, i in sorted(timeline):
        segment = segments[i]
        if not is_end:
            yield SpeechActivity(segment.speaker, t_s, True)
            continue
        rec = recognizer.recognize(segment) if recognitions is None else recognitions[i]
        if rec is None:
            yield SpeechActivity(segment.speaker, t_s, False)
            continue
        yield to_utterance(segment, rec, index)
        index += 1


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


def _audio_channels(spec: ReplayInput) -> tuple[dict[Speaker, np.ndarray], float, list[Status]]:
    """Decode the recording(s) of ``spec`` into one 16 kHz array per speaker."""
    from .audio import decode_channels

    notes: list[Status] = []

    def decode(path: Path):
        audio = decode_channels(path)
        if audio.truncated:
            notes.append(Status("warning", "audio_truncated", audio.warning, audio.duration_s))  # where it broke
        return audio

    if spec.path is not None:
        audio = decode(spec.path)
        n = len(audio.channels)
        if n == 1:
            if spec.speaker is None:
                raise BadInput(f"{spec.path} is mono, so it holds one side of the call",
                               "say whose it is with --speaker agent|customer, or give two files with --agent/--customer")
            channels = {spec.speaker: audio.channels[0]}
        else:
            if spec.speaker is not None:
                raise UsageError(f"--speaker is for mono files, but {spec.path} has {n} channels",
                                 "drop --speaker; use --channels customer,agent if the sides are swapped")
            if n > 2:
                notes.append(Status("warning", "extra_channels",
                                    f"{spec.path} has {n} channels; using the first two as "
                                    f"{spec.channel_order[0].value},{spec.channel_order[1].value}", 0.0))
            channels = {spec.channel_order[0]: audio.channels[0], spec.channel_order[1]: audio.channels[1]}
        return channels, audio.duration_s, notes

    channels = {}
    duration = 0.0
    for speaker, path in ((Speaker.AGENT, spec.agent_path), (Speaker.CUSTOMER, spec.customer_path)):
        if path is None:
            continue
        audio = decode(path)
        samples = audio.channels[0]
        if len(audio.channels) > 1:
            notes.append(Status("warning", "downmixed",
                                f"{path} has {len(audio.channels)} channels; mixing them down for the {speaker.value}",
                                0.0))
            samples = np.mean(np.stack(audio.channels), axis=0).astype(np.float32)
        channels[speaker] = samples
        duration = max(duration, audio.duration_s)
    return channels, duration, notes


def open_replay(spec: ReplayInput, recognizer_factory, endpointer_options: "EndpointerOptions | None" = None,
                batch: bool = False) -> ReplaySource:
    """Check and open ``spec``. ``recognizer_factory()`` is only called for audio input.

    ``batch``: recognize all of a recording's utterances at once, packed into 30 s windows
    (``Recognizer.recognize_batch``; batch QA), instead of one at a time as they end (as live
    capture must). The timeline and its events have the same form either way; the words can
    differ a little, as Whisper hears each utterance with its neighbours around it.
    """
    spec.check()
    if spec.is_transcript:
        assert spec.path is not None
        return ReplaySource(read_transcript(spec.path), read_ahead=TRANSCRIPT_READ_AHEAD)
    from .endpoint import EndpointerOptions

    channels, duration, notes = _audio_channels(spec)
    options = endpointer_options or EndpointerOptions()
    recognizer = recognizer_factory()

    def generate() -> Iterator[Utterance | SpeechActivity]:
        segments = endpoint_channels(channels, options)
        recognitions = recognizer.recognize_batch(segments) if batch else None
        yield from recognize_segments(segments, recognizer, recognitions)

    return ReplaySource(generate(), audio_s=duration, notes=notes)


@dataclass
class EndpointedRecording:
    """A recording decoded and cut into speech segments, not yet recognized (batch QA
    recognizes the segments of several recordings together)."""

    segments: list[SpeechSegment]
    audio_s: float
    notes: list[Status]

    def source(self, recognizer: "Recognizer", recognitions: "Sequence[Recognition | None]") -> ReplaySource:
        """The replay, once its segments are recognized (``recognitions``, in segment order)."""
        return ReplaySource(recognize_segments(self.segments, recognizer, recognitions), audio_s=self.audio_s,
                            notes=self.notes)


def endpoint_recording(spec: ReplayInput, endpointer_options: "EndpointerOptions | None" = None) -> EndpointedRecording:
    """Check, decode and endpoint a recording (not a transcript); BadInput when it cannot be read."""
    from .endpoint import EndpointerOptions

    spec.check()
    channels, duration, notes = _audio_channels(spec)
    return EndpointedRecording(endpoint_channels(channels, endpointer_options or EndpointerOptions()), duration, notes)


def endpoint_channels(channels: dict[Speaker, np.ndarray], options: "EndpointerOptions") -> list[SpeechSegment]:
    segments: list[SpeechSegment] = []
    for speaker, samples in channels.items():
        segments.extend(endpoint_channel(speaker, samples, options))
    return segments
