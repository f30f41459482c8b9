"""The call summary card: shown at the top of the panel when a call ends (a thin view over the
``CallCoaching`` the model keeps): what went well, one thing to try next time, the promises to
log. It never takes focus; "Hide" puts it away until the next call ends. Tab reaches it (a screen
reader reads it whole as the panel's description) and its Hide button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from ..assist import AssistModel
from ..coaching import NO_PRAISE, moment_words, promise_line
from ..types import CallCoaching, CoachingLine
from .cards import _label, announce
from .resources import Theme


class CoachingPanel(QFrame):
    """The agent's summary of the call that just ended; hidden during a call."""

    def __init__(self, model: AssistModel, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme
        self.setObjectName("coaching")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab only: it appears without taking the focus
        self.setAccessibleName("Call summary")
        self._shown_for: CallCoaching | None = None
        self._hidden_for: CallCoaching | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 10, 12, 12)
        outer.setSpacing(6)
        head = QHBoxLayout()
        head.setSpacing(6)
        self.title = _label("Call summary", "coachingTitle")
        self.hide_button = QToolButton()
        self.hide_button.setObjectName("cardAction")
        self.hide_button.setText("Hide")
        self.hide_button.setToolTip("Put the summary away until the next call ends")
        self.hide_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.hide_button.setAccessibleName("Hide the call summary")
        self.hide_button.setAccessibleDescription("Put the summary away until the next call ends")
        self.hide_button.clicked.connect(self.dismiss)
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.hide_button)
        outer.addLayout(head)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(4)
        outer.addLayout(self.body)
        self.setVisible(False)

    # -- model -> view ---------------------------------------------------------------------------
    def sync(self) -> None:
        coaching = self.model.coaching
        if coaching is None or coaching is self._hidden_for:
            self.setVisible(False)
            self._shown_for = None if coaching is None else self._shown_for
            return
        if coaching is not self._shown_for:
            self._fill(coaching)
            self._shown_for = coaching
            self.setAccessibleDescription(". ".join(t.rstrip(".") for t in self.texts()) + ".")
            announce(self, "Call summary ready at the top of the panel")
        self.setVisible(True)

    def dismiss(self) -> None:
        self._hidden_for = self.model.coaching
        self.setVisible(False)

    def texts(self) -> list[str]:
        """The visible lines, in order (tests and screenshots read these)."""
        out: list[str] = []
        for i in range(self.body.count()):
            item = self.body.itemAt(i)
            w = item.widget() if item is not None else None
            text = getattr(w, "text", None)
            if callable(text) and w is not None and not w.isHidden():
                out.append(text())
        return out

    # -- building ----------------------------------------------------------------------------------
    def _clear(self) -> None:
        while self.body.count():
            item = self.body.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setParent(None)
                w.deleteLater()

    def _add(self, text: str, name: str, **props: str) -> None:
        label = _label(text, name)
        label.setIndent(0)  # a label with a style-sheet box would indent its text by an 'x'
        for key, value in props.items():
            label.setProperty(key, value)
        self.body.addWidget(label)

    def _fill(self, c: CallCoaching) -> None:
        self._clear()
        self._add("WHAT WENT WELL", "coachingHeading")
        if c.went_well:
            for line in c.went_well:
                self._line(line, "✓ ", "you said", "well")
        else:
            self._add(NO_PRAISE, "coachingText")
        if c.try_next is not None:
            self._add("ONE THING TO TRY NEXT TIME", "coachingHeading")
            self._line(c.try_next, "→ ", "", "next")
        if c.promises:
            self._add("PROMISES TO LOG", "coachingHeading")
            for p in c.promises:
                text, when = promise_line(p)
                self._add(f"“{text}”", "promise")
                self._add(when, "promiseTime", committed="true" if p.committed else "false")
        self._add(c.closing, "coachingClosing")

    def _line(self, line: CoachingLine, mark: str, said: str, kind: str) -> None:
        self._add(mark + line.title + moment_words(line), "coachingItem", kind=kind)
        self._add(line.text, "coachingText")
        if line.cue:
            self._add(f"They said: “{line.cue}”", "coachingQuote")
        if line.quote:
            self._add(f"{said.capitalize()}: “{line.quote}”" if said else line.quote, "coachingQuote")
