"""Recognized timelines, cached so re-running rules over a corpus needs no new recognition.

What the rules need from audio is the call's timeline before the pipeline: utterances (text,
times, words with probabilities, the voice measure) with the speech-activity marks and
notes between them, and the recording's length. That is what is stored, one JSON line per
item, at full float precision, so a cached timeline gives exactly the events of the run
that made it.

The key is the sha256 of: the cache format, the program's version, the audio files' bytes with
the role of each (stereo/agent/customer, channel order), the model's identity (its files'
content), and every recognizer and endpointer setting. Changing any of them misses the cache;
renaming or moving a file does not. ``CACHE_FORMAT`` is bumped whenever reading or recognizing
a recording changes what its timeline holds (words, times, statuses), so a timeline cached
before a fix is made again rather than kept with the old result; a new release (its version)
recognizes again whatever changed.

The text is stored masked (``privacy.py``), unless ``QaSettings.cache_unmasked`` (``qa
--cache-unmasked``) or masking is off; the key holds which (the masking list's fingerprint,
"unmasked"), so a changed masking list misses the cache and the calls are recognized again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..fileio import write_atomic
from ..sources import ReplayInput
from ..types import SpeechActivity, Speaker, Status, TurnRevision, Utterance, VoiceMeasure, Word
from .inputs import CallInput

# Bump when a change to reading or recognition (audio.py, sources.py, endpoint.py, recognizer.py,
# turn_pass.py, privacy.py) changes a timeline: 2, a WAV cut short has its audio_truncated status.
# 3, a side whose audio is silent throughout has its silent_channel status (with its speaker).
# 4, a stereo file with the same audio on both channels is refused, not split into two sides.
# 5, an Ogg file (Opus, Vorbis) cut short has its audio_truncated status.
CACHE_FORMAT = 5


def program_version() -> str:
    """The package's version (read at each call, so a test can change it)."""
    import rapport_assist

    return rapport_assist.__version__


@functools.lru_cache(maxsize=8)
def model_identity(model_dir: str) -> str:
    """sha256 over the model folder's files (names and bytes): two copies of a model share a cache."""
    digest = hashlib.sha256()
    folder = Path(model_dir)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def transcript_settings(spec: ReplayInput) -> dict[str, Any]:
    """What besides its bytes makes a transcript's timeline: the people (or a Transcribe job's
    labels) named as sides, if any (none: no key, so the keys of earlier runs stay)."""
    if not spec.reading_map:
        return {}
    return {"speaker_map": sorted([name, side.value] for name, side in spec.reading_map)}


def call_key(call: CallInput, settings: dict[str, Any]) -> str:
    """The cache key of ``call`` recognized with ``settings`` (see the module doc). Raises OSError
    when a file cannot be read."""
    spec = call.spec
    roles: list[tuple[str, Path]] = []
    if spec.path is not None:
        role = (
            "transcript"
            if spec.is_transcript
            else (spec.speaker.value if spec.speaker else "stereo:" + ",".join(s.value for s in spec.channel_order))
        )
        roles.append((role, spec.path))
    for role, path in (("agent", spec.agent_path), ("customer", spec.customer_path)):
        if path is not None:
            roles.append((role, path))
    payload = {
        "format": CACHE_FORMAT,
        "version": program_version(),
        "files": [[role, file_digest(path)] for role, path in roles],
        "settings": settings if not spec.is_transcript else transcript_settings(spec),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------- timeline items <-> JSON


TimelineItem = Utterance | SpeechActivity | Status | TurnRevision


def item_to_json(item: TimelineItem) -> dict[str, Any]:
    """One timeline item as JSON, floats unrounded (``Utterance.to_json`` rounds for people)."""
    if isinstance(item, TurnRevision):
        return {
            "type": "revision",
            "speaker": item.speaker.value,
            "t": item.t_s,
            "before": list(item.before),
            "utterances": [item_to_json(u) for u in item.utterances],
        }
    if isinstance(item, Utterance):
        return {
            "type": "utterance",
            "index": item.index,
            "speaker": item.speaker.value,
            "text": item.text,
            "start": item.start_s,
            "end": item.end_s,
            "confidence": item.confidence,
            "timing_estimated": item.timing_estimated,
            "words": [[w.text, w.start_s, w.end_s, w.probability] for w in item.words],
            "voice": None if item.voice is None else [item.voice.loudness_dbfs, item.voice.voiced_s],
        }
    if isinstance(item, SpeechActivity):
        return {"type": "activity", "speaker": item.speaker.value, "t": item.t_s, "speaking": item.speaking}
    d: dict[str, Any] = {
        "type": "status",
        "level": item.level,
        "code": item.code,
        "message": item.message,
        "t": item.t_s,
    }
    if item.component:
        d["component"] = item.component
    if item.speakers:  # whose side it concerns (a silent channel's: ``sources.heard_sides``)
        d["speakers"] = [s.value for s in item.speakers]
    return d


def item_from_json(d: dict[str, Any]) -> TimelineItem:
    kind = d["type"]
    if kind == "revision":
        utterances = tuple(item_from_json(u) for u in d["utterances"])
        if not all(isinstance(u, Utterance) for u in utterances):
            raise ValueError("a revision holds utterances")
        return TurnRevision(Speaker(d["speaker"]), cast(tuple[Utterance, ...], utterances), tuple(d["before"]), d["t"])
    if kind == "utterance":
        return Utterance(
            index=d["index"],
            speaker=Speaker(d["speaker"]),
            text=d["text"],
            start_s=d["start"],
            end_s=d["end"],
            confidence=d["confidence"],
            timing_estimated=d["timing_estimated"],
            words=tuple(Word(w[0], w[1], w[2], w[3]) for w in d["words"]),
            voice=None if d["voice"] is None else VoiceMeasure(d["voice"][0], d["voice"][1]),
        )
    if kind == "activity":
        return SpeechActivity(Speaker(d["speaker"]), d["t"], d["speaking"])
    if kind == "status":
        if not isinstance(d["t"], (int, float)):  # cached before every status had its time: recognize again
            raise ValueError("a status without its time")
        return Status(
            d["level"],
            d["code"],
            d["message"],
            d["t"],
            d.get("component"),
            tuple(Speaker(s) for s in d.get("speakers", ())),
        )
    raise ValueError(f"unknown timeline item {kind!r}")


@dataclass(frozen=True)
class CachedTimeline:
    """A call's timeline before the pipeline, and its audio length (None for a transcript)."""

    items: tuple[TimelineItem, ...]
    audio_s: float | None


class TranscriptCache:
    """Timelines under ``folder/<key[:2]>/<key>.jsonl``; safe for many processes (atomic writes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / "transcripts" / key[:2] / f"{key}.jsonl"

    def get(self, key: str) -> CachedTimeline | None:
        """The cached timeline, or None (missing, or unreadable: then it is recomputed)."""
        try:
            lines = self.path(key).read_text(encoding="utf-8").splitlines()
            header = json.loads(lines[0])
            if header.get("type") != "header" or header.get("format") != CACHE_FORMAT:
                return None
            return CachedTimeline(tuple(item_from_json(json.loads(line)) for line in lines[1:]), header["audio_s"])
        except (OSError, IndexError, KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, timeline: CachedTimeline, about: dict[str, Any] | None = None) -> None:
        header = {"type": "header", "format": CACHE_FORMAT, "audio_s": timeline.audio_s, **(about or {})}
        lines = [json.dumps(header)] + [json.dumps(item_to_json(i), ensure_ascii=False) for i in timeline.items]
        write_atomic(self.path(key), "\n".join(lines) + "\n")


def settings_identity(
    model_dir: Path, compute_type: str, recognizer_options: Any, endpointer_options: Any, batch: bool
) -> dict[str, Any]:
    """Everything about recognition that changes a timeline, as plain JSON."""
    rec = {
        k: v
        for k, v in dataclasses.asdict(recognizer_options).items()
        if k not in ("model_dir", "cpu_threads", "keep_freed_memory")
    }  # the malloc setting: same words
    identity = {
        "model": model_identity(str(model_dir)),
        "compute_type": compute_type,
        "recognizer": rec,
        "endpointer": dataclasses.asdict(endpointer_options),
        "batch": batch,
    }
    if batch:  # how packed words go back to their segments (recognizer.piece_of) and sparse, empty
        # or looped ones are decoded again: timelines cached before these changes miss
        identity["pack_words"] = "start, sparse, empty or looped alone"
    return identity
