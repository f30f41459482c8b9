"""What the sidebar's tests share (import it after ``pytest.importorskip("PySide6")``)."""

from __future__ import annotations

from rapport_assist.gui.app import AppBackend


class LoadedBackend(AppBackend):
    """The app's backend with the session's warmed-up model (no second model load per test)."""

    __test__ = False

    def __init__(self, options, recognizer) -> None:
        super().__init__(options)
        self._loaded = recognizer

    def recognizer(self):
        return self._loaded
