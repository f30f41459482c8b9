"""The sidebar as a real Qt window (pytest-qt, offscreen): cards, focus, budget, feedback, rule
hot-reload, QA replay of the demo call, docking and styles."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget  # noqa: E402

from rapport_assist.assist import AssistModel, BudgetConfig, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import (  # noqa: E402
    DEMO_TRANSCRIPT,
    InterruptCloses,
    SidebarOptions,
    demo_hint,
)
from rapport_assist.gui.controller import CallController, Prefs, RuleWatcher  # noqa: E402
from rapport_assist.gui.window import LiveUnavailable, SidebarWindow  # noqa: E402
from rapport_assist.playback import Playback  # noqa: E402
from rapport_assist.rules import RuleLibrary, default_rules_dir  # noqa: E402
from rapport_assist.types import CallSummary, Evidence, Nudge, Partial, Speaker, TurnRevision, Utterance  # noqa: E402
from sidebar_support import ReviewBackend, PushRunner  # noqa: E402
from team_rules_fixture import TEAM_RULES  # noqa: E402


@pytest.fixture(scope="module")
def annotator():
    from rapport_assist.annotate import Annotator

    return Annotator()


@pytest.fixture
def make_sidebar(qtbot, tmp_path, annotator):
    def make(rules: list[Path] | None = None, budget: BudgetConfig | None = None, style: str | None = None):
        settings = QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat)
        prefs = Prefs(settings)
        if budget is not None:
            prefs.set_budget(budget)
        library = RuleLibrary(rules or [default_rules_dir()])
        model = AssistModel(prefs.budget(), FeedbackLog(tmp_path / "feedback.jsonl"))
        watcher = RuleWatcher(library, model)
        backend = ReviewBackend(SidebarOptions(rules=library.paths, warm_up=False), lambda: watcher.ruleset, annotator)
        window = SidebarWindow(model, prefs, backend, watcher, style=style)
        watcher.setParent(window)
        qtbot.addWidget(window)
        window.cards.animate = False
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


_OWN_UTTERANCE = itertools.count(100)


def make_nudge(rule: str = "you-not-we", t: float = 30.2, severity: str = "medium") -> Nudge:
    """A nudge about an utterance of its own (each is its own moment, so its own card)."""
    index = next(_OWN_UTTERANCE)
    ev = Evidence(
        index, Speaker.AGENT, "Thank you, Mark. You need to restart the router.", 26.5, 30.2, ("You need to",)
    )
    return Nudge(
        rule=rule,
        severity=severity,
        title="Say it as a team",  # type: ignore[arg-type]
        message="Say it as a team: 'Let's restart the router'",
        t_s=t,
        utterance_index=index,
        evidence=(ev,),
        why="'We' language makes the customer a partner.",
        rewrite="Let's restart the router.",
        rule_source="rules/headline.yaml:183",
    )


def test_a_nudge_shows_a_card_with_its_words_and_focus_stays_in_the_crm(qtbot, make_sidebar):
    crm = QWidget()
    crm.setWindowTitle("CRM")
    field = QLineEdit()
    QVBoxLayout(crm).addWidget(field)
    qtbot.addWidget(crm)
    crm.show()
    qtbot.waitExposed(crm)
    window = make_sidebar()
    crm.activateWindow()
    field.setFocus()
    qtbot.waitUntil(lambda: field.hasFocus())
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    assert not window.accepts_focus()  # live: the panel never takes keyboard focus
    qtbot.wait(50)
    assert field.hasFocus()
    runner.push(make_nudge())
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 1)
    card = next(iter(window.cards.widgets.values()))
    assert card.title_label.text() == "Say it as a team"
    assert card.message_label.text() == "Say it as a team: 'Let's restart the router'"
    assert "You said" in card.evidence_label.text() and "restart the router" in card.evidence_label.text()
    assert card.severity_label.text() == "NUDGE"
    assert card.details.isHidden()
    card.why_button.click()
    assert not card.details.isHidden() and "Let's restart the router." in card.rewrite_label.text()
    qtbot.wait(50)
    assert field.hasFocus() and QApplication.focusWidget() is field
    assert QApplication.activeWindow() is crm
    window.controller.stop()
    assert runner.stopped and window.accepts_focus()


def test_a_live_caption_shows_in_the_transcript_and_the_final_line_replaces_it(qtbot, make_sidebar):
    window = make_sidebar()
    window.transcript_section.toggle.setChecked(True)
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    view = window.transcript
    runner.push(Utterance(0, Speaker.CUSTOMER, "My internet keeps dropping.", 1.0, 3.0))
    qtbot.waitUntil(lambda: "keeps dropping" in view.toPlainText())
    runner.push(Partial(Speaker.AGENT, 3.6, 4.8, "I'm sorry", "to hear"))
    qtbot.waitUntil(lambda: view.captions == ["I'm sorry to hear"])
    lines = view.toPlainText().splitlines()
    assert lines[-1].startswith("You") and "I'm sorry to hear …" in lines[-1]
    assert view.document().lastBlock().text().endswith("…")
    caption_html = view.toHtml()
    assert "italic" in caption_html  # the caption looks provisional
    runner.push(Partial(Speaker.AGENT, 3.6, 5.6, "I'm sorry to hear that", "let me"))  # it grows in place
    qtbot.waitUntil(lambda: view.captions == ["I'm sorry to hear that let me"])
    assert sum("I'm sorry" in line for line in view.toPlainText().splitlines()) == 1
    runner.push(Utterance(1, Speaker.AGENT, "I'm sorry to hear that, let me check the line.", 4.0, 6.5))
    qtbot.waitUntil(lambda: "check the line." in view.toPlainText())
    text = view.toPlainText()
    assert view.captions == [] and "…" not in text
    assert text.count("I'm sorry") == 1 and text.splitlines()[-1].startswith("You")
    assert text.splitlines()[0].startswith("Customer")
    assert window.model.captions == {}  # one model change took the caption and added the line
    window.controller.stop()


def test_a_turn_heard_again_redraws_its_transcript_lines(qtbot, make_sidebar):
    window = make_sidebar()
    window.transcript_section.toggle.setChecked(True)
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    view = window.transcript
    runner.push(Utterance(0, Speaker.CUSTOMER, "My name is", 1.0, 1.8))
    runner.push(Utterance(1, Speaker.CUSTOMER, "That's really good.", 2.6, 4.1))
    qtbot.waitUntil(lambda: "really good" in view.toPlainText())
    revised = Utterance(1, Speaker.CUSTOMER, "Patricia Williams.", 2.6, 4.1)
    runner.push(TurnRevision(Speaker.CUSTOMER, (revised,), ("That's really good.",), 4.5, turn=0))
    qtbot.waitUntil(lambda: "Patricia Williams." in view.toPlainText())
    lines = view.toPlainText().splitlines()
    assert len(lines) == 2 and "really good" not in view.toPlainText()
    assert lines[0].endswith("My name is") and lines[1].endswith("Patricia Williams. ↻")
    window.controller.stop()


def test_ctrl_c_closes_the_window_as_its_own_close_and_stops_the_call(qtbot, make_sidebar):
    """SIGINT (Ctrl-C in the terminal) raises no KeyboardInterrupt in a slot: the sidebar's
    handler closes the window on the event loop's next turn, which stops the call; once."""
    window = make_sidebar()
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    closes: list[bool] = []
    interrupt = InterruptCloses(lambda: closes.append(True) or window.close())
    try:
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: bool(closes), timeout=3000)
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while closing: nothing more
        qtbot.wait(100)
    finally:
        interrupt.restore()
    assert interrupt.interrupted and closes == [True]
    assert not window.isVisible() and runner.stopped and not window.controller.running
    assert signal.getsignal(signal.SIGINT) is not interrupt._on_sigint  # the handler before it is back


def test_the_budget_holds_back_a_flood(qtbot, make_sidebar):
    window = make_sidebar(budget=BudgetConfig(max_visible=3, min_gap_s=4.0))
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    runner.push(*[make_nudge(f"rule-{i}", 10.0 + 0.1 * i, "high" if i == 7 else "low") for i in range(12)])
    qtbot.waitUntil(lambda: window.controller.events_seen == 12)
    assert len(window.cards.widgets) == 1
    assert window.model.shown[0].nudge.rule == "rule-0"  # the first came out before the flood
    assert window.cards.waiting_label.text().startswith("11 more waiting")
    window.model.advance(14.5)
    assert [c.nudge.rule for c in window.model.shown][0] == "rule-7"  # higher severity first
    window.model.advance(40.0)
    assert len(window.cards.widgets) == 3  # never more than three at once
    waiting = len(window.model.held)
    assert waiting and window.cards.waiting_label.isVisible()
    runner.push(CallSummary(41.0, 0, 12, {}))  # the call ends: nothing keeps waiting for room
    qtbot.waitUntil(lambda: window.model.ended)
    assert window.model.held == [] and not window.cards.waiting_label.isVisible()
    assert sum("not shown" in label.text() for label in window.history.labels) == min(waiting, 12)
    window.controller.stop()


def test_wrong_writes_feedback_with_the_evidence(qtbot, make_sidebar, tmp_path):
    window = make_sidebar()
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    runner.push(make_nudge())
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 1)
    card = next(iter(window.cards.widgets.values()))
    qtbot.mouseClick(card.wrong_button, Qt.MouseButton.LeftButton)
    lines = (tmp_path / "feedback.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["verdict"] == "wrong" and record["rule"] == "you-not-we"
    assert record["nudge"]["evidence"][0]["text"] == "Thank you, Mark. You need to restart the router."
    assert record["rule_source"] == "rules/headline.yaml:183"
    assert window.model.shown == []  # a wrong card leaves the panel
    assert "marked wrong" in window.history.labels[0].text()
    window.controller.stop()


def test_a_broken_rule_file_shows_its_error_and_the_old_rules_keep_firing(qtbot, make_sidebar, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    team = rules / "team.yaml"
    team.write_text(TEAM_RULES)
    window = make_sidebar(rules=[rules], budget=BudgetConfig(min_gap_s=0))
    assert window.model.status["rules"].message.startswith("1 rule loaded")
    team.write_text(TEAM_RULES.replace("severity: low", "severity: lowish"))
    qtbot.waitUntil(lambda: window.status_panel.rules_error.isVisible(), timeout=5000)
    error = window.status_panel.rules_error.text()
    assert f"{team}:8:15" in error and "unknown severity 'lowish'" in error
    assert "last good rules keep running" in error
    assert window.model.status["rules"].level == "error"
    call = tmp_path / "call.jsonl"
    call.write_text(
        json.dumps({"speaker": "agent", "text": "Please restart the router now.", "start": 0.5, "end": 2.5}) + "\n"
    )
    window.open_qa(call, speed=math.inf)
    qtbot.waitUntil(lambda: window.model.ended, timeout=20000)
    assert [c.nudge.rule for c in window.model.shown] == ["router-tip"]  # the last good rules fired
    team.write_text(TEAM_RULES.replace("Router tip", "Router hint"))
    qtbot.waitUntil(lambda: not window.status_panel.rules_error.isVisible(), timeout=5000)
    assert window.model.status["rules"].level in ("ok", "warning")  # lint warnings: this file has no examples
    assert window.model.status["rules"].message.startswith("reloaded 1 rule")
    assert "(s)" not in window.model.status["rules"].message and "1 rules" not in window.model.status["rules"].message
    window.controller.stop()


def test_qa_replay_of_the_demo_call_shows_the_expected_cards_in_order(qtbot, make_sidebar):
    window = make_sidebar()
    order: list[str] = []

    def seen(topic: str) -> None:
        if topic == "cards":
            order.extend(c.nudge.rule for c in window.model.shown if c.nudge.rule not in order)

    window.model.subscribe(seen)
    window.open_qa(DEMO_TRANSCRIPT, speed=math.inf)
    assert window.qa_bar.isVisible() and "demo_call.jsonl" in window.mode_label.text()
    qtbot.waitUntil(lambda: window.model.ended, timeout=30000)
    assert order == ["missed-reflection", "you-not-we", "angry-no-apology", "uncommitted-promise"]
    rows = window.promises.texts()
    assert len(rows) == 3 and "no time given" in rows[0] and "within the hour" in rows[1]
    assert window.promise_section.title == "Promises (3 · 1 without a time)"
    assert window.tone_meter.text() in ("tense", "angry")
    qtbot.waitUntil(lambda: len(window.timeline.marks) == 4)
    assert [m.rule for m in window.timeline.marks] == order
    # seek back to 1:08 while paused: the panel shows the call as it was then (the reflection
    # card, up since the agent's turn closed at 0:25, has faded after its 40 s; three cards
    # on screen, the promise's among them)
    window.controller.runner.pause()
    window.seek(68.0)
    qtbot.waitUntil(lambda: window.model.now_s >= 68.0 and len(window.model.transcript) == 11)
    assert [c.nudge.rule for c in window.model.shown] == ["uncommitted-promise", "angry-no-apology", "you-not-we"]
    assert len(window.promises.texts()) == 1
    window.controller.stop()


class PacedRunner:
    """A QA replay's playback with the test as its pacer thread: nothing is handed out until it says."""

    def __init__(self, events) -> None:
        self.clock_t = 100.0
        self.playback = Playback(lambda: self.clock_t, speed=math.inf)
        self.playback.extend(events)
        self.playback.finish()

    def start(self, on_event) -> None:  # the test delivers the events itself
        self.playback.play()

    def stop(self, wait: bool = True) -> None:
        pass

    def join(self, timeout_s: float | None) -> bool:
        return True

    def call_time_s(self) -> float:
        return self.playback.position_s()


def test_at_max_speed_the_tick_waits_for_events_not_yet_handed_out(qtbot):
    """The QA flake: the clock jumped to the call's end before the pacer handed out a nudge at 0:05,
    which then arrived 55 s "late" and was retired unseen."""
    model = AssistModel()
    controller = CallController(model)
    runner = PacedRunner([make_nudge(t=5.0), CallSummary(60.0, 1, 1)])
    controller.start(runner, "paced", "qa")
    controller.timer.stop()  # the test ticks by hand
    assert runner.call_time_s() == 60.0
    controller._tick()
    assert model.now_s < 5.0  # nothing handed out yet: the clock must not pass the nudge
    first, summary = runner.playback.due()
    controller._tick()  # handed out but not yet received on this thread: still wait
    assert model.now_s < 5.0
    controller._deliver((controller._generation, first))
    assert [c.nudge.rule for c in model.shown] == ["you-not-we"]
    controller._deliver((controller._generation, summary))
    controller._tick()
    assert model.now_s == 60.0
    controller.stop()


def test_dock_remembers_place_and_style_switches(qtbot, make_sidebar, tmp_path):
    window = make_sidebar()
    window.dock("left")
    area = window.screen().availableGeometry()
    assert window.frameGeometry().left() == area.left() and window.frameGeometry().height() == area.height()
    window.dock("right")
    assert window.frameGeometry().right() == area.right() and window.prefs.dock == "right"
    window.resize(330, 500)
    window._save_geometry()
    saved = window.frameGeometry()
    window.set_style("dark")
    assert "#181c21" in window.styleSheet() and window.prefs.style == "dark"
    window.close()
    again = make_sidebar()
    assert again.frameGeometry() == saved
    assert again.theme.name == "dark"


def test_without_live_capture_start_call_says_so(qtbot, make_sidebar):
    window = make_sidebar()
    window.call_button.click()
    assert window.controller.mode == "idle"
    assert window.model.status["microphone"].message == "live capture not available in this build"
    assert window.mode_label.text() == "Live capture not available in this build — review a call instead"


def test_with_no_input_device_the_panel_says_that_is_why(qtbot, make_sidebar):
    window = make_sidebar()

    def no_device(prefs):
        raise LiveUnavailable("No audio input device found.")

    window.backend.make_live = no_device
    window.call_button.click()
    assert window.model.status["microphone"].message == "No audio input device found."
    assert window.mode_label.text() == "No audio input device found — review a call instead"
    hint = demo_hint("No audio input device found.")
    assert hint.startswith("No audio input device found, so the bundled demo call") and "., " not in hint
    assert demo_hint("live capture not available in this build").startswith(
        "Live capture not available in this build, so"
    )


def test_settings_dialog_saves_the_budget_and_the_panel_uses_it(qtbot, make_sidebar):
    from rapport_assist.gui.settings_dialog import SettingsDialog

    window = make_sidebar()
    devices, note = window.backend.devices()
    dialog = SettingsDialog(window.prefs, devices, note, window)
    qtbot.addWidget(dialog)
    if devices is None:  # no live capture in this build: the choice is kept for later
        assert not dialog.mic.isEnabled() and "not available" in note
    else:
        assert dialog.mic.isEnabled() and dialog.mic.count() == 1 + len(devices)  # "System default" + each
    # it looks finished: whole seconds without decimals, plain OK/Cancel, arrows drawn from ui/icons
    assert (dialog.min_gap.text(), dialog.lifetime.text()) == ("4 s", "40 s")
    dialog.min_gap.setValue(2.5)
    assert dialog.min_gap.text() == "2.5 s"
    assert all(b.icon().isNull() for b in dialog.buttons.buttons())
    sheet = window.styleSheet()
    arrows = re.findall(r"::down-arrow \{ image: url\(([^)]+)\)", sheet)
    assert arrows and all(Path(a).is_file() and "<svg" in Path(a).read_text() for a in arrows)
    assert not re.search(r"url\(icon:[a-z]", sheet) and "currentColor" not in Path(arrows[0]).read_text()
    dialog.max_visible.setValue(2)
    dialog.min_gap.setValue(0)
    dialog.hold.setChecked(False)
    dialog.urgent.setCurrentIndex(dialog.urgent.findData("none"))
    dialog.style_combo.setCurrentIndex(dialog.style_combo.findData("dark"))
    dialog.save()
    budget = window.prefs.budget()
    assert (budget.max_visible, budget.min_gap_s, budget.hold_while_speaking, budget.urgent_severity) == (
        2,
        0.0,
        False,
        None,
    )
    assert window.prefs.style == "dark"
    window.model.set_budget(budget)
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    runner.push(*[make_nudge(f"r{i}", 5.0) for i in range(4)])
    qtbot.waitUntil(lambda: window.controller.events_seen == 4)
    assert len(window.cards.widgets) == 2
    window.controller.stop()


def test_keyboard_shortcuts_act_on_the_newest_card(qtbot, make_sidebar, tmp_path):
    window = make_sidebar(budget=BudgetConfig(min_gap_s=0))
    runner = PushRunner()
    window.controller.start(runner, "qa-like", "qa")  # outside live calls the panel takes focus
    runner.push(make_nudge("first", 5.0), make_nudge("second", 6.0))
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 2)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    record = json.loads((tmp_path / "feedback.jsonl").read_text().splitlines()[-1])
    assert record["verdict"] == "helpful" and record["rule"] == "second"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)
    assert [c.nudge.rule for c in window.model.shown] == ["first"] and "second" in window.model.snoozed
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.model.shown == []
    window.controller.stop()


def test_cards_fade_in_and_out(qtbot, make_sidebar):
    window = make_sidebar(budget=BudgetConfig(min_gap_s=0, card_lifetime_s=10))
    window.cards.animate = True
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    runner.push(make_nudge())
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 1)
    card = next(iter(window.cards.widgets.values()))
    assert card.graphicsEffect() is not None  # fading in
    qtbot.waitUntil(lambda: card.graphicsEffect() is None, timeout=3000)  # faded in: plain widget again
    destroyed = []
    card.destroyed.connect(lambda *_: destroyed.append(True))
    window.model.advance(40.5)  # past its lifetime
    assert window.cards.widgets == {} and window.history.labels[0].text().endswith("Say it as a team")
    qtbot.waitUntil(lambda: destroyed == [True], timeout=3000)  # faded out, then deleted
    window.controller.stop()


ANGRY_CALL = [
    {
        "speaker": "customer",
        "text": "This is ridiculous, I have called four times about this refund and nobody ever calls back.",
        "start": 0.5,
        "end": 5.0,
    },
    {
        "speaker": "agent",
        "text": "Okay, calm down, you need to wait for the refund like everyone else.",
        "start": 5.6,
        "end": 9.0,
    },
]


def replay_angry_call(qtbot, window, tmp_path) -> None:
    call = tmp_path / "angry.jsonl"
    call.write_text("".join(json.dumps(turn) + "\n" for turn in ANGRY_CALL))
    window.open_qa(call, speed=math.inf)
    qtbot.waitUntil(lambda: window.model.ended, timeout=30000)


def test_one_agent_sentence_that_trips_three_rules_is_one_card_with_three_lines(qtbot, make_sidebar, tmp_path):
    window = make_sidebar()
    replay_angry_call(qtbot, window, tmp_path)
    assert len(window.cards.widgets) == 1 and not window.cards.waiting_label.isVisible()
    card = next(iter(window.cards.widgets.values()))
    assert [n.rule for n in card.card.nudges] == ["angry-no-apology", "you-not-we", "blame-wording"]
    assert card.severity_label.text() == "URGENT" and card.title_label.text() == "Apologize for the trouble"
    assert len(card.lines) == 3
    qtbot.waitUntil(lambda: all(line.isVisible() for line in card.lines))
    assert card.lines[0].text().startswith("Customer is upset")
    assert "Say it as a team" in card.lines[1].text() and "Focus on the fix" in card.lines[2].text()
    assert "NUDGE" in card.lines[1].text() and "NUDGE" in card.lines[2].text()
    # the customer's words (the lead's quote), then the agent's words that tripped the other two
    assert [q.text()[:13] for q in card.evidence_labels] == ["Customer said", "You said: “Ok"]
    assert (
        "<b>calm down</b>" in card.evidence_labels[1].text() and "<b>you need to</b>" in card.evidence_labels[1].text()
    )
    card.why_button.click()
    # the rewrite keeps the sentence's end; the rules are named, their files are shown in QA review only
    assert card.rewrite_label is not None and "Let&#x27;s wait" not in card.rewrite_label.text()
    assert "Let's wait for the refund like everyone else." in card.rewrite_label.text()
    source = card.source_label.text()  # QA review: where each rule is written
    assert source.startswith("rules angry-no-apology (") and "headline.yaml:" in source and "catalogue.yaml:" in source
    window.controller.stop()


def test_the_urgent_card_quotes_the_customers_words_and_agents_see_no_file_paths(qtbot, make_sidebar, tmp_path):
    window = make_sidebar()
    replay_angry_call(qtbot, window, tmp_path)
    card = next(iter(window.cards.widgets.values()))
    assert card.severity_label.text() == "URGENT"
    quote = card.evidence_label.text()
    assert quote.startswith("Customer said: “") and "<b>ridiculous</b>" in quote and "calls back." in quote
    assert "calm down" not in quote
    assert "headline.yaml" in card.source_label.text()  # QA review: the team lead sees where the rule is
    window.controller.stop()
    # live: the same card for the agent shows the rule ids, never a file path
    runner = PushRunner()
    window.controller.start(runner, "live call", "live")
    angry = next(n for n in card.card.nudges if n.rule == "angry-no-apology")
    runner.push(angry)
    qtbot.waitUntil(lambda: len(window.cards.widgets) == 1)
    live = next(iter(window.cards.widgets.values()))
    live.why_button.click()
    assert live.source_label.text() == "rule angry-no-apology"
    assert ".yaml" not in live.source_label.text() and ".yaml" not in live.why_label.text()
    assert live.evidence_label.text().startswith("Customer said:")
    window.controller.stop()


def test_review_of_a_file_that_cannot_be_decoded_says_why_once_with_what_to_do(qtbot, make_sidebar, tmp_path):
    # the review and its sound both open the file: the panel said the decoder's complaint twice
    # (the Sound line and the notice under it)
    from PySide6.QtWidgets import QLabel

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 8)
    window = make_sidebar()
    window.show()
    window.open_qa(broken, speed=math.inf)
    qtbot.waitUntil(lambda: window.status_panel.notice.isVisible(), timeout=20000)
    qtbot.waitUntil(lambda: window.player is not None and window.player.state == "silent", timeout=20000)
    qtbot.waitUntil(lambda: window.status_panel.sound_text.text().startswith("no sound"), timeout=5000)
    shown = [label.text() for label in window.findChildren(QLabel) if label.isVisible() and label.text()]
    why = "is not a recording that can be decoded"
    assert sum(text.count(why) for text in shown) == 1, shown
    notice = window.status_panel.notice.text()
    assert notice.startswith("cannot review this call: ") and str(broken) in notice
    assert "ffmpeg" in notice  # what to do
    assert why not in window.status_panel.sound_text.text()
    window.controller.stop()
