"""Settings: devices, style, the attention budget, focus, opening at login, the system-wide hotkeys.
Saved with QSettings via ``Prefs``; opening at login is the desktop's autostart entry (launcher.py)."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import launcher
from ..assist import BudgetConfig
from ..errors import RapportError
from ..hotkeys import ACTION_WORDS, ACTIONS, DEFAULT_COMBOS, Combo, parse_bindings
from .controller import Prefs

# The panel's own shortcuts (window.SidebarWindow._shortcuts) that could be typed as a hotkey, and
# what they do there: a hotkey grabbed on one of them wins over it while the panel has the keyboard
# (a review), so it may only be the same card action, never another
PANEL_SHORTCUTS = {
    "Alt+H": "helpful",
    "Alt+W": "wrong",
    "Alt+Z": "snooze",
    "Ctrl+O": "opening a call to review",
    "Ctrl+T": "the transcript",
    "Ctrl+D": "the dark style",
    **{f"Ctrl+{i}": f"review speed {speed}" for i, speed in enumerate(("1×", "2×", "4×", "max"), start=1)},
}


def check_hotkeys(texts: dict[str, str]) -> dict[str, Combo]:
    """parse_bindings, and a ValueError ("dismiss: …") for a hotkey that is one of the panel's
    own shortcuts for something else."""
    bindings = parse_bindings(texts)
    for action, combo in bindings.items():
        own = PANEL_SHORTCUTS.get(str(combo))
        if own is not None and own != action:
            raise ValueError(f"{action}: {combo} is the panel's own shortcut for {own}; pick another")
    return bindings


def notice(form: QFormLayout, text: str = "") -> QLabel:
    """A wrapped notice line under the form's last row: shown with ``text``, hidden without (until
    a problem is said in it)."""
    label = QLabel(text)
    label.setObjectName("notice")
    label.setWordWrap(True)
    label.setVisible(bool(text))
    form.addRow("", label)
    return label


def _opens_at_login() -> bool | None:
    """Whether the sidebar opens at login; None where the desktop has no XDG autostart."""
    try:
        return launcher.opens_at_login()
    except RapportError:
        return None


class SecondsBox(QDoubleSpinBox):
    """Seconds with no needless decimals: "4 s", "2.5 s" (steps of 0.5 s)."""

    def __init__(self, low: float, high: float, value: float) -> None:
        super().__init__()
        self.setDecimals(1)
        self.setRange(low, high)
        self.setSingleStep(0.5)
        self.setSuffix(" s")
        self.setValue(value)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt's name)
        return f"{round(value, 1):g}"


class SettingsDialog(QDialog):
    def __init__(
        self,
        prefs: Prefs,
        devices: list[tuple[str, str]] | None,
        device_note: str,
        parent: QWidget | None = None,
        hotkeys_on: bool | None = None,
        hotkeys_note: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rapport Assist settings")
        self.prefs = prefs
        budget = prefs.budget()
        form = QFormLayout()

        self.mic = QComboBox()
        self.customer = QComboBox()
        for combo, key in ((self.mic, "devices/mic"), (self.customer, "devices/customer")):
            combo.addItem("System default", "")
            for ident, label in devices or []:
                combo.addItem(label, ident)
            combo.setToolTip(
                "Microphone: your voice. Customer audio: the softphone's output (a monitor / loopback source)."
            )
            saved = str(prefs.get(key, ""))
            index = combo.findData(saved)
            if index < 0:  # unplugged, or the devices cannot be listed: kept (OK must not lose it)
                combo.addItem(f"{saved} (not connected)", saved)
                index = combo.count() - 1
            combo.setCurrentIndex(index)
            combo.setEnabled(devices is not None)
        form.addRow("Microphone (you)", self.mic)
        form.addRow("Customer audio", self.customer)
        if device_note:
            notice(form, device_note)

        self.style_combo = QComboBox()
        self.style_combo.addItem("Light", "light")
        self.style_combo.addItem("Dark", "dark")
        self.style_combo.setCurrentIndex(max(0, self.style_combo.findData(prefs.style)))
        form.addRow("Style", self.style_combo)

        self.max_visible = QSpinBox()
        self.max_visible.setRange(1, 6)
        self.max_visible.setValue(budget.max_visible)
        form.addRow("Cards at once", self.max_visible)
        self.min_gap = SecondsBox(0, 120, budget.min_gap_s)
        form.addRow("Gap between new cards", self.min_gap)
        self.per_minute = QSpinBox()
        self.per_minute.setRange(1, 30)
        self.per_minute.setValue(budget.max_per_minute)
        form.addRow("New cards per minute", self.per_minute)
        self.lifetime = SecondsBox(5, 600, budget.card_lifetime_s)
        form.addRow("A card fades after", self.lifetime)
        self.hold = QCheckBox("Hold new cards while I am speaking")
        self.hold.setChecked(budget.hold_while_speaking)
        form.addRow("", self.hold)
        self.urgent = QComboBox()
        self.urgent.addItem("Urgent (high) cards", "high")
        self.urgent.addItem("Medium and urgent cards", "medium")
        self.urgent.addItem("Nothing", "none")
        self.urgent.setCurrentIndex(max(0, self.urgent.findData(budget.urgent_severity or "none")))
        form.addRow("May break in while I speak", self.urgent)
        width = self.fontMetrics().horizontalAdvance("0000 s") + 44  # numbers, not a text field
        for spin in (self.max_visible, self.min_gap, self.per_minute, self.lifetime):
            spin.setMaximumWidth(width)
        self.never_focus = QCheckBox("Never take keyboard focus (also outside live calls)")
        self.never_focus.setChecked(prefs.bool("focus/never", False))
        form.addRow("", self.never_focus)
        # opened at login: the desktop's autostart entry (launcher.py), read from disk, written on OK
        # when changed; not offered where there is no XDG autostart (Windows, macOS)
        self.at_login = QCheckBox("Open the sidebar when I log in")
        self.at_login_shown = _opens_at_login()
        self.at_login.setChecked(bool(self.at_login_shown))
        if self.at_login_shown is not None:
            form.addRow("", self.at_login)
        self.at_login_error = notice(form)

        # system-wide hotkeys: typed as text ("Ctrl+Alt+J"), not recorded from key presses, which
        # the hotkeys themselves would catch while they are on
        self.hotkeys_on = QCheckBox("System-wide hotkeys for the newest card")
        self.hotkeys_on.setChecked(prefs.bool("hotkeys/on", False) if hotkeys_on is None else hotkeys_on)
        # as shown (``hotkeys_on``: this session's, e.g. ``--hotkeys on``): saved only once changed
        self.hotkeys_on_shown = self.hotkeys_on.isChecked()
        self.hotkeys_on.setToolTip(
            "They act on the newest card from any application, also during a call, without moving "
            "the keyboard focus; other applications lose these combinations while they are on."
        )
        form.addRow("", self.hotkeys_on)
        combos = prefs.hotkey_combos()
        self.hotkey_edits: dict[str, QLineEdit] = {}
        grid = QGridLayout()  # two actions a row: the dialog stays short with a large font
        grid.setContentsMargins(0, 0, 0, 0)
        edit_width = self.fontMetrics().horizontalAdvance("Ctrl+Alt+W") + 24  # longer ones scroll
        for index, action in enumerate(ACTIONS):
            edit = QLineEdit(combos[action])
            edit.setPlaceholderText(DEFAULT_COMBOS[action])
            edit.setToolTip(
                f"{ACTION_WORDS[action].capitalize()} from any application (default {DEFAULT_COMBOS[action]})"
            )
            edit.setAccessibleName(f"Hotkey: {action}")
            edit.setAccessibleDescription(
                f"{ACTION_WORDS[action].capitalize()} from any application, written like {DEFAULT_COMBOS[action]}"
            )
            edit.setMaximumWidth(edit_width)
            caption = QLabel(action.capitalize())
            caption.setBuddy(edit)
            row, column = divmod(index, 2)
            grid.addWidget(caption, row, 2 * column)
            grid.addWidget(edit, row, 2 * column + 1)
            self.hotkey_edits[action] = edit
        grid.setColumnStretch(4, 1)
        form.addRow("Hotkeys", grid)
        self.hotkeys_note = notice(form, f"Not available here: {hotkeys_note}" if hotkeys_note else "")
        self.hotkeys_error = notice(form)
        self._hotkeys_problem(focus=False)  # a combo saved by hand that does not parse: said at once

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons = buttons
        for button in buttons.buttons():
            button.setIcon(QIcon())  # the style's old-style check/cross icons: plain buttons instead
        ok, cancel = (
            buttons.button(QDialogButtonBox.StandardButton.Ok),
            buttons.button(QDialogButtonBox.StandardButton.Cancel),
        )
        ok.setAccessibleName("OK")
        ok.setAccessibleDescription("Save the settings and close (Enter)")
        cancel.setAccessibleName("Cancel")
        cancel.setAccessibleDescription("Close without saving (Esc)")
        self._name_controls(form)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(buttons)

    def _name_controls(self, form: QFormLayout) -> None:
        """Each control's accessible name is its row's label (a check box: its own text); the
        description says what it does (its tooltip, or a line written here)."""
        about = {
            self.mic: "Your voice: the headset or microphone",
            self.customer: "The softphone's output: a monitor or loopback source",
            self.style_combo: "Light or dark panel",
            self.max_visible: "How many nudge cards the panel shows at once",
            self.min_gap: "The least time between two new cards, in seconds",
            self.per_minute: "The most new cards in a minute",
            self.lifetime: "Seconds until a card fades into Earlier",
            self.hold: "New cards wait until you stop speaking",
            self.urgent: "Which cards may appear while you speak",
            self.never_focus: "The panel never takes the keyboard, even outside live calls (Tab then cannot reach it)",
            self.at_login: "Start Rapport Assist each time you log in to this computer",
            self.hotkeys_on: "Key combinations that act on the newest card from any application, "
            "also during a call, without moving the keyboard focus",
        }
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            widget = field.widget() if field is not None else None
            caption = label.widget() if label is not None else None
            text = caption.text() if isinstance(caption, QLabel) else ""
            if isinstance(widget, QCheckBox):
                text = widget.text()
            if widget is not None and text and not widget.accessibleName():
                widget.setAccessibleName(text)
            if widget is not None and widget in about:
                widget.setAccessibleDescription(about[widget])
        self.setAccessibleName(self.windowTitle())

    def hotkeys_on_changed(self) -> bool:
        """The agent ticked or unticked the hotkeys box (a session's ``--hotkeys`` is not saved
        as the setting by an OK that left it alone)."""
        return self.hotkeys_on.isChecked() != self.hotkeys_on_shown

    def hotkey_texts(self) -> dict[str, str]:
        return {action: edit.text().strip() or DEFAULT_COMBOS[action] for action, edit in self.hotkey_edits.items()}

    def accept(self) -> None:
        """OK: refused (the dialog stays open, the problem said under the hotkeys) while a hotkey
        does not parse or two actions share one."""
        if self._hotkeys_problem(focus=True):
            return
        if self.at_login_shown is not None and self.at_login.isChecked() != self.at_login_shown:
            try:
                launcher.set_open_at_login(self.at_login.isChecked())
            except RapportError as exc:  # a read-only or full home folder: said here, the dialog stays
                self.at_login_error.setText(f"Open at login: {exc.one_line()}")
                self.at_login_error.setAccessibleName(self.at_login_error.text())
                self.at_login_error.setVisible(True)
                self.at_login.setFocus()
                return
            self.at_login_shown = self.at_login.isChecked()
        super().accept()

    def _hotkeys_problem(self, focus: bool) -> bool:
        """Whether a hotkey does not parse or two actions share one: said under the hotkeys
        (``focus``: the bad field gets the keyboard, its text selected)."""
        try:
            check_hotkeys(self.hotkey_texts())
        except ValueError as exc:
            self.hotkeys_error.setText(f"Hotkeys: {exc}")
            self.hotkeys_error.setVisible(True)
            self.hotkeys_error.setAccessibleName(f"Hotkeys: {exc}")
            bad = next((self.hotkey_edits[a] for a in ACTIONS if str(exc).startswith(f"{a}:")), None)
            if bad is not None and focus:
                bad.setFocus()
                bad.selectAll()
            return True
        return False

    def budget(self) -> BudgetConfig:
        urgent = self.urgent.currentData()
        return BudgetConfig(
            max_visible=self.max_visible.value(),
            min_gap_s=self.min_gap.value(),
            max_per_minute=self.per_minute.value(),
            card_lifetime_s=self.lifetime.value(),
            hold_while_speaking=self.hold.isChecked(),
            urgent_severity=None if urgent == "none" else urgent,
            max_wait_s=self.prefs.budget().max_wait_s,
            history_size=self.prefs.budget().history_size,
            early_while_speaking=self.prefs.budget().early_while_speaking,
        )  # kept as saved

    def save(self) -> None:
        self.prefs.set("devices/mic", self.mic.currentData())
        self.prefs.set("devices/customer", self.customer.currentData())
        self.prefs.set("style", self.style_combo.currentData())
        self.prefs.set("focus/never", self.never_focus.isChecked())
        if self.hotkeys_on_changed():
            self.prefs.set("hotkeys/on", self.hotkeys_on.isChecked())
        for action, combo in parse_bindings(self.hotkey_texts()).items():
            self.prefs.set(f"hotkeys/{action}", str(combo))
        self.prefs.set_budget(self.budget())
        self.prefs.sync()
