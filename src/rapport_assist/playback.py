"""QA replay for the sidebar: a call's events played back on a clock, at 1×, 2×, 4× or flat out.

``Playback`` is the scheduler: timed events in, the ones that are due out, on an injectable
clock (so its tests need no sleeping). ``ReplayCall`` is a call runner with the same protocol as
live capture (``start(on_event)`` / ``stop()``): one worker thread runs the recording or
transcript through ``CallPipeline`` as fast as it can and hands the events to the scheduler;
a second thread paces them out to ``on_event``. Seeking sends a ``Rewind`` and then, at once,
every event up to the new position, so the model rebuilds the call's state at that moment.

No Qt here: the sidebar marshals ``on_event`` calls onto its own thread.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol

from .assist import Rewind, event_time
from .errors import RapportError
from .timefmt import clock as clock_text
from .types import CallSummary, Event, Nudge, SpeechActivity, Status, Utterance

if TYPE_CHECKING:  # pragma: no cover
    from .annotate import Annotator
    from .recognizer import Recognizer
    from .rules import RuleSet
    from .sources import ReplayInput

SPEEDS = (1.0, 2.0, 4.0, math.inf)
MAX_BURST = 200  # events handed out per due() call at full speed, so a view stays responsive


def speed_label(speed: float) -> str:
    return "max" if math.isinf(speed) else f"{speed:g}×"


class CallRunner(Protocol):
    """What the sidebar drives: live capture and QA replay alike."""

    def start(self, on_event: Callable[[object], None]) -> None: ...

    def stop(self, wait: bool = True) -> None:
        """Stop; with ``wait``, return when the runner's threads have ended (else ``join`` waits)."""

    def join(self, timeout_s: float | None) -> bool: ...


@dataclass(frozen=True)
class Mark:
    """A nudge on the QA timeline."""

    t_s: float
    severity: str
    rule: str
    title: str


class Playback:
    """Timed events, handed out when the playback position passes them.

    Position (call seconds) moves with ``clock`` × speed while playing. Events may still be
    arriving (``extend``) while it plays: the position then waits at the last event known until
    ``finish()`` says there are no more. Thread-safe.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, speed: float = 1.0) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._times: list[float] = []
        self._keys: list[tuple[float, int]] = []
        self._events: list[object] = []
        self._seq = 0
        self._cursor = 0
        self._finished = False
        self._end_s = 0.0
        self._known_s = 0.0
        self._playing = False
        self._speed = speed
        self._base_pos = 0.0
        self._base_clock = clock()
        self._rewind: Rewind | None = None
        self.marks: list[Mark] = []
        self.handed = 0  # events handed out by due() so far (a Rewind counts as one)
        self._handed_s = 0.0  # every event up to this call time has been handed out

    # -- feeding ---------------------------------------------------------------------------
    def extend(self, events: Iterable[object]) -> None:
        """Add events (any order of arrival; each goes where its call time puts it)."""
        with self._lock:
            for event in events:
                t = event_time(event)
                t = self._known_s if t is None else t
                key = (t, self._seq)
                self._seq += 1
                i = bisect.bisect_right(self._keys, key)
                if i < self._cursor:  # in the past already: hand it out next
                    i = self._cursor
                    key = (self._times[i - 1] if i else t, key[1])
                self._keys.insert(i, key)
                self._times.insert(i, key[0])
                self._events.insert(i, event)
                if not isinstance(event, SpeechActivity):
                    self._known_s = max(self._known_s, t)
                if isinstance(event, Nudge) and not event.experimental:
                    self.marks.append(Mark(event.t_s, event.severity, event.rule, event.title))
                if isinstance(event, CallSummary):
                    self._end_s = max(self._end_s, event.duration_s)
                self._end_s = max(self._end_s, t)

    def finish(self) -> None:
        """No more events will come."""
        with self._lock:
            self._finished = True
            self._known_s = max(self._known_s, self._end_s)

    # -- controls --------------------------------------------------------------------------
    def _rebase(self) -> None:
        self._base_pos = self._position_locked()
        self._base_clock = self._clock()

    def play(self) -> None:
        with self._lock:
            self._rebase()
            self._playing = True

    def pause(self) -> None:
        with self._lock:
            self._rebase()
            self._playing = False

    def set_speed(self, speed: float) -> None:
        if not (speed > 0):
            raise ValueError("speed must be positive (math.inf for as fast as possible)")
        with self._lock:
            self._rebase()
            self._speed = speed

    def seek(self, t_s: float) -> None:
        """Jump to ``t_s``: the next ``due()`` starts with a ``Rewind`` carrying every event up to it."""
        with self._lock:
            t_s = min(max(0.0, t_s), self._known_s)
            self._base_pos = t_s
            self._base_clock = self._clock()
            self._cursor = 0
            self._rewind = Rewind(t_s)

    # -- reading ---------------------------------------------------------------------------
    @property
    def speed(self) -> float:
        return self._speed

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def duration_s(self) -> float:
        """The call's length as far as known (final once finished)."""
        with self._lock:
            return self._end_s

    @property
    def ended(self) -> bool:
        """Everything was handed out and no more will come."""
        with self._lock:
            return self._finished and self._cursor >= len(self._events) and self._position_locked() >= self._end_s

    def position_s(self) -> float:
        with self._lock:
            return self._position_locked()

    def _position_locked(self) -> float:
        if not self._playing:
            return self._base_pos
        if math.isinf(self._speed):
            pos = self._known_s
        else:
            pos = self._base_pos + (self._clock() - self._base_clock) * self._speed
        limit = self._end_s if self._finished else self._known_s
        if pos > limit:
            # waiting for events still being computed (or at the end): hold the position there
            self._base_pos = limit
            self._base_clock = self._clock()
            pos = limit
            if self._finished:
                self._playing = False
        return pos

    def due(self) -> list[object]:
        """The events whose time has come (a ``Rewind`` first after a seek), in order."""
        with self._lock:
            pos = self._position_locked()
            if self._rewind is not None:
                self._cursor = bisect.bisect_right(self._times, self._rewind.t_s)
                out: list[object] = [Rewind(self._rewind.t_s, tuple(self._events[: self._cursor]))]
                self._rewind = None
            else:
                out = []
            limit = (
                len(self._events) if not math.isinf(self._speed) else min(len(self._events), self._cursor + MAX_BURST)
            )
            while self._cursor < limit and self._times[self._cursor] <= pos:
                out.append(self._events[self._cursor])
                self._cursor += 1
            self.handed += len(out)
            pending = self._times[self._cursor] if self._cursor < len(self._events) else math.inf
            self._handed_s = min(pos, pending)
            return out

    def handed_through(self) -> tuple[int, float]:
        """(events handed out so far, the call time up to which every event has been handed out).

        A view that has received that many events may move its clock that far and no further:
        the playback position can run ahead of what ``due()`` gave out (at "max" it is at the
        last event computed as soon as it is computed).
        """
        with self._lock:
            return self.handed, self._handed_s

    def wait_s(self) -> float | None:
        """Wall seconds until the next event is due at this speed (None: nothing scheduled)."""
        with self._lock:
            if not self._playing:
                return None
            if self._cursor >= len(self._events):
                return None
            if math.isinf(self._speed):
                return 0.0
            ahead = self._times[self._cursor] - self._position_locked()
            return max(0.0, ahead / self._speed)


def with_speech_marks(events: Iterable[Event]) -> Iterator[object]:
    """Each utterance also marks when its speaker started (a ``SpeechActivity`` at its start),
    so the model knows the agent is mid-sentence while replaying."""
    for event in events:
        if isinstance(event, Utterance):
            yield SpeechActivity(event.speaker, event.start_s, True)
        yield event


def pipeline_events(
    spec: "ReplayInput",
    ruleset: "RuleSet",
    recognizer_factory: Callable[[], Recognizer],
    annotator_factory: Callable[[], "Annotator"] | None = None,
    mask: bool | None = None,
) -> Callable[[], Iterator[Event]]:
    """``make_events`` for ``ReplayCall``: ``spec`` through the call pipeline with ``ruleset``,
    personal data masked (``mask``; default: the saved choice, on unless turned off)."""

    def make() -> Iterator[Event]:
        from .annotate import Annotator
        from .pipeline import DEFAULT_MASKING, CallPipeline
        from .privacy import masker_for
        from .rules import RuleEngine
        from .sources import open_replay

        source = open_replay(spec, recognizer_factory)
        annotator = annotator_factory() if annotator_factory is not None else Annotator()
        masker = DEFAULT_MASKING if mask is None else masker_for(mask)
        yield from CallPipeline(annotator, RuleEngine(ruleset), masker=masker).run(
            source.items(), audio_s=source.audio_s
        )

    return make


class ReplayCall:
    """A recorded call or transcript as a ``CallRunner``, with QA controls.

    ``make_events()`` returns the pipeline's event iterator (it runs in the worker thread, so
    loading models and decoding happen there too).
    """

    def __init__(
        self,
        make_events: Callable[[], Iterable[Event]],
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        label: str = "",
    ) -> None:
        self.playback = Playback(clock, speed)
        self.label = label
        self._make_events = make_events
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.error: str | None = None

    def start(self, on_event: Callable[[object], None]) -> None:
        self._stop.clear()
        self.playback.play()
        producer = threading.Thread(target=self._produce, args=(on_event,), name="qa-replay-pipeline", daemon=True)
        pacer = threading.Thread(target=self._pace, args=(on_event,), name="qa-replay-pacer", daemon=True)
        self._threads = [producer, pacer]
        producer.start()
        pacer.start()

    def _produce(self, on_event: Callable[[object], None]) -> None:
        try:
            batch: list[object] = []
            last = time.monotonic()
            for event in with_speech_marks(self._make_events()):
                if self._stop.is_set():
                    return
                batch.append(event)
                now = time.monotonic()
                if len(batch) >= 32 or now - last > 0.05 or isinstance(event, (Nudge, CallSummary)):
                    self.playback.extend(batch)
                    batch = []
                    last = now
                    self._wake.set()
            self.playback.extend(batch)
        except RapportError as exc:
            self.error = exc.one_line()
            at = self.playback.duration_s
            # a file that cannot be read at all (nothing of it reviewed yet) is said as such
            said = f"replay stopped at {clock_text(at, tenths=False)}: " if at > 0 else "cannot review this call: "
            self.playback.extend([Status("error", "replay_failed", said + exc.one_line(), at)])
        except Exception as exc:  # a bug: say so in the sidebar rather than die silently
            self.error = f"{exc.__class__.__name__}: {exc}"
            self.playback.extend(
                [
                    Status(
                        "error",
                        "replay_failed",
                        f"replay stopped by an internal error: {self.error}",
                        self.playback.duration_s,
                    )
                ]
            )
        finally:
            self.playback.finish()
            self._wake.set()

    def _pace(self, on_event: Callable[[object], None]) -> None:
        while not self._stop.is_set():
            for event in self.playback.due():
                if self._stop.is_set():
                    return
                on_event(event)
            wait = self.playback.wait_s()
            self._wake.wait(0.05 if wait is None else min(max(wait, 0.0), 0.05))
            self._wake.clear()

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        if not wait:
            return
        for thread in self._threads:
            if thread is not threading.current_thread():
                # the pipeline stops between two events; one recognition takes about half a second
                thread.join(timeout=3.0)

    def join(self, timeout_s: float | None) -> bool:
        """Wait for the worker threads to end after ``stop()``; whether they did."""
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=timeout_s)
        return not self.running

    # QA controls (thread-safe) --------------------------------------------------------------
    def pause(self) -> None:
        self.playback.pause()
        self._wake.set()

    def play(self) -> None:
        if self.playback.ended:
            self.playback.seek(0.0)
        self.playback.play()
        self._wake.set()

    def set_speed(self, speed: float) -> None:
        self.playback.set_speed(speed)
        self._wake.set()

    def seek(self, t_s: float) -> None:
        self.playback.seek(t_s)
        self._wake.set()

    def call_time_s(self) -> float:
        return self.playback.position_s()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)
