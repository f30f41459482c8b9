"""The sidebar window: a narrow, always-on-top panel docked beside the softphone.

It never takes keyboard focus when a nudge arrives (it is shown without activating, and during a
live call it does not accept focus at all, so the agent keeps typing in the CRM while clicking
"helpful"). Everything it shows comes from the ``AssistModel`` it subscribes to.

Keyboard: outside a live call, once the agent clicks into the panel, Tab walks it top to bottom
(``tab_chain``); its controls take the focus from Tab only, never from a click. Every control and
every informative part has an accessible name (and a description where the name is not enough).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Protocol

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QMoveEvent, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..assist import AssistModel
from .. import x11_focus
from ..hotkeys import OFF as HOTKEYS_OFF
from ..hotkeys import UNAVAILABLE as HOTKEYS_UNAVAILABLE
from ..hotkeys import ACTION_WORDS as HOTKEY_WORDS
from ..hotkeys import ACTIONS as HOTKEY_ACTIONS
from ..hotkeys import Hotkeys, probe
from ..playback import SPEEDS
from ..wording import clause
from .cards import CardStack, HistoryList, _label, clock
from . import single
from .coaching_view import CoachingPanel
from .controller import CallController, HotkeyBridge, Prefs, RuleWatcher
from .resources import Theme, font_scale
from .widgets import PromiseList, Section, StatusPanel, Timeline, ToneMeter, TranscriptView, speed_text

PANEL_WIDTH = 360
# after the first show, the window manager's frame is looked for this often, this many times (2 s)
REDOCK_POLL_MS, REDOCK_TRIES = 50, 40
EMPTY_TEXT = "Nothing to flag right now."
MEDIA_FILTER = "Calls (*.wav *.flac *.mp3 *.ogg *.m4a *.opus *.jsonl *.ndjson *.txt *.json *.vtt *.srt);;All files (*)"


class LiveUnavailable(Exception):
    """Live capture cannot start (module missing, no input device); the message says why."""


class Backend(Protocol):
    """What the window needs from outside Qt: runners, devices (see ``app.AppBackend``)."""

    def make_replay(self, path: Path, speed: float) -> Any: ...

    def make_live(self, prefs: Prefs) -> Any: ...

    def devices(self) -> tuple[list[tuple[str, str]] | None, str]: ...

    def audio_player(self, path: Path) -> Any: ...


class SidebarWindow(QWidget):
    def __init__(
        self,
        model: AssistModel,
        prefs: Prefs,
        backend: Backend,
        rules: RuleWatcher | None = None,
        style: str | None = None,
        parent: QWidget | None = None,
        hotkeys: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.prefs = prefs
        self.backend = backend
        self.rules = rules
        self.theme = Theme(style or prefs.style, font_scale(QApplication.font().pointSizeF()))
        self.controller = CallController(model, self)
        self.controller.ticked.connect(self._on_tick)
        self.controller.call_changed.connect(self._on_call_changed)
        self.qa_path: Path | None = None
        self.player: Any = None
        self._focus_guard: bool | None = None
        # system-wide hotkeys for the newest card (off unless turned on: Settings, or --hotkeys on
        # for this session), pressed on a backend thread, acted on here
        self._hotkeys_override = hotkeys
        self.hotkey_bridge = HotkeyBridge(self)
        # a hotkey acts as the card's shortcut inside the panel; the focus stays where it is
        self.hotkey_bridge.pressed.connect(self._newest_action, Qt.ConnectionType.QueuedConnection)
        self.hotkey_bridge.lost.connect(self._on_hotkeys_lost, Qt.ConnectionType.QueuedConnection)
        self.hotkey_bridge.refused.connect(self._on_hotkeys_refused, Qt.ConnectionType.QueuedConnection)
        self.hotkeys = Hotkeys(
            self.hotkey_bridge.send, on_lost=self.hotkey_bridge.send_lost, on_refused=self.hotkey_bridge.send_refused
        )

        self.setObjectName("sidebar")
        self.setWindowTitle("Rapport Assist")
        self.setWindowIcon(self.theme.icon("app", self.theme.palette["accent"]))
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.setMinimumWidth(280)
        self.resize(PANEL_WIDTH, 760)
        self._build()
        self.set_style(self.theme.name, save=False)
        model.subscribe(self._on_model)
        for topic in ("cards", "promises", "tone", "transcript", "status", "call", "coaching"):
            self._on_model(topic)
        self._apply_focus_guard()
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self._save_geometry)
        self._redock: tuple[str, int] | None = None  # (side, tries left) while the first dock waits for a frame
        self._restore_geometry()
        self._shortcuts()
        self.apply_tab_order()
        self.apply_hotkeys()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    # -- building -----------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        header = QFrame()
        header.setObjectName("header")
        hbox = QVBoxLayout(header)
        hbox.setContentsMargins(12, 10, 8, 8)
        hbox.setSpacing(2)
        row = QHBoxLayout()
        self.call_button = QPushButton("Start call")
        self.call_button.setObjectName("callButton")
        self.call_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click keeps the focus where it is
        self.call_button.setToolTip("Start or stop listening to a live call (Ctrl+Return)")
        self.call_button.setAccessibleDescription("Start or stop listening to a live call (Ctrl+Return)")
        self.call_button.clicked.connect(self.toggle_call)
        self.timer_label = _label("0:00", "timer", wrap=False)
        self.timer_label.setAccessibleName("Call time 0:00")
        self.menu_button = QToolButton()
        self.menu_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_button.setToolTip("Open a call to review, dock, style, settings")
        self.menu_button.setAccessibleName("Menu")
        self.menu_button.setAccessibleDescription("Open a call to review, dock, style, settings, shortcuts")
        self.menu = QMenu(self)
        self.menu_button.setMenu(self.menu)
        row.addWidget(self.call_button)
        row.addSpacing(8)
        row.addWidget(self.timer_label)
        row.addStretch(1)
        row.addWidget(self.menu_button)
        hbox.addLayout(row)
        self.mode_label = _label("Not in a call", "modeLabel")
        self.mode_label.setAccessibleDescription("Call state")
        hbox.addWidget(self.mode_label)
        outer.addWidget(header)

        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("scroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        body = QWidget()
        body.setObjectName("scrollBody")
        box = QVBoxLayout(body)
        box.setContentsMargins(12, 10, 12, 12)
        box.setSpacing(12)
        self.coaching = CoachingPanel(self.model, self.theme)  # the call summary, when a call has ended
        box.addWidget(self.coaching)
        self.tone_meter = ToneMeter(self.theme)
        box.addWidget(self.tone_meter)
        nudges_title = _label("NUDGES", "sectionTitle", wrap=False)
        nudges_title.setAccessibleName("Nudges")
        box.addWidget(nudges_title)
        self.cards = CardStack(self.model, self.theme)
        box.addWidget(self.cards)
        self.promises = PromiseList(self.model)
        self.promise_section = Section(
            "Promises", self.promises, self.theme, self.prefs.bool("sections/promises", True)
        )
        box.addWidget(self.promise_section)
        self.history = HistoryList(self.model)
        self.history_section = Section("Earlier", self.history, self.theme, self.prefs.bool("sections/history", True))
        box.addWidget(self.history_section)
        self.transcript = TranscriptView(self.model, self.theme)
        self.transcript_section = Section(
            "Transcript", self.transcript, self.theme, self.prefs.bool("sections/transcript", False)
        )
        box.addWidget(self.transcript_section)
        self.status_panel = StatusPanel(self.model, self.theme)
        self.status_section = Section("Status", self.status_panel, self.theme, self.prefs.bool("sections/status", True))
        box.addWidget(self.status_section)
        box.addStretch(1)
        for name, section in (
            ("promises", self.promise_section),
            ("history", self.history_section),
            ("transcript", self.transcript_section),
            ("status", self.status_section),
        ):
            section.toggled.connect(lambda on, n=name: self.prefs.set(f"sections/{n}", on))
        self.scroll_area.setWidget(body)
        outer.addWidget(self.scroll_area, 1)

        self.qa_bar = QFrame()
        self.qa_bar.setObjectName("qaBar")
        qa = QVBoxLayout(self.qa_bar)
        qa.setContentsMargins(10, 6, 10, 8)
        qa.setSpacing(4)
        controls = QHBoxLayout()
        self.open_button = QToolButton()
        self.open_button.setToolTip("Open a recording or transcript (Ctrl+O)")
        self.open_button.setAccessibleName("Open a call")
        self.open_button.setAccessibleDescription("Open a recording or transcript to review (Ctrl+O)")
        self.open_button.clicked.connect(self.choose_file)
        self.play_button = QToolButton()
        self.play_button.setToolTip("Play / pause (Ctrl+Space)")
        self.play_button.setAccessibleName("Play")
        self.play_button.setAccessibleDescription("Play or pause the review (Ctrl+Space)")
        self.play_button.clicked.connect(self.play_pause)
        self.speed_combo = QComboBox()
        for speed in SPEEDS:
            self.speed_combo.addItem(speed_text(speed), speed)
        self.speed_combo.setToolTip("Replay speed (Ctrl+1…4)")
        self.speed_combo.setAccessibleName("Replay speed")
        self.speed_combo.setAccessibleDescription("Ctrl+1 to Ctrl+4: 1×, 2×, 4×, as fast as it goes")
        self.speed_combo.setCurrentIndex(max(0, self.speed_combo.findData(self.prefs.speed)))
        self.speed_combo.currentIndexChanged.connect(lambda _i: self.set_speed(self.speed_combo.currentData()))
        self.qa_time = _label("0:00 / 0:00", "qaTime", wrap=False)
        self.qa_time.setAccessibleName("Review at 0:00 of 0:00")
        for w in (self.open_button, self.play_button, self.speed_combo):
            w.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        controls.addWidget(self.open_button)
        controls.addWidget(self.play_button)
        controls.addWidget(self.speed_combo)
        controls.addStretch(1)
        controls.addWidget(self.qa_time)
        qa.addLayout(controls)
        self.timeline = Timeline(self.theme)
        self.timeline.seek.connect(self.seek)
        qa.addWidget(self.timeline)
        self.qa_bar.setVisible(False)
        outer.addWidget(self.qa_bar)
        self.cards.focus_left.connect(self._on_card_focus_left)
        self._build_menu()

    def _build_menu(self) -> None:
        self.menu.clear()
        add = self.menu.addAction
        add("Open a call to review…", self.choose_file)
        add("Review the demo call", self.open_demo)
        self.live_action = add(
            "Start a live call",
            lambda: None if self.controller.mode == "live" and self.controller.running else self.start_live(),
        )
        self.menu.addSeparator()
        add("Dock left", lambda: self.dock("left"))
        add("Dock right", lambda: self.dock("right"))
        self.dark_action = QAction("Dark style", self.menu)
        self.dark_action.setCheckable(True)
        self.dark_action.setChecked(self.theme.name == "dark")
        self.dark_action.toggled.connect(lambda on: self.set_style("dark" if on else "light"))
        self.menu.addAction(self.dark_action)
        self.menu.addSeparator()
        add("Settings…", self.open_settings)
        shortcuts = add("Shortcuts")
        shortcuts.setEnabled(False)
        shortcuts.setToolTip(SHORTCUTS_HELP)
        for line in SHORTCUTS_HELP.splitlines():
            action = add("    " + line)
            action.setEnabled(False)
        # the system-wide hotkeys working now, listed each time the menu opens (they follow Settings)
        self.hotkey_lines: list[QAction] = []
        self.menu.aboutToShow.connect(self._list_hotkeys)

    def _list_hotkeys(self) -> None:
        """Under Shortcuts, one line per system-wide hotkey grabbed now ("from any application");
        none while they are off or none could be grabbed."""
        for action in self.hotkey_lines:
            self.menu.removeAction(action)
            action.deleteLater()
        self.hotkey_lines = []
        active = self.hotkeys.active
        if not active:
            return
        lines = ["System-wide, from any application:"]
        lines += [f"{active[a]}  {HOTKEY_WORDS[a]}" for a in HOTKEY_ACTIONS if a in active]
        for line in lines:
            action = self.menu.addAction("    " + line)
            action.setEnabled(False)
            self.hotkey_lines.append(action)

    def _shortcuts(self) -> None:
        def bind(keys: str, slot: Callable[[], object]) -> None:
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
            shortcut.activated.connect(slot)

        bind("Ctrl+Return", self.toggle_call)
        bind("Ctrl+O", self.choose_file)
        bind("Ctrl+Space", self.play_pause)
        for i, speed in enumerate(SPEEDS, start=1):
            bind(f"Ctrl+{i}", partial(self.set_speed, speed))
        bind("Ctrl+Left", lambda: self.seek(self.controller.call_time_s() - 10))
        bind("Ctrl+Right", lambda: self.seek(self.controller.call_time_s() + 10))
        bind("Ctrl+T", lambda: self.transcript_section.toggle.toggle())
        bind("Ctrl+D", lambda: self.dark_action.toggle())
        bind("Ctrl+,", self.open_settings)
        bind("Alt+H", lambda: self._newest_action("helpful"))
        bind("Alt+W", lambda: self._newest_action("wrong"))
        bind("Alt+Z", lambda: self._newest_action("snooze"))
        bind("Escape", lambda: self._newest_action("dismiss"))

    def _newest_action(self, action: str) -> None:
        """A card shortcut: on the card the keyboard focus is in, else on the newest card."""
        shown = self.model.shown
        if not shown:
            return
        focused = self.cards.card_in_focus()
        card = focused.card if focused is not None else shown[0]
        widget = self.cards.widgets.get(card.id)
        if action in ("helpful", "wrong") and widget is not None:
            (widget.helpful_button if action == "helpful" else widget.wrong_button).click()
        elif action == "snooze":
            self.model.snooze(card.nudge.rule)
        elif action == "dismiss":
            self.model.dismiss(card.id)

    def hotkeys_wanted(self) -> bool:
        """The system-wide hotkeys are asked for: --hotkeys for this session, else the setting."""
        if self._hotkeys_override is not None:
            return self._hotkeys_override
        return self.prefs.bool("hotkeys/on", False)

    def apply_hotkeys(self) -> tuple[str, str]:
        """Grab the system-wide hotkeys (or release them) as asked; their state goes to the
        status panel's Hotkeys line (none while they are off)."""
        return self._show_hotkeys(self.hotkeys.apply(self.hotkeys_wanted(), self.prefs.hotkey_combos()))

    def _on_hotkeys_lost(self, generation: int, reason: str) -> None:
        """The grabs ended on their own (the X server went away…): the status line says so."""
        self._show_hotkeys(self.hotkeys.lost(generation, reason))

    def _on_hotkeys_refused(self, generation: int, refused: dict[str, str]) -> None:
        """After a keyboard change other combos work (a layout without W, or back to one with
        it): the status line names the ones that do not."""
        self._show_hotkeys(self.hotkeys.refused(generation, refused))

    def _show_hotkeys(self, state: tuple[str, str]) -> tuple[str, str]:
        self.status_panel.set_hotkeys(None if state == HOTKEYS_OFF else state)
        return state

    # -- style, place ----------------------------------------------------------------------------
    def set_style(self, name: str, save: bool = True) -> None:
        self.theme = Theme(name, self.theme.scale)
        self.setStyleSheet(self.theme.style_sheet())
        for view in (self.tone_meter, self.timeline):
            view.theme = self.theme
        self.transcript.set_theme(self.theme)  # its lines carry their colours: drawn again
        for section in (self.promise_section, self.history_section, self.transcript_section, self.status_section):
            section.theme = self.theme
            section._on_toggle(section.expanded())
        self.cards.set_theme(self.theme)
        self.menu_button.setIcon(self.theme.icon("sliders"))
        self.open_button.setIcon(self.theme.icon("folder"))
        for component, label in self.status_panel.icons.items():
            label.setPixmap(self.theme.icon(StatusPanel.ICONS[component]).pixmap(16, 16))
        self.status_panel.sound_icon.setPixmap(self.theme.icon("headset").pixmap(16, 16))
        self.status_panel.hotkeys_icon.setPixmap(self.theme.icon("keyboard").pixmap(16, 16))
        self._update_play_icon()
        if hasattr(self, "dark_action") and self.dark_action.isChecked() != (name == "dark"):
            self.dark_action.setChecked(name == "dark")
        if save:
            self.prefs.set("style", name)
        self.update()

    def _screen_rect(self) -> QRect:
        screen = self.screen() or QApplication.primaryScreen()
        return screen.availableGeometry()

    def dock(self, side: str) -> None:
        """Snap to the left or right edge of the screen, full height."""
        area = self._screen_rect()
        frame, inner = self.frameGeometry(), self.geometry()  # the window manager's frame stays on screen
        left, top = inner.left() - frame.left(), inner.top() - frame.top()
        right, bottom = frame.right() - inner.right(), frame.bottom() - inner.bottom()
        width = min(max(self.width(), self.minimumWidth()), area.width() - left - right)
        x = area.left() + left if side == "left" else area.right() - right - width + 1
        self.setGeometry(x, area.top() + top, width, area.height() - top - bottom)
        self.prefs.set("window/dock", side)
        self._save_geometry()

    def _restore_geometry(self) -> None:
        saved = self.prefs.get("window/rect")
        if isinstance(saved, QRect) and saved.width() >= self.minimumWidth() and saved.height() > 100:
            if any(s.availableGeometry().intersects(saved) for s in QApplication.screens()):
                self.setGeometry(saved)
                return
        side = self.prefs.dock if self.prefs.dock != "free" else "right"
        self.dock(side)
        if self.frameGeometry() == self.geometry():  # not framed yet: docked again once it is
            self._redock = (side, REDOCK_TRIES)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._redock is not None:
            QTimer.singleShot(0, self._redock_when_framed)

    def _redock_when_framed(self) -> None:
        """A dock before the first show cannot know the window manager's frame (title bar,
        borders): full height, the title bar went above the screen, out of the mouse's reach (or,
        with a manager that moves the window down under its title bar, the bottom below it). The
        manager frames the window within moments of its showing; a frame that does not fit the
        screen is then docked again. With no manager (or one that draws no frame) nothing
        changes."""
        if self._redock is None:
            return
        side, tries = self._redock
        if self.frameGeometry() != self.geometry():
            self._redock = None
            if not self._screen_rect().contains(self.frameGeometry()):
                self.dock(side)
        elif tries > 0:
            self._redock = (side, tries - 1)
            QTimer.singleShot(REDOCK_POLL_MS, self._redock_when_framed)
        else:
            self._redock = None

    def _save_geometry(self) -> None:
        self.prefs.set("window/rect", self.geometry())

    def moveEvent(self, event: QMoveEvent) -> None:  # noqa: N802
        super().moveEvent(event)
        if hasattr(self, "_save_timer"):
            self._save_timer.start()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if hasattr(self, "_save_timer"):
            self._save_timer.start()
        self.fit_to_width()

    def fit_to_width(self) -> None:
        """The scrolled part has no sideways scroll bar: cards and section titles shorten their
        button texts to fit the panel's width (a large system font, a narrow panel)."""
        body = self.scroll_area.widget()
        layout = body.layout() if body is not None else None
        if layout is None:
            return
        margins = layout.contentsMargins()
        bar = self.scroll_area.verticalScrollBar()
        width = self.width() - margins.left() - margins.right() - bar.sizeHint().width()
        self.cards.fit(width)
        for section in (self.promise_section, self.history_section, self.transcript_section, self.status_section):
            section.fit(width)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.hotkeys.stop()
        self.controller.stop()
        self._stop_player()
        self._save_geometry()
        self.prefs.sync()
        super().closeEvent(event)

    def _apply_focus_guard(self) -> None:
        """During a live call (or always, if set) the panel does not accept keyboard focus."""
        guard = self.controller.mode == "live" or self.prefs.bool("focus/never", False)
        if guard == self._focus_guard:
            return
        self._focus_guard = guard
        handle = self.windowHandle()
        if handle is not None:
            # on the live native window: QWidget.setWindowFlag would hide it and show it again
            handle.setFlag(Qt.WindowType.WindowDoesNotAcceptFocus, guard)
        else:
            self.setWindowFlag(Qt.WindowType.WindowDoesNotAcceptFocus, guard)

    def accepts_focus(self) -> bool:
        handle = self.windowHandle()
        flags = handle.flags() if handle is not None else self.windowFlags()
        return not bool(flags & Qt.WindowType.WindowDoesNotAcceptFocus)

    # -- model -> view ---------------------------------------------------------------------------
    def _on_model(self, topic: str) -> None:
        if topic == "cards":
            self.cards.sync()
            n = self.history.sync()
            self.history_section.set_title(f"Earlier ({n})" if n else "Earlier")
        elif topic == "promises":
            n = self.promises.sync()
            open_ = sum(1 for p in self.model.promises if not p.committed)
            extra = f" · {open_} without a time" if open_ else ""
            short = f"Promises ({n}, {open_} untimed)" if open_ else ""
            self.promise_section.set_title(f"Promises ({n}{extra})" if n else "Promises", short)
        elif topic == "tone":
            self.tone_meter.set_tone(self.model.customer_tone)
        elif topic == "transcript":
            self.transcript.sync()
        elif topic == "status":
            self.status_panel.sync()
        elif topic == "call":
            self._on_call_changed()
        elif topic == "coaching":
            self.coaching.sync()
        if topic in ("cards", "coaching"):
            self.apply_tab_order()

    # -- keyboard ----------------------------------------------------------------------------------
    def tab_chain(self) -> list[QWidget]:
        """The Tab stops top to bottom: header, call summary, each card newest first (the card,
        then its buttons as laid out), the section toggles (the transcript after its toggle), the
        review bar. Hidden ones stay in the chain; Qt skips them."""
        chain: list[QWidget] = [self.call_button, self.menu_button, self.coaching, self.coaching.hide_button]
        for card in self.model.shown:
            widget = self.cards.widgets.get(card.id)
            if widget is not None:
                chain += widget.tab_stops()
        chain += [self.promise_section.toggle, self.history_section.toggle, self.transcript_section.toggle]
        chain += [self.transcript, self.status_section.toggle]
        chain += [self.open_button, self.play_button, self.speed_combo, self.timeline]
        return chain

    def apply_tab_order(self) -> None:
        chain = self.tab_chain()
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        """A Tab stop down in the scrolled part comes into view."""
        body = self.scroll_area.widget()
        if new is not None and body is not None and body.isAncestorOf(new):
            self.scroll_area.ensureWidgetVisible(new, 0, 8)

    def _on_card_focus_left(self) -> None:
        """The last card with the keyboard focus went: the focus goes on to the next Tab stop."""
        for widget in self.tab_chain()[self.tab_chain().index(self.promise_section.toggle) :]:
            if widget.isVisible() and widget.isEnabled():
                widget.setFocus(Qt.FocusReason.TabFocusReason)
                return

    def _on_call_changed(self) -> None:
        mode = self.controller.mode
        running = self.controller.running
        live = mode == "live" and running
        self.call_button.setText("Stop" if live else "Start call")
        self.call_button.setAccessibleName("Stop the call" if live else "Start a live call")
        self.call_button.setProperty("active", "true" if live else "false")
        self.call_button.style().unpolish(self.call_button)
        self.call_button.style().polish(self.call_button)
        self.call_button.setIcon(
            self.theme.icon("stop" if live else "phone", self.theme.palette["text" if live else "accent_text"])
        )
        # a review is no call: its header has no call button and its status no device rows (the
        # menu's "Start a live call" and Ctrl+Return leave the review for a live call)
        review = not live and self.qa_path is not None
        self.call_button.setVisible(not review)
        self.status_panel.set_review_sound(self._sound_status() if review else None)
        if live:
            self.mode_label.setText("Live call · listening")
        elif mode == "qa" or self.qa_path is not None:
            state = "ended" if self.model.ended else "review"
            self.mode_label.setText(f"QA {state} · {self.qa_path.name if self.qa_path else ''}")
        else:
            self.mode_label.setText("Not in a call")
        self.qa_bar.setVisible(self.qa_path is not None)
        self._apply_focus_guard()
        self._update_play_icon()

    def _on_tick(self, now_s: float) -> None:
        if self.timer_label.text() != clock(now_s):
            self.timer_label.setText(clock(now_s))
            self.timer_label.setAccessibleName(f"Call time {clock(now_s)}")
        runner = self.controller.runner
        playback = getattr(runner, "playback", None)
        if playback is not None:
            duration = playback.duration_s
            self.timeline.set_state(now_s, duration, list(playback.marks))
            pending = "" if playback.finished else " …"
            self.qa_time.setText(f"{clock(now_s)} / {clock(duration)}{pending}")
            self.qa_time.setAccessibleName(
                f"Review at {clock(now_s)} of {clock(duration)}" + (", still reading" if pending else "")
            )
            self._update_play_icon()
            if playback.playing and getattr(self, "_hint", ""):
                self.set_hint("")
            if self.player is not None:
                self.player.follow(now_s, playback.playing, playback.speed)
                if self.player.take_change() is not None:
                    self.status_panel.set_review_sound(self._sound_status())

    def _sound_status(self) -> tuple[str, str]:
        """(level, message) for the Status section's Sound line during a review."""
        if self.player is None:
            return "info", "a transcript: nothing to hear"
        level = {"ready": "ok", "opening": "info"}.get(self.player.state, "warning")
        return level, self.player.message

    def set_hint(self, text: str) -> None:
        """What the empty card area says (e.g. how to start the demo review); '' for the default."""
        self._hint = text
        self.cards.empty_label.setText(text or EMPTY_TEXT)

    def _update_play_icon(self) -> None:
        playback = getattr(self.controller.runner, "playback", None)
        playing = playback is not None and playback.playing
        self.play_button.setIcon(self.theme.icon("pause" if playing else "play"))
        self.play_button.setAccessibleName("Pause" if playing else "Play")

    # -- actions ---------------------------------------------------------------------------------
    def toggle_call(self) -> None:
        if self.controller.mode == "live" and self.controller.running:
            self.stop_call()
        else:
            self.start_live()

    def start_live(self) -> bool:
        try:
            runner = self.backend.make_live(self.prefs)
        except LiveUnavailable as exc:
            self.model.set_status("microphone", "off", str(exc))
            self.mode_label.setText(f"{clause(str(exc)) or 'Live capture not available'} — review a call instead")
            return False
        self._stop_player()
        self.qa_path = None
        self.controller.start(runner, "live call", "live")
        return True

    def stop_call(self) -> None:
        self.controller.stop()
        self._stop_player()

    def choose_file(self) -> None:
        start = str(self.prefs.get("qa/last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open a call to review", start, MEDIA_FILTER)
        if path:
            self.prefs.set("qa/last_dir", str(Path(path).parent))
            self.open_qa(Path(path))

    def take_request(self, request: dict) -> str:
        """A second start's request (gui/single.py): the panel shown and raised (given the
        keyboard only where it takes it), the call it names opened for review unless a live call
        is on. What was done, in words, for the second start to print."""
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.show()
        self.raise_()
        if self.accepts_focus():
            self.activateWindow()
        path = Path(request["qa"]) if isinstance(request.get("qa"), str) else None
        name = single.call_named(request)
        if not name:
            return "shown"
        if self.controller.mode == "live" and self.controller.running:
            return f"shown; a live call is on, so {name} was not opened (open it with Ctrl+O after the call)"
        if path is not None:
            self.open_qa(path)
        else:
            self.open_demo()
        return f"shown, reviewing {name}"

    def open_demo(self, paused: bool = False) -> None:
        from ..bundled import DEMO_AUDIO

        self.open_qa(DEMO_AUDIO, paused=paused)

    def open_qa(self, path: Path, paused: bool = False, speed: float | None = None) -> None:
        """Replay ``path`` (recording or transcript) in the panel at the chosen speed."""
        self._stop_player()
        speed = self.prefs.speed if speed is None else speed
        runner = self.backend.make_replay(Path(path), speed)
        self.qa_path = Path(path)
        self.speed_combo.blockSignals(True)
        self.speed_combo.setCurrentIndex(max(0, self.speed_combo.findData(speed)))
        self.speed_combo.blockSignals(False)
        self.controller.start(runner, self.qa_path.name, "qa")
        if paused:
            runner.pause()
        self.player = self.backend.audio_player(self.qa_path)
        self._on_call_changed()

    def _stop_player(self) -> None:
        if self.player is not None:
            self.player.stop()
            self.player = None

    def play_pause(self) -> None:
        runner = self.controller.runner
        if runner is None or not hasattr(runner, "playback"):
            if self.qa_path is not None:
                self.open_qa(self.qa_path)
            return
        if runner.playback.playing:
            runner.pause()
        else:
            runner.play()
        self._update_play_icon()

    def set_speed(self, speed: float) -> None:
        if not isinstance(speed, float) or speed not in SPEEDS:
            return
        self.prefs.set_speed(speed)
        index = self.speed_combo.findData(speed)
        if index != self.speed_combo.currentIndex():
            self.speed_combo.blockSignals(True)
            self.speed_combo.setCurrentIndex(index)
            self.speed_combo.blockSignals(False)
        runner = self.controller.runner
        if runner is not None and hasattr(runner, "set_speed"):
            runner.set_speed(speed)

    def seek(self, t_s: float) -> None:
        runner = self.controller.runner
        if runner is None and self.qa_path is not None:
            self.open_qa(self.qa_path, paused=True)
            runner = self.controller.runner
        if runner is not None and hasattr(runner, "seek"):
            runner.seek(max(0.0, t_s))
            self._on_tick(runner.call_time_s())

    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        devices, note = self.backend.devices()
        # "Not available here: <why>": the reason these grabs were refused, else this desktop's
        # (a combo that does not parse is not the desktop's fault: the dialog says it at its field)
        level, message = self.hotkeys.state
        refused = level == "error" and message.startswith(HOTKEYS_UNAVAILABLE)
        hotkeys_note = message.removeprefix(HOTKEYS_UNAVAILABLE) if refused else probe()
        dialog = SettingsDialog(
            self.prefs, devices, note, self, hotkeys_on=self.hotkeys_wanted(), hotkeys_note=hotkeys_note
        )
        # mid-call the panel refuses the keyboard: once the dialog closes it goes back to the CRM
        holder = x11_focus.note() if not self.accepts_focus() and QApplication.platformName() == "xcb" else None
        accepted = dialog.exec()
        if holder is not None:
            own = {w.internalWinId() for w in QApplication.topLevelWidgets()} - {0}  # the panel, the dialog…
            QTimer.singleShot(0, lambda: x11_focus.give_back(holder, own))
        if accepted:
            dialog.save()
            save_devices = getattr(self.backend, "save_devices", None)
            if devices is not None and save_devices is not None:
                problem = save_devices(self.prefs.get("devices/mic", ""), self.prefs.get("devices/customer", ""))
                if problem:
                    self.model.set_status("microphone", "warning", f"device choice not saved: {problem}")
            self.model.set_budget(self.prefs.budget())
            if self.prefs.style != self.theme.name:
                self.set_style(self.prefs.style)
            self._focus_guard = None
            self._apply_focus_guard()
            if dialog.hotkeys_on_changed():
                self._hotkeys_override = None  # the setting just saved, not --hotkeys, from now on
            self.apply_hotkeys()


SHORTCUTS_HELP = """Ctrl+Return  start / stop a live call
Ctrl+O  open a call to review
Ctrl+Space  play / pause the review
Ctrl+1…4  speed 1×, 2×, 4×, max
Ctrl+← / →  seek 10 s
Alt+H / Alt+W  newest card helpful / wrong
Alt+Z  snooze the newest card's rule
Esc  dismiss the newest card
Ctrl+T  transcript · Ctrl+D  dark style"""
