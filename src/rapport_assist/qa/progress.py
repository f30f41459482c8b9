"""The progress line of a batch run, on stderr: calls done, × real time, time left.

On a terminal the line is rewritten in place (``\\r``); otherwise (a log file, CI) a full line is
printed every ``every_s`` seconds and at the end. Plain text, no dependencies.
"""

from __future__ import annotations

import time
from typing import IO


def _clock(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


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
