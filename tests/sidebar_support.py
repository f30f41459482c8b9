"""What the sidebar's tests share (import it after ``pytest.importorskip("PySide6")``)."""

from __future__ import annotations

import threading

from rapport_assist.gui.app import AppBackend


class LoadedBackend(AppBackend):
    """The app's backend with the session's warmed-up model (no second model load per test)."""

    __test__ = False

    def __init__(self, options, recognizer) -> None:
        super().__init__(options)
        self._loaded = recognizer

    def recognizer(self):
        return self._loaded


class PushRunner:
    """A stand-in for live capture (a ``CallRunner``): the test pushes events from a worker thread."""

    def __init__(self) -> None:
        self.on_event = None
        self.stopped = False

    def start(self, on_event) -> None:
        self.on_event = on_event

    def stop(self, wait: bool = True) -> None:
        self.stopped = True

    def join(self, timeout_s: float | None) -> bool:
        return True

    def push(self, *events) -> None:
        thread = threading.Thread(target=lambda: [self.on_event(e) for e in events])
        thread.start()
        thread.join()
