"""Event sinks: a readable transcript for people, JSONL for machines.

Both write each event as it happens and flush, so an interrupted replay keeps everything
produced so far. A failed write (disk full, closed pipe) raises OutputError. Sinks write events
as they are: personal data was masked before (``CallPipeline``'s masking stage, ``privacy.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import errno
import json
from typing import IO, Protocol

from .coaching import NO_PRAISE, moment_words, promise_line
from .errors import OutputClosed, OutputError
from .timefmt import clock
from .wording import one_side_note, plural
from .types import (
    CallCoaching,
    CallSummary,
    DeadAir,
    Event,
    Nudge,
    Praise,
    Status,
    TalkOver,
    ToneChange,
    TurnRevision,
    Utterance,
)


class EventSink(Protocol):
    def write(self, event: Event) -> None: ...


def format_clock(t_s: float) -> str:
    """mm:ss.s for the terminal's event lines."""
    return clock(t_s, pad=True)


class _StreamSink(ABC):
    """A sink writing to a text stream; subclasses say how an event is written."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self.stream = stream
        self.name = name

    @abstractmethod
    def write(self, event: Event) -> None: ...

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            raise OutputClosed(f"output {self.name} was closed", "") from None
        except OSError as exc:
            hint = (
                "free some disk space and replay again"
                if exc.errno == errno.ENOSPC
                else "check the path and permissions"
            )
            raise OutputError(f"cannot write to {self.name}: {exc.strerror or exc}", hint) from None


class JsonlSink(_StreamSink):
    """One JSON object per event and line (schema in README.md, 'Event log')."""

    def write(self, event: Event) -> None:
        self._emit(json.dumps(event.to_json(), ensure_ascii=False) + "\n")


SEVERITY_MARK = {"high": "!!!", "medium": "!! ", "low": "!  "}


class TextSink(_StreamSink):
    """A transcript with speaker and time, nudges inline under the utterance that fired them."""

    def write(self, event: Event) -> None:
        if isinstance(event, Utterance):
            conf = "" if event.confidence is None else f"  ({event.confidence:.0%})"
            self._emit(f"[{format_clock(event.start_s)}] {event.speaker.value.upper():<8} {event.text}{conf}\n")
        elif isinstance(event, Nudge) and not event.early:  # an early one: its final nudge follows, or is withdrawn
            lines = [f"    {SEVERITY_MARK.get(event.severity, '!  ')} {event.rule}: {event.message}"]
            for ev in event.evidence:
                if ev.matched:
                    lines.append(f"        because {ev.speaker.value} said: " + ", ".join(f'"{m}"' for m in ev.matched))
            if event.rewrite:
                lines.append(f"        try: {event.rewrite}")
            self._emit("\n".join(lines) + "\n")
        elif isinstance(event, TurnRevision):  # a turn heard again: the lines it changed
            for u, before in zip(event.utterances, event.before):
                if u.text != before:
                    self._emit(
                        f"    ~~ heard again [{format_clock(u.start_s)}] {u.speaker.value.upper():<8} {u.text}\n"
                    )
        elif isinstance(event, Praise):
            self._emit(f"    +   {event.rule}: {event.title}\n")
        elif isinstance(event, CallCoaching):
            self._emit(coaching_text(event))
        elif isinstance(event, DeadAir):
            hold = "after a hold was announced" if event.hold_announced else "no hold announced"
            self._emit(f"[{format_clock(event.since_s)}] ~~ dead air {event.silence_s:.0f} s ({hold})\n")
        elif isinstance(event, TalkOver):
            self._emit(f"    ~~ {event.speaker.value} talked over the {event.over.value} for {event.overlap_s:.1f} s\n")
        elif isinstance(event, ToneChange):
            why = f": {'; '.join(event.tone.evidence)}" if event.tone.evidence else ""
            self._emit(f"    ~~ {event.speaker.value} tone {event.previous} → {event.tone.label}{why}\n")
        elif isinstance(event, Status):
            self._emit(f"-- {event.level}: {event.message}\n")
        elif isinstance(event, CallSummary):
            rules = ", ".join(f"{k} ×{v}" for k, v in sorted(event.nudges_by_rule.items())) or "none"
            speed = ""
            if event.audio_s and event.processing_s:
                speed = f"; {event.audio_s / event.processing_s:.1f}× real time"
            if event.masking is not None:
                speed += (
                    "; personal data masked"
                    + (f" in {event.masked_utterances} utterance(s)" if event.masked_utterances else "")
                    if event.masking
                    else "; masking off"
                )
            if event.one_side is not None:
                speed += f"; {one_side_note(event.one_side.value)}"
            self._emit(
                f"-- call end at {format_clock(event.duration_s)}: {plural(event.utterances, 'utterance')}, "
                f"{plural(event.nudges, 'nudge')} ({rules}){speed}\n"
            )


def coaching_text(c: CallCoaching) -> str:
    """The agent's call summary as plain text (``replay``'s terminal output)."""
    lines = ["", "== Call summary for the agent", "   What went well:" + ("" if c.went_well else f" {NO_PRAISE}")]
    if c.went_well:
        for line in c.went_well:
            lines.append(f"     + {line.title}{moment_words(line)}: {line.text}")
            if line.cue:
                lines.append(f"         they said: “{line.cue}”")
            if line.quote:
                lines.append(f"         you said: “{line.quote}”")
    if c.try_next is not None:
        lines.append(f"   One thing to try next time: {c.try_next.title}{moment_words(c.try_next)}")
        lines.append(f"       {c.try_next.text}")
        if c.try_next.quote:
            lines.append(f"       {c.try_next.quote}")
    if c.promises:
        lines.append("   Promises to log:")
        for p in c.promises:
            text, when = promise_line(p)
            lines.append(f"     - “{text}” ({when})")
    lines.append(f"   {c.closing}")
    return "\n".join(lines) + "\n\n"
