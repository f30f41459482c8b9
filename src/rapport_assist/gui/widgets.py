"""The parts of the panel around the cards: sections, status, tone meter, promises, transcript,
and the QA timeline."""

from __future__ import annotations

import html
import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QTextCursor,
)
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from ..assist import COMPONENT_LABELS, COMPONENTS, AssistModel
from ..playback import Mark
from ..types import SEVERITIES, Speaker, ToneEstimate
from .cards import SEVERITY_WORD, _label, clock
from .marks import StatusDot, paint_mark, severity_shape
from .resources import Theme

SEVERITY_NAMES = {s: SEVERITY_WORD.get(s, s).lower() for s in SEVERITIES}


class Section(QWidget):
    """A titled part of the panel that folds away."""

    toggled = Signal(bool)

    def __init__(
        self, title: str, content: QWidget, theme: Theme, expanded: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.short = ""  # a shorter title for a narrow panel or a large font (``fit``)
        self.width_for_title = 0  # the width the title must fit in (0: any)
        self.content = content
        self.theme = theme
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        self.toggle = QToolButton()
        self.toggle.setObjectName("sectionToggle")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it, a click leaves the focus be
        self.toggle.toggled.connect(self._on_toggle)
        box.addWidget(self.toggle)
        box.addWidget(content)
        self.toggle.setChecked(expanded)
        self._on_toggle(expanded)

    def set_title(self, title: str, short: str = "") -> None:
        self.title = title
        self.short = short
        self._show_title()
        self._name()

    def fit(self, width: int) -> None:
        """Keep the title within ``width`` px (the panel has no sideways scrolling): the full
        title, else the short one, else the bare name. Its accessible name stays the full title."""
        self.width_for_title = width
        self._show_title()

    def _show_title(self) -> None:
        options = [self.title, self.short, self.title.split(" (")[0]]
        for text in [o for o in options if o]:
            self.toggle.setText(text.upper())
            if not self.width_for_title or self.toggle.sizeHint().width() <= self.width_for_title:
                return

    def _name(self) -> None:
        # the title as written (a screen reader spells out words in capitals); open or folded
        self.toggle.setAccessibleName(self.title)
        if not self.content.accessibleName():
            self.content.setAccessibleName(self.title.split(" (")[0])
        state = "shown" if self.toggle.isChecked() else "folded away"
        self.toggle.setAccessibleDescription(f"Section {state}; Space shows or hides it")

    def _on_toggle(self, on: bool) -> None:
        self.content.setVisible(on)
        self._show_title()
        self._name()
        self.toggle.setIcon(self.theme.icon("chevron-down" if on else "chevron-right", self.theme.palette.get("muted")))
        self.toggled.emit(on)

    def expanded(self) -> bool:
        return self.toggle.isChecked()


class StatusPanel(QWidget):
    """Microphone, customer audio, recognizer, rules: a dot and a short line each; rule errors in full.
    A dot says its level by its shape as well as its colour (marks.LEVEL_SHAPE)."""

    ICONS = {"microphone": "mic", "customer": "headset", "recognizer": "wave", "rules": "rules"}

    def __init__(self, model: AssistModel, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.dots: dict[str, StatusDot] = {}
        self.texts: dict[str, QLabel] = {}
        self.icons: dict[str, QLabel] = {}
        for row, component in enumerate(COMPONENTS):
            dot = StatusDot()
            icon = QLabel()
            icon.setPixmap(theme.icon(self.ICONS[component]).pixmap(QSize(16, 16)))
            name = _label(COMPONENT_LABELS[component], "statusText")  # wraps with a very large font
            text = _label("", "statusText")
            icon.setAccessibleName(COMPONENT_LABELS[component])
            grid.addWidget(dot, row, 0, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(icon, row, 1)
            grid.addWidget(name, row, 2)
            grid.addWidget(text, row, 3)
            self.dots[component] = dot
            self.texts[component] = text
            self.icons[component] = icon
        # in a QA review the device rows give way to one line about the review's sound
        row = len(COMPONENTS)
        self.sound_dot = StatusDot()
        self.sound_icon = QLabel()
        self.sound_icon.setPixmap(theme.icon("headset").pixmap(QSize(16, 16)))
        self.sound_name = _label("Sound", "statusText")
        self.sound_text = _label("", "statusText")
        grid.addWidget(self.sound_dot, row, 0, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.sound_icon, row, 1)
        grid.addWidget(self.sound_name, row, 2)
        grid.addWidget(self.sound_text, row, 3)
        # the system-wide hotkeys (Settings): shown only while they are turned on
        self.hotkeys_dot = StatusDot()
        self.hotkeys_icon = QLabel()
        self.hotkeys_icon.setPixmap(theme.icon("keyboard").pixmap(QSize(16, 16)))
        self.hotkeys_icon.setAccessibleName("Hotkeys")
        self.hotkeys_name = _label("Hotkeys", "statusText")
        self.hotkeys_text = _label("", "statusText")
        grid.addWidget(self.hotkeys_dot, row + 1, 0, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.hotkeys_icon, row + 1, 1)
        grid.addWidget(self.hotkeys_name, row + 1, 2)
        grid.addWidget(self.hotkeys_text, row + 1, 3)
        self.hotkeys: tuple[str, str] | None = None
        self._grid = grid
        self.review_sound: tuple[str, str] | None = None
        grid.setColumnStretch(3, 1)
        box.addLayout(grid)
        self.sound_icon.setAccessibleName("Sound")
        self.rules_error = _label("", "rulesError")
        self.rules_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rules_error.setVisible(False)
        box.addWidget(self.rules_error)
        self.notice = _label("", "notice")
        self.notice.setVisible(False)
        box.addWidget(self.notice)

    def set_review_sound(self, sound: tuple[str, str] | None) -> None:
        """(level, message) about the review's sound: shown instead of the microphone and customer
        rows, which say nothing about a review; None: a live call or no call (the device rows)."""
        self.review_sound = sound
        self.sync()

    def set_hotkeys(self, state: tuple[str, str] | None) -> None:
        """(level, message) of the system-wide hotkeys; None: they are off (no line)."""
        self.hotkeys = state
        self.sync()

    def sync(self) -> None:
        for w in (self.hotkeys_dot, self.hotkeys_icon, self.hotkeys_name, self.hotkeys_text):
            w.setVisible(self.hotkeys is not None)
        if self.hotkeys is not None:
            level, message = self.hotkeys
            self.hotkeys_dot.setToolTip(level)
            self._show(self.hotkeys_dot, self.hotkeys_text, "Hotkeys", level, message)
        sound = self.review_sound
        review = sound is not None
        for component in ("microphone", "customer"):
            for w in (self.dots[component], self.icons[component], self.texts[component]):
                w.setVisible(not review)
            item = self._grid.itemAtPosition(COMPONENTS.index(component), 2)
            name = item.widget() if item is not None else None
            if name is not None:
                name.setVisible(not review)
        for w in (self.sound_dot, self.sound_icon, self.sound_name, self.sound_text):
            w.setVisible(review)
        if sound is not None:
            level, message = sound
            self._show(self.sound_dot, self.sound_text, "Sound", level, message)
        for component in COMPONENTS:
            status = self.model.status[component]
            dot = self.dots[component]
            dot.setToolTip(status.level)
            self._show(dot, self.texts[component], COMPONENT_LABELS[component], status.level, status.message)
        error = self.model.rules_error
        self.rules_error.setText(error)
        self.rules_error.setVisible(bool(error))
        notices = list(self.model.notices)
        self.notice.setText(notices[-1].message if notices else "")
        self.notice.setVisible(bool(notices))
        if error:
            self.rules_error.setAccessibleName(f"Rules error: {error}")
        self.notice.setAccessibleName(f"Notice: {self.notice.text()}" if notices else "")

    @staticmethod
    def _show(dot: StatusDot, text: QLabel, name: str, level: str, message: str) -> None:
        """One status line: the dot's level, the message, and both in words (the dot's level is
        said, not only shown)."""
        dot.set_level(level)
        text.setText(message)
        text.setToolTip(message)
        words = LEVEL_WORDS.get(level, level)
        dot.setAccessibleName(f"{name}: {words}")
        text.setAccessibleName(f"{name}: {message or words}")
        text.setAccessibleDescription(words)


LEVEL_WORDS = {"ok": "working", "info": "starting", "warning": "needs a look", "error": "not working", "off": "off"}
TONE_POSITION = {"calm": 0.16, "tense": 0.5, "angry": 0.84}


def tone_words(tone: ToneEstimate | None) -> str:
    """The tone meter in words (its accessible description): the word, where the marker stands
    within it, and what the estimate rests on."""
    if tone is None:
        return "Waiting for the customer to speak"
    lean = tone.score - 0.5  # the marker's offset within the word's third of the bar
    where = ""
    if lean > 0.2 and tone.label != "angry":
        where = " (leaning angrier)"
    elif lean < -0.2 and tone.label != "calm":
        where = " (leaning calmer)"
    evidence = f"; {'; '.join(tone.evidence)}" if tone.evidence else ""
    return f"{tone.label.capitalize()}{where}, on a scale calm, tense, angry{evidence}"


class ToneMeter(QWidget):
    """The customer's running tone: a calm → tense → angry bar with a marker, and the word."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.tone: ToneEstimate | None = None
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Customer tone")
        self.setAccessibleDescription(tone_words(None))

    def sizeHint(self) -> QSize:
        return QSize(200, self.fontMetrics().height() + 22)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.fontMetrics().height() + 22)  # the words and the bar, at any font size

    def set_tone(self, tone: ToneEstimate | None) -> None:
        self.tone = tone
        self.setAccessibleDescription(tone_words(tone))
        if tone is None:
            self.setToolTip("No customer speech yet")
        else:
            self.setToolTip("Customer tone: " + tone.label + ("\n" + "\n".join(tone.evidence) if tone.evidence else ""))
        self.update()

    def text(self) -> str:
        return "—" if self.tone is None else self.tone.label

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        label = "Customer tone: " + ("waiting for the customer" if self.tone is None else self.tone.label)
        p.setPen(self.theme.color("text" if self.tone else "muted"))
        p.drawText(QRectF(0, 0, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignLeft, label)
        y = fm.height() + 8
        bar = QRectF(1, y, self.width() - 2, 8)
        colors = [self.theme.color("calm"), self.theme.color("tense"), self.theme.color("angry")]
        third = bar.width() / 3
        for i, color in enumerate(colors):
            c = QColor(color)
            active = self.tone is not None and self.tone.label == ("calm", "tense", "angry")[i]
            c.setAlphaF(1.0 if active else 0.28)
            path = QPainterPath()
            path.addRoundedRect(
                QRectF(bar.left() + i * third + (1 if i else 0), bar.top(), third - 2, bar.height()), 4, 4
            )
            p.fillPath(path, c)
        if self.tone is not None:
            base = TONE_POSITION.get(self.tone.label, 0.5)
            x = bar.left() + bar.width() * min(0.98, max(0.02, base + (self.tone.score - 0.5) * 0.2))
            p.setPen(QPen(self.theme.color("text"), 2))
            p.setBrush(self.theme.color("surface"))
            p.drawEllipse(QPointF(x, bar.center().y()), 6, 6)
        p.end()


class PromiseList(QWidget):
    """Every promise made this call, with its time frame or "no time given"."""

    def __init__(self, model: AssistModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSpacing(2)
        self.rows: list[tuple[QLabel, QLabel]] = []
        self.empty = _label("No promises yet.", "empty")
        self._box.addWidget(self.empty)
        self.setAccessibleName("Promises")

    def sync(self) -> int:
        promises = self.model.promises
        while len(self.rows) > len(promises):  # after a rewind
            for label in self.rows.pop():
                label.setParent(None)
                label.deleteLater()
        for item in promises[len(self.rows) :]:
            text = _label(f"“{item.text}”", "promise")
            when = _label(
                f"{clock(item.t_s)} · " + (time_frame(item.time) if item.time else "no time given"), "promiseTime"
            )
            when.setProperty("committed", "true" if item.committed else "false")
            text.setAccessibleName(f"Promise at {clock(item.t_s)}: “{item.text}”")
            text.setAccessibleDescription(time_frame(item.time) if item.time else "no time given")
            self._box.addWidget(text)
            self._box.addWidget(when)
            self.rows.append((text, when))
        self.empty.setVisible(not promises)
        open_ = sum(1 for p in promises if not p.committed)
        self.setAccessibleDescription(
            f"{len(promises)} promise{'s' if len(promises) != 1 else ''}"
            + (f", {open_} without a time" if open_ else "")
        )
        return len(promises)

    def texts(self) -> list[str]:
        return [f"{a.text()} — {b.text()}" for a, b in self.rows]


def time_frame(text: str) -> str:
    """The record's time words, once each: "within the hour, the hour" -> "within the hour"."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unique: list[str] = []
    for part in parts:
        if part.lower() not in (u.lower() for u in unique):
            unique.append(part)
    kept = [p for p in unique if not any(p.lower() != o.lower() and p.lower() in o.lower() for o in unique)]
    return ", ".join(kept)


class TranscriptView(QTextBrowser):
    """The call's words as they land (the last few hundred lines), and below them, greyed and in
    italics, the live captions of what is still being said; an utterance's final line takes its
    caption's place in the same update (no frame shows both or neither)."""

    def __init__(self, model: AssistModel, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme
        self.setObjectName("transcript")
        self.document().setMaximumBlockCount(300)
        self.document().setUndoRedoEnabled(False)  # a read-only log: no undo history to grow
        # Tab reaches it (arrow keys then scroll it; Tab goes on), a click does not take the focus
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setTabChangesFocus(True)
        self.setAccessibleName("Transcript")
        self.setAccessibleDescription("The call's words as they are heard, newest last; live captions in italics")
        self.setMinimumHeight(140)
        self._shown = -1  # index of the last utterance appended
        self._caption_lines = 0  # caption lines at the end of the document
        self._revisions = 0  # the model's revisions drawn (a turn heard again redraws its lines)
        self.captions: list[str] = []  # the captions shown (plain text), for tests and accessibility

    def set_theme(self, theme: Theme) -> None:
        """A new style: the lines already shown are drawn again in its colours."""
        self.theme = theme
        self.clear()
        self._shown = -1
        self._caption_lines = 0
        self.sync()

    def sync(self) -> None:
        transcript = list(self.model.transcript)
        if (
            not transcript
            or (transcript and transcript[-1].index < self._shown)
            or self.model.revisions != self._revisions
        ):
            self.clear()
            self._shown = -1
            self._caption_lines = 0
            self._revisions = self.model.revisions
        self._drop_captions()
        for u in transcript:
            if u.index <= self._shown:
                continue
            who = "You" if u.speaker is Speaker.AGENT else "Customer"
            color = self.theme.palette["accent" if u.speaker is Speaker.AGENT else "muted"]
            mark = (
                f' <span style="color:{self.theme.palette["muted"]}">↻</span>' if u.index in self.model.revised else ""
            )
            self.append(
                f'<span style="color:{color}"><b>{who}</b> {clock(u.start_s)}</span> {html.escape(u.text, quote=False)}'
                + mark
            )
            self._shown = u.index
        self.captions = []
        muted = self.theme.palette["muted"]
        for caption in sorted(self.model.captions.values(), key=lambda p: p.start_s):
            who = "You" if caption.speaker is Speaker.AGENT else "Customer"
            stable = html.escape(caption.text, quote=False)
            pending = html.escape(caption.pending, quote=False)
            self.append(
                f'<span style="color:{muted}"><i><b>{who}</b> {clock(caption.start_s)} {stable}'
                f'{" " if stable and pending else ""}{pending} …</i></span>'
            )
            self.captions.append(" ".join(x for x in (caption.text, caption.pending) if x))
            self._caption_lines += 1
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _drop_captions(self) -> None:
        """Remove the caption lines at the end of the document (they are redrawn after the finals)."""
        if not self._caption_lines:
            return
        doc = self.document()
        n = min(self._caption_lines, doc.blockCount())
        self._caption_lines = 0
        cursor = QTextCursor(doc.findBlockByNumber(doc.blockCount() - n))
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if doc.blockCount() > 1:
            cursor.deletePreviousChar()  # the empty paragraph the captions were in


class Timeline(QWidget):
    """The QA timeline: progress, the nudges as marks above it (a severity's colour and shape, as
    in the QA report: a triangle, a diamond, a square), click or drag to seek."""

    seek = Signal(float)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.position_s = 0.0
        self.duration_s = 0.0
        self.known_s = 0.0
        self.marks: list[Mark] = []
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click or drag to seek; marks are nudges: ▲ urgent, ◆ nudge, ■ tip. Keys: ← → 10 s, Home, End")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setAccessibleName("Timeline")
        self._describe()

    def _describe(self) -> None:
        counts = {s: sum(1 for m in self.marks if m.severity == s) for s in SEVERITIES}
        marks = ", ".join(f"{n} {SEVERITY_NAMES.get(s, s)}" for s, n in counts.items() if n)
        self.setAccessibleDescription(
            f"At {clock(self.position_s)} of {clock(self.duration_s)}; nudges: {marks or 'none yet'}. "
            "Left and Right arrows seek 10 seconds, Home and End go to the start and end"
        )

    def mark_side(self) -> int:
        """A nudge mark's size: from the font, so it grows with a large one."""
        return max(9, self.fontMetrics().capHeight() + 1)

    def sizeHint(self) -> QSize:
        return QSize(200, max(26, 2 * self.mark_side() + 6))

    def minimumSizeHint(self) -> QSize:
        return QSize(60, self.sizeHint().height())

    def set_state(self, position_s: float, duration_s: float, marks: list[Mark]) -> None:
        self.position_s = position_s
        self.duration_s = duration_s
        self.marks = marks
        self._describe()
        self.update()

    def _x(self, t_s: float) -> float:
        if self.duration_s <= 0:
            return 6.0
        return 6 + (self.width() - 12) * min(1.0, max(0.0, t_s / self.duration_s))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        mid = self.height() / 2
        track = QRectF(6, mid - 2, self.width() - 12, 4)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.theme.color("border"))
        p.drawRoundedRect(track, 2, 2)
        p.setBrush(self.theme.color("accent"))
        p.drawRoundedRect(QRectF(6, mid - 2, self._x(self.position_s) - 6, 4), 2, 2)
        side = self.mark_side()
        for mark in self.marks:  # above the track; a surface edge keeps marks at one moment apart
            x = self._x(mark.t_s)
            colour = self.theme.color(mark.severity if mark.severity in SEVERITIES else "muted")
            shape = QRectF(x - side / 2, mid - 2.5 - side, side, side)
            paint_mark(p, severity_shape(mark.severity), shape, colour, self.theme.color("surface"))
        p.setPen(QPen(self.theme.color("surface"), 2))
        p.setBrush(self.theme.color("accent"))
        p.drawEllipse(QPointF(self._x(self.position_s), mid), 6, 6)
        if self.hasFocus():  # the same 2 px ring as the style sheet's focus
            p.setPen(QPen(self.theme.color("focus"), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 5, 5)
        p.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        targets = {
            Qt.Key.Key_Left: self.position_s - 10,
            Qt.Key.Key_Right: self.position_s + 10,
            Qt.Key.Key_Home: 0.0,
            Qt.Key.Key_End: self.duration_s,
        }
        target = next((t for k, t in targets.items() if key == k), None)
        if target is None or self.duration_s <= 0:
            super().keyPressEvent(event)
            return
        self.seek.emit(max(0.0, min(self.duration_s, target)))

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusOutEvent(event)
        self.update()

    def _seek_to(self, x: float) -> None:
        if self.duration_s <= 0:
            return
        fraction = (x - 6) / max(1.0, self.width() - 12)
        self.seek.emit(max(0.0, min(1.0, fraction)) * self.duration_s)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._seek_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek_to(event.position().x())


def speed_text(speed: float) -> str:
    return "max" if math.isinf(speed) else f"{speed:g}×"
