"""Qt glue between runners (live capture, QA replay) and the model: events cross to the GUI
thread through a signal; a timer moves the model's call clock; rule files are watched and
reloaded (the last good rules keep running when a saved file is broken); settings persist."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Union

from PySide6.QtCore import QFileSystemWatcher, QObject, QSettings, QTimer, Signal, Slot

from ..assist import AssistModel, BudgetConfig, Rewind
from ..hotkeys import ACTIONS, DEFAULT_COMBOS
from ..rules import RuleLibrary
from ..rules.model import RuleSet
from ..types import CallSummary, Event, SpeechActivity
from ..wording import plural

TICK_MS = 100
RunnerEvent = Union[Event, SpeechActivity, Rewind]  # what a runner hands ``on_event`` (AssistModel.on_event)


class CallController(QObject):
    """Runs one ``CallRunner`` at a time and feeds its events to the model on the GUI thread."""

    event_arrived = Signal(object)
    ticked = Signal(float)  # call time, s
    call_changed = Signal()

    def __init__(self, model: AssistModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.runner: Any = None
        self.mode = "idle"
        self._started = 0.0
        self._generation = 0
        self.event_arrived.connect(self._deliver)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.events_seen = 0
        self._received = 0
        self.stopped: list[Any] = []  # runners whose threads may still be finishing

    def join_stopped(self, timeout_s: float | None = None) -> None:
        """At exit: let stopped runners' threads end (a model torn down mid-call aborts the process;
        a live call's record is closed only when its backlog is recognized: nothing is lost)."""
        for runner in self.stopped:
            if not runner.join(0.5):
                sys.stderr.write("rapport-assist: finishing the last call's recognition before exiting…\n")
                runner.join(timeout_s)
        self.stopped.clear()

    def _forget_ended(self) -> None:
        """Let go of stopped runners whose threads have ended (a review's playback holds every
        event of its call): only those still finishing are kept for ``join_stopped``."""
        self.stopped = [runner for runner in self.stopped if not runner.join(0)]

    def start(self, runner: Any, label: str, mode: str) -> None:
        self.stop()
        self._forget_ended()
        self._generation += 1  # events still queued from an earlier runner are dropped
        generation = self._generation
        self.runner = runner
        self.mode = mode
        self._received = 0
        self.model.start_call(label, mode)
        self._started = time.monotonic()

        def on_event(event: RunnerEvent) -> None:  # any thread
            if generation == self._generation:
                self.event_arrived.emit((generation, event))

        runner.start(on_event)
        self.timer.start()
        self.call_changed.emit()

    def stop(self) -> None:
        if self.runner is None:
            return
        runner, self.runner = self.runner, None
        # at once: a live call finishes what it heard in the background (a recognizer that fell
        # behind may take a while) and sends its CallSummary, still shown; join_stopped waits at exit
        runner.stop(wait=False)
        self._forget_ended()
        self.stopped.append(runner)
        self.timer.stop()
        self.model.stop_call()
        self.mode = "idle"
        self.call_changed.emit()

    @property
    def running(self) -> bool:
        return self.runner is not None

    def call_time_s(self) -> float:
        if self.runner is not None and hasattr(self.runner, "call_time_s"):
            return float(self.runner.call_time_s())
        if self.runner is not None and hasattr(self.runner, "call_time"):  # live.LiveCall
            return float(self.runner.call_time())
        if self.runner is not None:
            return time.monotonic() - self._started
        return self.model.now_s

    @Slot(object)
    def _deliver(self, item: tuple[int, RunnerEvent]) -> None:
        generation, event = item
        if generation != self._generation:
            return
        self.events_seen += 1
        self._received += 1
        self.model.on_event(event)
        if isinstance(event, CallSummary) and self.mode == "live" and self.runner is not None:
            # a live call that ended by itself (its transcription stopped: the status says why),
            # not by Stop: the panel leaves the call as Stop would (header, button, focus), the
            # summary stays shown
            self.stop()

    def _tick(self) -> None:
        now = self.call_time_s()
        model_now: float | None = now
        playback = getattr(self.runner, "playback", None)
        if playback is not None:
            # A replay's position may run ahead of the events handed out and of those still
            # queued for this thread (at "max" it jumps to the last event computed at once): the
            # model moves only as far as every event it has received (none while some are still
            # queued), or a card due earlier would arrive "too late". The view shows the position.
            handed, through_s = playback.handed_through()
            model_now = min(now, through_s) if self._received >= handed else None
        if self.model.active and model_now is not None:
            self.model.advance(model_now)
        self.ticked.emit(now)


class HotkeyBridge(QObject):
    """A system-wide hotkey, pressed on its backend's thread (``hotkeys``), reaches the GUI thread
    through a queued signal."""

    pressed = Signal(str)  # the action: dismiss, snooze, helpful, wrong
    lost = Signal(int, str)  # (Hotkeys.generation, why): the grabs ended on their own
    refused = Signal(int, object)  # (Hotkeys.generation, action -> why): after a keyboard change

    def send(self, action: str) -> None:  # any thread
        self.pressed.emit(action)

    def send_lost(self, generation: int, reason: str) -> None:  # any thread
        self.lost.emit(generation, reason)

    def send_refused(self, generation: int, refused: dict[str, str]) -> None:  # any thread
        self.refused.emit(generation, refused)


class RuleWatcher(QObject):
    """Reloads the rule files when one is saved; a broken file leaves the last good rules running."""

    reloaded = Signal(object)  # ReloadResult

    def __init__(
        self, library: RuleLibrary, model: AssistModel, parent: QObject | None = None, debounce_ms: int = 250
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.model = model
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._changed)
        self.watcher.directoryChanged.connect(self._changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.check)
        self._watch()
        self._show_ok(f"{plural(len(library.ruleset.rules), 'rule')} loaded")

    @property
    def ruleset(self) -> RuleSet:
        """The rules a new call should use: the last set that loaded cleanly."""
        return self.library.ruleset

    def _watch(self) -> None:
        paths: list[str] = []
        for path in self.library.paths:
            if path.is_dir():
                paths.append(str(path))
                paths += [str(f) for f in sorted(path.glob("*.yaml"))]
            elif path.exists():
                paths.append(str(path))
                paths.append(str(path.parent))
        old = self.watcher.files() + self.watcher.directories()
        if old:
            self.watcher.removePaths(old)
        if paths:
            self.watcher.addPaths(paths)

    def _changed(self, _path: str) -> None:
        self._debounce.start()

    def check(self) -> None:
        """Reload if any rule file changed since the last load (editors that save by renaming included)."""
        self._watch()
        if not self.library.changed():
            return
        result = self.library.reload()
        if result.ok:
            self.model.set_rules_error("")
            self._show_ok(result.message + " — they apply from the next call" if self.model.active else result.message)
        else:
            problems = "\n".join(str(p) for p in result.errors[:5]) or result.message
            self.model.set_rules_error("Rule file error — the last good rules keep running.\n" + problems)
            self.model.set_status(
                "rules", "error", f"{plural(len(result.ruleset.rules), 'rule')} running (last good set)"
            )
        self.reloaded.emit(result)

    def _show_ok(self, message: str) -> None:
        warnings = len(self.library.ruleset.warnings)
        self.model.set_status(
            "rules",
            "warning" if warnings else "ok",
            message + (f", {plural(warnings, 'lint warning')}" if warnings and "warning" not in message else ""),
        )


class Prefs:
    """The sidebar's settings, saved with QSettings (window place, style, devices, budget, QA)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.q = settings if settings is not None else QSettings("Rapport Assist", "sidebar")

    def get(self, key: str, default: Any = None) -> Any:
        value = self.q.value(key, default)
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()

    @property
    def style(self) -> str:
        value = str(self.get("style", "light"))
        return value if value in ("light", "dark") else "light"

    @property
    def dock(self) -> str:
        value = str(self.get("window/dock", "right"))
        return value if value in ("left", "right", "free") else "right"

    def budget(self) -> BudgetConfig:
        self.q.beginGroup("budget")
        try:
            values = {key: self.q.value(key) for key in self.q.childKeys()}
        finally:
            self.q.endGroup()
        return BudgetConfig.from_mapping(values)

    def set_budget(self, config: BudgetConfig) -> None:
        for key, value in config.to_mapping().items():
            self.q.setValue(f"budget/{key}", "none" if value is None else value)

    @property
    def speed(self) -> float:
        raw = str(self.get("qa/speed", "1"))
        if raw == "max":
            return math.inf
        try:
            value = float(raw)
        except ValueError:
            return 1.0
        return value if value in (1.0, 2.0, 4.0) else 1.0

    def set_speed(self, speed: float) -> None:
        self.set("qa/speed", "max" if math.isinf(speed) else f"{speed:g}")

    def hotkey_combos(self) -> dict[str, str]:
        """action -> its system-wide hotkey as saved ("Ctrl+Alt+J"…; the default when unset)."""
        return {action: str(self.get(f"hotkeys/{action}", DEFAULT_COMBOS[action])) for action in ACTIONS}

    def bool(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
