"""Nudge cards: severity colour, word and shape, message, the words it rests on, why and a rewrite
on expand, "helpful" / "wrong" / snooze; they fade in and out. The earlier cards stay in a short
history, each line led by its severity's shape (marks.py: never the colour alone).

Keyboard and screen readers: a card and its buttons are Tab stops (``Qt.TabFocus``: a click never
moves the keyboard focus, so clicking "helpful" leaves it in the CRM); the card's accessible name
is its severity word and title, its description the message and the words it quotes."""

from __future__ import annotations

import html
import re
from typing import Callable

from PySide6.QtCore import QEasingCurve, QObject, QPropertyAnimation, Qt, Signal
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsOpacityEffect,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import timefmt
from ..assist import AssistModel, Card, Verdict
from ..types import SEVERITIES, Evidence, Speaker, Status
from .marks import MarkLabel, severity_shape
from .resources import Theme

SEVERITY_WORD = {"high": "URGENT", "medium": "NUDGE", "low": "TIP"}
FADE_MS = 280


def clock(t_s: float) -> str:
    """m:ss for the sidebar (no tenths: too busy for a glance)."""
    return timefmt.clock(t_s, tenths=False)


def plain(rich: str) -> str:
    """The text of a little HTML (for the accessible name of a rich-text label)."""
    return html.unescape(re.sub(r"<[^>]+>", "", rich.replace("&nbsp;", " ")))


def announce(source: QObject, text: str) -> None:
    """Have a screen reader say ``text`` when it is done speaking (a polite announcement: the
    keyboard focus does not move). Nothing is sent when no assistive technology listens."""
    if QAccessible.isActive():
        event = QAccessibleAnnouncementEvent(source, text)
        event.setPoliteness(QAccessible.AnnouncementPoliteness.Polite)
        QAccessible.updateAccessibility(event)


def _label(text: str, name: str, wrap: bool = True, rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if rich:
        label.setAccessibleName(plain(text))
    return label


def _button(
    text: str, icon_name: str | None, theme: Theme, name: str, tip: str, spoken: str = "", about: str = ""
) -> QToolButton:
    """A tool button that a click leaves the keyboard focus alone with, and Tab reaches;
    ``spoken`` is its accessible name (default: its text), ``about`` the description (the tip)."""
    button = QToolButton()
    button.setObjectName(name)
    button.setText(text)
    if icon_name:
        button.setIcon(theme.icon(icon_name, theme.palette.get("muted")))
    button.setToolButtonStyle(
        Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text else Qt.ToolButtonStyle.ToolButtonIconOnly
    )
    button.setToolTip(tip)
    button.setAccessibleName(spoken or text)
    button.setAccessibleDescription(about or tip)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # clicking never pulls focus from the CRM
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


def card_signature(card: Card) -> tuple[tuple[str, float], ...]:
    """What a card widget shows: redrawn when this changes (a nudge joined the card)."""
    return tuple((n.rule, n.t_s) for n in card.nudges)


class CardWidget(QFrame):
    """One card: the leading nudge's severity, title and message, then one line per other nudge
    about the same moment, the words it quotes, and on expand why, a rewrite and the rule ids
    (their files only when ``show_source``: QA review, never to agents)."""

    feedback = Signal(int, str)  # card id, "helpful" | "wrong"
    snooze = Signal(str)  # rule id
    dismiss = Signal(int)

    def __init__(self, card: Card, theme: Theme, parent: QWidget | None = None, show_source: bool = False) -> None:
        super().__init__(parent)
        self.card = card
        self.signature = card_signature(card)
        nudge = card.nudge
        self.setObjectName("card")
        self.setProperty("severity", nudge.severity)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a Tab stop that reads the card; never by a click
        others = f" and {len(card.also)} more" if card.also else ""
        word = SEVERITY_WORD.get(nudge.severity, nudge.severity.upper())
        title = nudge.title or nudge.rule
        self.setAccessibleName(f"{word.capitalize()}: {title}{others}")
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 8, 8, 8)
        box.setSpacing(5)

        top = QHBoxLayout()
        top.setSpacing(6)
        # the word and the severity's shape (the timeline's marks), in the severity's colour
        self.severity_label = MarkLabel(
            SEVERITY_WORD.get(nudge.severity, nudge.severity.upper()), "cardSeverity", severity_shape(nudge.severity)
        )
        self.severity_label.setProperty("severity", nudge.severity)
        self.title_label = _label(nudge.title or nudge.rule, "cardTitle")
        self.time_label = _label(clock(nudge.t_s), "cardMeta", False)
        close = _button("", "close", theme, "cardAction", "Dismiss (Esc)", "Dismiss", f"Dismiss “{title}” (Esc)")
        self.close_button = close
        close.clicked.connect(lambda: self.dismiss.emit(self.card.id))
        top.addWidget(self.severity_label, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.title_label, 1)
        top.addWidget(self.time_label, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        box.addLayout(top)
        self._top, self._box = top, box

        self.message_label = _label(nudge.message, "cardMessage")
        box.addWidget(self.message_label)
        self.lines: list[QLabel] = [self.message_label]  # one per nudge of the card, the lead first
        for other in card.also:
            word = SEVERITY_WORD.get(other.severity, other.severity.upper())
            colour = theme.palette.get(other.severity if other.severity in SEVERITIES else "low", "")
            line = _label(
                f'<span style="color:{colour}; font-size:{theme.pt(8)}; font-weight:700">{word}</span>&nbsp; '
                f"<b>{html.escape(other.title or other.rule, quote=False)}</b> · "
                f"{html.escape(other.message, quote=False)}",
                "cardLine",
                rich=True,
            )
            line.setProperty("severity", other.severity)
            line.setAccessibleName(f"{word.capitalize()}: {other.title or other.rule}. {other.message}")
            box.addWidget(line)
            self.lines.append(line)

        # the words the card rests on: the lead's quote first, then any other turn its lines quote
        # (the customer's angry words, then what the agent said that tripped the other rules)
        self.evidence_labels: list[QLabel] = []
        quotes: dict[int, tuple[Evidence, set[str]]] = {}
        for n in card.nudges:
            q = n.quoted
            if q is not None and q.text:
                quotes.setdefault(q.utterance_index, (q, set()))[1].update(m for m in q.matched if m)
        for quoted, matched in quotes.values():
            who = "You said" if quoted.speaker is Speaker.AGENT else "Customer said"
            words = html.escape(quoted.text, quote=False)
            for m in sorted(matched, key=len, reverse=True):
                words = words.replace(html.escape(m, quote=False), f"<b>{html.escape(m, quote=False)}</b>", 1)
            label = _label(f"{who}: “{words}”", "cardEvidence", rich=True)
            label.setAccessibleName(f"{who}: “{quoted.text}”")
            label.setToolTip(quoted.text)
            box.addWidget(label)
            self.evidence_labels.append(label)
        self.evidence_label: QLabel | None = self.evidence_labels[0] if self.evidence_labels else None

        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        details.setSpacing(4)
        whys = [(n.title, n.why) for n in card.nudges if n.why]
        if len(card.nudges) > 1:
            why_text = "\n".join(f"{title}: {why.strip()}" for title, why in whys)
        else:
            why_text = nudge.why
        self.why_label = _label(why_text or "No coaching note for this rule.", "cardWhy")
        details.addWidget(self.why_label)
        self.rewrite_label: QLabel | None = None
        rewrite = card.rewrite
        if rewrite:
            self.rewrite_label = _label(f"<b>Try:</b> {html.escape(rewrite, quote=False)}", "cardRewrite", rich=True)
            details.addWidget(self.rewrite_label)
        rules = ", ".join(n.rule for n in card.nudges)
        if show_source:  # team leads and QA: where each rule is written
            sources = " · ".join(f"{n.rule} ({n.rule_source})" if n.rule_source else n.rule for n in card.nudges)
            self.source_label = _label(f"rule{'s' if card.also else ''} {sources}", "cardMeta")
        else:
            self.source_label = _label(f"rule{'s' if card.also else ''} {rules}", "cardMeta")
        details.addWidget(self.source_label)
        self.details.setVisible(False)
        box.addWidget(self.details)

        actions = QHBoxLayout()
        actions.setSpacing(2)
        self.why_text = "Why" + (" · rewrite" if rewrite else "")
        self.why_button = _button(
            self.why_text,
            "chevron-right",
            theme,
            "cardAction",
            "Show the coaching note",
            "Why" + (" and a rewrite" if rewrite else ""),
            f"Show or hide why “{title}”" + (" and a way to say it" if rewrite else ""),
        )
        self.why_button.setCheckable(True)
        self.why_button.toggled.connect(self._toggle_details)
        self.helpful_button = _button(
            "", "thumb-up", theme, "cardAction", "Helpful (Alt+H)", "Helpful", f"“{title}” was helpful (Alt+H)"
        )
        self.wrong_button = _button(
            "",
            "thumb-down",
            theme,
            "cardAction",
            "Wrong here (Alt+W): logged with the words, for the team lead",
            "Wrong here",
            f"“{title}” was wrong here (Alt+W): logged with the words, for the team lead",
        )
        self.snooze_button = _button(
            "Snooze",
            "snooze",
            theme,
            "cardAction",
            "No more of this nudge in this call (Alt+Z)",
            "Snooze",
            f"No more “{title}” in this call (Alt+Z)",
        )
        for b in (self.helpful_button, self.wrong_button):
            b.setCheckable(True)
        self.helpful_button.clicked.connect(lambda: self._verdict("helpful"))
        self.wrong_button.clicked.connect(lambda: self._verdict("wrong"))
        self.snooze_button.clicked.connect(lambda: self.snooze.emit(self.card.nudge.rule))
        actions.addWidget(self.why_button)
        actions.addStretch(1)
        actions.addWidget(self.helpful_button)
        actions.addWidget(self.wrong_button)
        actions.addWidget(self.snooze_button)
        box.addLayout(actions)
        self._actions = actions
        if card.verdict is not None:  # rebuilt (e.g. after a style change): keep what the agent said
            self.show_verdict(card.verdict)
        self._theme = theme
        self._animation: QPropertyAnimation | None = None
        self.setAccessibleDescription(self.spoken_text())

    def spoken_text(self) -> str:
        """What a screen reader says after the card's name: the time, the message, the other
        nudges of the card and the words quoted."""
        parts = [f"at {clock(self.card.nudge.t_s)}", self.message_label.text()]
        parts += [line.accessibleName() for line in self.lines[1:]]
        parts += [label.accessibleName() for label in self.evidence_labels]
        return ". ".join(p.rstrip(".") for p in parts if p) + "."

    def fit(self, width: int) -> None:
        """Keep the card within ``width`` px: with a large font "Why · rewrite" becomes "Why"
        and then Snooze an icon (their accessible names and tooltips stay)."""
        self.ensurePolished()  # measured with the style sheet's fonts and padding (a new card has none yet)
        self.why_button.setText(self.why_text)
        self.snooze_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._title_below(False)
        if self._needs() > width:
            self.why_button.setText("Why")
        if self._needs() > width:
            self.snooze_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        if self._needs() > width:  # a very large font: the title gets a line of its own
            self._title_below(True)

    def _needs(self) -> int:
        """The card's least width now (its layouts measured afresh: a card not shown yet is not
        told that a button's text changed)."""
        for layout in (self._top, self._actions, self._box):
            layout.invalidate()
        return self.minimumSizeHint().width()

    def _title_below(self, below: bool) -> None:
        """The title beside the severity word (as drawn), or on its own line under it."""
        if (self._top.indexOf(self.title_label) < 0) == below:
            return
        if below:
            self._top.removeWidget(self.title_label)
            self._top.insertStretch(1, 1)
            self._box.insertWidget(1, self.title_label)
        else:
            self._box.removeWidget(self.title_label)
            stretch = self._top.takeAt(1)  # the stretch that held its place
            del stretch
            self._top.insertWidget(1, self.title_label, 1)

    def tab_stops(self) -> list[QWidget]:
        """The card's Tab stops in reading order: the card, then its buttons as they are laid out."""
        return [
            self,
            self.close_button,
            self.why_button,
            self.helpful_button,
            self.wrong_button,
            self.snooze_button,
        ]

    def _toggle_details(self, on: bool) -> None:
        self.details.setVisible(on)
        self.why_button.setIcon(
            self._theme.icon("chevron-down" if on else "chevron-right", self._theme.palette.get("muted"))
        )

    def show_verdict(self, verdict: Verdict | None) -> None:
        """The verdict given (its button checked, both disabled); None: none yet (both enabled)."""
        self.helpful_button.setChecked(verdict == "helpful")
        self.wrong_button.setChecked(verdict == "wrong")
        self.helpful_button.setEnabled(verdict is None)
        self.wrong_button.setEnabled(verdict is None)

    def _verdict(self, verdict: Verdict) -> None:
        self.show_verdict(verdict)
        self.feedback.emit(self.card.id, verdict)

    def fade(self, start: float, to: float, done: Callable[[], None] | None = None) -> None:
        """Fade from ``start`` to ``to`` opacity; the effect is dropped afterwards (it renders the
        card through an offscreen pixmap while it is on)."""
        effect = QGraphicsOpacityEffect(self)
        effect.setOpacity(start)
        self.setGraphicsEffect(effect)
        animation = QPropertyAnimation(effect, b"opacity", self)
        animation.setDuration(FADE_MS)
        animation.setStartValue(start)
        animation.setEndValue(to)
        animation.setEasingCurve(QEasingCurve.Type.InOutQuad)

        def finished() -> None:
            self._animation = None
            animation.deleteLater()
            if done is not None:
                done()
            else:
                # None removes and deletes the effect (Qt: setGraphicsEffect(nullptr)); PySide6's
                # stub types the argument as QGraphicsEffect only, without the None it accepts.
                self.setGraphicsEffect(None)  # type: ignore[arg-type]

        animation.finished.connect(finished)
        self._animation = animation
        animation.start()


class CardStack(QWidget):
    """The visible cards, newest on top, kept in step with the model."""

    focus_left = Signal()  # the card with the keyboard focus went and no card is left to take it

    def __init__(self, model: AssistModel, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme
        self.widgets: dict[int, CardWidget] = {}
        self._order: list[Card] = []  # the cards shown at the last sync, newest first
        self._announced: set[int] = set()  # card ids a screen reader was told about
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSpacing(8)
        self.empty_label = _label("Nothing to flag right now.", "empty")
        self._box.addWidget(self.empty_label)
        self.waiting_label = _label("", "cardMeta")
        self.waiting_label.setVisible(False)
        self._box.addWidget(self.waiting_label)
        self.animate = True
        self.width_for_cards = 0  # the width a card must fit in (0: any; the window sets it)
        self.setAccessibleName("Nudges")

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for card_id in list(self.widgets):
            self._remove(card_id, animate=False)
        self.sync()

    def sync(self) -> None:
        shown = self.model.shown
        ids = [c.id for c in shown]
        focused = self._focused_card()
        order = [c.id for c in self._order]
        for card_id in [i for i in self.widgets if i not in ids]:
            self._remove(card_id, self.animate)
        for position, card in enumerate(shown):
            widget = self.widgets.get(card.id)
            fresh = widget is None
            if widget is not None and widget.signature != card_signature(card):
                self._remove(card.id, animate=False)  # a nudge joined the card: draw it again, in place
                widget = None
            if widget is None:
                widget = CardWidget(card, self.theme, self, show_source=self.model.mode == "qa")
                if self.width_for_cards:
                    widget.fit(self.width_for_cards)
                widget.feedback.connect(self._on_feedback)
                widget.snooze.connect(self.model.snooze)
                widget.dismiss.connect(self.model.dismiss)
                self.widgets[card.id] = widget
                if self.animate and fresh:
                    widget.fade(0.0, 1.0)
                if card.id not in self._announced:  # a screen reader says a new card (not a redrawn one)
                    self._announced.add(card.id)
                    announce(widget, f"{widget.accessibleName()}. {widget.card.nudge.message}")
            self._box.insertWidget(position, widget)
        self.empty_label.setVisible(not shown)
        waiting = len(self.model.held)
        self.waiting_label.setText(f"{waiting} more waiting — shown when there is room" if waiting else "")
        self.waiting_label.setVisible(bool(waiting))
        self._order = list(shown)
        self._announced &= set(ids)  # a card that left never comes back
        count = f"{len(shown)} card{'s' if len(shown) != 1 else ''}" if shown else "none"
        self.setAccessibleDescription(count + (f", {waiting} waiting" if waiting else ""))
        if focused is not None and self._focused_card() is None:
            # the card with the keyboard focus went (dismissed, snoozed, faded) or was redrawn: the
            # focus goes to it again, or to the card now in its place, or the one above
            at = order.index(focused) if focused in order else 0
            near = [focused, *order[at + 1 :], *reversed(order[:at])]
            target = next((i for i in near if i in self.widgets), None)
            if target is not None:
                self.widgets[target].setFocus(Qt.FocusReason.OtherFocusReason)
            else:
                self.focus_left.emit()

    def fit(self, width: int) -> None:
        if width != self.width_for_cards:
            self.width_for_cards = width
            for widget in self.widgets.values():
                widget.fit(width)

    def _focused_card(self) -> int | None:
        """The id of the card the keyboard focus is in, if any."""
        widget = QApplication.focusWidget()
        for card_id, card in self.widgets.items():
            if widget is not None and (widget is card or card.isAncestorOf(widget)):
                return card_id
        return None

    def card_in_focus(self) -> CardWidget | None:
        card_id = self._focused_card()
        return None if card_id is None else self.widgets[card_id]

    def _remove(self, card_id: int, animate: bool) -> None:
        widget = self.widgets.pop(card_id)
        widget.setEnabled(False)
        if animate:
            widget.fade(1.0, 0.0, widget.deleteLater)
        else:  # out of the layout and hidden, but still a child: never a top-level window for a moment
            self._box.removeWidget(widget)
            widget.hide()
            widget.deleteLater()

    def _on_feedback(self, card_id: int, verdict: Verdict) -> None:
        try:
            self.model.give_feedback(card_id, verdict)
        except Exception as exc:  # an unwritable log must not break the panel
            # not saved: the card shows no verdict, so the agent can give it again once it can be
            widget = self.widgets.get(card_id)
            card = self.model.find_card(card_id)
            if widget is not None:
                widget.show_verdict(card.verdict if card is not None else None)
            self.model.notices.append(_status_notice(f"feedback not saved: {exc}", self.model.now_s))
            self.model._notify("status")

    def newest(self) -> CardWidget | None:
        shown = self.model.shown
        return self.widgets.get(shown[0].id) if shown else None


def _status_notice(message: str, t_s: float) -> Status:
    return Status("warning", "feedback_failed", message, t_s)


class HistoryList(QWidget):
    """The few cards that faded, newest first, one line each (hover for the words), led by the
    shape of its severity (in the line's quiet colour: the shape alone says it here)."""

    def __init__(self, model: AssistModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSpacing(0)
        self.labels: list[MarkLabel] = []  # the visible ones, newest first
        self._pool: list[MarkLabel] = []
        self.setAccessibleName("Earlier nudges")

    def sync(self) -> int:
        """Show the history; its labels are reused (it changes with every card)."""
        history = list(self.model.history)
        while len(self._pool) < len(history):
            label = MarkLabel("", "historyItem")
            self._box.addWidget(label)
            self._pool.append(label)
        for label, card in zip(self._pool, history):
            nudge = card.nudge
            mark = {"helpful": " · 👍", "wrong": " · marked wrong"}.get(card.verdict or "", "")
            unseen = {"missed": " · not shown (busy)", "call ended": " · not shown"}.get(card.end_reason, "")
            more = f" +{len(card.also)}" if card.also else ""
            label.setText(f"{clock(nudge.t_s)}  {nudge.title}{more}{mark}{unseen}")
            label.set_shape(severity_shape(nudge.severity))
            verdict = {"helpful": ", marked helpful", "wrong": ", marked wrong"}.get(card.verdict or "", "")
            word = SEVERITY_WORD.get(nudge.severity, nudge.severity.upper()).capitalize()
            label.setAccessibleName(f"{word}: {nudge.title}{more}, at {clock(nudge.t_s)}{verdict}{unseen}")
            label.setToolTip(
                "\n".join(n.message for n in card.nudges) + (f"\n“{card.evidence_text}”" if card.evidence_text else "")
            )
            label.setVisible(True)
        for label in self._pool[len(history) :]:
            label.setVisible(False)
        self.labels = self._pool[: len(history)]
        return len(history)
