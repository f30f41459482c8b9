"""The call summary card in the real sidebar window (pytest-qt, offscreen): it appears when a
call ends, says what went well, one thing to try and the promises, and never takes focus."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget  # noqa: E402

from rapport_assist.annotate import Annotator  # noqa: E402
from rapport_assist.assist import AssistModel, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import DEMO_TRANSCRIPT, SidebarOptions  # noqa: E402
from rapport_assist.gui.controller import Prefs, RuleWatcher  # noqa: E402
from rapport_assist.gui.window import SidebarWindow  # noqa: E402
from sidebar_support import ReviewBackend, PushRunner  # noqa: E402
from rapport_assist.playback import pipeline_events  # noqa: E402
from rapport_assist.rules import RuleLibrary, default_rules_dir  # noqa: E402
from rapport_assist.sources import ReplayInput  # noqa: E402
from rapport_assist.types import CallCoaching, CallSummary  # noqa: E402


@pytest.fixture
def sidebar(qtbot, tmp_path, annotator):
    prefs = Prefs(QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat))
    library = RuleLibrary([default_rules_dir()])
    model = AssistModel(prefs.budget(), FeedbackLog(tmp_path / "feedback.jsonl"))
    watcher = RuleWatcher(library, model)
    backend = ReviewBackend(SidebarOptions(rules=library.paths, warm_up=False), lambda: watcher.ruleset, annotator)
    window = SidebarWindow(model, prefs, backend, watcher)
    watcher.setParent(window)
    qtbot.addWidget(window)
    window.cards.animate = False
    window.show()
    qtbot.waitExposed(window)
    return window


def demo_events(annotator: Annotator) -> list:
    ruleset = RuleLibrary([default_rules_dir()]).ruleset
    return list(
        pipeline_events(ReplayInput(path=DEMO_TRANSCRIPT), ruleset, lambda: None, lambda: annotator, mask=False)()
    )


def test_the_summary_appears_at_call_end_and_focus_stays_in_the_crm(qtbot, sidebar, annotator):
    events = demo_events(annotator)
    crm = QWidget()
    field = QLineEdit()
    QVBoxLayout(crm).addWidget(field)
    qtbot.addWidget(crm)
    crm.show()
    qtbot.waitExposed(crm)
    crm.activateWindow()
    field.setFocus()
    qtbot.waitUntil(lambda: field.hasFocus())
    end = next(i for i, e in enumerate(events) if isinstance(e, CallCoaching))
    runner = PushRunner()
    sidebar.controller.start(runner, "live call", "live")
    runner.push(*events[:end])  # in one burst: a card redrawn in place (a merged nudge) must not flash as a window
    qtbot.waitUntil(lambda: sidebar.controller.events_seen == end)
    assert not sidebar.coaching.isVisible()  # nothing during the call
    qtbot.wait(50)
    assert field.hasFocus() and QApplication.activeWindow() is crm
    runner.push(*events[end:])
    qtbot.waitUntil(lambda: sidebar.model.ended)
    qtbot.waitUntil(lambda: sidebar.coaching.isVisible())
    lines = sidebar.coaching.texts()
    assert lines[0] == "WHAT WENT WELL" and "✓ Apologized in time (at 0:48)" in lines
    assert "ONE THING TO TRY NEXT TIME" in lines and "→ Apologize for the trouble (at 0:30)" in lines
    # praised for one angry moment, coached on another: each says which (its time, their words)
    well = lines.index("✓ Apologized in time (at 0:48)")
    assert lines[well + 2] == "They said: “Honestly, I'm going to cancel my contract.”"
    assert any(
        "third time I'm calling" in line for line in lines[lines.index("→ Apologize for the trouble (at 0:30)") :]
    )
    assert "PROMISES TO LOG" in lines
    assert any("Someone from the network team will get back to you" in line for line in lines)
    assert "no time given yet: add one when you log it" in lines
    assert not any(ch.isdigit() and "/" in line for line in lines for ch in line)  # no "3/5"-style score
    # the card sits at the top of the panel, above the nudges
    assert (
        sidebar.coaching.mapTo(sidebar, sidebar.coaching.rect().topLeft()).y()
        < sidebar.cards.mapTo(sidebar, sidebar.cards.rect().topLeft()).y()
    )
    qtbot.wait(50)
    assert field.hasFocus() and QApplication.activeWindow() is crm  # it never steals focus
    sidebar.coaching.hide_button.click()
    assert not sidebar.coaching.isVisible()
    sidebar.controller.start(PushRunner(), "next call", "live")  # a new call starts without it
    assert sidebar.model.coaching is None and not sidebar.coaching.isVisible()
    sidebar.controller.stop()


def test_a_qa_review_ends_with_the_summary(qtbot, sidebar):
    sidebar.open_qa(DEMO_TRANSCRIPT, speed=math.inf)
    qtbot.waitUntil(lambda: sidebar.model.ended, timeout=30000)
    qtbot.waitUntil(lambda: sidebar.coaching.isVisible())
    assert isinstance(sidebar.model.summary, CallSummary)
    assert "✓ Reflected their complaint (at 0:59)" in sidebar.coaching.texts()
    sidebar.controller.stop()
