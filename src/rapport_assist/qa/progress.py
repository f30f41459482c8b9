"""The progress line of a batch run, on stderr: calls done, × real time, time left.

On a terminal the line is rewritten in place (``\\r``); otherwise (a log file, CI) a full line is
printed every ``every_s`` seconds and at the end. Plain text.
"""

from __future__ import annotations

import threading
import time
from typing import IO

from ..timefmt import clock


def _clock(seconds: float) -> str:
    """m:ss, h:mm:ss from an hour on, to the nearest second."""
    return clock(round(max(0.0, seconds)), tenths=False, hours=True)


class Progress:
    def __init__(self, total: int, stream: IO[str], every_s: float = 10.0, tty: bool | None = None) -> None:
        self.total = total
        self.stream = stream
        self.every_s = every_s
        self.tty = stream.isatty() if tty is None else tty
        self.started = time.monotonic()
        self.done = self.skipped = self.failed = 0
        self.audio_s = 0.0  # audio processed in this run (skipped calls excluded)
        self._last_print = self.started
        self._width = 0

    def skip(self, n: int = 1) -> None:
        self.skipped += n
        self.done += n

    def update(self, audio_s: float | None, failed: bool = False) -> None:
        self.done += 1
        self.failed += failed
        self.audio_s += audio_s or 0.0
        now = time.monotonic()
        if self.tty or now - self._last_print >= self.every_s or self.done == self.total:
            self._last_print = now
            self._write(self.line())

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        worked = self.done - self.skipped
        parts = [f"qa: {self.done}/{self.total} calls"]
        extra = [f"{self.skipped} skipped"] if self.skipped else []
        extra += [f"{self.failed} failed"] if self.failed else []
        if extra:
            parts[0] += f" ({', '.join(extra)})"
        if self.audio_s > 0 and elapsed > 0:
            parts.append(f"{self.audio_s / elapsed:.1f}× real time")
        left = self.total - self.done
        if left and worked:
            parts.append(f"{_clock(elapsed / worked * left)} left")
        elif not left:
            parts.append(f"{_clock(elapsed)} elapsed")
        bar_n = 20
        filled = int(bar_n * self.done / self.total) if self.total else bar_n
        return f"[{'#' * filled}{'.' * (bar_n - filled)}] " + " · ".join(parts)

    def start(self) -> None:
        self._last_print = time.monotonic()
        self._write(self.line())

    def finish(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        try:
            if self.tty:
                self.stream.write("\r" + text.ljust(self._width))
                self._width = max(self._width, len(text))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except OSError:
            pass  # a closed stderr must not stop the run


class CallProgress:
    """How far one long call has got (``replay``, ``rules explain``), on a terminal only.

    ``update(done_s)`` with the call time reached rewrites one line in place, at most every
    ``every_s``: ``replay: 1:23 / 5:00 of audio · 2.1× real time · 1:45 left``. ``clear()``
    wipes the line (before other output goes to the same terminal); ``finish()`` too. When the
    stream is not a terminal nothing is written: logs stay clean.
    """

    def __init__(
        self, label: str, total_s: float | None, stream: IO[str], tty: bool | None = None, every_s: float = 0.25
    ) -> None:
        self.label = label
        self.total_s = total_s
        self.stream = stream
        try:
            self.tty = stream.isatty() if tty is None else tty
        except (AttributeError, ValueError, OSError):
            self.tty = False
        self.every_s = every_s
        self.started = time.monotonic()
        self._last = -every_s
        self._width = 0
        self.lines_written = 0
        self._lock = threading.Lock()
        self._step: tuple[str, float | None] | None = None
        self._ticker: threading.Thread | None = None
        self._done = threading.Event()

    def line(self, done_s: float, doing: str = "") -> str:
        elapsed = time.monotonic() - self.started
        total = self.total_s
        parts = [f"{self.label}: {_clock(done_s)}" + (f" / {_clock(total)}" if total else "") + " of audio"]
        if doing:
            parts.append(doing)
        if done_s > 0 and elapsed > 0.5:
            parts.append(f"{done_s / elapsed:.1f}× real time")
            if total and total > done_s:
                parts.append(f"{_clock((total - done_s) * elapsed / done_s)} left")
        parts.append(f"{_clock(elapsed)} elapsed")
        return " · ".join(parts)

    def update(self, done_s: float, doing: str = "", force: bool = False) -> None:
        """The call time reached (``replay``)."""
        if self._due(force):
            self._show(self.line(done_s, doing))

    def fraction(self, step: str, fraction: float | None, force: bool = False) -> None:
        """A step's share done (``explain``: 'recognizing call.wav 40% · 0:30 left · 0:20 elapsed');
        None: a step that cannot say ('decoding call.wav · 0:03 elapsed')."""
        self._step = (step, fraction)
        if self.tty and self._ticker is None:  # the elapsed time moves while a step takes long
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        if not self._due(force):
            return
        elapsed = time.monotonic() - self.started
        parts = [f"{self.label}: {step}" + ("" if fraction is None else f" {fraction:.0%}")]
        if fraction is not None and 0.02 < fraction < 1:
            parts.append(f"{_clock(elapsed / fraction * (1 - fraction))} left")
        parts.append(f"{_clock(elapsed)} elapsed")
        self._show(" · ".join(parts))

    def _tick(self) -> None:
        while not self._done.wait(1.0):
            if self._step is not None:
                self.fraction(*self._step, force=True)

    def _due(self, force: bool) -> bool:
        if not self.tty:
            return False
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return False
        self._last = now
        return True

    def _show(self, text: str) -> None:
        self._put("\r" + text.ljust(self._width))
        self._width = max(self._width, len(text))
        self.lines_written += 1

    def clear(self) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join(2.0)
            self._ticker = None
        if self.tty and self._width:
            self._put("\r" + " " * self._width + "\r")
            self._width = 0

    finish = clear

    def _put(self, text: str) -> None:
        with self._lock:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                self.tty = False  # a closed stderr must not stop the run
