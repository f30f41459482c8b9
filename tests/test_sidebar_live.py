"""The sidebar on a live call: real PulseAudio null sinks, live capture, the real model, the real
window. The agent's words come in through the microphone side; the card shows while the CRM
window keeps the keyboard."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6", reason="the sidebar needs PySide6: run 'make setup'")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget  # noqa: E402

from rapport_assist.assist import AssistModel, BudgetConfig, FeedbackLog  # noqa: E402
from rapport_assist.gui.app import InterruptCloses, SidebarOptions, attach_rules  # noqa: E402
from rapport_assist.gui.controller import Prefs  # noqa: E402
from rapport_assist.gui.window import SidebarWindow  # noqa: E402
from rapport_assist.rules import default_rules_dir  # noqa: E402
from sidebar_support import LoadedBackend  # noqa: E402


def live_sidebar(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recognizer, mic: str, customer: str, **budget):
    """The real window on the real model (no warm-up), its settings and data in ``tmp_path``, its
    microphone and customer devices set, shown; ``budget``: BudgetConfig fields."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("RAPPORT_ASSIST_DATA", str(tmp_path / "data"))
    prefs = Prefs(QSettings(str(tmp_path / "sidebar.ini"), QSettings.Format.IniFormat))
    if budget:
        prefs.set_budget(BudgetConfig(**budget))
    prefs.set("devices/mic", mic)
    prefs.set("devices/customer", customer)
    options = SidebarOptions(rules=[default_rules_dir()], warm_up=False)
    backend = LoadedBackend(options, recognizer)
    model = AssistModel(prefs.budget(), FeedbackLog(tmp_path / "feedback.jsonl"))
    window = SidebarWindow(model, prefs, backend)
    attach_rules(window, backend, options.rules)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.mark.slow
@pytest.mark.model
def test_a_live_call_shows_a_card_and_the_crm_keeps_the_keyboard(
    qtbot, pulse, recognizer, speak, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    crm = QWidget()
    field = QLineEdit()
    QVBoxLayout(crm).addWidget(field)
    qtbot.addWidget(crm)
    crm.show()
    qtbot.waitExposed(crm)

    window = live_sidebar(
        qtbot, tmp_path, monkeypatch, recognizer, "pulse:agent_line.monitor", "pulse:customer_line.monitor", min_gap_s=0
    )
    window.cards.animate = False
    crm.activateWindow()
    field.setFocus()
    qtbot.waitUntil(lambda: field.hasFocus())

    assert window.start_live(), window.model.status["microphone"]
    assert window.controller.mode == "live" and not window.accepts_focus()
    gap = np.zeros(16000, np.float32)
    words = speak("Thank you. You need to restart the router now.")
    pulse.play(
        {
            "agent_line": np.concatenate([gap, words, gap, gap]),
            "customer_line": np.zeros(len(words) + 3 * len(gap), np.float32),
        }
    )
    qtbot.waitUntil(lambda: any(c.nudge.rule == "you-not-we" for c in window.model.shown), timeout=30000)

    def evidence() -> str:  # the card's quote as drawn now
        card = next((w for w in window.cards.widgets.values() if w.card.nudge.rule == "you-not-we"), None)
        return card.evidence_label.text().lower() if card is not None and card.evidence_label is not None else ""

    # an early card quotes a live caption ("… restart the route.", its last word cut short) until
    # the final text confirms it and the card is drawn again with the final words
    qtbot.waitUntil(lambda: "restart the router" in evidence(), timeout=15000)
    assert "capturing the agent's side" in window.model.status["microphone"].message
    assert field.hasFocus()  # the nudge did not take the keyboard from the CRM
    assert window.timer_label.text() != "0:00"
    window.stop_call()
    qtbot.waitUntil(lambda: window.model.summary is not None, timeout=15000)
    assert window.model.summary.nudges_by_rule.get("you-not-we") == 1
    assert window.accepts_focus()  # outside a live call the panel takes focus again


@pytest.mark.slow
@pytest.mark.model
def test_ctrl_c_ends_a_live_call_and_finishes_its_log(
    qtbot, pulse, recognizer, speak, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Ctrl-C in the sidebar's terminal during a live call (run_sidebar's handler): the window
    closes as its own close would, the call ends, and its event log ends with the call's end."""
    window = live_sidebar(
        qtbot, tmp_path, monkeypatch, recognizer, "pulse:agent_line.monitor", "pulse:customer_line.monitor"
    )
    assert window.start_live(), window.model.status["microphone"]
    words = speak("Thank you. You need to restart the router now.")
    gap = np.zeros(16000, np.float32)
    pulse.play({"agent_line": np.concatenate([gap, words, gap]), "customer_line": np.zeros(16000, np.float32)})
    qtbot.waitUntil(lambda: any(u.text for u in window.model.transcript), timeout=30000)

    interrupt = InterruptCloses(window.close)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    finally:
        interrupt.restore()
    assert not window.controller.running
    window.controller.join_stopped(30.0)  # as run_sidebar does after the event loop
    logs = sorted((tmp_path / "data" / "calls").glob("*.jsonl"))
    assert len(logs) == 1
    events = [json.loads(line) for line in logs[0].read_text(encoding="utf-8").splitlines()]
    assert any(e["type"] == "utterance" for e in events)
    assert events[-1]["type"] == "call_end", events[-1]


@pytest.mark.model
def test_one_input_chosen_for_both_sides_is_why_live_is_off_and_no_record_is_left(
    qtbot, pulse, recognizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The panel's microphone and customer set to the same input: starting a live call says why it
    cannot (the microphone row, as for no device), no call runs, and no empty call record is left
    in the calls folder (the call used to start, create its log, then raise out of the button)."""
    window = live_sidebar(
        qtbot, tmp_path, monkeypatch, recognizer, "pulse:agent_line.monitor", "pulse:agent_line.monitor"
    )
    assert not window.start_live()
    status = window.model.status["microphone"]
    assert status.level == "off" and "both set to pulse:agent_line.monitor" in status.message, status
    assert not window.controller.running and window.controller.runner is None
    assert not list((tmp_path / "data").rglob("call-*")), list((tmp_path / "data").rglob("*"))


@pytest.mark.model
def test_a_live_call_that_ends_by_itself_leaves_the_call_as_stop_would(
    qtbot, pulse, recognizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A live call whose transcription stopped (a bug in the recognizer's thread: the call says so
    and ends with its record kept) is over in the panel too: the header no longer says
    "listening", the button offers a new call, the panel takes focus again, the summary shows.
    It used to stay "Live call · listening", refusing focus, with Stop ending nothing."""
    from rapport_assist.live_recognition import RecognitionWorker

    def broken(self) -> None:
        raise RuntimeError("a bug in the recognizer thread")

    monkeypatch.setattr(RecognitionWorker, "_take", broken)  # the fault: the thread's loop raises
    window = live_sidebar(
        qtbot, tmp_path, monkeypatch, recognizer, "pulse:agent_line.monitor", "pulse:customer_line.monitor"
    )
    assert window.start_live(), window.model.status["microphone"]
    assert window.mode_label.text() == "Live call · listening" and not window.accepts_focus()

    qtbot.waitUntil(lambda: window.model.summary is not None, timeout=30000)
    assert any(n.code == "recognizer_failed" and "transcription stopped" in n.message for n in window.model.notices)
    qtbot.waitUntil(lambda: not window.controller.running, timeout=3000)
    assert window.mode_label.text() == "Not in a call"
    assert window.call_button.text() == "Start call" and window.accepts_focus()
    assert window.model.summary is not None  # still shown
    window.controller.join_stopped(30.0)
    logs = sorted((tmp_path / "data" / "calls").glob("*.jsonl"))
    assert len(logs) == 1
    assert json.loads(logs[0].read_text(encoding="utf-8").splitlines()[-1])["type"] == "call_end"
