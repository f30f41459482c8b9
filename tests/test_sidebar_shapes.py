"""Colour is never the only sign of a state on the sidebar's screen (pytest-qt, real widgets,
offscreen): a status dot's level, the severity of an earlier nudge, of a card's badge and of a
mark on the QA timeline each have a shape of their own (gui/marks.py).

Each widget is rendered onto a transparent image without its background and only where it is
drawn (the alpha mask) is compared, never its colours: two states must differ there, and a state
must be drawn the same in the light and the dark style (only its colour changes)."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QFont, QImage, QRegion  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from rapport_assist.playback import Mark  # noqa: E402
from rapport_assist.types import SEVERITIES  # noqa: E402
from test_sidebar_a11y import build, fill  # noqa: E402

LEVELS = ("ok", "info", "warning", "error", "off")
STYLES = ("light", "dark")

Mask = frozenset[tuple[int, int]]


def mask(widget: QWidget) -> Mask:
    """The pixels ``widget`` covers (alpha at least half), drawn alone on a transparent image:
    its shape, whatever its colours."""
    image = QImage(widget.size(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    widget.render(image, QPoint(), QRegion(), QWidget.RenderFlag.DrawChildren)
    return frozenset(
        (x, y) for x in range(image.width()) for y in range(image.height()) if (image.pixel(x, y) >> 24) >= 128
    )


def apart(a: Mask, b: Mask) -> int:
    """How many pixels one mask covers and the other does not."""
    return len(a ^ b)


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


@pytest.fixture
def windows(qtbot, tmp_path):
    """The panel in both styles."""
    out = {}
    for style in STYLES:
        win = build(tmp_path / f"{style}.ini", style=style)
        qtbot.addWidget(win)
        win.resize(360, 820)
        win.show()
        qtbot.waitExposed(win)
        out[style] = win
    return out


def dot_masks(win) -> dict[str, Mask]:
    """The microphone row's dot at each level, as the model sets it."""
    out = {}
    for level in LEVELS:
        win.model.set_status("microphone", level, "USB headset")
        win.status_panel.sync()
        settle()
        out[level] = mask(win.status_panel.dots["microphone"])
    return out


def assert_all_apart(masks: dict[str, Mask], least: int) -> None:
    for (a, ma), (b, mb) in itertools.combinations(masks.items(), 2):
        assert apart(ma, mb) >= least, f"{a} and {b} are drawn alike ({apart(ma, mb)} px apart)"


def test_a_status_dot_says_its_level_by_its_shape_the_same_in_both_styles(windows):
    masks = {style: dot_masks(win) for style, win in windows.items()}
    for level in LEVELS:
        assert masks["light"][level] == masks["dark"][level], level  # only the colour changes
        assert masks["light"][level], level  # every level is drawn
    assert_all_apart(masks["light"], least=6)


def test_a_status_dot_grows_with_a_large_font_and_keeps_its_shapes(qtbot, tmp_path):
    """At 2 × the designed 10 pt the shapes are larger (still read at a glance), still apart."""
    app = QApplication.instance()
    before = QFont(app.font())
    sizes = {}
    try:
        for points in (10.0, 20.0):
            big = QFont(before)
            big.setPointSizeF(points)
            app.setFont(big)
            win = build(tmp_path / f"{points}.ini")
            qtbot.addWidget(win)
            win.show()
            qtbot.waitExposed(win)
            masks = dot_masks(win)
            assert_all_apart(masks, least=6 if points == 10.0 else 15)
            ok = masks["ok"]
            sizes[points] = max(x for x, _ in ok) - min(x for x, _ in ok) + 1
            dot = win.status_panel.dots["microphone"]
            assert dot.size() == dot.sizeHint()  # every level: the same box, nothing moves
    finally:
        app.setFont(before)
    assert sizes[20.0] >= 1.6 * sizes[10.0], sizes


def history_masks(win) -> dict[str, Mask]:
    """The earlier nudges' lines of each severity, given the same words (only the mark differs)."""
    fill(win)
    while win.model.shown:
        win.model.dismiss(win.model.shown[0].id)
    win.history.sync()
    settle()
    out = {}
    for label, card in zip(win.history.labels, win.model.history):
        label.setText("0:24  Use their name")
        out[card.nudge.severity] = mask(label)
    assert set(out) == set(SEVERITIES)
    return out


def test_an_earlier_nudge_line_shows_its_severity_by_shape_in_both_styles(windows):
    masks = {style: history_masks(win) for style, win in windows.items()}
    for severity in SEVERITIES:
        assert masks["light"][severity] == masks["dark"][severity], severity
    assert_all_apart(masks["light"], least=6)


def test_a_card_badge_has_the_shape_of_its_severity_beside_its_word(windows):
    """The word says it (URGENT, NUDGE, TIP); the shape beside it is the one the timeline and the
    earlier nudges use, so the cards show what the shapes mean."""
    for style, win in windows.items():
        fill(win)
        settle()
        badges = {w.card.nudge.severity: w.severity_label for w in win.cards.widgets.values()}
        assert set(badges) == set(SEVERITIES)
        for label in badges.values():
            label.setText("TIP")  # the same word on each: only the shape is left to tell them apart
        settle()
        assert_all_apart({s: mask(b) for s, b in badges.items()}, least=6)
        while win.model.shown:
            win.model.dismiss(win.model.shown[0].id)
        win.history.sync()
        shapes = {card.nudge.severity: label.shape for label, card in zip(win.history.labels, win.model.history)}
        assert shapes == {s: b.shape for s, b in badges.items()}, style


def timeline_masks(win) -> dict[str, Mask]:
    timeline = win.timeline
    timeline.set_state(10.0, 100.0, [])
    settle()
    out = {}
    for severity in SEVERITIES:
        timeline.set_state(10.0, 100.0, [Mark(50.0, severity, "rule", "Title")])
        out[severity] = mask(timeline)
    timeline.set_state(10.0, 100.0, [])
    out["none"] = mask(timeline)
    return out


def test_a_timeline_mark_shows_its_severity_by_shape_in_both_styles(windows):
    masks = {style: timeline_masks(win) for style, win in windows.items()}
    for severity in SEVERITIES:
        assert masks["light"][severity] == masks["dark"][severity], severity
        assert masks["light"][severity] > masks["light"]["none"]  # the mark is drawn
    assert_all_apart({s: m for s, m in masks["light"].items() if s != "none"}, least=6)
