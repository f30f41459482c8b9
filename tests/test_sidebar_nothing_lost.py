"""Nothing the agent or a QA reviewer does in the panel is lost to bad input or a failing disk:
a verdict that could not be written can be given again, a device choice the panel cannot see
is kept (real Qt window and dialogs, offscreen; the bundled demo call replayed as the call)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402

from rapport_assist.assist import AssistModel, BudgetConfig, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import DEMO_TRANSCRIPT, SidebarOptions  # noqa: E402
from rapport_assist.gui.controller import Prefs, RuleWatcher  # noqa: E402
from rapport_assist.gui.window import SidebarWindow  # noqa: E402
from rapport_assist.rules import RuleLibrary, default_rules_dir  # noqa: E402
from sidebar_support import ReviewBackend  # noqa: E402


@pytest.fixture(scope="module")
def annotator():
    from rapport_assist.annotate import Annotator

    return Annotator()


def sidebar(qtbot, tmp_path: Path, annotator, feedback: Path) -> SidebarWindow:
    prefs = Prefs(QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat))
    prefs.set_budget(BudgetConfig(min_gap_s=0))
    library = RuleLibrary([default_rules_dir()])
    model = AssistModel(prefs.budget(), FeedbackLog(feedback))
    watcher = RuleWatcher(library, model)
    backend = ReviewBackend(SidebarOptions(rules=library.paths, warm_up=False), lambda: watcher.ruleset, annotator)
    window = SidebarWindow(model, prefs, backend, watcher)
    watcher.setParent(window)
    qtbot.addWidget(window)
    window.cards.animate = False
    window.show()
    qtbot.waitExposed(window)
    return window


def review_demo_at(qtbot, window: SidebarWindow, t_s: float) -> None:
    """The demo call reviewed to its end, then paused at ``t_s`` (cards on screen)."""
    window.open_qa(DEMO_TRANSCRIPT, speed=math.inf)
    qtbot.waitUntil(lambda: window.model.ended, timeout=30000)
    window.controller.runner.pause()
    window.seek(t_s)
    qtbot.waitUntil(lambda: window.model.now_s >= t_s and len(window.model.shown) >= 2, timeout=10000)


def test_a_verdict_that_could_not_be_written_can_be_given_again(qtbot, tmp_path, annotator):
    # the feedback folder cannot be made (a file is in its way: a full or broken disk says the same)
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    feedback = blocker / "feedback.jsonl"
    window = sidebar(qtbot, tmp_path, annotator, feedback)
    review_demo_at(qtbot, window, 68.0)
    widget = window.cards.newest()
    assert widget is not None
    card_id = widget.card.id
    qtbot.mouseClick(widget.helpful_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status_panel.notice.isVisible())
    assert window.status_panel.notice.text().startswith("feedback not saved: cannot write feedback to")
    # nothing was saved, so nothing says it was: the card takes a verdict again
    card = window.model.find_card(card_id)
    assert card is not None and card.verdict is None
    widget = window.cards.widgets[card_id]
    assert widget.helpful_button.isEnabled() and widget.wrong_button.isEnabled()
    assert not widget.helpful_button.isChecked()
    # the folder is fixed: the same click now saves the verdict
    blocker.unlink()
    qtbot.mouseClick(widget.helpful_button, Qt.MouseButton.LeftButton)
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["verdict"] == "helpful" and record["rule"] == widget.card.nudge.rule
    assert window.model.find_card(card_id).verdict == "helpful"
    assert not widget.helpful_button.isEnabled()
    window.controller.stop()


def test_settings_ok_keeps_a_saved_device_that_is_not_plugged_in(qtbot, tmp_path, monkeypatch):
    """The headset saved for live calls is unplugged (or the devices cannot be listed) while the
    agent opens Settings to change the style: OK must not turn the choice into "System default"."""
    from PySide6.QtWidgets import QApplication

    from rapport_assist.gui.settings_dialog import SettingsDialog
    from rapport_assist.settings import load_choices
    from sidebar_support import build

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    window = build(tmp_path / "sidebar.ini")
    qtbot.addWidget(window)
    headset, line = "alsa:usb-headset-unplugged", "pulse:softphone_line.monitor"
    window.prefs.set("devices/mic", headset)
    window.prefs.set("devices/customer", line)
    devices, _note = window.backend.devices()  # this machine's (None: they cannot be listed here)
    assert headset not in [ident for ident, _label in devices or []]
    accepted: list[SettingsDialog] = []

    def accept() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog):
            QTimer.singleShot(20, accept)
            return
        dialog.style_combo.setCurrentIndex(dialog.style_combo.findData("dark"))
        accepted.append(dialog)
        dialog.accept()

    QTimer.singleShot(0, accept)
    window.open_settings()
    assert accepted and window.prefs.style == "dark"
    assert (window.prefs.get("devices/mic"), window.prefs.get("devices/customer")) == (headset, line)
    saved = load_choices()  # shared with 'rapport-assist live'
    assert (saved.agent_device, saved.customer_device) == (headset, line)
    # the dialog named them, so the agent can see what is kept
    dialog = accepted[0]
    assert dialog.mic.currentData() == headset and "not connected" in dialog.mic.currentText()
    window.close()


def test_the_transcript_takes_a_new_style_for_the_lines_already_shown(qtbot, tmp_path, annotator):
    """Ctrl+D mid-review: the lines already in the transcript are drawn in the dark style's
    colours too (the light style's speaker colours are 2.7:1 on the dark background)."""
    window = sidebar(qtbot, tmp_path, annotator, tmp_path / "feedback.jsonl")
    assert window.theme.name == "light"
    window.open_qa(DEMO_TRANSCRIPT, speed=math.inf)
    qtbot.waitUntil(lambda: window.model.ended, timeout=30000)
    light = window.theme.palette
    assert light["accent"] in window.transcript.toHtml().lower()
    window.dark_action.toggle()  # as Ctrl+D
    dark = window.theme.palette
    assert window.theme.name == "dark" and dark["accent"] != light["accent"]
    drawn = window.transcript.toHtml().lower()
    assert light["accent"] not in drawn and light["muted"] not in drawn
    assert dark["accent"] in drawn and dark["muted"] in drawn
    assert window.transcript.document().blockCount() >= len(window.model.transcript)
    window.controller.stop()


def test_a_verdict_given_in_a_review_survives_a_seek(qtbot, tmp_path, annotator):
    """A QA reviewer marks a card, then seeks back 10 s to hear it again (Ctrl+Left): the card
    still shows the verdict (its buttons do not offer a second one), and a card marked wrong
    does not come back on screen."""
    feedback = tmp_path / "feedback.jsonl"
    window = sidebar(qtbot, tmp_path, annotator, feedback)
    review_demo_at(qtbot, window, 68.0)
    helpful, wrong = window.model.shown[0], window.model.shown[1]
    keys = {c.id: (c.nudge.rule, c.nudge.t_s) for c in (helpful, wrong)}
    qtbot.mouseClick(window.cards.widgets[helpful.id].helpful_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.cards.widgets[wrong.id].wrong_button, Qt.MouseButton.LeftButton)
    assert len(feedback.read_text().splitlines()) == 2
    assert keys[wrong.id] not in [(c.nudge.rule, c.nudge.t_s) for c in window.model.shown]
    window.seek(window.controller.call_time_s() - 1.0)  # back a little: both were on screen then
    qtbot.waitUntil(lambda: window.model.now_s < 68.0, timeout=10000)
    shown = {(c.nudge.rule, c.nudge.t_s): c for c in window.model.shown}
    assert keys[wrong.id] not in shown  # marked wrong: it stays off the screen
    again = shown[keys[helpful.id]]
    assert again.verdict == "helpful"
    widget = window.cards.widgets[again.id]
    assert widget.helpful_button.isChecked() and not widget.helpful_button.isEnabled()
    earlier = [label.text() for label in window.history.labels]
    assert any("marked wrong" in text for text in earlier), earlier
    window.controller.stop()


def test_reviews_that_ended_are_not_kept_for_the_rest_of_the_session(qtbot, tmp_path, annotator):
    """A QA reviewer opens one call after another all day: each review's runner (its playback
    holds every event of the call) is let go once its threads have ended, not kept until exit."""
    import gc
    import weakref

    window = sidebar(qtbot, tmp_path, annotator, tmp_path / "feedback.jsonl")
    gone: list[weakref.ref] = []
    for _ in range(4):
        window.open_qa(DEMO_TRANSCRIPT, speed=math.inf)
        qtbot.waitUntil(lambda: window.model.ended, timeout=30000)
        runner = window.controller.runner
        gone.append(weakref.ref(runner))
        del runner
    window.controller.stop()
    qtbot.waitUntil(lambda: not any(r() is not None and r().running for r in gone), timeout=10000)
    window.open_demo(paused=True)  # the next review: the ended ones go
    gc.collect()
    assert len(window.controller.stopped) <= 1
    assert sum(r() is not None for r in gone) == 0
    window.controller.stop()


def test_a_rule_snoozed_in_a_review_stays_snoozed_after_a_seek(qtbot, tmp_path, annotator):
    """A QA reviewer snoozes a rule ("no more cards from it in this call"), then seeks back: the
    seek is the same call, so that rule's cards stay off the screen."""
    window = sidebar(qtbot, tmp_path, annotator, tmp_path / "feedback.jsonl")
    review_demo_at(qtbot, window, 68.0)
    card = window.model.shown[0]
    rule = card.nudge.rule
    qtbot.mouseClick(window.cards.widgets[card.id].snooze_button, Qt.MouseButton.LeftButton)
    assert rule in window.model.snoozed and rule not in [c.nudge.rule for c in window.model.shown]
    window.seek(window.controller.call_time_s() - 1.0)  # back a little: the card was on screen then
    qtbot.waitUntil(lambda: window.model.now_s < 68.0, timeout=10000)
    assert rule in window.model.snoozed
    assert rule not in [c.nudge.rule for c in window.model.shown]
    window.controller.stop()
