"""What the sidebar's tests share (import it after ``pytest.importorskip("PySide6")``)."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QSettings

from rapport_assist.assist import AssistModel, BudgetConfig, FeedbackLog
from rapport_assist.gui.app import AppBackend, SidebarOptions
from rapport_assist.gui.controller import Prefs
from rapport_assist.gui.window import LiveUnavailable, SidebarWindow
from rapport_assist.types import Evidence, Nudge, Speaker


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


class PushBackend(AppBackend):
    """No models: a live call is a ``PushRunner`` the test feeds."""

    __test__ = False

    def __init__(self, options) -> None:
        super().__init__(options)
        self.runner = PushRunner()

    def make_live(self, prefs):
        return self.runner


def build(settings_path: Path, hotkeys_on: bool | None = None) -> SidebarWindow:
    """A sidebar on a PushBackend, its settings in ``settings_path``, no pacing between cards,
    no card animation."""
    prefs = Prefs(QSettings(str(settings_path), QSettings.Format.IniFormat))
    prefs.set_budget(BudgetConfig(min_gap_s=0))
    if hotkeys_on is not None:
        prefs.set("hotkeys/on", hotkeys_on)
    model = AssistModel(prefs.budget(), FeedbackLog(settings_path.with_suffix(".jsonl")))
    window = SidebarWindow(model, prefs, PushBackend(SidebarOptions(rules=[], warm_up=False)), None)
    window.cards.animate = False
    return window


def nudge(rule: str, t: float, index: int) -> Nudge:
    """A card-worthy nudge titled "Card <rule>" on an agent turn."""
    words = Evidence(index, Speaker.AGENT, "You need to restart the router.", t - 2, t, ("You need to",))
    return Nudge(
        rule=rule,
        severity="medium",
        title=f"Card {rule}",
        message="Say it as a team",
        t_s=t,
        utterance_index=index,
        evidence=(words,),
    )


class ReviewBackend(AppBackend):
    """The app's backend with one spaCy model shared by a test module (``annotator``) and no live
    capture: for reviews of recordings and transcripts."""

    __test__ = False

    def __init__(self, options, ruleset, annotator) -> None:
        super().__init__(options, ruleset)
        self._shared = annotator

    def annotator(self):
        return self._shared

    def make_live(self, prefs):
        raise LiveUnavailable("live capture not available in this build")
