"""Accessibility of the sidebar, on the real window (pytest-qt, offscreen): every control has an
accessible name, Tab walks the panel top to bottom once the agent clicks into it (and a nudge
still never takes the focus), the focus ring shows in both styles, the styles' colour pairs keep
their WCAG contrast (measured from the real style files), severity is said in words, and nothing
clips with a large system font or at 150 % and 200 % scaling."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import QColor, QFont  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from rapport_assist.assist import AssistModel, BudgetConfig, FeedbackLog  # noqa: E402
from rapport_assist.gui import contrast  # noqa: E402
from rapport_assist.gui.app import AppBackend, SidebarOptions  # noqa: E402
from rapport_assist.gui.cards import SEVERITY_WORD  # noqa: E402
from rapport_assist.gui.controller import Prefs  # noqa: E402
from rapport_assist.gui.resources import Theme, font_scale  # noqa: E402
from rapport_assist.gui.settings_dialog import SettingsDialog  # noqa: E402
from rapport_assist.gui.window import LiveUnavailable, SidebarWindow  # noqa: E402
from rapport_assist.types import (  # noqa: E402
    CallCoaching,
    CoachingLine,
    Evidence,
    Nudge,
    RecordItem,
    Speaker,
    ToneChange,
    ToneEstimate,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class Backend(AppBackend):
    """No models, no live capture: these tests push events themselves."""

    __test__ = False

    def make_live(self, prefs):
        raise LiveUnavailable("live capture not available in this build")


def build(settings_path: Path, style: str | None = None) -> SidebarWindow:
    prefs = Prefs(QSettings(str(settings_path), QSettings.Format.IniFormat))
    prefs.set_budget(BudgetConfig(min_gap_s=0))
    model = AssistModel(prefs.budget(), FeedbackLog(settings_path.with_suffix(".jsonl")))
    window = SidebarWindow(model, prefs, Backend(SidebarOptions(rules=[], warm_up=False)), None, style=style)
    window.cards.animate = False
    return window


_UTTERANCE = itertools.count(500)


def nudge(rule: str, t: float, severity: str = "medium", title: str = "Say it as a team") -> Nudge:
    index = next(_UTTERANCE)
    words = Evidence(index, Speaker.AGENT, "You need to restart the router.", t - 2, t, ("You need to",))
    return Nudge(
        rule=rule,
        severity=severity,  # type: ignore[arg-type]
        title=title,
        message="Say it as a team: 'Let's restart the router'",
        t_s=t,
        utterance_index=index,
        evidence=(words,),
        why="'We' language makes the customer a partner.",
        rewrite="Let's restart the router.",
    )


def fill(window: SidebarWindow) -> None:
    """A call's worth of panel: three cards (one of each severity), a promise, the tone, a summary."""
    model = window.model
    model.set_status("microphone", "ok", "USB headset")
    model.set_status("recognizer", "warning", "slow: 1.4× real time")
    model.on_event(ToneChange(20.0, Speaker.CUSTOMER, "calm", ToneEstimate("angry", 0.8, ("“ridiculous”",)), 3))
    model.on_event(RecordItem("promises", "promise", 22.0, 4, Speaker.AGENT, "I'll call you back", None))
    model.on_event(nudge("tip", 24.0, "low", "Use their name"))
    model.on_event(nudge("nudge", 26.0, "medium"))
    model.on_event(nudge("urgent", 28.0, "high", "Apologize for the trouble"))
    line = CoachingLine("acknowledge", "You owned the problem", "Kind words at the right time.", "I'm sorry")
    model.on_event(CallCoaching((line,), None, (), "Thanks for a calm call.", 30.0))
    QApplication.processEvents()  # a widget added to a shown layout is shown by a queued call


@pytest.fixture
def window(qtbot, tmp_path):
    win = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def unnamed(root: QWidget) -> list[str]:
    """Every control under ``root`` (a button, a drop-down, a field, anything Tab reaches) that
    has no accessible name of its own."""
    out = []
    for w in [root, *root.findChildren(QWidget)]:
        control = isinstance(w, (QAbstractButton, QComboBox, QLineEdit)) or bool(
            w.focusPolicy() & Qt.FocusPolicy.TabFocus
        )
        if w.window() is not root.window():
            continue  # a drop-down's popup list (its own window; the drop-down is named)
        if isinstance(w, QLineEdit) and w.parentWidget() is not None and w.parentWidget().accessibleName():
            continue
        if control and w.isWindow() is False and not w.accessibleName().strip():
            out.append(f"{type(w).__name__} {w.objectName()!r} {getattr(w, 'text', lambda: '')()!r}")
    return out


def test_every_control_and_informative_part_has_an_accessible_name(window):
    fill(window)
    assert len(window.cards.widgets) == 3
    assert unnamed(window) == []
    # the informative parts say what they show, not just a number or a colour
    assert window.timer_label.accessibleName() == "Call time 0:00"
    assert window.tone_meter.accessibleName() == "Customer tone"
    assert window.tone_meter.accessibleDescription().startswith("Angry")
    assert "ridiculous" in window.tone_meter.accessibleDescription()
    assert window.status_panel.dots["recognizer"].accessibleName() == "Recognizer: needs a look"
    assert window.status_panel.texts["microphone"].accessibleName() == "Microphone: USB headset"
    assert window.promises.accessibleDescription() == "1 promise, 1 without a time"
    assert window.promises.rows[0][0].accessibleName() == "Promise at 0:22: “I'll call you back”"
    assert window.coaching.accessibleName() == "Call summary"
    assert "You owned the problem" in window.coaching.accessibleDescription()
    assert window.menu_button.accessibleName() == "Menu"  # an icon-only button
    newest = window.cards.widgets[window.model.shown[0].id]
    assert newest.accessibleName() == "Urgent: Apologize for the trouble"
    description = newest.accessibleDescription()
    assert "at 0:28" in description and "Say it as a team: 'Let's restart the router'" in description
    assert "You said: “You need to restart the router.”" in description
    assert [b.accessibleName() for b in newest.tab_stops()[1:]] == [
        "Dismiss",
        "Why and a rewrite",
        "Helpful",
        "Wrong here",
        "Snooze",
    ]
    assert "Apologize for the trouble" in newest.close_button.accessibleDescription()
    assert window.cards.accessibleDescription() == "3 cards"
    assert window.history.accessibleName() == "Earlier nudges"


def test_a_new_card_is_announced_to_a_screen_reader_without_taking_focus(window, monkeypatch):
    from rapport_assist.gui import cards, coaching_view

    cards.announce(window, "the real one runs without an assistive technology too")
    said: list[str] = []
    monkeypatch.setattr(cards, "announce", lambda source, text: said.append(text))
    monkeypatch.setattr(coaching_view, "announce", lambda source, text: said.append(text))
    fill(window)
    assert said[:3] == [
        "Tip: Use their name. Say it as a team: 'Let's restart the router'",
        "Nudge: Say it as a team. Say it as a team: 'Let's restart the router'",
        "Urgent: Apologize for the trouble. Say it as a team: 'Let's restart the router'",
    ]
    assert said[3:] == ["Call summary ready at the top of the panel"]
    window.set_style("dark")  # cards redrawn: not said again
    assert len(said) == 4
    assert window.cards.card_in_focus() is None  # said, not focused


def test_the_settings_dialog_names_every_control(window):
    dialog = SettingsDialog(window.prefs, [("usb", "USB headset")], "", window)
    try:
        assert unnamed(dialog) == []
        assert dialog.mic.accessibleName() == "Microphone (you)"
        assert dialog.min_gap.accessibleName() == "Gap between new cards"
        assert dialog.hold.accessibleName() == "Hold new cards while I am speaking"
        assert dialog.never_focus.accessibleDescription()
    finally:
        dialog.deleteLater()


def test_severity_is_said_in_words_not_only_in_colour(window):
    fill(window)
    for widget in window.cards.widgets.values():
        severity = widget.card.nudge.severity
        word = SEVERITY_WORD[severity]
        assert widget.severity_label.text() == word  # the badge on the card, "URGENT" / "NUDGE" / "TIP"
        assert widget.accessibleName().startswith(word.capitalize() + ":")
    assert {w.severity_label.text() for w in window.cards.widgets.values()} == {"URGENT", "NUDGE", "TIP"}
    history = window.history
    window.model.dismiss(window.model.shown[0].id)
    window.history.sync()
    assert history.labels and history.labels[0].accessibleName().startswith("Urgent: ")


def focus_path(qtbot, window: SidebarWindow, presses: int, back: bool = False) -> list[QWidget]:
    path = []
    for _ in range(presses):
        target = QApplication.focusWidget() or window
        qtbot.keyClick(target, Qt.Key.Key_Backtab if back else Qt.Key.Key_Tab)
        path.append(QApplication.focusWidget())
    return path


def activate(qtbot, window: SidebarWindow) -> None:
    """What clicking into the panel does outside a live call: the window becomes active."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_tab_walks_the_panel_top_to_bottom_and_back(qtbot, window):
    fill(window)
    window.coaching.dismiss()  # (the summary's stops are checked below)
    assert window.accepts_focus()  # not in a live call
    activate(qtbot, window)
    # clicking into the panel: Qt gives the first Tab stop the focus (the window had none)
    assert QApplication.focusWidget() in (None, window.call_button)
    window.call_button.setFocus(Qt.FocusReason.TabFocusReason)
    cards = [window.cards.widgets[c.id] for c in window.model.shown]
    expected = [window.menu_button]
    for card in cards:  # newest first, each: the card, then Dismiss, Why, Helpful, Wrong, Snooze
        expected += card.tab_stops()
    expected += [
        window.promise_section.toggle,
        window.history_section.toggle,
        window.transcript_section.toggle,  # the transcript itself is folded away
        window.status_section.toggle,
        window.call_button,  # round again
    ]
    path = focus_path(qtbot, window, len(expected))
    assert [describe(w) for w in path] == [describe(w) for w in expected]
    back = focus_path(qtbot, window, len(expected) - 1, back=True)
    assert [describe(w) for w in back] == [describe(w) for w in reversed(expected[:-1])]
    assert all(w.hasFocus() is (w is window.menu_button) for w in expected)


def describe(w: QWidget | None) -> str:
    return "none" if w is None else f"{type(w).__name__}:{w.accessibleName()}"


def test_the_summary_the_transcript_and_the_review_bar_are_tab_stops_when_shown(qtbot, window):
    fill(window)
    window.transcript_section.toggle.setChecked(True)
    window.qa_bar.setVisible(True)
    activate(qtbot, window)
    path = focus_path(qtbot, window, 40)
    for stop in (
        window.coaching,
        window.coaching.hide_button,
        window.transcript,
        window.open_button,
        window.play_button,
        window.speed_combo,
        window.timeline,
    ):
        assert stop in path, describe(stop)
    assert path.index(window.coaching) < path.index(window.cards.widgets[window.model.shown[0].id])
    assert path.index(window.transcript_section.toggle) + 1 == path.index(window.transcript)
    assert path.index(window.status_section.toggle) < path.index(window.open_button)


def test_escape_dismisses_the_card_in_focus_and_the_focus_moves_to_the_next_card(qtbot, window):
    fill(window)
    activate(qtbot, window)
    shown = [c.id for c in window.model.shown]
    middle = window.cards.widgets[shown[1]]
    middle.helpful_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(middle.helpful_button, Qt.Key.Key_Space)  # a focused button works from the keyboard
    assert middle.helpful_button.isChecked()
    middle.snooze_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(middle.snooze_button, Qt.Key.Key_Escape)
    assert [c.id for c in window.model.shown] == [shown[0], shown[2]]  # that card, not the newest
    assert QApplication.focusWidget() is window.cards.widgets[shown[2]]  # the card below it
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.cards.widgets[shown[0]]  # then the one above
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert window.model.shown == [] and QApplication.focusWidget() is window.promise_section.toggle


def test_a_click_on_a_control_leaves_the_keyboard_focus_alone(qtbot, window):
    crm = QWidget()
    field = QLineEdit()
    QVBoxLayout(crm).addWidget(field)
    qtbot.addWidget(crm)
    crm.show()
    qtbot.waitExposed(crm)
    crm.activateWindow()
    field.setFocus()
    qtbot.waitUntil(lambda: field.hasFocus())
    window.model.on_event(nudge("nudge", 26.0))
    card = next(iter(window.cards.widgets.values()))
    for button in (card.why_button, card.helpful_button, window.promise_section.toggle, window.menu_button):
        assert button.focusPolicy() == Qt.FocusPolicy.TabFocus  # Tab only, never a click
    qtbot.mouseClick(card.why_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.promise_section.toggle, Qt.MouseButton.LeftButton)
    assert field.hasFocus() and QApplication.activeWindow() is crm


@pytest.mark.parametrize("style", ["light", "dark"])
def test_the_focus_ring_shows_in_both_styles(qtbot, tmp_path, style):
    win = build(tmp_path / "s.ini", style=style)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    fill(win)
    activate(qtbot, win)
    card = win.cards.widgets[win.model.shown[0].id]
    ring = QColor(win.theme.palette["focus"]).rgb()
    for widget, colour in (
        (card.helpful_button, ring),
        (card, ring),
        (win.promise_section.toggle, ring),
        (win.call_button, QColor(win.theme.palette["text"]).rgb()),  # on the accent-filled button
    ):
        win.setFocus()  # no control in focus
        before = widget.grab().toImage()
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(widget.hasFocus)
        after = widget.grab().toImage()
        pixels = {after.pixel(x, y) for x in range(after.width()) for y in range(after.height())}
        assert before != after, describe(widget)
        assert colour in pixels, (describe(widget), hex(colour))
        unfocused = {before.pixel(x, y) for x in range(before.width()) for y in range(before.height())}
        assert colour not in unfocused or widget is card, describe(widget)


@pytest.mark.parametrize("style", ["light", "dark"])
def test_the_menu_is_drawn_in_the_style_colours(qtbot, tmp_path, style):
    """The menu took Qt's default light colours in the dark style too (black on white, the
    shortcut list #bebebe on white, 1.9:1): it is drawn in the style's surface, text, accent and
    muted colours, the pairs test_every_colour_pair_of_both_styles_keeps_its_contrast measures."""
    from PySide6.QtCore import QPoint

    win = build(tmp_path / "s.ini", style=style)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    menu = win.menu
    menu.popup(QPoint(0, 0))
    qtbot.waitUntil(menu.isVisible)
    actions = [a for a in menu.actions() if not a.isSeparator()]
    menu.setActiveAction(actions[0])
    QApplication.processEvents()
    image = menu.grab().toImage()
    palette = win.theme.palette

    def colours(action) -> set[str]:
        r = menu.actionGeometry(action)
        return {
            f"#{image.pixel(x, y) & 0xFFFFFF:06x}"
            for x in range(r.left(), r.right())
            for y in range(r.top(), r.bottom())
        }

    chosen, plain, shortcut = colours(actions[0]), colours(actions[1]), colours(actions[-1])
    assert not actions[-1].isEnabled()  # a line of the shortcut list
    assert palette["accent"] in chosen and palette["accent_text"] in chosen
    assert palette["surface"] in plain and palette["text"] in plain and "#ffffff" not in plain - {palette["surface"]}
    assert palette["muted"] in shortcut and "#bebebe" not in shortcut
    menu.hide()


def test_the_contrast_formula():
    """WCAG 2.1's own reference points: black on white 21:1, a colour on itself 1:1, #767676 on
    white is the lightest grey that passes 4.5:1."""
    assert contrast.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast.contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast.contrast_ratio("#2f6f9f", "#2f6f9f") == pytest.approx(1.0)
    assert contrast.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast.contrast_ratio("#777777", "#ffffff") < 4.5


def test_every_colour_pair_of_both_styles_keeps_its_contrast():
    """Read from ui/styles (the QSS and both palettes): body text 4.5:1, focus rings, control
    edges, status dots, icons and the tone bar 3:1."""
    measured = contrast.measure()
    assert {m.style for m in measured} == {"light", "dark"} and len(measured) == 2 * len(contrast.PAIRS)
    failing = [
        f"{m.style}: {m.pair.what} {m.fg} on {m.bg} = {m.ratio:.2f} < {m.pair.minimum}" for m in measured if not m.ok
    ]
    assert failing == []


def test_every_text_colour_of_the_style_sheet_is_measured():
    """A rule that gives text a colour and is in no pair would escape the contrast test."""
    qss, _ = contrast.style_files()
    covered = {p.fg for p in contrast.PAIRS}
    missing = [
        sels for sels in contrast.colour_rules(qss)
        if not set(sels) & covered and not any(s.split(" |")[0] in contrast.EXEMPT for s in sels)
    ]  # fmt: skip
    assert missing == []


def test_a_colour_too_light_fails_the_contrast_check(tmp_path, monkeypatch):
    """The measurement reads the files: a copy of ui/ with a paler muted grey is caught."""
    import shutil

    copy = tmp_path / "ui"
    shutil.copytree(ROOT / "ui", copy)
    palette = copy / "styles" / "light.palette"
    palette.write_text(palette.read_text().replace("muted = #5f6b78", "muted = #9aa4ae"))
    monkeypatch.setenv("RAPPORT_ASSIST_UI", str(copy))
    failing = {m.pair.what for m in contrast.measure() if not m.ok and m.style == "light"}
    assert {"card why", "status line", "section title"} <= failing


def test_font_sizes_follow_a_larger_system_font():
    assert font_scale(9.0) == 1.0 and font_scale(10.0) == 1.0 and font_scale(-1) == 1.0
    assert font_scale(15.0) == 1.5
    assert "font-size: 15pt" in Theme("light", 1.5).style_sheet()  # the 10pt default, scaled
    assert "font-size: 10pt" in Theme("light").style_sheet()


# -- nothing clips: a large font in this process, 150 % and 200 % scaling in their own ---------


def clipped(window: SidebarWindow) -> list[str]:
    """Visible labels and buttons that are cut: narrower or lower than their text needs, or
    sticking out of the panel (the scrolled part has no horizontal scroll bar)."""
    out = []
    body = window.scroll_area.widget()
    viewport = window.scroll_area.viewport()
    if body.width() > viewport.width():
        out.append(f"the scrolled part is {body.width()} px wide in a {viewport.width()} px view")
    for w in window.findChildren(QWidget):
        if not w.isVisibleTo(window) or w.isWindow():
            continue
        name = f"{type(w).__name__} {w.objectName()!r} {w.accessibleName()!r}"
        if isinstance(w, QLabel) and w.text():
            if w.wordWrap():
                need = w.heightForWidth(w.width())
                if need > w.height() + 1:
                    out.append(f"{name}: {w.height()} px high, the text needs {need}")
            elif w.sizeHint().width() > w.width() + 1:
                out.append(f"{name}: {w.width()} px wide, the text needs {w.sizeHint().width()}")
        if isinstance(w, QAbstractButton):
            hint = w.minimumSizeHint() if w.minimumSizeHint().isValid() else w.sizeHint()
            if hint.width() > w.width() + 1 or hint.height() > w.height() + 1:
                out.append(f"{name}: {w.width()}×{w.height()} px, needs {hint.width()}×{hint.height()}")
        top_left = w.mapTo(window, w.rect().topLeft())
        if top_left.x() + w.width() > window.width() + 1:
            out.append(f"{name}: its right edge is past the panel's")
    return out


def settle_layout(qtbot, window: SidebarWindow) -> None:
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)


def open_everything(window: SidebarWindow) -> None:
    fill(window)
    for section in (window.promise_section, window.history_section, window.status_section):
        section.toggle.setChecked(True)
    for card in window.cards.widgets.values():
        card.why_button.setChecked(True)
    window.model.dismiss(window.model.shown[-1].id)  # a line in Earlier
    window.model.on_event(nudge("late", 29.0, "low", "Confirm the next step with the customer"))


@pytest.mark.parametrize("points", [15.0, 20.0])
def test_nothing_clips_with_a_large_system_font(qtbot, tmp_path, points):
    """1.5 and 2 × the 10 pt the style sheet was drawn for, in the 360 px panel: buttons shorten
    ("Why", an icon-only Snooze), a card's title takes its own line, labels wrap."""
    app = QApplication.instance()
    before = QFont(app.font())
    big = QFont(before)
    big.setPointSizeF(points)
    app.setFont(big)
    try:
        win = build(tmp_path / "big.ini")
        assert win.theme.scale == points / 10
        qtbot.addWidget(win)
        win.resize(360, 820)
        win.show()
        qtbot.waitExposed(win)
        open_everything(win)
        settle_layout(qtbot, win)
        assert clipped(win) == []
        below = [c for c in win.cards.widgets.values() if c._top.indexOf(c.title_label) < 0]
        assert bool(below) is (points == 20.0)  # a title on its own line only with the larger font
        win.resize(720, 820)  # a wider panel: the cards go back to their drawn layout
        settle_layout(qtbot, win)
        assert clipped(win) == []
        for card in win.cards.widgets.values():
            assert card._top.indexOf(card.title_label) == 1 and card.why_button.text() == card.why_text
        dialog = SettingsDialog(win.prefs, [("usb", "USB headset microphone")], "", win)
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.width() >= dialog.sizeHint().width() and dialog.height() >= dialog.sizeHint().height()
        dialog.close()
    finally:
        app.setFont(before)


PROBE = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
import test_sidebar_a11y as t
win = t.build(Path({ini!r}))
win.resize(360, 820)
win.show()
t.open_everything(win)
for _ in range(20):
    app.processEvents()
print(json.dumps({{"ratio": win.devicePixelRatio(), "clipped": t.clipped(win)}}))
"""


@pytest.mark.parametrize("scale", ["1.5", "2"])
def test_nothing_clips_at_150_and_200_percent(tmp_path, scale):
    """QT_SCALE_FACTOR has to be set before Qt starts: the panel is built in a child process (on
    the same platform as this one, offscreen unless a display was chosen)."""
    env = dict(os.environ, QT_SCALE_FACTOR=scale, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(HERE)]))
    code = PROBE.format(tests=str(HERE), ini=str(tmp_path / "probe.ini"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ratio"] == pytest.approx(float(scale))
    assert result["clipped"] == []
